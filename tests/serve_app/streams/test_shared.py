"""A message every follower is sent alike is one payload, encoded to JSON once; each client's frame
around it stays its own (its seq of the topic, its time) and reads exactly as a frame of the plain
payload does."""

from __future__ import annotations

import asyncio

import numpy as np
import orjson

from actors.broker import MemoryBroker
from configs.settings import Streams
from serve_app.streams.hub import StreamHub
from serve_app.streams.shared import ENCODING, Shared, frame_data, shared


async def _until(predicate, timeout_s: float = 5.0) -> None:  # noqa: ANN001
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.02)


def _columns(seq: int) -> dict:
    """A shard's `schools:` message of two schools, as the hub reads it."""
    return {"school_ids": ["33010100101", "33010100102"], "seq": seq, "today": "2026-06-04",
            "present_today": [47, 12], "meals_today": [46, 12], "stock_kg": [[10.0, 2.0, 0.5], [1.0, 0.2, 0.1]],
            "stock_days": [8.5, 0.9], "stale": [False, False], "closed_today": [False, True]}


async def test_followers_of_a_message_are_handed_one_payload():
    hub = StreamHub(MemoryBroker(), Streams(read_block_s=0.05))
    got: dict[str, list] = {name: [] for name in ("alert_a", "alert_b", "one_a", "one_b", "two")}
    follows = [
        await hub.follow("alerts:0", lambda seq, p: got["alert_a"].append(p), None),
        await hub.follow("alerts:0", lambda seq, p: got["alert_b"].append(p), None),
        await hub.follow("schools:0", lambda seq, p: got["one_a"].append(p), None, "33010100101"),
        await hub.follow("schools:0", lambda seq, p: got["one_b"].append(p), None, "33010100101"),
        await hub.follow("schools:0", lambda seq, p: got["two"].append(p), None, "33010100102"),
    ]
    for follow, _ in follows:
        follow.release()
    await hub.broker.publish("alerts:0", {"kind": "shortage", "school_id": "33010100101", "seq": 7})
    await hub.broker.publish("schools:0", _columns(9))
    await _until(lambda: all(got.values()))

    (alert_a,), (alert_b,) = got["alert_a"], got["alert_b"]
    assert alert_a is alert_b and isinstance(alert_a, Shared)
    assert alert_a == {"kind": "shortage", "school_id": "33010100101", "seq": 7}
    (one_a,), (one_b,), (two,) = got["one_a"], got["one_b"], got["two"]
    assert one_a is one_b and isinstance(one_a, Shared)  # one school's delta, cut once for its clients
    assert one_a["school_id"] == "33010100101" and one_a["seq"] == 9
    assert two["school_id"] == "33010100102" and two["closed_today"] is True
    await hub.close()


async def test_a_scope_view_is_one_payload_for_its_watchers():
    hub = StreamHub(MemoryBroker(), Streams(read_block_s=0.05, dashboard_interval_s=0.05))
    reads = iter(range(1, 1000))

    async def read() -> tuple[int, dict]:
        seq = next(reads)
        return seq, {"as_of_seq": seq, "schools": 2}

    first, second = [], []
    a, (_, snap_a) = await hub.watch("district:Ariyalur", read, lambda seq, v: first.append(v))
    b, (_, snap_b) = await hub.watch("district:Ariyalur", read, lambda seq, v: second.append(v))
    assert snap_a is snap_b and isinstance(snap_a, Shared)  # the second watcher's snapshot is the poller's view
    await _until(lambda: first and second)
    assert first[0] is second[0] and isinstance(first[0], Shared)
    hub.unwatch("district:Ariyalur", a)
    hub.unwatch("district:Ariyalur", b)
    await hub.close()


def test_a_frame_of_a_shared_payload_reads_as_a_frame_of_the_plain_one():
    payload = {"school_id": "33010100101", "seq": np.int64(9), "stock_days": np.float32(0.5),
               "stock_kg": {"rice": 1.5}, "name": "அரசு பள்ளி"}
    one = shared(payload)
    frames = [orjson.dumps({"topic": "school:33010100101", "seq": seq, "type": "delta",
                            "data": frame_data(one), "timestamp": "2026-06-04T10:15:02.123Z"}, option=ENCODING)
              for seq in (9, 12)]
    plain = orjson.dumps({"topic": "school:33010100101", "seq": 9, "type": "delta", "data": payload,
                          "timestamp": "2026-06-04T10:15:02.123Z"}, option=ENCODING)
    assert frames[0] == plain
    assert orjson.loads(frames[1])["seq"] == 12 and orjson.loads(frames[1])["data"] == orjson.loads(plain)["data"]
    assert one.fragment() is one.fragment()  # encoded once
    assert shared(one) is one and shared(None) is None and frame_data([1]) == [1]
