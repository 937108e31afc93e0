"""The router's typed calls over in-process shards answer what the shards themselves answer."""

import datetime as dt
import functools

import numpy as np

from actors.district_shard import DistrictShard
from actors.router import local_router
from actors.shard_port import LocalShard
from startup.actor_ports import open_shard_ports
from tests.actors.test_district_shard import _append
from tests.fixtures.events import random_events
from twin.placement import shard_of_district
from twin.state import NO_DAY, ShardState

PLACEMENT = [[0], [1, 2]]


def _shards(ports) -> list[DistrictShard]:
    return [DistrictShard(districts, ports.directory, ports.enrolment, ports.event_log, ports.snapshots)
            for districts in PLACEMENT]


def _router(ports, shards):
    return local_router(shards, shard_of_district(PLACEMENT, len(ports.directory.district_names())))


async def test_the_routers_typed_calls_answer_as_the_shards_do(seeded_url):
    ports = await open_shard_ports(seeded_url)
    shards = _shards(ports)
    router = _router(ports, shards)
    assert router.n_shards == 2 and router.placement() == PLACEMENT
    assert await router.twin_day() == NO_DAY  # no report yet

    batch, after, upto = await _append(ports, random_events(ports.directory, 300, seed=3))
    outcome = await router.apply(batch, after, upto)
    assert outcome.shape == (len(batch),) and outcome.dtype == np.int8 and outcome.any()
    # the same events folded by one shard of all districts give the same outcomes
    alone = DistrictShard([0, 1, 2], ports.directory, ports.enrolment, ports.event_log, ports.snapshots)
    np.testing.assert_array_equal(outcome, await alone.apply(batch, after, upto))

    statuses = await router.statuses()
    assert statuses == [shard.status() for shard in shards]
    assert [s["applied_seq"] for s in statuses] == [upto, upto]  # every shard got the range
    assert await router.twin_day() == max(int(shard.state.today[0]) for shard in shards) >= 0

    for d in (0, 1, 2):
        k = 0 if d == 0 else 1
        port = router.shard_of(d)
        assert port is router.shards[k]
        assert await port.district(d) == shards[k].district(d) is not None
        school = int(np.flatnonzero(ports.directory.school_district == d)[0])
        assert await port.school(school) == shards[k].school(school) is not None
        block = int(ports.directory.school_block[school])
        assert await port.block(block) == shards[k].block(block) is not None
    assert await router.shard_of(0).school(int(np.flatnonzero(ports.directory.school_district == 1)[0])) is None

    rows = await router.shards[1].district_rows()
    assert rows["districts"] == [1, 2] and rows["applied_seq"] == upto
    np.testing.assert_allclose(rows["rows"], shards[1].district_rows()["rows"])

    # a range of dates folded district by district on the shards adds up to one fold of them all
    first, last = dt.date(2000, 1, 1), dt.date(2100, 1, 1)
    spread, whole = await router.funds_in_range([0, 1, 2], first, last), await alone.funds_in_range([0, 1, 2], first,
                                                                                                    last)
    ids = ports.directory.school_ids.astype(np.int64)
    assert spread.funds.any()
    np.testing.assert_allclose(spread.school_funds(ids), whole.school_funds(ids))
    for keys, values, all_keys, all_values in ((spread.block_global, spread.block_funds, whole.block_global,
                                                whole.block_funds),
                                               (spread.district_global, spread.district_funds, whole.district_global,
                                                whole.district_funds)):
        assert sorted(keys.tolist()) == sorted(all_keys.tolist())
        np.testing.assert_allclose(values[np.argsort(keys)], all_values[np.argsort(all_keys)])
    assert len((await router.funds_in_range([1], first, last)).district_global) == 1

    copies = await router.state_copies()
    assert all(isinstance(c, ShardState) for c in copies)
    for copy, shard in zip(copies, shards):
        assert copy is not shard.state
        np.testing.assert_allclose(copy.enrolment, shard.state.enrolment)
    # some districts: copies of only them, from only the shards hosting them, in shard order
    some = await router.state_copies([2, 0])
    assert [c.district_global.tolist() for c in some] == [[0], [2]]
    assert [c.n_schools for c in some] == [int((ports.directory.school_district == d).sum()) for d in (0, 2)]
    assert [c.district_global.tolist() for c in await router.state_copies([1])] == [[1]]

    code = int(ports.directory.school_ids[int(np.flatnonzero(ports.directory.school_district == 0)[0])])
    synced = await router.sync_schools([(code, 10, 20, 30, True)])
    assert [s["synced"] for s in synced] == [1, 0]
    assert synced[1]["unknown"] == [f"{code:011d}"]
    assert await router.shard_of(0).sync_schools([]) == {"synced": 0, "unknown": []}

    assert await router.shards[0].sync() == upto
    assert await router.shards[1].snapshot_now() == upto
    for shard in [*shards, alone]:
        await shard.close()
    await ports.close()


async def test_a_local_shard_may_be_built_on_first_use_and_read_in_a_thread(seeded_url):
    ports = await open_shard_ports(seeded_url)
    live = _shards(ports)[1]
    batch, after, upto = await _append(ports, random_events(ports.directory, 200, seed=4))
    await live.apply(batch, after, upto)

    built = []

    async def rebuild(districts):
        shard = DistrictShard(districts, ports.directory, ports.enrolment, ports.event_log, ports.snapshots)
        await shard.recover()
        built.append(shard)
        return shard

    past = LocalShard(functools.partial(rebuild, [1, 2]), reads_in_thread=True)
    assert not built  # nothing rebuilt until asked
    assert await past.district(2) == live.district(2)
    assert (await past.status())["applied_seq"] == upto
    await live.close()
    await ports.close()


def test_every_shard_port_has_the_protocols_methods_and_parameters():
    import inspect

    from actors.remote import ShardHost
    from actors.shard_port import RayShard
    from twin.ports import ShardPort

    def methods(cls):
        # Ray adds `_ray_trace_ctx` to the methods of a class it has made an actor of
        return {name: [p for p in inspect.signature(f).parameters if p != "_ray_trace_ctx"]
                for name, f in vars(cls).items() if inspect.iscoroutinefunction(f) and not name.startswith("_")}

    protocol = methods(ShardPort)
    assert set(protocol) == {"apply", "status", "school", "block", "district", "district_rows", "sync",
                             "sync_schools", "snapshot_now", "state_copy", "funds_columns", "funds_in_range", "views"}
    for port in (LocalShard, RayShard, ShardHost):
        assert {name: params for name, params in methods(port).items() if name in protocol} == protocol, port
