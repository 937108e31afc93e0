"""Webhook alerts to a real HTTP receiver: signed bodies a receiver can verify, retries with a
growing backoff after server errors, and a dead letter once the last attempt fails."""

import hashlib
import hmac
import json
import random

from serve_app.alerts.delivery.dispatcher import AlertDispatcher
from serve_app.alerts.delivery.retry import RetryPolicy
from serve_app.alerts.delivery.signature import verify_signature
from adapters.webhook_channel import WebhookChannel
from tests.fixtures.ports import free_port
from tests.fixtures.delivery_builders import FAST_RETRY, WEBHOOK_SECRET, alert, webhook_subscription
from tests.fixtures.delivery_receivers import ReceivedRequest, answer


def dispatcher_of(recorder, retry: RetryPolicy = FAST_RETRY, private_targets: bool = True) -> AlertDispatcher:
    """The receivers run on this machine: private targets are allowed unless a test says not."""
    channel = WebhookChannel(timeout_s=5, private_targets=private_targets)
    return AlertDispatcher({"webhook": channel}, recorder, retry=retry, rng=random.Random(3))


async def test_the_receiver_gets_the_alert_signed_with_the_subscription_secret(http, recorder):
    verified: list[bool] = []

    async def verify(request: ReceivedRequest) -> int:
        ok = verify_signature(WEBHOOK_SECRET, request.body, request.headers.get("x-mealtwin-timestamp"),
                              request.headers.get("x-mealtwin-signature"))
        verified.append(ok)
        return 204 if ok else 401

    http.routes["/hooks/ops"] = verify
    async with dispatcher_of(recorder) as dispatcher:
        dispatcher.submit(alert(), [webhook_subscription(7, http.url("/hooks/ops"))])
        await recorder.wait_for(lambda r: any(a.ok for a in r.attempts), timeout_s=5)

    [request] = http.to("/hooks/ops")
    assert verified == [True]
    assert request.headers["content-type"] == "application/json"
    [attempt] = recorder.attempts
    assert request.json() == {"delivery_id": attempt.delivery_id, "subscription_id": 7, "alert": alert()}
    assert request.headers["x-mealtwin-delivery"] == attempt.delivery_id
    # the signature is what the documentation says, computed here independently of the helper
    timestamp = request.headers["x-mealtwin-timestamp"]
    mac = hmac.new(WEBHOOK_SECRET.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-mealtwin-signature"] == f"sha256={mac}"


async def test_a_receiver_with_another_secret_refuses_the_delivery(http, recorder):
    async def verify(request: ReceivedRequest) -> int:
        return 204 if verify_signature("another-secret", request.body, request.headers.get("x-mealtwin-timestamp"),
                                       request.headers.get("x-mealtwin-signature")) else 401

    http.routes["/hooks/ops"] = verify
    async with dispatcher_of(recorder) as dispatcher:
        dispatcher.submit(alert(), [webhook_subscription(7, http.url("/hooks/ops"))])
        await recorder.wait_for(lambda r: r.dead_letters, timeout_s=5)
    [letter] = recorder.dead_letters
    assert (letter.attempts, letter.last_error) == (1, "webhook answered HTTP 401")  # a 4xx is not retried


async def test_server_errors_are_retried_with_a_growing_backoff_until_delivered(http, recorder):
    http.routes["/hooks/flaky"] = answer(500, 500, 503, 200)
    async with dispatcher_of(recorder) as dispatcher:
        dispatcher.submit(alert(), [webhook_subscription(7, http.url("/hooks/flaky"))])
        await recorder.wait_for(lambda r: any(a.ok for a in r.attempts), timeout_s=5)

    attempts = recorder.attempts_of(7)
    assert [(a.attempt, a.ok, a.error) for a in attempts] == [
        (1, False, "webhook answered HTTP 500"), (2, False, "webhook answered HTTP 500"),
        (3, False, "webhook answered HTTP 503"), (4, True, None)]
    assert recorder.dead_letters == []
    # each wait lies in the policy's jittered window, and the receiver saw the attempts that far apart
    delays = [a.retry_in_s for a in attempts[:-1]]
    for failures, delay in enumerate(delays, start=1):
        ceiling = min(FAST_RETRY.max_delay_s, FAST_RETRY.base_delay_s * 2 ** (failures - 1))
        assert ceiling / 2 <= delay <= ceiling
    received = http.to("/hooks/flaky")
    gaps = [later.at - earlier.at for earlier, later in zip(received, received[1:])]
    assert all(gap >= delay - 0.002 for gap, delay in zip(gaps, delays))  # 2 ms: the loop clock's resolution
    # every retry is the same delivery, signed afresh
    assert {r.headers["x-mealtwin-delivery"] for r in received} == {attempts[0].delivery_id}
    assert all(json.loads(r.body)["alert"]["id"] == 42 for r in received)


async def test_an_alert_submitted_again_is_a_new_delivery(http, recorder):
    http.routes["/hooks/ops"] = answer(204)
    async with dispatcher_of(recorder) as dispatcher:
        dispatcher.submit(alert(severity="high"), [webhook_subscription(7, http.url("/hooks/ops"))])
        dispatcher.submit(alert(severity="critical"), [webhook_subscription(7, http.url("/hooks/ops"))])  # escalated
        await recorder.wait_for(lambda r: sum(a.ok for a in r.attempts) == 2, timeout_s=5)
    ids = [r.headers["x-mealtwin-delivery"] for r in http.to("/hooks/ops")]
    assert len(set(ids)) == 2


async def test_a_rate_limited_delivery_is_retried(http, recorder):
    http.routes["/hooks/busy"] = answer(429, 204)
    async with dispatcher_of(recorder) as dispatcher:
        dispatcher.submit(alert(), [webhook_subscription(7, http.url("/hooks/busy"))])
        await recorder.wait_for(lambda r: any(a.ok for a in r.attempts), timeout_s=5)
    assert [a.ok for a in recorder.attempts] == [False, True]


async def test_an_endpoint_that_always_fails_gets_a_dead_letter_after_the_last_attempt(http, recorder):
    http.routes["/hooks/down"] = answer(500)
    async with dispatcher_of(recorder) as dispatcher:
        dispatcher.submit(alert(), [webhook_subscription(7, http.url("/hooks/down"))])
        await recorder.wait_for(lambda r: r.dead_letters, timeout_s=5)
        assert dispatcher.counts.dead_letters == 1 and dispatcher.counts.failed_attempts == FAST_RETRY.attempts

    assert len(http.to("/hooks/down")) == FAST_RETRY.attempts
    assert [a.attempt for a in recorder.attempts] == list(range(1, FAST_RETRY.attempts + 1))
    assert recorder.attempts[-1].retry_in_s is None  # nothing follows the last attempt
    [letter] = recorder.dead_letters
    assert (letter.subscription_id, letter.channel, letter.attempts) == (7, "webhook", FAST_RETRY.attempts)
    assert letter.alert == alert() and letter.last_error == "webhook answered HTTP 500"


async def test_an_unreachable_endpoint_is_retried_then_dead_lettered(recorder):
    url = f"http://127.0.0.1:{free_port()}/hooks/nobody"  # nothing listens there
    async with dispatcher_of(recorder, RetryPolicy(attempts=2, base_delay_s=0.01, max_delay_s=0.01)) as dispatcher:
        dispatcher.submit(alert(), [webhook_subscription(7, url)])
        await recorder.wait_for(lambda r: r.dead_letters, timeout_s=5)
    [letter] = recorder.dead_letters
    assert letter.attempts == 2 and letter.last_error.startswith("webhook request failed: ConnectError")


async def test_a_target_on_the_twins_own_network_is_refused_without_a_request(http, recorder):
    http.routes["/hooks/ops"] = answer(204)
    async with dispatcher_of(recorder, private_targets=False) as dispatcher:
        # by name: "localhost" resolves to a loopback address when the delivery is made
        target = http.url("/hooks/ops").replace("127.0.0.1", "localhost")
        dispatcher.submit(alert(), [webhook_subscription(7, target)])
        await recorder.wait_for(lambda r: r.dead_letters, timeout_s=5)
    [letter] = recorder.dead_letters
    assert letter.attempts == 1 and letter.last_error.startswith("refused:")  # not retried
    assert http.to("/hooks/ops") == []
