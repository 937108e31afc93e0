"""What makes a still-unexpired token invalid: a logout, a replayed refresh token, a password or
role change.

Every entry is kept only as long as it matters: until the token (or, for a family, its newest
token) would have expired anyway, so the store never grows beyond the live tokens.

Refresh tokens rotate: each is used once, in exchange for a new one of the same family. If a used
refresh token comes back, either the client or a thief holds a copy; we cannot tell which, so the
whole family is revoked and both must log in again (`use_refresh` answers "reused").

`revoke_subject` cuts off every token issued at or before a time. Token times are whole seconds,
so a token issued in the same second as the cut is refused too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal, Protocol

RefreshUse = Literal["ok", "reused", "revoked"]
_SWEEP_EVERY_S = 60.0


class RevocationStore(Protocol):
    async def revoke_token(self, token_id: str, expires_at: int) -> None:
        """Refuse token `token_id` from now until `expires_at` (when it would expire anyway)."""

    async def is_revoked(self, token_id: str) -> bool: ...

    async def use_refresh(self, family: str, token_id: str, expires_at: int) -> RefreshUse:
        """Mark refresh token `token_id` of `family` used, atomically. "ok" the first time;
        "reused" (and the family is revoked) if it was used before; "revoked" if the family is.
        `expires_at` is the latest expiry any token of the family may have: pass the expiry of
        the refresh token about to be issued in exchange."""

    async def revoke_family(self, family: str, expires_at: int) -> None:
        """Refuse every refresh token of `family` until `expires_at` (its newest token's expiry)."""

    async def family_revoked(self, family: str) -> bool: ...

    async def revoke_subject(self, subject: str, before: int, keep_s: int) -> None:
        """Refuse every token of `subject` issued at or before `before`. Keep that rule `keep_s`
        seconds (the longest token lifetime). A later cut-off is never replaced by an earlier one."""

    async def subject_revoked_before(self, subject: str) -> int | None:
        """The time at or before which `subject`'s tokens are refused, if any."""

    async def access_revoked(self, token_id: str, subject: str, issued_at_ms: int) -> bool:
        """Whether an access token is refused: revoked itself, or issued by its subject's cut-off.
        Asked on every signed-in request, so one look-up (one round trip to Redis)."""


def cut_off(before: int | None, issued_at_ms: int) -> bool:
    """A token issued at `issued_at_ms` falls under a subject's cut-off `before` (None: none)."""
    return before is not None and issued_at_ms <= before


class MemoryRevocationStore:
    """One process's store: for tests and a single-replica deployment. Entries expire lazily."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._revoked_tokens: dict[str, float] = {}
        self._revoked_families: dict[str, float] = {}
        self._used: dict[str, tuple[set[str], float]] = {}  # family -> (used ids, kept until)
        self._subjects: dict[str, tuple[int, float]] = {}  # subject -> (before, kept until)
        self._next_sweep = clock() + _SWEEP_EVERY_S

    async def revoke_token(self, token_id: str, expires_at: int) -> None:
        self._sweep()
        if expires_at > self._clock():
            self._revoked_tokens[token_id] = max(expires_at, self._revoked_tokens.get(token_id, 0))

    async def is_revoked(self, token_id: str) -> bool:
        return self._clock() < self._revoked_tokens.get(token_id, 0)

    async def use_refresh(self, family: str, token_id: str, expires_at: int) -> RefreshUse:
        # No await inside: on one event loop the check and the mark cannot interleave with another use.
        self._sweep()
        now = self._clock()
        if self._family_revoked(family):
            return "revoked"
        used, kept_until = self._used.get(family, (set(), 0))
        if kept_until <= now:
            used = set()
        if token_id in used:
            self._revoke_family(family, max(expires_at, kept_until))
            return "reused"
        used.add(token_id)
        self._used[family] = (used, max(expires_at, kept_until))
        return "ok"

    async def revoke_family(self, family: str, expires_at: int) -> None:
        self._sweep()
        self._revoke_family(family, expires_at)

    async def family_revoked(self, family: str) -> bool:
        return self._family_revoked(family)

    def _revoke_family(self, family: str, expires_at: float) -> None:
        if expires_at > self._clock():
            self._revoked_families[family] = max(expires_at, self._revoked_families.get(family, 0))

    def _family_revoked(self, family: str) -> bool:
        return self._clock() < self._revoked_families.get(family, 0)

    async def revoke_subject(self, subject: str, before: int, keep_s: int) -> None:
        self._sweep()
        now = self._clock()
        previous = self._subjects.get(subject)
        if previous is not None and previous[1] > now:
            before = max(before, previous[0])
            keep_until = max(now + keep_s, previous[1])
        else:
            keep_until = now + keep_s
        self._subjects[subject] = (before, keep_until)

    async def subject_revoked_before(self, subject: str) -> int | None:
        entry = self._subjects.get(subject)
        return entry[0] if entry is not None and self._clock() < entry[1] else None

    async def access_revoked(self, token_id: str, subject: str, issued_at_ms: int) -> bool:
        return await self.is_revoked(token_id) or cut_off(await self.subject_revoked_before(subject), issued_at_ms)

    def __len__(self) -> int:
        """How many entries are held, expired or not (for checking that memory stays bounded)."""
        return len(self._revoked_tokens) + len(self._revoked_families) + len(self._used) + len(self._subjects)

    def _sweep(self) -> None:
        # Lookups already ignore expired entries; this only frees their memory, at most once a minute.
        now = self._clock()
        if now < self._next_sweep:
            return
        self._next_sweep = now + _SWEEP_EVERY_S
        for table in (self._revoked_tokens, self._revoked_families):
            for key in [k for k, until in table.items() if until <= now]:
                del table[key]
        for table in (self._used, self._subjects):
            for key in [k for k, (_, until) in table.items() if until <= now]:
                del table[key]
