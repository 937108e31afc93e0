"""`AlertDispatcher`: hands each alert to the channels of the subscriptions that want it, and
retries until it is delivered or given up on (a dead letter).

`submit` only filters and enqueues, so the code raising alerts never waits on a mail server.
Each channel has its own bounded queue and its own workers: a channel that is slow, failing or
hanging fills its own queue and holds its own workers, and the others carry on. A full queue
drops the new delivery (counted and logged) rather than grow without bound during an outage.
Every attempt and every dead letter goes to the `DeliveryRecorder`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from serve_app.alerts.delivery.channel import Channel, DeliveryError, describe
from serve_app.alerts.delivery.recorder import DeadLetter, DeliveryAttempt, DeliveryRecorder
from serve_app.alerts.delivery.retry import RetryPolicy
from serve_app.alerts.delivery.subscription import Alert, ChannelName, Subscription

log = logging.getLogger(__name__)


@dataclass
class DispatchCounts:
    queued: int = 0  # deliveries accepted into a channel's queue
    filtered_out: int = 0  # subscriptions whose filters did not admit the alert
    dropped: int = 0  # deliveries refused: their channel's queue was full, or the dispatcher closed
    unroutable: int = 0  # invalid subscriptions, and those whose channel is not configured
    delivered: int = 0
    failed_attempts: int = 0
    dead_letters: int = 0


@dataclass
class _Delivery:
    alert: Alert
    subscription: Subscription
    attempts: int = 0
    last_error: str = ""
    settled: bool = False  # delivered or dead-lettered: a cancellation now must not dead-letter it again
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def fields(self) -> dict[str, Any]:
        """The structured log fields naming this delivery (never its target or secret)."""
        return {"delivery_id": self.id, "alert_id": self.alert.get("id"),
                "subscription_id": self.subscription.id, "channel": self.subscription.channel}


class AlertDispatcher:
    def __init__(self, channels: Mapping[ChannelName, Channel], recorder: DeliveryRecorder, *,
                 retry: RetryPolicy, queue_size: int = 1_000, workers_per_channel: int = 4,
                 rng: random.Random | None = None) -> None:
        if queue_size < 1 or workers_per_channel < 1:  # an asyncio queue of size 0 would be unbounded
            raise ValueError("an alert dispatcher needs a queue of at least 1 and at least 1 worker per channel")
        self._channels = dict(channels)
        self._recorder = recorder
        self._retry = retry
        self._workers_per_channel = workers_per_channel
        self._rng = rng or random.Random()  # jitter only: nothing needs to replay it
        self._queues: dict[ChannelName, asyncio.Queue[_Delivery]] = {
            name: asyncio.Queue(maxsize=queue_size) for name in self._channels}
        self._workers: list[asyncio.Task] = []
        self._abandoned: list[_Delivery] = []  # in flight when the workers were cancelled
        self._closed = False
        self.counts = DispatchCounts()

    def submit(self, alert: Alert, subscriptions: Iterable[Subscription | Mapping[str, Any]]) -> int:
        """Queue `alert` for every subscription whose filters admit it; returns how many were
        queued. Never waits: a delivery whose channel queue is full is dropped (and counted).
        Call it from the event loop's thread (the queues are asyncio's)."""
        queued = 0
        for raw in subscriptions:
            subscription = self._validated(alert, raw)
            if subscription is None:
                continue
            if not subscription.filters.admit(alert):
                self.counts.filtered_out += 1
                continue
            queued += self._enqueue(_Delivery(alert, subscription))
        return queued

    def _validated(self, alert: Alert, raw: Subscription | Mapping[str, Any]) -> Subscription | None:
        if isinstance(raw, Subscription):
            return raw
        try:
            return Subscription.model_validate(raw)
        except ValidationError as exc:
            self.counts.unroutable += 1
            # the problems only, without the input values, which may hold a secret
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'subscription'}: {e['msg']}"
                                 for e in exc.errors(include_url=False, include_input=False))
            subscription_id = raw.get("id") if isinstance(raw, Mapping) else None
            log.warning("alert %s not delivered to subscription %s: invalid subscription (%s)",
                        alert.get("id"), subscription_id, problems,
                        extra={"fields": {"alert_id": alert.get("id"), "subscription_id": subscription_id}})
            return None

    def _enqueue(self, delivery: _Delivery) -> int:
        channel = delivery.subscription.channel
        if channel not in self._queues:
            self.counts.unroutable += 1
            log.warning("alert %s not delivered to subscription %s: no %s channel is configured",
                        delivery.alert.get("id"), delivery.subscription.id, channel,
                        extra={"fields": delivery.fields()})
            return 0
        if self._closed:
            self.counts.dropped += 1
            log.warning("alert %s not delivered to subscription %s: the dispatcher is closed",
                        delivery.alert.get("id"), delivery.subscription.id, extra={"fields": delivery.fields()})
            return 0
        try:
            self._queues[channel].put_nowait(delivery)
        except asyncio.QueueFull:
            self.counts.dropped += 1
            log.warning("alert %s not delivered to subscription %s: the %s queue is full (%d dropped so far)",
                        delivery.alert.get("id"), delivery.subscription.id, channel, self.counts.dropped,
                        extra={"fields": delivery.fields() | {"dropped": self.counts.dropped}})
            return 0
        self.counts.queued += 1
        return 1

    async def start(self) -> None:
        if self._workers or self._closed:
            raise RuntimeError("an alert dispatcher starts once")
        for name, channel in self._channels.items():
            for i in range(self._workers_per_channel):
                self._workers.append(asyncio.create_task(self._work(channel, self._queues[name]),
                                                         name=f"alert-delivery-{name}-{i}"))

    async def close(self, drain_timeout_s: float = 5.0) -> None:
        """Stop taking alerts, let the queued deliveries finish for up to `drain_timeout_s`, then
        cancel what is left; each delivery so cut short becomes a dead letter. Closes the channels."""
        if self._closed:
            return
        self._closed = True
        if self._workers:
            try:
                async with asyncio.timeout(drain_timeout_s):
                    await asyncio.gather(*(queue.join() for queue in self._queues.values()))
            except TimeoutError:
                log.warning("alert deliveries did not finish within %.1f s of closing; giving them up",
                            drain_timeout_s)
            for worker in self._workers:
                worker.cancel()
            await asyncio.gather(*self._workers, return_exceptions=True)
        unsent = self._abandoned + [q.get_nowait() for q in self._queues.values() for _ in range(q.qsize())]
        for delivery in unsent:
            last = f" (last error: {delivery.last_error})" if delivery.last_error else ""
            await self._give_up(delivery, reason=f"the dispatcher closed before the delivery succeeded{last}")
        for name, channel in self._channels.items():
            try:
                await channel.close()
            except Exception:
                log.exception("closing the %s channel failed", name)

    async def __aenter__(self) -> AlertDispatcher:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _work(self, channel: Channel, queue: asyncio.Queue[_Delivery]) -> None:
        while True:
            delivery = await queue.get()
            try:
                await self._deliver(channel, delivery)
            except asyncio.CancelledError:
                if not delivery.settled:
                    self._abandoned.append(delivery)
                raise
            finally:
                queue.task_done()

    async def _deliver(self, channel: Channel, delivery: _Delivery) -> None:
        while True:
            delivery.attempts += 1
            error, permanent = await self._attempt(channel, delivery)
            if error is None:
                delivery.settled = True
                self.counts.delivered += 1
                await self._record(DeliveryAttempt(**delivery.fields(), attempt=delivery.attempts, ok=True))
                return
            self.counts.failed_attempts += 1
            delivery.last_error = error
            last = permanent or delivery.attempts >= self._retry.attempts
            retry_in_s = None if last else self._retry.delay_s(delivery.attempts, self._rng)
            await self._record(DeliveryAttempt(**delivery.fields(), attempt=delivery.attempts, ok=False,
                                               error=error, retry_in_s=retry_in_s))
            if retry_in_s is None:
                await self._give_up(delivery, reason=error)
                return
            log.warning("%s delivery of alert %s to subscription %s failed (attempt %d of %d): %s; "
                        "retrying in %.2f s", delivery.subscription.channel, delivery.alert.get("id"),
                        delivery.subscription.id, delivery.attempts, self._retry.attempts, error, retry_in_s,
                        extra={"fields": delivery.fields() | {"attempt": delivery.attempts, "error": error}})
            await asyncio.sleep(retry_in_s)

    @staticmethod
    async def _attempt(channel: Channel, delivery: _Delivery) -> tuple[str | None, bool]:
        """One send, bounded by the channel's timeout: (None, _) on success, else (why, permanent)."""
        try:
            async with asyncio.timeout(channel.timeout_s):
                await channel.send(delivery.alert, delivery.subscription, delivery.id)
        except DeliveryError as exc:
            return str(exc), exc.permanent
        except TimeoutError:
            return f"no answer within {channel.timeout_s:g} s", False
        except Exception as exc:  # a channel's unexpected error fails this attempt, never the worker
            return describe(exc), False
        return None, False

    async def _give_up(self, delivery: _Delivery, reason: str) -> None:
        delivery.settled = True
        self.counts.dead_letters += 1
        log.error("%s delivery of alert %s to subscription %s given up after %d attempt(s): %s",
                  delivery.subscription.channel, delivery.alert.get("id"), delivery.subscription.id,
                  delivery.attempts, reason,
                  extra={"fields": delivery.fields() | {"attempts": delivery.attempts, "error": reason}})
        letter = DeadLetter(delivery_id=delivery.id, alert=delivery.alert, subscription_id=delivery.subscription.id,
                            channel=delivery.subscription.channel, attempts=delivery.attempts, last_error=reason)
        try:
            await self._recorder.record_dead_letter(letter)
        except Exception:
            log.exception("recording the dead letter of alert %s for subscription %s failed",
                          delivery.alert.get("id"), delivery.subscription.id, extra={"fields": delivery.fields()})

    async def _record(self, attempt: DeliveryAttempt) -> None:
        try:
            await self._recorder.record_attempt(attempt)
        except Exception:  # losing a record must not lose the delivery
            log.exception("recording attempt %d of alert %s for subscription %s failed", attempt.attempt,
                          attempt.alert_id, attempt.subscription_id)
