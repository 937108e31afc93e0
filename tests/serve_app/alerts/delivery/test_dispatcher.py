"""The dispatcher: channels that never hold each other up, filters, a bounded queue that drops
only what does not fit, a clean close, and logs that name the alert and subscription but no secret."""

import asyncio
import random

from pydantic import SecretStr

from serve_app.alerts.delivery.dispatcher import AlertDispatcher
from adapters.email_channel import EmailChannel
from serve_app.alerts.delivery.recorder import MemoryDeliveryRecorder
from serve_app.alerts.delivery.retry import RetryPolicy
from adapters.sms_channel import HttpSmsGateway, SmsChannel
from adapters.webhook_channel import WebhookChannel
from tests.fixtures.delivery_builders import (FAST_RETRY, alert, email_subscription, sms_subscription,
                                               webhook_subscription)
from tests.fixtures.delivery_receivers import ReceivedRequest, answer


def sms_channel(url: str, timeout_s: float) -> SmsChannel:
    """The gateway's own HTTP timeout is left long: the dispatcher's per-attempt limit must end a hang."""
    gateway = HttpSmsGateway(url=url, api_key=SecretStr("sms-key-77"), sender="MEALTW", timeout_s=60)
    return SmsChannel(gateway, timeout_s=timeout_s)


def hold_until(gate: asyncio.Event, status: int = 200):
    async def respond(request: ReceivedRequest) -> int:
        await gate.wait()
        return status

    return respond


async def test_a_hanging_channel_does_not_delay_another(http, recorder):
    http.routes["/sms"] = hold_until(asyncio.Event())  # the gateway takes the request and never answers
    http.routes["/hooks/ops"] = answer(204)
    channels = {"sms": sms_channel(http.url("/sms"), timeout_s=30), "webhook": WebhookChannel(timeout_s=5, private_targets=True)}
    dispatcher = AlertDispatcher(channels, recorder, retry=FAST_RETRY)
    await dispatcher.start()
    dispatcher.submit(alert(), [sms_subscription(3), webhook_subscription(7, http.url("/hooks/ops"))])

    await http.wait_for("/sms", 1)
    await recorder.wait_for(lambda r: any(a.ok for a in r.attempts_of(7)), timeout_s=5)
    assert recorder.attempts_of(3) == []  # the SMS is still waiting for its gateway, the webhook is done

    await dispatcher.close(drain_timeout_s=0)
    [letter] = recorder.dead_letters
    assert (letter.subscription_id, letter.attempts) == (3, 1)
    assert letter.last_error.startswith("the dispatcher closed before the delivery succeeded")


async def test_an_attempt_that_times_out_is_retried_then_dead_lettered(http, recorder):
    http.routes["/sms"] = hold_until(asyncio.Event())
    retry = RetryPolicy(attempts=2, base_delay_s=0.01, max_delay_s=0.01)
    async with AlertDispatcher({"sms": sms_channel(http.url("/sms"), timeout_s=0.1)}, recorder, retry=retry) as d:
        d.submit(alert(), [sms_subscription(3)])
        await recorder.wait_for(lambda r: r.dead_letters, timeout_s=5)
    [letter] = recorder.dead_letters
    assert letter.attempts == 2 and len(http.to("/sms")) == 2
    assert letter.last_error == "no answer within 0.1 s"


async def test_only_subscriptions_whose_filters_admit_the_alert_get_it(http, recorder):
    for path in ("/a", "/b", "/c", "/d"):
        http.routes[path] = answer(204)
    subscriptions = [
        webhook_subscription(1, http.url("/a"), severity_at_least="high", categories=["stock"]),
        webhook_subscription(2, http.url("/b"), severity_at_least="critical"),
        webhook_subscription(3, http.url("/c"), districts=["Chennai"]),
        webhook_subscription(4, http.url("/d"), categories=["funds", "attendance"]),
    ]
    async with AlertDispatcher({"webhook": WebhookChannel(timeout_s=5, private_targets=True)}, recorder, retry=FAST_RETRY) as dispatcher:
        assert dispatcher.submit(alert(severity="high", category="stock", district="Ariyalur"), subscriptions) == 1
        await recorder.wait_for(lambda r: any(a.ok for a in r.attempts), timeout_s=5)
        assert dispatcher.counts.filtered_out == 3
    assert [r.path for r in http.requests] == ["/a"]


async def test_a_full_queue_drops_the_new_delivery_counts_it_and_loses_nothing_else(http, smtp, caplog):
    recorder = MemoryDeliveryRecorder()
    gate = asyncio.Event()
    http.routes["/hooks/slow"] = hold_until(gate)
    channels = {"webhook": WebhookChannel(timeout_s=5, private_targets=True),
                "email": EmailChannel(host="127.0.0.1", port=smtp.port, sender="alerts@example.org", starttls=False)}
    hook, mail = webhook_subscription(7, http.url("/hooks/slow")), email_subscription(1)
    async with AlertDispatcher(channels, recorder, retry=FAST_RETRY, queue_size=2, workers_per_channel=1) as d:
        assert d.submit(alert(1), [hook, mail]) == 2
        await http.wait_for("/hooks/slow", 1)  # the only webhook worker is now held by alert 1
        assert d.submit(alert(2), [hook]) == 1
        assert d.submit(alert(3), [hook]) == 1  # the webhook queue is full
        assert d.submit(alert(4), [hook, mail]) == 1  # its webhook delivery is dropped; its email is not
        assert d.counts.dropped == 1 and d.counts.queued == 5

        gate.set()
        await recorder.wait_for(lambda r: sum(a.ok for a in r.attempts) == 5, timeout_s=5)

    assert [r.json()["alert"]["id"] for r in http.to("/hooks/slow")] == [1, 2, 3]
    assert sorted(m.message["X-Mealtwin-Alert-Id"] for m in smtp.mails) == ["1", "4"]
    assert recorder.dead_letters == [] and all(a.ok for a in recorder.attempts)
    assert "alert 4 not delivered to subscription 7: the webhook queue is full" in caplog.text


async def test_close_lets_queued_deliveries_finish(http, recorder):
    http.routes["/hooks/ops"] = answer(500, 200)  # the first fails: close waits for its retry too
    dispatcher = AlertDispatcher({"webhook": WebhookChannel(timeout_s=5, private_targets=True)}, recorder, retry=FAST_RETRY)
    await dispatcher.start()
    assert dispatcher.submit(alert(1), [webhook_subscription(7, http.url("/hooks/ops"))]) == 1
    assert dispatcher.submit(alert(2), [webhook_subscription(7, http.url("/hooks/ops"))]) == 1
    await dispatcher.close(drain_timeout_s=5)

    assert dispatcher.counts.delivered == 2 and recorder.dead_letters == []
    assert dispatcher.submit(alert(3), [webhook_subscription(7, http.url("/hooks/ops"))]) == 0
    assert dispatcher.counts.dropped == 1


async def test_deliveries_never_started_become_dead_letters_on_close(http, recorder):
    dispatcher = AlertDispatcher({"webhook": WebhookChannel(timeout_s=5, private_targets=True)}, recorder, retry=FAST_RETRY)
    dispatcher.submit(alert(), [webhook_subscription(7, http.url("/hooks/ops"))])
    await dispatcher.close()
    [letter] = recorder.dead_letters
    assert (letter.subscription_id, letter.attempts) == (7, 0)
    assert http.requests == []


async def test_unconfigured_channels_and_invalid_subscriptions_are_counted_and_logged_without_secrets(
        http, recorder, caplog):
    http.routes["/hooks/ops"] = answer(204)
    subscriptions = [
        sms_subscription(3),  # no SMS channel here
        {"id": 8, "user": "u", "channel": "webhook", "target": "ftp://example.org", "secret": "leaky-secret-1"},
        webhook_subscription(9, http.url("/hooks/ops"), secret="leaky-secret-2"),
    ]
    async with AlertDispatcher({"webhook": WebhookChannel(timeout_s=5, private_targets=True)}, recorder, retry=FAST_RETRY) as dispatcher:
        assert dispatcher.submit(alert(), subscriptions) == 1
        await recorder.wait_for(lambda r: any(a.ok for a in r.attempts), timeout_s=5)
        assert dispatcher.counts.unroutable == 2
    assert "alert 42 not delivered to subscription 3: no sms channel is configured" in caplog.text
    assert "alert 42 not delivered to subscription 8: invalid subscription" in caplog.text
    assert "leaky-secret" not in caplog.text


class BrokenRecorder(MemoryDeliveryRecorder):
    async def record_attempt(self, attempt) -> None:  # noqa: ANN001
        raise ConnectionError("the deliveries table is unreachable")


async def test_a_failing_recorder_loses_the_record_not_the_delivery(http):
    http.routes["/hooks/ops"] = answer(204)
    async with AlertDispatcher({"webhook": WebhookChannel(timeout_s=5, private_targets=True)}, BrokenRecorder(), retry=FAST_RETRY) as d:
        d.submit(alert(), [webhook_subscription(7, http.url("/hooks/ops"))])
        await http.wait_for("/hooks/ops", 1)
    assert d.counts.delivered == 1


class ExplodingChannel:
    """A channel with a bug: its first send raises something no channel should."""

    timeout_s = 5.0

    def __init__(self) -> None:
        self.sent: list[int] = []

    async def send(self, alert, subscription, delivery_id) -> None:  # noqa: ANN001
        if not self.sent:
            self.sent.append(-1)
            raise KeyError("bug")
        self.sent.append(alert["id"])

    async def close(self) -> None:
        pass


async def test_an_unexpected_error_in_a_channel_fails_the_attempt_not_the_worker(recorder):
    channel = ExplodingChannel()
    async with AlertDispatcher({"webhook": channel}, recorder, retry=FAST_RETRY, workers_per_channel=1,
                               rng=random.Random(2)) as dispatcher:
        dispatcher.submit(alert(1), [webhook_subscription(7, "https://example.org/hook")])
        dispatcher.submit(alert(2), [webhook_subscription(7, "https://example.org/hook")])
        await recorder.wait_for(lambda r: sum(a.ok for a in r.attempts) == 2, timeout_s=5)
    assert recorder.attempts[0].error == "KeyError: 'bug'"
    assert sorted(channel.sent) == [-1, 1, 2]
