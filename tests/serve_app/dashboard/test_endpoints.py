"""The dashboard's own reads over ASGI: the page and its assets at `/`, the binary map and levels
of the caller's area (decoded as the page decodes them), the places, and a district's blocks."""

from __future__ import annotations

import struct

import numpy as np

from configs import Settings
from db.school_repository import SchoolRepository
from tests.fixtures.app import client_of, running_app
from tests.fixtures.builders import small_directory
from twin import geography
from twin.area import Area
from twin.risk import LEVELS

DIRECTORY, _ = small_directory()
SENDURAI = Area("Ariyalur", "Sendurai")


def decode_map(body: bytes) -> dict:
    """The map as `static/js/map-data.js` reads it."""
    assert body[:4] == b"MTM1"
    n = struct.unpack_from("<I", body, 4)[0]
    at, out = 16, {}
    for name, dtype in (("ids", "<f8"), ("lat", "<f4"), ("lon", "<f4"), ("block", "<u2"), ("district", "u1"),
                        ("level", "u1")):
        size = np.dtype(dtype).itemsize
        assert at % size == 0, f"{name} must start on a multiple of its item size"
        out[name] = np.frombuffer(body, dtype, n, at)
        at += n * size
    assert at == len(body)
    return out


def decode_levels(body: bytes) -> np.ndarray:
    assert body[:4] == b"MTL1"
    n = struct.unpack_from("<I", body, 4)[0]
    return np.frombuffer(body, "u1", n, 8)


async def test_the_page_is_served_at_the_root_and_the_api_stays_under_api(sqlite_seeded):
    async with running_app(Settings(database_url=sqlite_seeded)) as app, client_of(app, role=None) as anonymous:
        page = await anonymous.get("/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert '<script type="module" src="/static/js/main.js">' in page.text
        policy = page.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "connect-src 'self'" in policy and "http" not in policy
        module = await anonymous.get("/static/js/main.js")
        assert module.status_code == 200 and "javascript" in module.headers["content-type"]
        assert (await anonymous.get("/static/js/no-such.js")).status_code == 404
        font = await anonymous.get("/static/fonts/NotoSansTamil-Regular.ttf")  # the page's Tamil face
        assert font.status_code == 200 and font.content[:4] == b"\x00\x01\x00\x00"  # TrueType
        assert (await anonymous.get("/api/v1/dashboard/map")).status_code == 401
        assert "/" not in app.openapi()["paths"]


async def test_the_map_holds_every_school_of_the_area_with_its_place_and_level(seeded_url):
    async with running_app(Settings(database_url=seeded_url)) as app:
        register = SchoolRepository(app.state.services.engine)
        await register.set_risk_levels([(f"{int(DIRECTORY.school_ids[0]):011d}", "critical")])
        rows = await register.all()
        async with client_of(app) as admin:
            answer = await admin.get("/api/v1/dashboard/map")
            levels = decode_levels((await admin.get("/api/v1/dashboard/levels")).content)
        assert answer.headers["content-type"] == "application/octet-stream"
        state = decode_map(answer.content)
        ids = [f"{int(i):011d}" for i in state["ids"]]
        assert ids == [f"{int(i):011d}" for i in DIRECTORY.school_ids]  # the directory's order
        by_id = {r["id"]: r for r in rows}
        assert np.allclose(state["lat"], [by_id[i]["latitude"] for i in ids])
        assert [geography.district_names()[d] for d in state["district"]] == [by_id[i]["district"] for i in ids]
        assert [DIRECTORY.blocks.names[b] for b in state["block"]] == [by_id[i]["block"] for i in ids]
        assert [LEVELS[v] for v in state["level"]] == [by_id[i]["risk_level"] for i in ids]
        assert LEVELS[state["level"][0]] == "critical"
        assert np.array_equal(levels, state["level"])

        async with client_of(app, "block_officer", SENDURAI) as officer:
            mine = decode_map((await officer.get("/api/v1/dashboard/map")).content)
            places = (await officer.get("/api/v1/dashboard/places")).json()["data"]
            own = await officer.get("/api/v1/dashboard/districts/Ariyalur/blocks")
            other = await officer.get("/api/v1/dashboard/districts/Chennai/blocks")
        expected = {f"{int(s):011d}" for s in DIRECTORY.school_ids[SENDURAI.school_mask(DIRECTORY)]}
        assert {f"{int(i):011d}" for i in mine["ids"]} == expected
        assert places["districts"] == [] and [(b["district_name"], b["name"]) for b in places["blocks"]] == [
            ("Ariyalur", "Sendurai")]
        assert [b["block"] for b in own.json()["data"]["blocks"]] == ["Sendurai"]
        assert other.status_code == 404


async def test_a_district_lists_each_of_its_blocks_with_its_roll_up(sqlite_seeded):
    async with running_app(Settings(database_url=sqlite_seeded)) as app:
        async with client_of(app, "district_officer", Area("Ariyalur")) as officer:
            answer = (await officer.get("/api/v1/dashboard/districts/ariyalur/blocks")).json()["data"]
            elsewhere = await officer.get("/api/v1/dashboard/districts/Chennai/blocks")
    blocks = [b.name for b in geography.districts()[geography.district_index("Ariyalur")].blocks]
    assert answer["district"] == "Ariyalur" and [b["block"] for b in answer["blocks"]] == blocks
    assert all(b["schools"] == 2 for b in answer["blocks"])  # the small directory: two a block
    assert elsewhere.status_code == 404 and elsewhere.json()["error"]["code"] == "NOT_FOUND"


async def test_a_deactivated_school_leaves_the_map(sqlite_seeded):
    async with running_app(Settings(database_url=sqlite_seeded)) as app, client_of(app) as admin:
        before = decode_levels((await admin.get("/api/v1/dashboard/levels")).content)
        gone = f"{int(DIRECTORY.school_ids[0]):011d}"
        assert (await admin.delete(f"/api/v1/schools/{gone}")).status_code == 200
        state = decode_map((await admin.get("/api/v1/dashboard/map")).content)
        assert len(state["ids"]) == len(before) - 1 and gone not in {f"{int(i):011d}" for i in state["ids"]}
