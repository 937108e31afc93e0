"""A dashboard scope keeps up with a shard's news when the state twin is slow to take the shard's
roll-ups: the hub reads the scope every news gap until the view holds the batch, for longer than
one interval, rather than leaving the view to the next interval's read."""

from __future__ import annotations

import asyncio

from actors.broker import MemoryBroker
from configs.settings import Streams
from serve_app.streams.hub import StreamHub

INTERVAL_S, LAG_S = 3.0, 3.5  # the view holds the batch only after more than an interval


async def _delivered_after(chase_s: float) -> float:
    """Seconds from a shard's news to the view holding its batch reaching a watcher."""
    loop = asyncio.get_running_loop()
    broker = MemoryBroker()
    hub = StreamHub(broker, Streams(read_block_s=0.05, dashboard_interval_s=INTERVAL_S, dashboard_news_gap_s=0.05,
                                    dashboard_chase_s=chase_s))
    news_at: list[float] = []

    async def read() -> tuple[int, dict]:  # the state twin: it holds seq 5 only LAG_S after the news
        seq = 5 if news_at and loop.time() - news_at[0] >= LAG_S else 4
        return seq, {"applied_seq_min": seq}

    got: asyncio.Future = loop.create_future()
    _, (seq, _) = await hub.watch("state", read, lambda s, _v: s == 5 and not got.done() and got.set_result(
        loop.time()), ("schools:0",))
    assert seq == 4
    await asyncio.sleep(0.3)  # the poller follows its news topic
    news_at.append(loop.time())
    await broker.publish("schools:0", {"seq": 5})
    try:
        return await asyncio.wait_for(got, 10) - news_at[0]
    finally:
        await hub.close()


async def test_the_view_is_read_until_it_holds_the_news_even_past_an_interval():
    took = await _delivered_after(chase_s=10.0)
    assert LAG_S <= took < LAG_S + 0.5  # a news gap or so after the state twin has it


async def test_a_chase_no_longer_than_the_interval_leaves_the_view_to_the_next_interval():
    took = await _delivered_after(chase_s=INTERVAL_S)  # as before the chase had a setting of its own
    assert took > LAG_S + 1.0
