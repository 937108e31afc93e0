"""The send path of a replica's stream clients, many at a time: a delta, an alert or a scope's view is
one frame, encoded once, written to every viewer of it; sending creates no task (each client has
its receiver and its connection's own task, and the replica's one pacer keeps their deadlines); a
viewer that stops reading is conflated to the latest, not dropped, and holds nobody else up; a
write that waits past the send timeout closes that client alone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import orjson
from starlette.websockets import WebSocketState

from actors.broker import MemoryBroker
from configs.settings import Streams
from serve_app.streams.hub import StreamHub
from serve_app.streams.queue import Outgoing
from serve_app.streams.session import CLOSE_TOO_SLOW, StreamSession
from serve_app.streams.shared import shared


class _Socket:
    """What a session needs of a WebSocket; `stalled()` makes its writes wait, as a full TCP window."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed: tuple[int, str] | None = None
        self.application_state = WebSocketState.CONNECTED
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._incoming: asyncio.Queue = asyncio.Queue()

    async def accept(self) -> None:
        pass

    async def receive(self) -> dict:
        return await self._incoming.get()

    async def send_text(self, text: str) -> None:
        await self._flowing.wait()
        self.sent.append(text)

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)
        self.application_state = WebSocketState.DISCONNECTED

    def stalled(self) -> None:
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    def leave(self) -> None:
        self._incoming.put_nowait({"type": "websocket.disconnect", "code": 1000})

    def frames(self) -> list[dict]:
        return [orjson.loads(t) for t in self.sent]


class _Follows:
    """A stream of one broker topic (as the school and alert streams are), or of a dashboard scope."""

    def __init__(self, topic: str, kind: str = "delta", scope: Callable | None = None) -> None:
        self.topic, self._kind, self._scope = topic, kind, scope
        self._stop: Callable[[], None] = lambda: None

    async def validate(self) -> None:
        pass

    async def start(self, session: StreamSession, resume: object) -> None:
        def sink(seq: int, payload: object) -> None:
            session.put(Outgoing(self.topic, seq, self._kind, payload, key=self.topic))

        if self._scope is not None:
            follow, (seq, view) = await session.hub.watch(self.topic, self._scope, sink)
            self._stop = lambda: session.hub.unwatch(self.topic, follow)
            session.put(Outgoing(self.topic, seq, "snapshot", view))
            return
        follow, _ = await session.hub.follow(self.topic, sink, None)
        self._stop = lambda: session.hub.unfollow(self.topic, follow)
        follow.release()

    def stop(self) -> None:
        self._stop()


async def _until(predicate, timeout_s: float = 5.0) -> None:  # noqa: ANN001
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def _open(hub: StreamHub, config: Streams, stream: Callable[[], object], n: int):  # noqa: ANN202
    sockets = [_Socket() for _ in range(n)]
    runs = [asyncio.create_task(StreamSession(s, hub, config).run(stream(), None)) for s in sockets]
    await _until(lambda: len(hub.pacer) == n)  # every sender is waiting on its queue
    return sockets, runs


async def _close(hub: StreamHub, sockets: list[_Socket], runs: list[asyncio.Task]) -> None:
    for s in sockets:
        s.resume()
        s.leave()
    await asyncio.wait_for(asyncio.gather(*runs), 5)
    assert hub.connected_clients() == 0 and len(hub.pacer) == 0
    await hub.close()


async def test_a_topics_message_is_one_frame_encoded_once_for_all_its_viewers():
    config = Streams(read_block_s=0.05, resume_wait_s=0)
    hub = StreamHub(MemoryBroker(), config)
    sockets, runs = await _open(hub, config, lambda: _Follows("alerts:Ariyalur", "alert"), 50)
    seqs = [await hub.broker.publish("alerts:Ariyalur", {"kind": "shortage", "n": n}) for n in range(3)]
    await _until(lambda: all(len(s.sent) == 3 for s in sockets))

    for k, seq in enumerate(seqs):
        first = sockets[0].sent[k]
        assert all(s.sent[k] is first for s in sockets)  # the same text: encoded once, not once a viewer
        frame = orjson.loads(first)
        assert (frame["topic"], frame["seq"], frame["type"]) == ("alerts:Ariyalur", seq, "alert")
        assert frame["data"] == {"kind": "shortage", "n": k} and frame["timestamp"].endswith("Z")
    await _close(hub, sockets, runs)


async def test_a_scopes_view_is_one_frame_for_its_viewers_and_the_snapshot_stays_each_ones_own():
    config = Streams(read_block_s=0.05, resume_wait_s=0, dashboard_interval_s=0.05)
    hub = StreamHub(MemoryBroker(), config)
    seqs = iter(range(1, 10**6))

    async def read() -> tuple[int, dict]:
        seq = next(seqs)
        return seq, {"as_of_seq": seq, "present_today": 40}

    sockets, runs = await _open(hub, config, lambda: _Follows("dashboard:state", scope=read), 20)
    await _until(lambda: all(any(f["type"] == "delta" for f in s.frames()) for s in sockets))

    deltas = [[t for t, f in zip(s.sent, s.frames()) if f["type"] == "delta"] for s in sockets]
    first = deltas[0][0]
    seq = orjson.loads(first)["seq"]
    for texts in deltas:  # the view of one seq: the same text for every viewer that got it
        assert all(t is first for t in texts if orjson.loads(t)["seq"] == seq)
    assert all(s.frames()[0]["type"] == "snapshot" for s in sockets)
    await _close(hub, sockets, runs)


class _Held:
    """A stream whose messages the test puts into its sessions itself: the send path alone."""

    topic = "school:33010100101"

    def __init__(self, sessions: list[StreamSession]) -> None:
        self._sessions = sessions

    async def validate(self) -> None:
        pass

    async def start(self, session: StreamSession, resume: object) -> None:
        self._sessions.append(session)

    def stop(self) -> None:
        pass


async def test_sending_creates_no_task_per_frame():
    config = Streams(read_block_s=0.05, resume_wait_s=0, heartbeat_s=60)
    hub = StreamHub(MemoryBroker(), config)
    loop = asyncio.get_running_loop()
    made: list[str] = []
    factory = loop.get_task_factory()

    def counting(loop, coro, **kwargs):  # noqa: ANN001, ANN202
        made.append(getattr(coro, "__qualname__", str(coro)))
        return factory(loop, coro, **kwargs) if factory else asyncio.Task(coro, loop=loop, **kwargs)

    sessions: list[StreamSession] = []
    loop.set_task_factory(counting)
    try:
        sockets, runs = await _open(hub, config, lambda: _Held(sessions), 30)
        # per client, besides its connection's own task (here `runs`): its receiver; and the replica's pacer
        assert sorted(set(made)) == ["Pacer._run", "StreamSession._receive", "StreamSession.run"]
        assert made.count("StreamSession._receive") == 30 and made.count("Pacer._run") == 1
        made.clear()
        for seq in range(1, 21):
            delta = shared({"school_id": "33010100101", "seq": seq})
            for session in sessions:
                session.put(Outgoing(_Held.topic, seq, "delta", delta, key=_Held.topic))
            await asyncio.sleep(0)
        await _until(lambda: all(len(s.sent) == 20 for s in sockets))
        assert made == []  # 600 frames written, not one task made for them
    finally:
        loop.set_task_factory(factory)
    await _close(hub, sockets, runs)


async def test_a_viewer_that_stops_reading_is_conflated_not_dropped_and_delays_nobody():
    config = Streams(read_block_s=0.05, resume_wait_s=0, client_queue=4, send_timeout_s=30)
    hub = StreamHub(MemoryBroker(), config)
    sockets, runs = await _open(hub, config, lambda: _Follows("schools:0"), 10)
    slow, fast = sockets[0], sockets[1:]
    slow.stalled()
    published = []
    for n in range(12):
        published.append(await hub.broker.publish("schools:0", {"n": n}))
        await _until(lambda n=n: all(len(s.sent) == n + 1 for s in fast), timeout_s=2)  # each at once
    assert slow.sent == [] and slow.closed is None

    slow.resume()
    await _until(lambda: slow.frames() and slow.frames()[-1].get("seq") == published[-1])
    frames = slow.frames()
    assert frames[0]["type"] == "delta" and frames[0]["seq"] == published[0]  # the write that waited
    notices = [f for f in frames if f["type"] == "notice"]
    assert notices and notices[0]["data"]["fell_behind"] is True
    deltas = [f["seq"] for f in frames if f["type"] == "delta"]
    assert len(deltas) < 12 and deltas == sorted(deltas) and deltas[-1] == published[-1]  # the latest, in order
    assert slow.closed is None and hub.connected_clients() == 10  # still connected
    await _close(hub, sockets, runs)


async def test_a_write_that_waits_past_the_send_timeout_closes_that_client_alone():
    config = Streams(read_block_s=0.05, resume_wait_s=0, send_timeout_s=0.4)
    hub = StreamHub(MemoryBroker(), config)
    sockets, runs = await _open(hub, config, lambda: _Follows("schools:0"), 3)
    stuck = sockets[0]
    stuck.stalled()
    started = asyncio.get_running_loop().time()
    await hub.broker.publish("schools:0", {"n": 1})
    await asyncio.wait_for(runs[0], 3)  # the pacer cut the write; the session closed the socket
    assert 0.4 <= asyncio.get_running_loop().time() - started < 2.0
    assert stuck.closed is not None and stuck.closed[0] == CLOSE_TOO_SLOW
    assert hub.connected_clients() == 2 and len(hub.pacer) == 2
    await hub.broker.publish("schools:0", {"n": 2})
    await _until(lambda: all(len(s.sent) == 2 for s in sockets[1:]))
    await _close(hub, sockets[1:], runs[1:])


async def test_credentials_that_expire_while_a_write_waits_close_the_stream():
    import time

    from serve_app.streams.session import CLOSE_UNAUTHENTICATED

    config = Streams(read_block_s=0.05, resume_wait_s=0, send_timeout_s=30)
    hub = StreamHub(MemoryBroker(), config)
    socket = _Socket()
    run = asyncio.create_task(StreamSession(socket, hub, config).run(_Follows("schools:0"), None, time.time() + 0.5))
    await _until(lambda: len(hub.pacer) == 1)
    socket.stalled()
    await hub.broker.publish("schools:0", {"n": 1})
    await asyncio.wait_for(run, 3)  # well before the send timeout
    assert socket.closed is not None and socket.closed[0] == CLOSE_UNAUTHENTICATED
    assert hub.connected_clients() == 0 and len(hub.pacer) == 0
    await hub.close()
