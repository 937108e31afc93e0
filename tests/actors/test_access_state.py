"""The replicas' shared security state: `AccessState` answers as the in-memory stores do, and
`RayAccessState` sends the checks that arrive while a call is in flight together, in order."""

import asyncio

import pytest

from actors.access_state import AccessCheck, AccessState, Hit, RayAccessState
from tests.fixtures.access_state import FakeActor
from serve_app.auth.rate_limit import MemoryRateLimiter
from serve_app.auth.revocation import MemoryRevocationStore


@pytest.fixture
def actor():
    return FakeActor(AccessState(MemoryRevocationStore(), MemoryRateLimiter()))


async def test_checks_arriving_together_share_calls_and_keep_their_order(actor):
    client = RayAccessState(actor)
    verdicts = await asyncio.gather(*(client.hit("ip:10.0.0.1", 5, 60) for _ in range(8)))
    assert [v.allowed for v in verdicts] == [True] * 5 + [False] * 3
    assert [v.remaining for v in verdicts[:5]] == [4, 3, 2, 1, 0]
    assert len(actor.calls) == 1

    first = asyncio.ensure_future(client.hit("ip:10.0.0.2", 5, 60))
    await asyncio.sleep(0.001)  # its call is in flight
    later = [asyncio.ensure_future(client.hit("ip:10.0.0.2", 5, 60)) for _ in range(6)]
    verdicts = await asyncio.gather(first, *later)
    assert [v.remaining for v in verdicts] == [4, 3, 2, 1, 0, 0, 0]
    assert len(actor.calls) == 3  # the first alone, the six that waited for it in one more


async def test_a_revocation_through_one_client_is_seen_by_another(actor):
    one, other = RayAccessState(actor), RayAccessState(actor)
    assert not await other.access_revoked("jti-1", "user:1", 1_000)
    await one.revoke_token("jti-1", 2**40)
    await one.revoke_subject("user:2", 5_000, 3600)
    revoked = await asyncio.gather(other.access_revoked("jti-1", "user:1", 1_000),
                                   other.access_revoked("jti-2", "user:2", 4_000),
                                   other.access_revoked("jti-3", "user:2", 6_000))
    assert revoked == [True, True, False]
    assert await other.use_refresh("family", "r-1", 2**40) == "ok"
    assert await one.use_refresh("family", "r-1", 2**40) == "reused"


async def test_a_failed_call_fails_every_check_it_carried_and_the_next_call_goes_on(actor):
    client = RayAccessState(actor)
    real = actor.check

    class _Broken:
        def remote(self, items):  # noqa: ANN001, ANN201
            async def fail():  # noqa: ANN202
                raise ConnectionError("actor gone")
            return fail()

    actor.check = _Broken()
    results = await asyncio.gather(client.hit("k", 1, 60), client.access_revoked("j", "s", 1),
                                   return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    actor.check = real
    assert (await client.hit("k", 1, 60)).allowed


async def test_the_plain_state_answers_a_mixed_batch_in_order():
    state = AccessState(MemoryRevocationStore(), MemoryRateLimiter())
    await state.revoke_token("gone", 2**40)
    answers = await state.check([Hit("a", 1, 60), AccessCheck("gone", "user:1", 0), Hit("a", 1, 60),
                                 AccessCheck("live", "user:1", 0)])
    assert [answers[0].allowed, answers[1], answers[2].allowed, answers[3]] == [True, True, False, False]
