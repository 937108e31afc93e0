"""`StoredDeliveryRecorder`: the delivery record kept in the database, one row per attempt
(`delivered` or `failed`) and one `dead` row per dead letter, through any `DeliveryLog` (the alert
repository is one)."""

from __future__ import annotations

from typing import Protocol

from serve_app.alerts.delivery.recorder import DeadLetter, DeliveryAttempt


class DeliveryLog(Protocol):
    async def record_delivery(self, alert_id: int, subscription_id: int, channel: str, attempt: int,
                              status: str, error: str | None = None) -> None: ...


class StoredDeliveryRecorder:
    def __init__(self, log: DeliveryLog) -> None:
        self._log = log

    async def record_attempt(self, attempt: DeliveryAttempt) -> None:
        await self._log.record_delivery(attempt.alert_id, attempt.subscription_id, attempt.channel, attempt.attempt,
                                        "delivered" if attempt.ok else "failed", attempt.error)

    async def record_dead_letter(self, letter: DeadLetter) -> None:
        # the alert itself stays in the alerts table: its id is enough to send it again
        await self._log.record_delivery(letter.alert["id"], letter.subscription_id, letter.channel, letter.attempts,
                                        "dead", letter.last_error)
