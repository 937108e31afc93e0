"""`SubscriberNotifier`: the risk desk's `AlertNotifier`, handing each new or escalated alert to the
dispatcher with the subscriptions of the table.

The desk calls `submit` from its event loop and must not wait: the subscriptions are read (at most
every `refresh_s`) and the alerts dispatched in a task of their own."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from serve_app.alerts.delivery.dispatcher import AlertDispatcher

log = logging.getLogger(__name__)


class SubscriberNotifier:
    def __init__(self, dispatcher: AlertDispatcher, subscriptions: Callable[[], Awaitable[list[dict]]],
                 refresh_s: float = 10.0) -> None:
        self._dispatcher = dispatcher
        self._load = subscriptions
        self._refresh_s = refresh_s
        self._cached: list[dict] = []
        self._loaded_at = -float("inf")
        self._tasks: set[asyncio.Task] = set()

    def submit(self, alerts: Sequence[dict]) -> None:
        task = asyncio.get_running_loop().create_task(self._send(list(alerts)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, alerts: list[dict]) -> None:
        try:
            subscriptions = await self._subscriptions()
        except Exception:  # noqa: BLE001 - the alerts are stored and streamed; delivery is best effort
            log.exception("reading the alert subscriptions failed: %d alerts not delivered", len(alerts))
            return
        for alert in alerts:
            self._dispatcher.submit(alert, subscriptions)

    async def _subscriptions(self) -> list[dict]:
        if time.monotonic() - self._loaded_at >= self._refresh_s:
            self._cached = await self._load()
            self._loaded_at = time.monotonic()
        return self._cached

    async def close(self) -> None:
        """Let what was submitted reach the dispatcher, then close it (it drains its queues)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._dispatcher.close()
