"""`EmailChannel`: alerts as plain-text email over SMTP (STARTTLS and login when configured)."""

from __future__ import annotations

import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import aiosmtplib
from pydantic import SecretStr

from serve_app.alerts.delivery import alert_text
from serve_app.alerts.delivery.channel import DeliveryError, describe
from serve_app.alerts.delivery.subscription import Alert, Subscription


class EmailChannel:
    def __init__(self, *, host: str, port: int, sender: str, starttls: bool, username: str | None = None,
                 password: SecretStr | None = None, timeout_s: float = 30.0) -> None:
        self._host, self._port, self._sender = host, port, sender
        self._starttls = starttls
        # built once here, as loading the CA certificates reads files (not to be done per send in the loop)
        self._tls_context = ssl.create_default_context() if starttls else None
        self._username = username
        self._password = password
        self.timeout_s = timeout_s

    def _message(self, alert: Alert, subscription: Subscription, delivery_id: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = subscription.target
        message["Subject"] = alert_text.subject(alert)
        message["Date"] = formatdate(usegmt=True)
        # the domain is given so that make_msgid does not look up this host's name (a blocking call)
        message["Message-ID"] = make_msgid(domain=self._sender.rpartition("@")[2] or "localhost")
        message["X-Mealtwin-Alert-Id"] = str(alert.get("id"))
        message["X-Mealtwin-Delivery"] = delivery_id
        message.set_content(alert_text.email_body(alert))
        return message

    async def send(self, alert: Alert, subscription: Subscription, delivery_id: str) -> None:
        login = {}
        if self._username:
            login = {"username": self._username,
                     "password": self._password.get_secret_value() if self._password else ""}
        try:
            await aiosmtplib.send(self._message(alert, subscription, delivery_id), hostname=self._host, port=self._port,
                                  start_tls=self._starttls, tls_context=self._tls_context,
                                  timeout=self.timeout_s, **login)
        except aiosmtplib.SMTPResponseException as exc:
            # 5xx: the server refuses for good (unknown mailbox, bad login); 4xx: try later
            raise DeliveryError(f"SMTP server answered {exc.code}: {exc.message}",
                                permanent=500 <= exc.code < 600) from exc
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refusal = exc.recipients[0] if exc.recipients else None
            detail = f" ({refusal.code}: {refusal.message})" if refusal else ""
            raise DeliveryError(f"SMTP server refused the recipient{detail}", permanent=True) from exc
        except aiosmtplib.SMTPException as exc:
            raise DeliveryError(f"SMTP failed: {describe(exc)}") from exc

    async def close(self) -> None:
        """Nothing to release: each send opens and closes its own connection (alerts are rare)."""
