"""The recommendations stream: new recommendations, status changes (approved, applied, rejected,
superseded) and comments, for everyone whose area covers them.

One broker topic a district (`optimisation:<district>`, as `serve_app.optimization.service`
publishes); a reader follows the districts of their area and sees only what lies inside it (a
block officer follows their district's topic, filtered to their block). Resuming is as for alerts:
`after_seq` on one district's topic, or `{"resume": {topic: seq}}` for several."""

from __future__ import annotations

from typing import Any

from serve_app.optimization.service import optimisation_topic
from serve_app.streams.hub import Follow
from serve_app.streams.queue import Outgoing
from serve_app.streams.session import Resume, StreamSession, resume_for
from twin import geography
from twin.area import STATE, Area
from twin.errors import NotFound


class OptimisationStream:
    def __init__(self, district: str | None, area: Area = STATE) -> None:
        self._district, self._area = district, area
        self.topic = "optimisation"
        self._follows: list[tuple[str, Follow]] = []
        self._session: StreamSession | None = None

    async def validate(self) -> None:
        names = geography.district_names()
        district = self._district or self._area.district
        if district is None:
            self._districts = list(names)
            return
        try:
            name = names[geography.district_index(district)]
        except KeyError:
            raise NotFound(f"no district {district!r}", {"district": district}) from None
        if not self._area.is_state and name != self._area.district:
            raise NotFound(f"no district {district!r}", {"district": district})
        self._districts = [name]
        self.topic = optimisation_topic(name)

    def _inside(self, news: Any) -> bool:
        """Whole blocks only, as the API reads them (a school's area sees no recommendations)."""
        return isinstance(news, dict) and self._area.covers_block(news.get("district"), news.get("block"))

    async def start(self, session: StreamSession, resume: Resume) -> None:
        self._session = session
        single = len(self._districts) == 1
        latest: dict[str, int] = {}
        for name in self._districts:
            topic = optimisation_topic(name)
            after = resume_for(resume, topic, only_topic=single)

            def sink(seq: int, news: Any, topic: str = topic) -> None:
                if self._inside(news):
                    session.put(Outgoing(topic, seq, "delta", news))

            follow, backlog = await session.hub.follow(topic, sink, after)
            self._follows.append((topic, follow))
            latest[topic] = backlog.latest_seq
            if backlog.too_old:
                session.put(Outgoing(topic, 0, "notice", {"too_old": True, "after_seq": after, "message":
                                                          "that seq is older than the kept history: list the "
                                                          "recommendations again"}))
            for seq, news in backlog.messages:
                sink(seq, news)
            follow.release()
        session.put(Outgoing(self.topic, 0, "notice", {"live": True, "latest_seq": latest}))

    def stop(self) -> None:
        for topic, follow in self._follows:
            self._session.hub.unfollow(topic, follow)
