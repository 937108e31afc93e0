"""Receivers for the delivery tests, started and stopped around each test."""

from __future__ import annotations

import pytest

from serve_app.delivery.recorder import MemoryDeliveryRecorder
from tests.serve_app.delivery.receivers import HttpReceiver, SmtpReceiver


@pytest.fixture
def smtp():
    """Synchronous on purpose: aiosmtpd starts its server thread and waits for it."""
    receiver = SmtpReceiver()
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture
async def http():
    receiver = HttpReceiver()
    await receiver.start()
    yield receiver
    await receiver.close()


@pytest.fixture
def recorder():
    return MemoryDeliveryRecorder()
