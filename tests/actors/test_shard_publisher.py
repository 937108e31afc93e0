"""A shard with a `ShardPublisher` tells the broker what each folded batch changed: one message
per district touched with the changed schools' deltas (as the read model shows them), and alerts."""

import numpy as np
import pytest

from actors.broker import MemoryBroker
from actors.district_shard import DistrictShard
from actors.shard_publisher import ShardPublisher, alerts_topic, schools_topic
from startup.actor_ports import open_shard_ports
from tests.actors.test_district_shard import _append
from tests.fixtures.events import random_events
from twin.deltas import school_delta


@pytest.fixture
async def world(seeded_url):
    ports = await open_shard_ports(seeded_url)
    broker = MemoryBroker(1_000)
    publisher = ShardPublisher(broker, ports.directory, low_stock_days=3.0)
    shard = DistrictShard([0, 1, 2], ports.directory, ports.enrolment, ports.event_log, ports.snapshots,
                          on_applied=publisher.on_applied)
    yield ports, broker, publisher, shard
    await ports.close()


async def _all(broker, topics):
    return await broker.read({t: 0 for t in topics}, 0)


def _sid(directory, i):
    return f"{int(directory.school_ids[i]):011d}"


async def test_each_district_touched_gets_one_message_with_deltas_matching_the_twin(world):
    ports, broker, publisher, shard = world
    directory = ports.directory
    batch, after, upto = await _append(ports, random_events(directory, 400, seed=5))
    await shard.apply(batch, after, upto)
    await publisher.flush()

    messages = await _all(broker, [schools_topic(d) for d in range(3)])
    assert sorted(t for t, _, _ in messages) == sorted({schools_topic(int(d)) for d in batch.district})
    deltas = {school: school_delta(m, k) for _, _, m in messages for k, school in enumerate(m["school_ids"])}
    assert {m["seq"] for _, _, m in messages} == {upto}
    changed = {_sid(directory, int(i)) for i in batch.school if i >= 0}
    assert set(deltas) == changed
    for i in {int(i) for i in batch.school if i >= 0}:
        view, delta = shard.school(i), deltas[_sid(directory, i)]
        assert (delta["today"], delta["stale"], delta["stock_days"]) == (view["today"], view["stale"], view["stock_days"])
        assert delta["stock_kg"] == pytest.approx(view["stock_kg"], abs=0.01)
        today = [d for d in view["recent_days"] if d["date"] == view["today"]]
        assert delta["meals_today"] == (sum(today[0]["meals_served"].values()) if today else 0)

    again = await shard.apply(batch, after, upto)  # a repeated delivery folds nothing, publishes nothing
    await publisher.flush()
    assert not again.any() and len(await _all(broker, [schools_topic(d) for d in range(3)])) == len(messages)


async def test_alerts_for_shortage_closure_and_each_fall_below_three_days_of_rice(world):
    ports, broker, publisher, shard = world
    directory = ports.directory
    s = _sid(directory, 0)
    d = int(directory.school_district[0])
    district = directory.district_names()[d]
    n_in_district = int(np.count_nonzero(directory.school_district == d))
    meals = {"type": "attendance_reported", "date": "2025-07-01", "school_id": s, "present": 50,
             "meals_served": {"primary": 50}}
    for extra in [
        [{"type": "stock_delivered", "event_id": "d1", "date": "2025-07-01", "school_id": s, "rice_kg": 500}],
        [meals | {"event_id": "m1"}],  # 5 kg a day: 495 kg is 99 days, no alert
        [{"type": "stock_adjusted", "event_id": "x1", "date": "2025-07-01", "school_id": s, "rice_kg": -490,
          "reason": "spoilage"}],  # 5 kg left: 1 day
        [{"type": "stock_adjusted", "event_id": "x2", "date": "2025-07-01", "school_id": s, "rice_kg": -1,
          "reason": "loss"}],  # still low: no second alert
        [{"type": "shortage_reported", "event_id": "s1", "date": "2025-07-01", "school_id": s, "item": "rice"},
         {"type": "school_closed", "event_id": "c1", "date": "2025-07-01", "date_to": "2025-07-04",
          "district": district, "reason": "cyclone"}],
    ]:
        await shard.apply(*await _append(ports, extra))
    await publisher.flush()

    alerts = [m for _, _, m in await _all(broker, [alerts_topic(d)])]
    assert [a["kind"] for a in alerts] == ["low_stock", "shortage_reported", "school_closed"]
    assert alerts[0]["school_id"] == s and alerts[0]["stock_days"] == pytest.approx(1.0)
    assert alerts[2] | {"seq": 0} == {"seq": 0, "district": district, "date": "2025-07-01", "kind": "school_closed",
                                      "to": "2025-07-04", "reason": "cyclone", "scope": "district"}
    last = (await _all(broker, [schools_topic(d)]))[-1][2]
    assert len(last["school_ids"]) == n_in_district  # a district closure changes every school in it
    assert all(last["closed_today"]) and not any(last["stale"])


async def test_a_recovery_publishes_only_past_what_was_published_before(world):
    """A restarted shard's replay: the events its earlier incarnation published are folded quietly,
    those appended after are published as a delivered batch's would be."""
    ports, broker, publisher, shard = world
    first = await _append(ports, random_events(ports.directory, 300, seed=1))
    await shard.apply(*first)
    await publisher.flush()
    published = await publisher.published_upto([0, 1, 2])
    assert published == first[2]
    down = await _append(ports, random_events(ports.directory, 300, seed=2))  # never delivered

    restarted = ShardPublisher(broker, ports.directory, low_stock_days=3.0)
    again = DistrictShard([0, 1, 2], ports.directory, ports.enrolment, ports.event_log, ports.snapshots,
                          on_applied=restarted.on_applied)
    await again.recover(publish_after=published)
    await restarted.flush()
    later = [m for _, _, m in await _all(broker, [schools_topic(d) for d in range(3)]) if m["seq"] > first[2]]
    assert {m["seq"] for m in later} and all(m["seq"] <= down[2] for m in later)
    assert {s for m in later for s in m["school_ids"]} == {_sid(ports.directory, int(i)) for i in down[0].school if i >= 0}
    assert len(await _all(broker, [schools_topic(d) for d in range(3)])) == len(later) + len(
        {int(d) for d in first[0].district})  # nothing of the first batch a second time
    assert again.applied_seq == down[2]
