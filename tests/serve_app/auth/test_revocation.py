"""Revocation, on both stores: revoked tokens, families and subjects are refused until they would
have expired anyway; a refresh token can be used once, and using it twice revokes its family."""

import asyncio
import time

import pytest

from adapters.redis_access import RedisRevocationStore
from serve_app.auth.revocation import MemoryRevocationStore
from tests.serve_app.auth.conftest import FakeClock, own_redis

HOUR = 3_600


@pytest.fixture(params=["memory", "redis"])
async def store(request, clock):
    if request.param == "memory":
        yield MemoryRevocationStore(clock=clock)
        return
    async with own_redis() as (client, prefix):
        clock.now = time.time()  # Redis expires entries by its own clock
        yield RedisRevocationStore(client, prefix=prefix, clock=clock)


def later(clock: FakeClock, seconds: int) -> int:
    return int(clock.now) + seconds


async def test_a_revoked_token_is_refused_and_others_are_not(store, clock):
    assert not await store.is_revoked("t1")
    await store.revoke_token("t1", later(clock, HOUR))
    assert await store.is_revoked("t1")
    assert not await store.is_revoked("t2")


async def test_revoking_an_already_expired_token_stores_nothing(store, clock):
    await store.revoke_token("t1", later(clock, -5))
    assert not await store.is_revoked("t1")


async def test_a_refresh_token_is_used_once_and_its_reuse_revokes_the_family(store, clock):
    assert await store.use_refresh("fam", "r1", later(clock, HOUR)) == "ok"
    assert await store.use_refresh("fam", "r2", later(clock, HOUR)) == "ok"  # the rotated successor
    assert not await store.family_revoked("fam")
    assert await store.use_refresh("fam", "r1", later(clock, HOUR)) == "reused"
    assert await store.family_revoked("fam")
    assert await store.use_refresh("fam", "r3", later(clock, HOUR)) == "revoked"
    assert await store.use_refresh("other", "r1", later(clock, HOUR)) == "ok"  # families are separate


async def test_a_revoked_family_refuses_its_refresh_tokens(store, clock):
    await store.revoke_family("fam", later(clock, HOUR))
    assert await store.family_revoked("fam")
    assert await store.use_refresh("fam", "r1", later(clock, HOUR)) == "revoked"
    assert not await store.family_revoked("other")


async def test_only_one_of_two_concurrent_uses_of_a_refresh_token_succeeds(store, clock):
    answers = await asyncio.gather(*(store.use_refresh("fam", "r1", later(clock, HOUR)) for _ in range(5)))
    assert answers.count("ok") == 1
    assert set(answers) <= {"ok", "reused", "revoked"}
    assert await store.family_revoked("fam")


async def test_a_subject_cut_off_keeps_the_latest_time(store, clock):
    assert await store.subject_revoked_before("42") is None
    await store.revoke_subject("42", before=1_000, keep_s=HOUR)
    assert await store.subject_revoked_before("42") == 1_000
    await store.revoke_subject("42", before=2_000, keep_s=HOUR)
    await store.revoke_subject("42", before=1_500, keep_s=HOUR)  # arrives late: must not undo the later cut
    assert await store.subject_revoked_before("42") == 2_000
    assert await store.subject_revoked_before("43") is None


async def test_an_access_token_is_refused_if_revoked_itself_or_issued_by_its_subjects_cut_off(store, clock):
    assert not await store.access_revoked("t1", "42", issued_at_ms=1_000)
    await store.revoke_subject("42", before=2_000, keep_s=HOUR)
    assert await store.access_revoked("t1", "42", issued_at_ms=2_000)  # at the cut-off: refused
    assert not await store.access_revoked("t1", "42", issued_at_ms=2_001)  # issued after it
    assert not await store.access_revoked("t1", "43", issued_at_ms=1_000)  # another subject
    await store.revoke_token("t1", later(clock, HOUR))
    assert await store.access_revoked("t1", "43", issued_at_ms=1_000)
    assert not await store.access_revoked("t2", "43", issued_at_ms=1_000)


async def test_memory_entries_lapse_when_their_tokens_would_have_expired(clock):
    store = MemoryRevocationStore(clock=clock)
    await store.revoke_token("t1", later(clock, 60))
    await store.revoke_family("fam", later(clock, 60))
    await store.revoke_subject("42", before=int(clock.now), keep_s=60)
    assert await store.use_refresh("other", "r1", later(clock, 60)) == "ok"
    clock.advance(59)
    assert await store.is_revoked("t1") and await store.family_revoked("fam")
    assert await store.subject_revoked_before("42") is not None
    clock.advance(1)
    assert not await store.is_revoked("t1")
    assert not await store.family_revoked("fam")
    assert await store.subject_revoked_before("42") is None
    assert await store.use_refresh("other", "r1", later(clock, 60)) == "ok"  # its use record lapsed too


async def test_a_reuse_revokes_the_family_as_long_as_its_newest_token_lives(clock):
    store = MemoryRevocationStore(clock=clock)
    assert await store.use_refresh("fam", "r1", later(clock, HOUR)) == "ok"
    assert await store.use_refresh("fam", "r1", later(clock, 60)) == "reused"
    clock.advance(HOUR - 1)
    assert await store.family_revoked("fam")


async def test_the_memory_store_drops_expired_entries(clock):
    store = MemoryRevocationStore(clock=clock)
    for n in range(100):
        await store.revoke_token(f"t{n}", later(clock, 60))
        await store.use_refresh(f"fam{n}", "r1", later(clock, 60))
    assert len(store) == 200
    clock.advance(HOUR)
    await store.revoke_token("fresh", later(clock, 60))
    assert len(store) == 1


async def test_redis_entries_expire_with_what_they_guard(redis_prefix):
    client, prefix = redis_prefix
    store = RedisRevocationStore(client, prefix=prefix)
    now = int(time.time())
    await store.revoke_token("t1", now + 600)
    await store.use_refresh("fam", "r1", now + HOUR)
    await store.use_refresh("fam", "r1", now + 60)
    await store.revoke_subject("42", before=now, keep_s=900)
    ttls = {key.decode()[len(prefix):]: await client.ttl(key) async for key in client.scan_iter(f"{prefix}*")}
    assert set(ttls) == {"token:t1", "family:{fam}:used", "family:{fam}:revoked", "subject:42:before"}
    assert 590 <= ttls["token:t1"] <= 600
    assert HOUR - 10 <= ttls["family:{fam}:revoked"] <= HOUR  # the newest token's expiry, not the reused one's
    assert 890 <= ttls["subject:42:before"] <= 900
    assert await store.subject_revoked_before("42") == now
