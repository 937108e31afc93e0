"""`SmtpReportMailer`: a scheduled report as an email with the file attached, over SMTP (STARTTLS
and login when configured)."""

from __future__ import annotations

import asyncio
import ssl
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib
from pydantic import SecretStr

from serve_app.reports.scheduled_delivery import Attachment, MailError


class SmtpReportMailer:
    def __init__(self, *, host: str, port: int, sender: str, starttls: bool, username: str | None = None,
                 password: SecretStr | None = None, timeout_s: float = 60.0) -> None:
        self.host, self.port, self._sender = host, port, sender
        self._starttls = starttls
        self._tls_context: ssl.SSLContext | None = None  # built on first use, in a thread (it reads CA files)
        self._username, self._password = username, password
        self._timeout_s = timeout_s

    async def send(self, recipients: list[str], subject: str, body: str, attachment: Attachment,
                   message_id: str) -> None:
        if self._starttls and self._tls_context is None:
            self._tls_context = await asyncio.to_thread(ssl.create_default_context)
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = ", ".join(recipients)
        message["Subject"] = subject
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = message_id  # the same on every try of one delivery
        message.set_content(body)
        main, _, sub = attachment.media_type.partition("/")
        message.add_attachment(attachment.content, maintype=main, subtype=sub.split(";")[0],
                               filename=attachment.filename)
        login = {}
        if self._username:
            login = {"username": self._username,
                     "password": self._password.get_secret_value() if self._password else ""}
        try:
            await aiosmtplib.send(message, hostname=self.host, port=self.port, start_tls=self._starttls,
                                  tls_context=self._tls_context, timeout=self._timeout_s, **login)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise MailError("the SMTP server refused the recipients", permanent=True) from exc
        except aiosmtplib.SMTPResponseException as exc:
            # 5xx: refused for good (unknown mailbox, bad login); 4xx: try later
            raise MailError(f"the SMTP server answered {exc.code}: {exc.message}",
                            permanent=500 <= exc.code < 600) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise MailError(f"SMTP failed: {type(exc).__name__}: {exc}") from exc
