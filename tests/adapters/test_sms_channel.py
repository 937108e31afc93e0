"""SMS alerts through a real HTTP gateway: the message and the API key as the gateway expects
them (JSON or form), and any answer but 2xx as a failure."""

import random

import pytest
from pydantic import SecretStr

from serve_app.alerts.delivery.alert_text import SMS_MAX_CHARS
from serve_app.alerts.delivery.dispatcher import AlertDispatcher
from serve_app.alerts.delivery.retry import RetryPolicy
from adapters.sms_channel import HttpSmsGateway, SmsChannel
from tests.fixtures.delivery_builders import FAST_RETRY, alert, sms_subscription
from tests.fixtures.delivery_receivers import answer

API_KEY = "sms-key-5d1e"


def sms_dispatcher(url: str, recorder, body_format: str = "json", retry: RetryPolicy = FAST_RETRY) -> AlertDispatcher:
    gateway = HttpSmsGateway(url=url, api_key=SecretStr(API_KEY), sender="MEALTW", api_key_header="X-Api-Key",
                             body_format=body_format, timeout_s=5)
    return AlertDispatcher({"sms": SmsChannel(gateway, timeout_s=5)}, recorder, retry=retry, rng=random.Random(5))


@pytest.mark.parametrize("body_format", ["json", "form"])
async def test_the_gateway_gets_number_sender_text_and_api_key(http, recorder, body_format):
    http.routes["/sms"] = answer(202)
    async with sms_dispatcher(http.url("/sms"), recorder, body_format) as dispatcher:
        dispatcher.submit(alert(), [sms_subscription(3, "+919876543210")])
        await recorder.wait_for(lambda r: any(a.ok for a in r.attempts), timeout_s=5)

    [request] = http.to("/sms")
    assert request.headers["x-api-key"] == API_KEY
    fields = request.json() if body_format == "json" else request.form()
    assert fields["to"] == "+919876543210" and fields["from"] == "MEALTW"
    assert fields["text"] == "mealtwin HIGH: Rice stock below 3 days - school 33010100101, Ariyalur (alert 42)"


async def test_a_long_title_is_cut_to_fit_two_sms_segments(http, recorder):
    http.routes["/sms"] = answer(200)
    async with sms_dispatcher(http.url("/sms"), recorder) as dispatcher:
        dispatcher.submit(alert(title="Stock " * 100), [sms_subscription()])
        await recorder.wait_for(lambda r: any(a.ok for a in r.attempts), timeout_s=5)
    text = http.to("/sms")[0].json()["text"]
    assert len(text) == SMS_MAX_CHARS and text.endswith("...")


async def test_a_gateway_error_is_retried_and_then_dead_lettered(http, recorder, caplog):
    http.routes["/sms"] = answer(502)
    async with sms_dispatcher(http.url("/sms"), recorder) as dispatcher:
        dispatcher.submit(alert(), [sms_subscription(3)])
        await recorder.wait_for(lambda r: r.dead_letters, timeout_s=5)
    assert [a.ok for a in recorder.attempts] == [False] * FAST_RETRY.attempts
    [letter] = recorder.dead_letters
    assert (letter.subscription_id, letter.channel, letter.last_error) == (3, "sms", "SMS gateway answered HTTP 502")
    assert "alert 42" in caplog.text and "subscription 3" in caplog.text
    assert API_KEY not in caplog.text


async def test_a_refused_message_is_not_retried(http, recorder):
    http.routes["/sms"] = answer(400)
    async with sms_dispatcher(http.url("/sms"), recorder) as dispatcher:
        dispatcher.submit(alert(), [sms_subscription(3)])
        await recorder.wait_for(lambda r: r.dead_letters, timeout_s=5)
    assert len(http.to("/sms")) == 1 and recorder.dead_letters[0].attempts == 1


async def test_a_block_alert_names_the_block(http, recorder):
    http.routes["/sms"] = answer(200)
    async with sms_dispatcher(http.url("/sms"), recorder) as dispatcher:
        dispatcher.submit(alert(school_id=None, block="Sendurai", title="Cascade risk"), [sms_subscription()])
        await recorder.wait_for(lambda r: any(a.ok for a in r.attempts), timeout_s=5)
    assert http.to("/sms")[0].json()["text"] == "mealtwin HIGH: Cascade risk - block Sendurai, Ariyalur (alert 42)"
