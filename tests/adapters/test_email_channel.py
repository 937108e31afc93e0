"""Email alerts through a real SMTP server: what arrives, login when configured, and a refused
recipient going straight to the dead letters."""

import random

import pytest
from pydantic import SecretStr

from serve_app.alerts.delivery.dispatcher import AlertDispatcher
from adapters.email_channel import EmailChannel
from tests.fixtures.delivery_builders import FAST_RETRY, alert, email_subscription
from tests.fixtures.delivery_receivers import SmtpReceiver

SENDER = "mealtwin-alerts@example.org"

# the login test's server is plain text: a real one would offer STARTTLS first
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")


def email_channel(port: int, **login) -> EmailChannel:
    return EmailChannel(host="127.0.0.1", port=port, sender=SENDER, starttls=False, timeout_s=5, **login)


async def test_an_alert_arrives_as_an_email_to_the_subscriber(smtp, recorder):
    async with AlertDispatcher({"email": email_channel(smtp.port)}, recorder, retry=FAST_RETRY) as dispatcher:
        assert dispatcher.submit(alert(), [email_subscription(1, "officer@example.org")]) == 1
        await recorder.wait_for(lambda r: any(a.ok for a in r.attempts), timeout_s=5)

    [mail] = smtp.mails
    assert mail.rcpt_tos == ["officer@example.org"]
    assert mail.mail_from == SENDER
    assert mail.message["To"] == "officer@example.org"
    assert mail.message["Subject"] == "[mealtwin HIGH] Rice stock below 3 days"
    assert mail.message["X-Mealtwin-Alert-Id"] == "42"
    assert mail.message["X-Mealtwin-Delivery"] == recorder.attempts[0].delivery_id
    body = mail.message.get_content()
    assert "Rice stock will last 2.1 school days" in body
    assert "School: 33010100101" in body and "District: Ariyalur" in body
    assert [(a.attempt, a.ok) for a in recorder.attempts] == [(1, True)]


@pytest.fixture
def smtp_with_login():
    receiver = SmtpReceiver(login=("mealtwin", "smtp-pass-9"))
    receiver.start()
    yield receiver
    receiver.stop()


async def test_the_channel_logs_in_when_a_username_is_set(smtp_with_login, recorder):
    channel = email_channel(smtp_with_login.port, username="mealtwin", password=SecretStr("smtp-pass-9"))
    async with AlertDispatcher({"email": channel}, recorder, retry=FAST_RETRY) as dispatcher:
        dispatcher.submit(alert(), [email_subscription()])
        await recorder.wait_for(lambda r: any(a.ok for a in r.attempts), timeout_s=5)
    assert smtp_with_login.logins == ["mealtwin"]
    assert len(smtp_with_login.mails) == 1


async def test_a_wrong_password_is_not_retried_and_never_logged(smtp_with_login, recorder, caplog):
    channel = email_channel(smtp_with_login.port, username="mealtwin", password=SecretStr("wrong-pass-1"))
    async with AlertDispatcher({"email": channel}, recorder, retry=FAST_RETRY) as dispatcher:
        dispatcher.submit(alert(), [email_subscription()])
        await recorder.wait_for(lambda r: r.dead_letters, timeout_s=5)
    [letter] = recorder.dead_letters
    assert letter.attempts == 1 and "535" in letter.last_error
    assert smtp_with_login.mails == []
    assert "wrong-pass-1" not in caplog.text


async def test_a_refused_recipient_is_dead_lettered_at_once_and_others_still_get_theirs(smtp, recorder):
    subscriptions = [email_subscription(1, f"ghost@{SmtpReceiver.refused_domain}"), email_subscription(2)]
    async with AlertDispatcher({"email": email_channel(smtp.port)}, recorder, retry=FAST_RETRY,
                               rng=random.Random(0)) as dispatcher:
        dispatcher.submit(alert(), subscriptions)
        await recorder.wait_for(lambda r: r.dead_letters and any(a.ok for a in r.attempts), timeout_s=5)
    [letter] = recorder.dead_letters
    assert (letter.subscription_id, letter.attempts, letter.alert["id"]) == (1, 1, 42)
    assert "550" in letter.last_error
    assert [m.rcpt_tos for m in smtp.mails] == [["officer@example.org"]]
