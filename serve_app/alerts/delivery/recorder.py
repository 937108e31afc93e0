"""What happened to each delivery: every attempt's outcome, and the dead letter of a delivery
that failed for good. `DeliveryRecorder` is the port (`StoredDeliveryRecorder` writes the database);
`MemoryDeliveryRecorder` keeps them in lists (unbounded: for tests and short runs)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from serve_app.alerts.delivery.subscription import Alert, ChannelName


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class DeliveryAttempt:
    delivery_id: str  # one delivery of one alert to one subscription, the same on each of its attempts
    alert_id: Any
    subscription_id: int
    channel: ChannelName
    attempt: int  # 1-based
    ok: bool
    error: str | None = None  # why it failed; never holds a secret
    retry_in_s: float | None = None  # the backoff before the next attempt; None if none follows
    at: dt.datetime = field(default_factory=_utc_now)


@dataclass(frozen=True)
class DeadLetter:
    """A delivery given up on: the whole alert, so that it can be sent again once the cause is fixed."""

    delivery_id: str
    alert: Alert
    subscription_id: int
    channel: ChannelName
    attempts: int
    last_error: str
    at: dt.datetime = field(default_factory=_utc_now)


class DeliveryRecorder(Protocol):
    async def record_attempt(self, attempt: DeliveryAttempt) -> None: ...

    async def record_dead_letter(self, letter: DeadLetter) -> None: ...


class MemoryDeliveryRecorder:
    def __init__(self) -> None:
        self.attempts: list[DeliveryAttempt] = []
        self.dead_letters: list[DeadLetter] = []
        self._changed = asyncio.Condition()

    async def record_attempt(self, attempt: DeliveryAttempt) -> None:
        async with self._changed:
            self.attempts.append(attempt)
            self._changed.notify_all()

    async def record_dead_letter(self, letter: DeadLetter) -> None:
        async with self._changed:
            self.dead_letters.append(letter)
            self._changed.notify_all()

    async def wait_for(self, done: Callable[[MemoryDeliveryRecorder], bool], timeout_s: float) -> None:
        """Return once `done(self)` holds; raise TimeoutError if it does not within `timeout_s`."""
        async with asyncio.timeout(timeout_s), self._changed:
            await self._changed.wait_for(lambda: done(self))

    def attempts_of(self, subscription_id: int) -> list[DeliveryAttempt]:
        return [a for a in self.attempts if a.subscription_id == subscription_id]
