"""A shard's pushes keep to a share of a core: the period stretches with what a push costs; news
runs a push at once when the last is a period old, else joins the one due."""

import asyncio
import time

import pytest

from actors.pacing import PUSH_CPU_SHARE, PacedPush, push_period


def test_a_cheap_push_keeps_the_shortest_period():
    assert push_period(0.01, floor_s=1.0) == 1.0  # a district of Tamil Nadu


def test_a_costly_push_is_spaced_to_stay_within_its_share():
    spent = 1.2  # ~1.08 M schools on one shard
    period = push_period(spent, floor_s=1.0)
    assert period == pytest.approx(spent / PUSH_CPU_SHARE)
    assert spent / period <= PUSH_CPU_SHARE + 1e-12
    assert push_period(spent, floor_s=1.0, share=0.5) == pytest.approx(2.4)


@pytest.mark.parametrize("share", [0.0, -0.1, 1.5])
def test_a_share_outside_zero_to_one_is_refused(share):
    with pytest.raises(ValueError, match="share"):
        push_period(1.0, floor_s=1.0, share=share)


async def test_paced_push_runs_at_once_when_idle_then_joins_news_into_one_run_per_period():
    runs = []

    async def push() -> float:
        runs.append(time.monotonic())
        return 0.001  # cheap: the floor decides

    paced = PacedPush(push, floor_s=0.2)
    paced.news()
    await asyncio.sleep(0.05)
    assert len(runs) == 1  # at once
    for _ in range(5):  # news within the period: one run when it is over
        paced.news()
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)
    assert len(runs) == 2 and runs[1] - runs[0] >= 0.19


async def test_a_costly_paced_push_spaces_the_next_and_now_runs_one_at_a_time():
    running, overlapped, runs = [0], [False], []

    async def push() -> float:
        running[0] += 1
        overlapped[0] |= running[0] > 1
        await asyncio.sleep(0.05)
        running[0] -= 1
        runs.append(time.monotonic())
        return 0.05  # at a tenth of a core: 0.5 s to the next

    paced = PacedPush(push, floor_s=0.01, share=0.1)
    await asyncio.gather(paced.now(), paced.now(), paced.now())
    assert len(runs) == 3 and not overlapped[0]
    assert paced.period_s == pytest.approx(0.5)
    paced.news()
    await asyncio.sleep(0.2)
    assert len(runs) == 3  # spaced: not yet
    await asyncio.sleep(0.45)
    assert len(runs) == 4
