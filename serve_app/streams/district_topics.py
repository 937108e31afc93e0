"""Streams over one broker topic a district (alerts, recommendations): a reader follows the
districts of their area, or the one they name inside it, and sees only the messages inside their
area (a block officer follows their district's topic, filtered to their block).

There is no snapshot of such a stream: after the backlog (from `after_seq` on one district's topic,
or `{"resume": {topic: seq}}` for several) the reader is told the stream is live, with each topic's
latest seq to resume from."""

from __future__ import annotations

from typing import Any

from serve_app.streams.hub import Follow
from serve_app.streams.queue import Outgoing
from serve_app.streams.session import Resume, StreamSession, resume_for
from twin import geography
from twin.area import STATE, Area
from twin.errors import NotFound


class DistrictTopicsStream:
    """The client-facing topic of district `d` is `<prefix>:<district name>`; a subclass names the
    broker's topic, which messages lie inside the reader's area, the frame kind of a message and
    what to do when a resume point is older than the kept history."""

    prefix = ""
    kind = "delta"
    too_old_then = ""

    def __init__(self, district: str | None, area: Area = STATE) -> None:
        self._district, self._area = district, area
        self.topic = self.prefix
        self._districts: list[int] = []
        self._follows: list[tuple[str, Follow]] = []
        self._session: StreamSession | None = None

    def broker_topic(self, district: int) -> str:
        raise NotImplementedError

    def inside(self, message: Any) -> bool:
        raise NotImplementedError

    async def validate(self) -> None:
        names = geography.district_names()
        district = self._district or self._area.district
        if district is None:
            self._districts = list(range(len(names)))
            return
        try:
            self._districts = [geography.district_index(district)]
        except KeyError:
            raise NotFound(f"no district {district!r}", {"district": district}) from None
        if not self._area.is_state and names[self._districts[0]] != self._area.district:
            raise NotFound(f"no district {district!r}", {"district": district})
        self.topic = f"{self.prefix}:{names[self._districts[0]]}"

    async def start(self, session: StreamSession, resume: Resume) -> None:
        self._session = session
        names = geography.district_names()
        single = len(self._districts) == 1
        latest: dict[str, int] = {}
        for d in self._districts:
            topic = f"{self.prefix}:{names[d]}"
            after = resume_for(resume, topic, only_topic=single)

            def sink(seq: int, message: Any, topic: str = topic) -> None:
                if self.inside(message):
                    session.put(Outgoing(topic, seq, self.kind, message))

            follow, backlog = await session.hub.follow(self.broker_topic(d), sink, after,
                                                       notify=session.notice_on(topic))
            self._follows.append((self.broker_topic(d), follow))
            latest[topic] = backlog.latest_seq
            if backlog.too_old:
                session.put(too_old(topic, after, self.too_old_then))
            for seq, message in backlog.messages:
                sink(seq, message)
            follow.release()
        session.put(Outgoing(self.topic, 0, "notice", {"live": True, "latest_seq": latest}))

    def stop(self) -> None:
        for topic, follow in self._follows:
            self._session.hub.unfollow(topic, follow)


def too_old(topic: str, after: int | None, then: str = "start again from this snapshot") -> Outgoing:
    """The notice that `after` is older than the history kept for `topic`, and what to do."""
    return Outgoing(topic, 0, "notice", {"too_old": True, "after_seq": after,
                                         "message": f"that seq is older than the kept history: {then}"})
