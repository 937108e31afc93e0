"""The live feed's client: it waits as long as a busy twin asks and never drops a day for it."""

import httpx
import pytest

from cli.feed import post_events


def _twin(answers: list[httpx.Response]) -> httpx.AsyncClient:
    calls = iter(answers)
    return httpx.AsyncClient(transport=httpx.MockTransport(lambda request: next(calls)), base_url="http://twin")


async def test_a_busy_twin_is_waited_for_however_long_it_stays_busy():
    busy = [httpx.Response(503, headers={"retry-after": "0"}, json={"success": False}) for _ in range(20)]
    limited = [httpx.Response(429, headers={"retry-after": "0"}, json={"success": False})]
    done = httpx.Response(200, json={"success": True, "data": {"accepted": 3}})
    async with _twin(busy + limited + [done]) as client:
        assert await post_events(client, [{}], attempts=2) == {"accepted": 3}


async def test_server_errors_without_a_time_to_come_back_give_up_after_the_attempts():
    broken = [httpx.Response(500, json={"success": False}) for _ in range(3)]
    async with _twin(broken) as client:
        with pytest.raises(RuntimeError, match="repeated attempts"):
            await post_events(client, [{}], attempts=3)
