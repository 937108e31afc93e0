"""The `StreamBroker` contract, on both implementations: the in-memory ring buffers (the embedded
`stream-broker` actor's class) and Redis Streams (real Redis on 127.0.0.1:6379)."""

import asyncio
from types import SimpleNamespace

import pytest

from actors.broker import MemoryBroker, RayBroker, first_seq_now
from adapters.redis_broker import RedisBroker
from tests.fixtures import redis as redis_fixture

HISTORY = 10


@pytest.fixture(params=["memory", "redis"])
async def broker(request):
    if request.param == "memory":
        yield MemoryBroker(HISTORY)
        return
    redis_fixture.require_redis(await redis_fixture.redis_available())
    prefix = redis_fixture.fresh_prefix()
    broker = RedisBroker(redis_fixture.REDIS_URL, HISTORY, prefix)
    yield broker
    await broker.close()
    await redis_fixture.drop_prefix(prefix)


async def test_publish_numbers_each_topic_consecutively_and_read_resumes_after_a_cursor(broker):
    assert await broker.bounds("t") == (1, 0)  # nothing yet
    started = first_seq_now()
    t = [await broker.publish("t", {"n": n}) for n in range(3)]
    assert t[0] >= started and t == [t[0], t[0] + 1, t[0] + 2]  # from the clock: above any seq of a past life
    u0, t3, u1 = await broker.publish_many([("u", {"n": 0}), ("t", {"n": 3}), ("u", {"n": 1})])
    assert (t3, u1) == (t[0] + 3, u0 + 1)
    got = await broker.read({"t": t[1], "u": u0 - 1}, 0)
    assert sorted((t, s, p["n"]) for t, s, p in got) == [("t", t3 - 1, 2), ("t", t3, 3), ("u", u0, 0), ("u", u1, 1)]
    assert await broker.read({"t": t3, "u": u1}, 0) == []
    assert await broker.bounds("t") == (t[0], t3)


async def test_history_is_bounded_and_resume_from_before_it_gets_what_is_kept(broker):
    # Redis trims whole nodes of 100 entries (MAXLEN ~), so publish enough for it to trim some
    seqs = await broker.publish_many([("t", {"n": n}) for n in range(30 * HISTORY)])
    first, last = await broker.bounds("t")
    assert last == seqs[-1] == seqs[0] + 30 * HISTORY - 1
    assert seqs[0] < first <= last - HISTORY + 1  # never fewer kept than asked
    got = await broker.read({"t": 0}, 0)
    assert [s for _, s, _ in got] == list(range(first, last + 1))
    assert [p["n"] for _, _, p in got] == [s - seqs[0] for s in range(first, last + 1)]


async def test_a_payload_comes_back_as_json_gives_it(broker):
    seq = await broker.publish("t", {"ids": ("33010100101",), "days": [1.5, None], "stale": [True]})
    assert await broker.read({"t": seq - 1}, 0) == [("t", seq, {"ids": ["33010100101"], "days": [1.5, None],
                                                                  "stale": [True]})]


async def test_a_blocking_read_wakes_when_a_message_is_published(broker):
    seq = await broker.publish("t", {"n": 0})
    reader = asyncio.create_task(broker.read({"t": seq, "other": 0}, 5.0))
    await asyncio.sleep(0.1)
    assert not reader.done()
    await broker.publish("t", {"n": 1})
    got = await asyncio.wait_for(reader, 3)
    assert [(t, s, p) for t, s, p in got] == [("t", seq + 1, {"n": 1})]


async def test_a_blocking_read_with_no_news_returns_empty_after_its_wait(broker):
    started = asyncio.get_running_loop().time()
    assert await broker.read({"t": 0}, 0.2) == []
    assert asyncio.get_running_loop().time() - started >= 0.15


async def test_the_embedded_broker_also_forgets_messages_older_than_its_history_seconds():
    now = [1000.0]
    broker = MemoryBroker(history=100, history_s=60.0, clock=lambda: now[0])
    old = await broker.publish_many([("t", {"n": 0}), ("t", {"n": 1})])
    now[0] += 30
    middle = await broker.publish("t", {"n": 2})
    now[0] += 45  # the first two are 75 s old now, the middle one 45 s
    newest = await broker.publish("t", {"n": 3})
    assert await broker.bounds("t") == (middle, newest)
    assert [p["n"] for _, _, p in await broker.read({"t": old[0] - 1}, 0)] == [2, 3]  # resume gets what is kept
    now[0] += 3600  # a quiet topic keeps its last message: it is trimmed when the topic is next published
    assert await broker.bounds("t") == (middle, newest)


async def test_a_burst_reaches_the_broker_actor_in_parts(monkeypatch):
    # a risk round on a twin started without stock alerts every school at once: one call that size
    # would hold the broker actor, and every live delta with it
    memory, calls = MemoryBroker(1_000), []

    def remote(messages):
        calls.append(len(messages))
        return memory.publish_many(messages)

    monkeypatch.setattr("actors.broker.PUBLISH_PART", 4)
    broker = RayBroker(actor=SimpleNamespace(publish_many=SimpleNamespace(remote=remote)))
    messages = [(f"alerts:{k % 3}", {"n": k}) for k in range(15)]
    seqs = await broker.publish_many(messages)
    assert calls == [4, 4, 4, 3]  # in parts, none lost between them
    assert len(seqs) == 15 and [seqs[k] for k in range(0, 15, 3)] == list(range(seqs[0], seqs[0] + 5))
    got = await memory.read({f"alerts:{t}": 0 for t in range(3)}, 0)
    assert sorted(p["n"] for _, _, p in got) == list(range(15))
