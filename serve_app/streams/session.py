"""`StreamSession`: one WebSocket client of a live stream, from accept to close.

Protocol (its models: `serve_app.streams.schemas`): every server message is `{"topic", "seq",
"type", "data", "timestamp"}`, type one of snapshot, delta, alert, notice, heartbeat. `seq` is per topic and increasing; notices and
heartbeats repeat the last seq sent on their topic, so a client can resume from any message.
A client resumes with `?after_seq=N` or by sending `{"resume": N}` (or `{"resume": {topic: N}}`
for several topics) as its first message. A refused stream gets the error envelope, then a close
with code 4404 (unknown school, district, block) or 4400 (bad parameters).

Two tasks per client: one receives (and notices the disconnect), one drains the client's bounded
queue into the socket; a send that takes longer than `send_timeout_s` drops the client. Pings and
pongs are the WebSocket server's (uvicorn pings every 20 s and closes peers that do not answer);
the heartbeats here let clients and proxies see that an idle stream is alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Protocol

import orjson
from starlette.websockets import WebSocket, WebSocketState

from configs.settings import Streams
from db.times import now_iso
from serve_app.auth.errors import Forbidden, Unauthenticated
from serve_app.streams.hub import StreamHub
from serve_app.streams.queue import ClientQueue, Outgoing
from serve_app.streams.shared import ENCODING, frame_data
from twin.errors import InvalidInput, NotFound, TwinError, Unavailable

log = logging.getLogger(__name__)

CLOSE_NOT_FOUND, CLOSE_INVALID, CLOSE_TOO_SLOW = 4404, 4400, 4408
CLOSE_UNAUTHENTICATED, CLOSE_FORBIDDEN = 4401, 4403
CLOSE_UNAVAILABLE = 1013  # "try again later": a shard is restarting
Resume = int | dict[str, int] | None


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
        receiver = asyncio.create_task(self._receive())
        sender: asyncio.Task | None = None
        with self.hub.client(self.notice_on("")):
            try:
                resume = after_seq if after_seq is not None else await self._resume_request(receiver)
                await stream.start(self, resume)
                sender = asyncio.create_task(self._send(stream.topic))
                expiry = asyncio.create_task(asyncio.sleep(max(0.0, expires_at - time.time()) if expires_at else 1e9))
                await asyncio.wait({receiver, sender, expiry}, return_when=asyncio.FIRST_COMPLETED)
                expiry.cancel()
                if expiry.done() and not expiry.cancelled():
                    await self._close(CLOSE_UNAUTHENTICATED, "the access token expired: reconnect with a fresh one")
                elif sender.done() and isinstance(sender.exception(), TimeoutError):
                    log.info("dropped a %s client: a send took over %.0fs", stream.topic, self._config.send_timeout_s)
                    await self._close(CLOSE_TOO_SLOW, "too slow: a send timed out")
            except TwinError as exc:
                await self._refuse(exc)
            finally:
                stream.stop()
                for task in (receiver, sender):
                    if task is not None:
                        task.cancel()
                await asyncio.gather(*(t for t in (receiver, sender) if t is not None), return_exceptions=True)

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

    async def _send(self, default_topic: str) -> None:
        while True:
            batch = await self.queue.get(self._config.heartbeat_s)
            if not batch:
                batch = [Outgoing(default_topic, 0, "heartbeat", None)]
            for m in batch:
                topic = m.topic or default_topic
                last = self._last_seq.get(topic, 0)
                if m.type in ("delta", "alert") and m.seq <= last:
                    continue  # already covered by a snapshot or sent from the backlog
                if m.type in ("snapshot", "delta", "alert"):
                    last = self._last_seq[topic] = m.seq
                # a payload the hub shares between clients is embedded as the bytes encoded once;
                # the envelope (this client's seq of the topic, the time) is this client's own
                text = orjson.dumps({"topic": topic, "seq": last, "type": m.type, "data": frame_data(m.data),
                                     "timestamp": now_iso()}, option=ENCODING).decode()
                await asyncio.wait_for(self.ws.send_text(text), self._config.send_timeout_s)

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
