"""The delivery channels and dispatcher as the settings (and so the environment) describe them."""

import random

from configs import Settings
from configs.settings import AlertDelivery
from startup.delivery import build_channels, open_dispatcher
from serve_app.alerts.delivery.recorder import MemoryDeliveryRecorder
from tests.fixtures.delivery_builders import alert, email_subscription, sms_subscription, webhook_subscription
from tests.fixtures.delivery_receivers import answer


def test_only_webhooks_exist_until_smtp_and_sms_are_configured():
    assert set(build_channels(AlertDelivery())) == {"webhook"}
    configured = AlertDelivery(smtp_host="127.0.0.1", sms_gateway_url="http://127.0.0.1:9/sms")
    assert set(build_channels(configured)) == {"webhook", "email", "sms"}


def test_secrets_come_from_the_environment_and_never_show(monkeypatch):
    monkeypatch.setenv("MEALTWIN_ALERT_DELIVERY__SMTP_PASSWORD", "smtp-pw-31")
    monkeypatch.setenv("MEALTWIN_ALERT_DELIVERY__SMS_API_KEY", "sms-key-31")
    monkeypatch.setenv("MEALTWIN_ALERT_DELIVERY__RETRY_ATTEMPTS", "7")
    settings = Settings()
    delivery = settings.alert_delivery
    assert delivery.retry_attempts == 7
    assert delivery.smtp_password.get_secret_value() == "smtp-pw-31"
    assert delivery.sms_api_key.get_secret_value() == "sms-key-31"
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert "smtp-pw-31" not in text and "sms-key-31" not in text


async def test_an_opened_dispatcher_delivers_over_every_configured_channel(http, smtp):
    http.routes["/hooks/ops"] = answer(204)
    http.routes["/sms"] = answer(200)
    settings = AlertDelivery(smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_starttls=False,
                             smtp_from="alerts@example.org", sms_gateway_url=http.url("/sms"),
                             retry_attempts=2, retry_base_delay_s=0.01, retry_max_delay_s=0.01,
                             webhook_private_targets=True)  # the receivers run on this machine
    recorder = MemoryDeliveryRecorder()
    dispatcher = await open_dispatcher(settings, recorder, rng=random.Random(0))
    try:
        subscriptions = [email_subscription(1), webhook_subscription(2, http.url("/hooks/ops")), sms_subscription(3)]
        assert dispatcher.submit(alert(), subscriptions) == 3
        await recorder.wait_for(lambda r: sum(a.ok for a in r.attempts) == 3, timeout_s=5)
    finally:
        await dispatcher.close()
    assert len(smtp.mails) == 1 and len(http.to("/hooks/ops")) == 1 and len(http.to("/sms")) == 1
