"""`StreamSession`: one WebSocket client of a live stream, from accept to close.

Protocol (its models: `serve_app.streams.schemas`): every server message is `{"topic", "seq",
"type", "data", "timestamp"}`, type one of snapshot, delta, alert, notice, heartbeat. `seq` is per topic and increasing; notices and
heartbeats repeat the last seq sent on their topic, so a client can resume from any message.
A client resumes with `?after_seq=N` or by sending `{"resume": N}` (or `{"resume": {topic: N}}`
for several topics) as its first message. A refused stream gets the error envelope, then a close
with code 4404 (unknown school, district, block) or 4400 (bad parameters).

One task per client besides the connection's own: it receives (and notices the disconnect); the
connection's task drains the client's bounded queue into the socket, writing each frame without a
timer or a task of its own (a delta or an alert is the same text for every client of it, encoded
once: `serve_app.streams.shared`). The replica's `Pacer` keeps every client's time in one loop: a
write that waits on the socket longer than `send_timeout_s` drops the client (4408), expired
credentials close the stream (4401), and an idle stream gets a heartbeat every `heartbeat_s`. Pings
and pongs are the WebSocket server's (uvicorn pings every 20 s and closes peers that do not answer);
the heartbeats here let clients and proxies see that an idle stream is alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

import orjson
from starlette.websockets import WebSocket, WebSocketState

from configs.settings import Streams
from db.times import now_iso
from serve_app.auth.errors import Forbidden, Unauthenticated
from serve_app.streams.hub import StreamHub
from serve_app.streams.queue import ClientQueue, Outgoing
from serve_app.streams.shared import ENCODING, Shared, frame_data
from twin.errors import InvalidInput, NotFound, TwinError, Unavailable

log = logging.getLogger(__name__)

CLOSE_NOT_FOUND, CLOSE_INVALID, CLOSE_TOO_SLOW = 4404, 4400, 4408
CLOSE_UNAUTHENTICATED, CLOSE_FORBIDDEN = 4401, 4403
CLOSE_UNAVAILABLE = 1013  # "try again later": a shard is restarting
Resume = int | dict[str, int] | None
SHARED_KINDS = ("delta", "alert")  # frames alike for every client of a message: encoded once


class Stream(Protocol):
    topic: str  # the client-facing topic of heartbeats and notices

    async def validate(self) -> None: ...  # raises NotFound / InvalidInput

    async def start(self, session: StreamSession, resume: Resume) -> None: ...

    def stop(self) -> None: ...


def resume_for(resume: Resume, topic: str, only_topic: bool = True) -> int | None:
    """The seq to resume `topic` from: a plain int is for a stream of one topic."""
    if isinstance(resume, dict):
        return resume.get(topic)
    if resume is not None and not only_topic:
        raise InvalidInput("this stream has several topics: resume with {\"resume\": {topic: seq}}",
                           {"topic": topic})
    return resume


class StreamSession:
    def __init__(self, websocket: WebSocket, hub: StreamHub, config: Streams) -> None:
        self.ws = websocket
        self.hub = hub
        self._config = config
        self.queue = ClientQueue(config.client_queue)
        self._last_seq: dict[str, int] = {}
        self._first_message: asyncio.Future | None = None
        self._task: asyncio.Task | None = None  # the one that sends
        self._expires_at: float | None = None
        self._sending_since: float | None = None  # the loop's time a write began, while it waits
        self._last_sent = 0.0
        self._too_slow = self._expired = False

    def put(self, message: Outgoing) -> None:
        self.queue.put(message)

    def notice_on(self, topic: str) -> Callable[[dict], None]:
        """A notice's sender for `topic` ("": the stream's own), for the hub to tell this client."""
        return lambda data: self.put(Outgoing(topic, 0, "notice", data))

    async def run(self, stream: Stream, after_seq: int | None, expires_at: float | None = None) -> None:
        """Serve `stream` until the client leaves, falls too far behind, or (with `expires_at`, a
        Unix time) its credentials expire: then the socket closes with 4401 and the client
        reconnects with a fresh token."""
        await self.ws.accept()
        try:
            await stream.validate()
        except TwinError as exc:
            await self._refuse(exc)
            return
        self._first_message = asyncio.get_running_loop().create_future()
        self._expires_at = expires_at
        receiver = asyncio.create_task(self._receive())
        receiver.add_done_callback(lambda _: self.queue.wake())  # the sender stops when the client left
        with self.hub.client(self.notice_on("")):
            try:
                resume = after_seq if after_seq is not None else await self._resume_request(receiver)
                await stream.start(self, resume)
                await self._send(stream.topic, receiver)
                if self._expired:
                    await self._close(CLOSE_UNAUTHENTICATED, "the access token expired: reconnect with a fresh one")
                elif self._too_slow:
                    log.info("dropped a %s client: a send took over %.0fs", stream.topic, self._config.send_timeout_s)
                    await self._close(CLOSE_TOO_SLOW, "too slow: a send timed out")
            except TwinError as exc:
                await self._refuse(exc)
            finally:
                stream.stop()
                receiver.cancel()
                await asyncio.gather(receiver, return_exceptions=True)

    def tick(self, now: float, wall: float) -> None:
        """The pacer's look at this client (`serve_app.streams.pacer`): close on expired credentials,
        cut a write that waited too long, or hand an idle stream a heartbeat."""
        if self._too_slow or self._expired:
            return  # being closed already
        writing = self._sending_since is not None
        self._expired = self._expires_at is not None and wall >= self._expires_at
        self._too_slow = not self._expired and writing and now - self._sending_since > self._config.send_timeout_s
        if self._expired or self._too_slow:
            if writing:
                self._task.cancel()  # the write waits on the socket: cut it short
            else:
                self.queue.wake()
        elif not writing and not self.queue and now - self._last_sent >= self._config.heartbeat_s:
            self.put(Outgoing("", 0, "heartbeat", None))

    async def _send(self, default_topic: str, receiver: asyncio.Task) -> None:
        """Until the client leaves, its credentials expire (`_expired`) or a write waits too long
        (`_too_slow`)."""
        loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self._last_sent = loop.time()
        self.hub.pacer.add(self)
        try:
            while not (receiver.done() or self._expired or self._too_slow):
                for m in await self.queue.get():
                    text = self._frame(m, default_topic)
                    if text is None:
                        continue
                    self._sending_since = loop.time()
                    await self.ws.send_text(text)
                    self._sending_since = None
                self._last_sent = loop.time()
        except asyncio.CancelledError:
            if not (self._too_slow or self._expired):
                raise
            self._task.uncancel()  # the pacer's cut: the session goes on to close the socket
        except Exception:  # noqa: BLE001 - the socket went away under a write: the client left
            log.debug("a %s client's socket closed under a send", default_topic, exc_info=True)
        finally:
            self._sending_since = None
            self.hub.pacer.discard(self)

    def _frame(self, m: Outgoing, default_topic: str) -> str | None:
        """`m` as this client's frame; None if a snapshot or the backlog covered it already."""
        topic = m.topic or default_topic
        last = self._last_seq.get(topic, 0)
        if m.type in SHARED_KINDS:
            if m.seq <= last:
                return None  # already covered by a snapshot or sent from the backlog
            self._last_seq[topic] = m.seq
            if isinstance(m.data, Shared):
                return m.data.frame(topic, m.seq, m.type)
            last = m.seq
        elif m.type == "snapshot":
            last = self._last_seq[topic] = m.seq
        # the envelope (this client's seq of the topic, the time) is this client's own, around a
        # shared payload's bytes encoded once
        return orjson.dumps({"topic": topic, "seq": last, "type": m.type, "data": frame_data(m.data),
                             "timestamp": now_iso()}, option=ENCODING).decode()

    async def _resume_request(self, receiver: asyncio.Task) -> Resume:
        """A `{"resume": ...}` sent first, waited for briefly; None if the client sent none."""
        if self._config.resume_wait_s <= 0:
            return None
        await asyncio.wait({self._first_message, receiver}, timeout=self._config.resume_wait_s)
        first = self._first_message.result() if self._first_message.done() else None
        resume = first.get("resume") if isinstance(first, dict) else None
        seqs = list(resume.values()) if isinstance(resume, dict) else [resume]
        if not all(s is None or (isinstance(s, int) and not isinstance(s, bool)) for s in seqs):
            raise InvalidInput("resume must be a seq or {topic: seq}", {"resume": resume})
        return resume

    async def _receive(self) -> None:
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            try:
                data = orjson.loads(message.get("text") or message.get("bytes") or b"null")
            except orjson.JSONDecodeError:
                data = None
            if not self._first_message.done():
                self._first_message.set_result(data)
            elif isinstance(data, dict) and "resume" in data:
                self.put(Outgoing("", 0, "notice", {"message": "resume only as the first message, or reconnect "
                                                               "with ?after_seq="}))

    async def _refuse(self, exc: TwinError) -> None:
        body = {"success": False, "error": {"code": exc.code, "message": exc.message, "details": exc.details},
                "timestamp": now_iso()}
        with contextlib.suppress(Exception):  # the client may be gone already
            await asyncio.wait_for(self.ws.send_text(orjson.dumps(body).decode()), self._config.send_timeout_s)
        code = next((c for kind, c in _CLOSE_CODES if isinstance(exc, kind)), CLOSE_INVALID)
        await self._close(code, exc.message)

    async def _close(self, code: int, reason: str) -> None:
        if self.ws.application_state == WebSocketState.DISCONNECTED:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(code, reason[:120]), 1.0)


_CLOSE_CODES = ((NotFound, CLOSE_NOT_FOUND), (Unavailable, CLOSE_UNAVAILABLE), (Unauthenticated, CLOSE_UNAUTHENTICATED),
                (Forbidden, CLOSE_FORBIDDEN))
