"""The map's risk levels sent as changes: the map and every levels answer name the version of the
levels they bring the page to; a page naming the version it holds is sent only the schools whose
level changed since, and a page naming none, or one the replica does not keep, every level."""

from __future__ import annotations

import asyncio
import struct

import numpy as np

from configs import Settings
from db.school_map_repository import MapPoints
from db.school_repository import SchoolRepository
from serve_app.dashboard.level_versions import KEPT
from serve_app.dashboard.service import DashboardService
from tests.fixtures.app import client_of, running_app
from tests.fixtures.builders import small_directory
from tests.serve_app.dashboard.test_endpoints import decode_levels
from twin.area import STATE
from twin.risk import LEVELS

DIRECTORY, _ = small_directory()


def decode_changes(body: bytes) -> tuple[int, dict[int, int]]:
    """(n, {place in the map: new level}) as `static/js/map-data.js` reads an `MTC1` answer."""
    assert body[:4] == b"MTC1"
    n, k = struct.unpack_from("<II", body, 4)
    assert len(body) == 12 + 5 * k
    index = np.frombuffer(body, "<u4", k, 12)
    return n, dict(zip(index.tolist(), np.frombuffer(body, "u1", k, 12 + 4 * k).tolist()))


class World:
    """The area's levels as the register holds them, changed by the test."""

    def __init__(self, n: int) -> None:
        self.levels = np.zeros(n, dtype="u1")

    async def points(self, _area) -> MapPoints:  # noqa: ANN001
        n = len(self.levels)
        return MapPoints(np.arange(n, dtype="i8"), np.zeros(n, "f4"), np.zeros(n, "f4"), np.zeros(n, "u2"),
                         np.zeros(n, "u1"), self.levels.copy())

    async def read_levels(self, _area) -> np.ndarray:  # noqa: ANN001
        return self.levels.copy()


def replica(world: World) -> DashboardService:
    async def no_block(*_):  # noqa: ANN002, ANN202
        raise AssertionError("not read here")

    return DashboardService(world.points, world.read_levels, no_block, DIRECTORY, levels_ttl_s=0.0)


async def test_after_the_map_only_the_changed_schools_are_sent():
    world = World(1000)
    dashboard = replica(world)
    _, held = await dashboard.map(STATE)
    body, version = await dashboard.levels(STATE, held)
    assert version == held and decode_changes(body) == (1000, {})  # nothing moved: nothing but the header
    world.levels[[7, 500]] = [3, 2]
    body, moved = await dashboard.levels(STATE, held)
    assert moved != held and decode_changes(body) == (1000, {7: 3, 500: 2})
    world.levels[7] = 1
    body, latest = await dashboard.levels(STATE, held)  # two versions behind: both schools still, at their latest
    assert decode_changes(body) == (1000, {7: 1, 500: 2})
    body, _ = await dashboard.levels(STATE, moved)
    assert decode_changes(body) == (1000, {7: 1})
    body, again = await dashboard.levels(STATE)  # no version held (a new page, a reconnect): every level
    assert again == latest and np.array_equal(decode_levels(body), world.levels)
    world.levels[:300] = 2  # most of the area moved: five bytes a change would outweigh one a school
    body, _ = await dashboard.levels(STATE, latest)
    assert np.array_equal(decode_levels(body), world.levels)


async def test_a_version_the_replica_does_not_keep_gets_every_level():
    world = World(50)
    dashboard = replica(world)
    body, first = await dashboard.levels(STATE)
    body, _ = await dashboard.levels(STATE, "0123456789abcdef")  # never read here
    assert np.array_equal(decode_levels(body), world.levels)
    for k in range(KEPT):  # the first version falls out of those kept
        world.levels[k % 50] = (world.levels[k % 50] + 1) % 4
        await dashboard.levels(STATE)
    body, _ = await dashboard.levels(STATE, first)
    assert np.array_equal(decode_levels(body), world.levels)
    world.levels = np.append(world.levels, np.uint8(3))  # a school added: the page must reload its map
    _, held = await dashboard.levels(STATE)
    world.levels = world.levels[:-1]
    body, _ = await dashboard.levels(STATE, held)
    assert body[:4] == b"MTL1" and len(decode_levels(body)) == 50


async def test_replicas_reading_the_same_levels_name_them_alike():
    world = World(300)
    one, other = replica(world), replica(world)
    _, held = await one.map(STATE)  # the page's map came from one replica...
    await other.levels(STATE)  # ...the other has read the same levels
    world.levels[42] = 3
    body, version = await other.levels(STATE, held)  # so it sends the other's page only the change
    assert decode_changes(body) == (300, {42: 3})
    assert version == (await one.levels(STATE))[1]


async def test_the_levels_route_sends_changes_since_the_maps_version(seeded_url):
    async with running_app(Settings(database_url=seeded_url)) as app, client_of(app) as admin:
        answer = await admin.get("/api/v1/dashboard/map")
        held = answer.headers["x-levels-version"]
        school = 5
        register = SchoolRepository(app.state.services.engine)
        await register.set_risk_levels([(f"{int(DIRECTORY.school_ids[school]):011d}", "critical")])
        await asyncio.sleep(1.1)  # past the levels' cache
        changed = await admin.get("/api/v1/dashboard/levels", params={"since": held})
        assert changed.status_code == 200 and changed.headers["content-type"] == "application/octet-stream"
        assert decode_changes(changed.content) == (len(DIRECTORY.school_ids), {school: LEVELS.index("critical")})
        latest = changed.headers["x-levels-version"]
        assert latest != held
        quiet = await admin.get("/api/v1/dashboard/levels", params={"since": latest})
        assert decode_changes(quiet.content) == (len(DIRECTORY.school_ids), {})
        unknown = await admin.get("/api/v1/dashboard/levels", params={"since": "0123456789abcdef"})
        assert len(decode_levels(unknown.content)) == len(DIRECTORY.school_ids)
        bad = await admin.get("/api/v1/dashboard/levels", params={"since": "not-a-version"})
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "VALIDATION_ERROR"
        assert "since" in bad.json()["error"]["message"]
