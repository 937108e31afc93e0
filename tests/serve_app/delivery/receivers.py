"""Real local receivers for delivery tests: an HTTP server (webhooks, an SMS gateway) in the
test's event loop, and an SMTP server (aiosmtpd, in its own thread)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from http import HTTPStatus
from urllib.parse import parse_qsl, urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, Session

from tests.fixtures.ports import free_port


@dataclass
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    at: float = field(default_factory=lambda: asyncio.get_running_loop().time())

    def json(self) -> dict:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode()))


Responder = Callable[[ReceivedRequest], Awaitable[int]]


def answer(*statuses: int) -> Responder:
    """Answers the given statuses in turn, the last one from then on."""
    calls = 0

    async def respond(request: ReceivedRequest) -> int:
        nonlocal calls
        calls += 1
        return statuses[min(calls, len(statuses)) - 1]

    return respond


class HttpReceiver:
    """An HTTP/1.1 server on 127.0.0.1 that keeps every request and answers it with the status its
    path's responder returns (404 for a path without one). Empty bodies; keep-alive."""

    def __init__(self) -> None:
        self.routes: dict[str, Responder] = {}
        self.requests: list[ReceivedRequest] = []
        self._arrived = asyncio.Condition()
        self._connections: set[asyncio.Task] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def to(self, path: str) -> list[ReceivedRequest]:
        return [r for r in self.requests if r.path == path]

    async def wait_for(self, path: str, count: int, timeout_s: float = 5.0) -> list[ReceivedRequest]:
        async with asyncio.timeout(timeout_s), self._arrived:
            await self._arrived.wait_for(lambda: len(self.to(path)) >= count)
        return self.to(path)

    async def close(self) -> None:
        self._server.close()
        for connection in self._connections:  # a responder may be holding a request on purpose
            connection.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.add(asyncio.current_task())
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                request_line, *lines = head.decode("latin-1").split("\r\n")[:-2]
                method, target, _ = request_line.split(" ", 2)
                headers = {name.strip().lower(): value.strip() for name, value in (h.split(":", 1) for h in lines)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                request = ReceivedRequest(method, urlsplit(target).path, headers, body)
                async with self._arrived:
                    self.requests.append(request)
                    self._arrived.notify_all()
                responder = self.routes.get(request.path)
                status = await responder(request) if responder else 404
                writer.write(f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\nContent-Length: 0\r\n\r\n".encode())
                await writer.drain()
        finally:
            self._connections.discard(asyncio.current_task())
            writer.close()


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


class SmtpReceiver:
    """An SMTP server on 127.0.0.1 keeping every message it accepts. It refuses recipients at
    `refused_domain`, and with `login` set it demands that user and password (over plain text:
    a test server without TLS)."""

    refused_domain = "nowhere.example.org"

    def __init__(self, login: tuple[str, str] | None = None) -> None:
        self.mails: list[ReceivedMail] = []
        self.logins: list[str] = []
        self._login = login
        self.port = free_port()
        auth = {"authenticator": self._authenticate, "auth_required": True, "auth_require_tls": False} if login else {}
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **auth)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:  # noqa: ANN001
        user, password = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append(user)
        return AuthResult(success=(user, password) == self._login, handled=False)  # handled: the server answers

    async def handle_RCPT(self, server, session: Session, envelope: Envelope, address: str,  # noqa: ANN001, N802
                          rcpt_options: list[str]) -> str:
        if address.endswith("@" + self.refused_domain):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session: Session, envelope: Envelope) -> str:  # noqa: ANN001, N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.mails.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"
