"""Dashboard scopes read together: `TwinReader.views` answers many districts and blocks with one call
to each shard hosting them, each view as the one-at-a-time read gives it; `scope_view` gathers the
reads asked for at one moment into one `views`; and the hub's pollers of every scope of a district
woken by its shard's news cost one call to that shard, each watcher still handed a view only when
its scope's seq moved."""

from __future__ import annotations

import asyncio

import pytest

from actors.broker import MemoryBroker
from actors.district_shard import DistrictShard
from actors.router import ShardRouter
from actors.shard_port import LocalShard
from configs.settings import Streams
from serve_app.streams.hub import StreamHub
from serve_app.twin.service import TwinReader
from startup.actor_ports import open_shard_ports
from tests.actors.test_district_shard import _append
from tests.fixtures.builders import small_directory
from tests.fixtures.events import random_events
from twin import geography
from twin.errors import NotFound
from twin.placement import shard_of_district

PLACEMENT = [[0], [1, 2]]
DIRECTORY, _ = small_directory()
NAMES = geography.district_names()


class Counted:
    """A shard port that counts its calls."""

    def __init__(self, port) -> None:
        self.port, self.views_calls, self.single_calls = port, [], 0
        self.fail = False

    async def views(self, districts, blocks):
        self.views_calls.append((list(districts), list(blocks)))
        if self.fail:
            raise ConnectionError("the shard is restarting")
        return await self.port.views(districts, blocks)

    async def district(self, district: int):
        self.single_calls += 1
        return await self.port.district(district)

    async def block(self, block: int):
        self.single_calls += 1
        return await self.port.block(block)


def _router(shards: list) -> ShardRouter:
    return ShardRouter(shards, shard_of_district(PLACEMENT, len(NAMES)))


def _blocks_of(district: int) -> list[int]:
    return sorted({int(b) for b in DIRECTORY.school_block[DIRECTORY.school_district == district]})


async def test_views_of_many_scopes_are_one_call_a_shard_and_read_as_one_at_a_time(seeded_url):
    ports = await open_shard_ports(seeded_url)
    shards = [DistrictShard(ds, ports.directory, ports.enrolment, ports.event_log, ports.snapshots) for ds in PLACEMENT]
    counted = [Counted(LocalShard(s)) for s in shards]
    state = {"applied_seq_min": 0, "schools": 1}

    async def state_view() -> dict:
        return state

    reader = TwinReader(ports.directory, _router(counted), state_view)
    batch, after, upto = await _append(ports, random_events(ports.directory, 300, seed=5))
    await _router([LocalShard(s) for s in shards]).apply(batch, after, upto)

    scopes = [("state", 0), *(("district", d) for d in (0, 1, 2)),
              *(("block", b) for d in (0, 1, 2) for b in _blocks_of(d))]
    views = await reader.views(scopes + scopes[:3])  # asked twice: read once
    assert [len(c.views_calls) for c in counted] == [1, 1]
    assert counted[0].views_calls[0] == ([0], _blocks_of(0))
    assert counted[1].views_calls[0] == ([1, 2], _blocks_of(1) + _blocks_of(2))
    assert views[("state", 0)] is state
    blocks = ports.directory.blocks
    for kind, i in scopes[1:]:
        alone = await (reader.district(NAMES[i]) if kind == "district"
                       else reader.block(blocks.names[i], NAMES[int(blocks.district[i])]))
        assert views[(kind, i)] == alone
        assert views[(kind, i)]["as_of_seq"] == upto
    assert any(views[("district", d)]["meals_today"] for d in (0, 1, 2))  # the fold is in the views

    # a shard that does not answer fails its own scopes only
    counted[1].fail = True
    views = await reader.views([("district", 0), ("district", 1), ("block", _blocks_of(2)[0])])
    assert views[("district", 0)]["as_of_seq"] == upto
    assert isinstance(views[("district", 1)], ConnectionError)
    assert isinstance(views[("block", _blocks_of(2)[0])], ConnectionError)


async def test_a_shards_views_name_the_applied_seq_read_before_them(seeded_url):
    """A fold finishing while the views are computed (in a thread) must not make them claim its seq."""
    ports = await open_shard_ports(seeded_url)
    shard = DistrictShard([0, 1, 2], ports.directory, ports.enrolment, ports.event_log, ports.snapshots)
    shard.applied_seq = 7
    district = shard.district

    def fold_finishes_meanwhile(d: int):
        view = district(d)
        shard.applied_seq = 9
        return view

    shard.district = fold_finishes_meanwhile
    districts, blocks = await LocalShard(shard, reads_in_thread=True).views([0, 1], [_blocks_of(2)[0], 10**6])
    assert [v["as_of_seq"] for v in districts] == [7, 7]
    assert blocks[0]["as_of_seq"] == 7 and blocks[1] is None  # a block not hosted here


class FakeShard:
    """A shard port whose districts' and blocks' views are at `seq`."""

    def __init__(self) -> None:
        self.seq, self.views_calls = 1, []

    async def views(self, districts, blocks):
        self.views_calls.append((list(districts), list(blocks)))
        await asyncio.sleep(0)
        return ([{"as_of_seq": self.seq, "d": d} for d in districts],
                [{"as_of_seq": self.seq, "b": b} for b in blocks])


def _fake_reader(gather_s: float = 0.01) -> tuple[TwinReader, list[FakeShard]]:
    fakes = [FakeShard(), FakeShard()]

    async def state_view() -> dict:
        return {"applied_seq_min": min(f.seq for f in fakes)}

    return TwinReader(DIRECTORY, _router(fakes), state_view, gather_s=gather_s), fakes


async def test_reads_asked_at_one_moment_are_gathered_into_one_views():
    reader, fakes = _fake_reader()
    scopes = [("district", 0), ("block", _blocks_of(0)[0]), ("district", 2), ("state", 0)]
    got = await asyncio.gather(*(reader.scope_view(s) for s in [*scopes, scopes[0]]))
    assert [f.views_calls for f in fakes] == [[([0], _blocks_of(0)[:1])], [([2], [])]]
    assert got[0] == got[4] == {"district": NAMES[0], "as_of_seq": 1, "d": 0}
    assert got[1] == {"district": NAMES[0], "as_of_seq": 1, "b": _blocks_of(0)[0]}
    assert got[3] == {"applied_seq_min": 1}
    assert reader.gathered == {"calls": 1, "scopes": 4}

    # a reader cancelled meanwhile leaves the others their views; a later moment is a read of its own
    first = asyncio.ensure_future(reader.scope_view(("district", 1)))
    second = asyncio.ensure_future(reader.scope_view(("district", 1)))
    await asyncio.sleep(0)
    first.cancel()
    assert (await second)["d"] == 1
    fakes[1].seq = 2
    assert (await reader.scope_view(("district", 1)))["as_of_seq"] == 2
    assert len(fakes[1].views_calls) == 3

    with pytest.raises(NotFound):  # a scope its shard does not host
        fakes[0].views = _none_views
        await reader.scope_view(("district", 0))


async def _none_views(districts, blocks):
    return [None] * len(districts), [None] * len(blocks)


async def test_a_districts_news_reads_its_scopes_in_one_call_and_hands_on_only_moved_views():
    reader, fakes = _fake_reader()
    broker = MemoryBroker()
    hub = StreamHub(broker, Streams(read_block_s=0.05, dashboard_interval_s=60.0, dashboard_news_gap_s=0.05))
    here = [("district", 0), *(("block", b) for b in _blocks_of(0))]  # district 0: shard 0
    there = [("district", 1), ("block", _blocks_of(1)[0])]  # shard 1, no news
    got: dict[tuple, list[int]] = {}

    def read_of(scope):
        async def read() -> tuple[int, dict]:
            view = await reader.scope_view(scope)
            return view["as_of_seq"], view
        return read

    for scope in here + there:
        got[scope] = []
        district = scope[1] if scope[0] == "district" else int(DIRECTORY.blocks.district[scope[1]])
        await hub.watch(f"{scope}", read_of(scope), lambda seq, _v, s=scope: got[s].append(seq),
                        (f"schools:{district}",))
    await asyncio.sleep(0.3)  # the pollers follow their news topics
    before = [len(f.views_calls) for f in fakes]

    fakes[0].seq = fakes[1].seq = 2  # shard 0 folded a batch of seq 2 (shard 1 moved too, unannounced)
    await broker.publish("schools:0", {"seq": 2})
    deadline = asyncio.get_running_loop().time() + 5
    while not all(got[s] for s in here):
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)  # the views hold the news: no chase
    try:
        assert all(got[s] == [2] for s in here)
        assert all(got[s] == [] for s in there)  # read only every interval: not yet
        news_calls = fakes[0].views_calls[before[0]:]
        assert [(ds, sorted(bs)) for ds, bs in news_calls] == [([0], _blocks_of(0))]  # every scope, one call
        assert len(fakes[1].views_calls) == before[1]
    finally:
        await hub.close()
