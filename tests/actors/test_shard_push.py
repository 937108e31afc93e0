"""What a shard pushes after its batches, computed only at the rows its folds wrote: the roll-ups
equal the whole state's, and the risk features handed out are those of exactly the schools whose
features changed since the last push, as a comparison of every school's would find."""

import numpy as np

from actors.district_shard import DistrictShard
from startup.actor_ports import open_shard_ports
from tests.actors.test_district_shard import _append
from tests.fixtures.events import random_events
from twin.school_features import school_features_and_funds
from twin.views import district_rollup


async def test_pushed_roll_ups_and_changed_features_equal_a_whole_computation(seeded_url):
    ports = await open_shard_ports(seeded_url)
    shard = DistrictShard([0, 1, 2], ports.directory, ports.enrolment, ports.event_log, ports.snapshots)
    await shard.apply(*await _append(ports, random_events(ports.directory, 300, seed=1, days=3)))
    schools, _ = shard.changed_risk_features()
    assert len(schools) == shard.state.n_schools  # the first push hands out every school
    before = school_features_and_funds(shard.state)
    global_of_local = np.empty(shard.state.n_schools, np.int64)
    hosted = np.flatnonzero(shard.state.school_local >= 0)
    global_of_local[shard.state.school_local[hosted]] = hosted
    handed_out = 0
    for seed in range(2, 12):
        # a few schools a batch, some days repeated, some new: the rows path and the whole one
        await shard.apply(*await _append(ports, random_events(ports.directory, 25, seed=seed, days=4,
                                                               prefix=f"p{seed}")))
        rows = shard.district_rows()
        np.testing.assert_array_equal(rows["rows"], district_rollup(shard.state))
        assert rows["applied_seq"] == shard.applied_seq
        schools, features = shard.changed_risk_features()
        after = school_features_and_funds(shard.state)
        differs = ~((after == before) | (np.isnan(after) & np.isnan(before))).all(axis=1)
        assert sorted(schools) == sorted(global_of_local[np.flatnonzero(differs)])
        np.testing.assert_array_equal(features, after[shard.state.school_local[schools]])
        handed_out += len(schools)
        before = after
    assert 0 < handed_out < 10 * shard.state.n_schools
    shard.forget_sent_features()
    assert len(shard.changed_risk_features()[0]) == shard.state.n_schools
