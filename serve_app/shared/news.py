"""Best-effort news on the stream broker, for services whose stored record is the truth.

A stream that misses a message is not wrong for long: its clients read the stored record on
(re)connect. So a failed publish is logged and swallowed, never raised into the write that
caused it.
"""

from __future__ import annotations

import logging

from twin.ports import StreamBroker

log = logging.getLogger(__name__)


async def publish_news(broker: StreamBroker | None, topic: str, message: dict, about: str) -> None:
    """Publish `message` on `topic` if there is a broker; `about` names it in the log on failure."""
    if broker is None:
        return
    try:
        await broker.publish(topic, message)
    except Exception:  # noqa: BLE001 - the stream misses it; the stored record has it
        log.warning("publishing news of %s failed", about, exc_info=True)
