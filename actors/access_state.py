"""The API's security state shared by every replica when there is no Redis: token revocations,
refresh-token families, subject cut-offs and rate-limit windows, held by one named Ray actor
(`access-state`), as the embedded stream broker holds the streams. No replica decides alone: a
token logged out through one replica is refused by all of them from the next request on.

`AccessState` is the plain class the actor runs; it is handed an in-memory revocation store and
rate limiter (`serve_app.auth`), whose methods never await inside, so on the actor's one event
loop each check-and-mark is atomic. `RayAccessState` is the replica's side: both ports over the
actor, with the two checks every request makes sent together (`check`).

Account lockouts, failure counters, used TOTP steps and API-key revocations live in the
database's `users` and `api_keys` rows, which every replica reads: they need nothing here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, NamedTuple

import ray

from actors.names import ACCESS_ACTOR, NAMESPACE
from actors.node_placement import singleton_options



class Hit(NamedTuple):
    """Count one hit on a rate-limit key."""

    key: str
    limit: int
    window_s: int


class AccessCheck(NamedTuple):
    """Is this access token refused (revoked itself, or under its subject's cut-off)?"""

    token_id: str
    subject: str
    issued_at_ms: int


class AccessState:
    """A revocation store and a rate limiter in one process, for every API replica to share."""

    def __init__(self, revocations: Any, limiter: Any) -> None:  # noqa: ANN401 - serve_app.auth's ports
        self._revocations, self._limiter = revocations, limiter

    async def check(self, items: Sequence[Hit | AccessCheck]) -> list:
        """The hot path: the answers (a `Verdict` for a hit, a bool for an access check) in order."""
        out = []
        for item in items:
            if isinstance(item, Hit):
                out.append(await self._limiter.hit(item.key, item.limit, item.window_s))
            else:
                out.append(await self._revocations.access_revoked(item.token_id, item.subject, item.issued_at_ms))
        return out

    async def revoke_token(self, token_id: str, expires_at: int) -> None:
        await self._revocations.revoke_token(token_id, expires_at)

    async def is_revoked(self, token_id: str) -> bool:
        return await self._revocations.is_revoked(token_id)

    async def use_refresh(self, family: str, token_id: str, expires_at: int) -> str:
        return await self._revocations.use_refresh(family, token_id, expires_at)

    async def revoke_family(self, family: str, expires_at: int) -> None:
        await self._revocations.revoke_family(family, expires_at)

    async def family_revoked(self, family: str) -> bool:
        return await self._revocations.family_revoked(family)

    async def revoke_subject(self, subject: str, before: int, keep_s: int) -> None:
        await self._revocations.revoke_subject(subject, before, keep_s)

    async def subject_revoked_before(self, subject: str) -> int | None:
        return await self._revocations.subject_revoked_before(subject)


def open_access_actor(revocations: Any, limiter: Any):  # noqa: ANN201, ANN401 - a Ray actor handle
    """Find the `access-state` actor, or create it around `revocations` and `limiter` (ignored when
    it exists). Detached: the replica that happens to create it may stop, the state must not. It
    ends with the twin's Ray (or `TwinCluster.kill`); a restart by Ray comes back empty, as a
    restarted twin does, so revocations last as long as the twin runs: a deployment that must keep
    them longer configures Redis."""
    return ray.remote(num_cpus=0, max_restarts=-1, max_concurrency=1000)(AccessState).options(
        name=ACCESS_ACTOR, namespace=NAMESPACE, get_if_exists=True, lifetime="detached",
        **singleton_options()).remote(revocations, limiter)


class RayAccessState:
    """`RevocationStore` and `RateLimiter` (serve_app.auth) over the `access-state` actor.

    A rate-limit hit and an access token's check come with every request. While one call to the
    actor is in flight, the checks that arrive wait and go together in the next call: a request
    costs one round trip when the replica is quiet, and a busy replica makes one call per round
    trip instead of one per request (the actor answers ~1,500 calls a second, far fewer than the
    checks of two busy replicas)."""

    def __init__(self, actor) -> None:  # noqa: ANN001
        self._actor = actor
        self._waiting: list[tuple[Hit | AccessCheck, asyncio.Future]] = []
        self._sender: asyncio.Task | None = None

    async def _check(self, item: Hit | AccessCheck) -> Any:  # noqa: ANN401
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(self._send())
        return await future

    async def _send(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                answers = await self._actor.check.remote([item for item, _ in batch])
            except Exception as exc:  # noqa: BLE001 - every waiting request gets the failure
                answers = [exc] * len(batch)
            for (_, future), answer in zip(batch, answers, strict=True):
                if future.done():  # its request was cancelled meanwhile
                    continue
                if isinstance(answer, Exception):
                    future.set_exception(answer)
                else:
                    future.set_result(answer)

    async def hit(self, key: str, limit: int, window_s: int):  # noqa: ANN201 - a Verdict
        return await self._check(Hit(key, limit, window_s))

    async def access_revoked(self, token_id: str, subject: str, issued_at_ms: int) -> bool:
        return await self._check(AccessCheck(token_id, subject, issued_at_ms))

    async def revoke_token(self, token_id: str, expires_at: int) -> None:
        await self._actor.revoke_token.remote(token_id, expires_at)

    async def is_revoked(self, token_id: str) -> bool:
        return await self._actor.is_revoked.remote(token_id)

    async def use_refresh(self, family: str, token_id: str, expires_at: int) -> str:
        return await self._actor.use_refresh.remote(family, token_id, expires_at)

    async def revoke_family(self, family: str, expires_at: int) -> None:
        await self._actor.revoke_family.remote(family, expires_at)

    async def family_revoked(self, family: str) -> bool:
        return await self._actor.family_revoked.remote(family)

    async def revoke_subject(self, subject: str, before: int, keep_s: int) -> None:
        await self._actor.revoke_subject.remote(subject, before, keep_s)

    async def subject_revoked_before(self, subject: str) -> int | None:
        return await self._actor.subject_revoked_before.remote(subject)
