"""The three live streams: one school's changes, alerts, and a dashboard scope's aggregates.

Each validates its parameters against the directory (or by reading the twin) before anything is
followed, and maps its client-facing topic onto the broker's: a school follows its district's
`schools:<district index>` topic, filtered to itself, so its seqs are that topic's (increasing,
not consecutive).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from actors.shard_publisher import alerts_topic, schools_topic
from serve_app.shared.access import alert_in_area, district_in_area, state_in_area
from serve_app.scenarios.service import ScenarioRuns, scenario_topic
from serve_app.streams.district_topics import DistrictTopicsStream, too_old
from serve_app.streams.queue import Outgoing
from serve_app.streams.session import Resume, StreamSession, resume_for
from serve_app.shared.places import block_index
from serve_app.twin.service import TwinReader
from twin import geography
from twin.area import STATE, Area
from twin.directory import Directory
from twin.errors import InvalidInput, NotFound


class SchoolStream:
    def __init__(self, directory: Directory, reader: TwinReader, school_id: str, area: Area = STATE) -> None:
        self._directory, self._reader, self.school_id, self._area = directory, reader, school_id, area
        self.topic = f"school:{school_id}"
        self._stop: Callable[[], None] = lambda: None

    async def validate(self) -> None:
        i = self._directory.index(self.school_id) if self.school_id.isdigit() else -1
        if i < 0 or not self._area.covers_index(self._directory, i):
            raise NotFound(f"no school {self.school_id}", {"school_id": self.school_id})
        self._broker_topic = schools_topic(int(self._directory.school_district[i]))

    async def start(self, session: StreamSession, resume: Resume) -> None:
        after = resume_for(resume, self.topic)

        def sink(seq: int, delta: Any) -> None:
            session.put(Outgoing(self.topic, seq, "delta", delta, key=self.topic))

        follow, backlog = await session.hub.follow(self._broker_topic, sink, after, self.school_id,
                                                   session.notice_on(self.topic))
        self._stop = lambda: session.hub.unfollow(self._broker_topic, follow)
        if after is None or backlog.too_old:
            # the view is read after the topic's latest seq, so it holds at least what that says
            session.put(Outgoing(self.topic, backlog.latest_seq, "snapshot", await self._reader.school(self.school_id)))
            if backlog.too_old:
                session.put(too_old(self.topic, after))
        else:
            for seq, delta in backlog.messages:
                sink(seq, delta)
        follow.release()

    def stop(self) -> None:
        self._stop()


class AlertStream(DistrictTopicsStream):
    """Alerts of one district, or of all of them (topics `alerts:<district name>`, on the broker's
    `alerts:<district index>`), within the reader's area."""

    prefix = "alerts"
    kind = "alert"
    too_old_then = "here is every alert still kept"

    def __init__(self, district: str | None, directory: Directory, area: Area = STATE) -> None:
        super().__init__(district, area)
        self._directory = directory

    def broker_topic(self, district: int) -> str:
        return alerts_topic(district)

    def inside(self, message: Any) -> bool:
        return alert_in_area(self._area, self._directory, message)


class ScenarioStream:
    """A what-if run's progress and end (topic `scenario:<id>`), after a snapshot of the run: each
    piece of news is a `delta` (`serve_app.streams.schemas.ScenarioNews`)."""

    def __init__(self, runs: ScenarioRuns, run_id: str, area: Area = STATE) -> None:
        self._runs, self.run_id, self._area = runs, run_id, area
        self.topic = scenario_topic(run_id)
        self._stop: Callable[[], None] = lambda: None

    async def validate(self) -> None:
        await self._runs.get(self.run_id, self._area)  # NotFound for an unknown run, or one outside the area

    async def start(self, session: StreamSession, resume: Resume) -> None:
        after = resume_for(resume, self.topic)

        def sink(seq: int, news: Any) -> None:
            session.put(Outgoing(self.topic, seq, "delta", news))

        follow, backlog = await session.hub.follow(self.topic, sink, after, notify=session.notice_on(self.topic))
        self._stop = lambda: session.hub.unfollow(self.topic, follow)
        if after is None or backlog.too_old:
            run = await self._runs.get(self.run_id, self._area)
            session.put(Outgoing(self.topic, backlog.latest_seq, "snapshot", {k: v for k, v in run.items() if k != "result"}))
        else:
            for seq, news in backlog.messages:
                sink(seq, news)
        follow.release()

    def stop(self) -> None:
        self._stop()


class DashboardStream:
    """Aggregates of `state`, `district:<name>` or `block:<district>/<block>`, inside the reader's
    area; without a scope, the reader's own area (the state, their district or their block). Its
    reads are gathered with the other scopes' of the same moment (`TwinReader.scope_view`)."""

    def __init__(self, reader: TwinReader, directory: Directory, scope: str | None, area: Area = STATE) -> None:
        self._reader, self._directory, self._area = reader, directory, area
        self.scope = (scope or _scope_of(area)).strip()
        self.topic = f"dashboard:{self.scope}"
        self._news: tuple[str, ...] = ()  # the broker topics whose messages say a batch of the scope was folded
        self._stop: Callable[[], None] = lambda: None

    def _view(self) -> Callable[[], Awaitable[tuple[int, Any]]]:
        """The scope's read: (its seq, its view), gathered with the other scopes read at the same
        moment into one call per shard (`TwinReader.scope_view`)."""
        kind, _, rest = self.scope.partition(":")
        if kind == "state" and not rest:
            state_in_area(self._area)
            self._news = tuple(schools_topic(d) for d in range(len(geography.district_names())))
            scope, seq_of = ("state", 0), "applied_seq_min"
        elif kind == "district" and rest:
            d = district_in_area(self._area, rest)
            self._news = (schools_topic(d),)
            scope, seq_of = ("district", d), "as_of_seq"
        elif kind == "block" and "/" in rest:
            district, block = rest.split("/", 1)
            blocks = self._directory.blocks
            b = block_index(self._directory, block, district)
            if not self._area.covers_block(geography.district_names()[int(blocks.district[b])], blocks.names[b]):
                raise NotFound(f"no block {block!r}", {"block": block})
            self._news = (schools_topic(int(blocks.district[b])),)
            scope, seq_of = ("block", b), "as_of_seq"
        else:
            raise InvalidInput("scope must be state, district:<name> or block:<district>/<block>",
                               {"scope": self.scope})
        reader = self._reader

        async def read() -> tuple[int, Any]:
            view = await reader.scope_view(scope)
            return view[seq_of], view
        return read

    async def validate(self) -> None:
        self._read = self._view()
        await self._read()  # an unknown district or block raises NotFound here

    async def start(self, session: StreamSession, resume: Resume) -> None:
        after = resume_for(resume, self.topic)

        def sink(seq: int, view: Any) -> None:
            session.put(Outgoing(self.topic, seq, "delta", view, key=self.topic))

        follow, (seq, view) = await session.hub.watch(self.topic, self._read, sink, self._news)
        self._stop = lambda: session.hub.unwatch(self.topic, follow)
        if after is None or seq != after:  # aggregates are conflated: what was missed is the latest view
            session.put(Outgoing(self.topic, seq, "snapshot", view))

    def stop(self) -> None:
        self._stop()


def _scope_of(area: Area) -> str:
    if area.block is not None:
        return f"block:{area.district}/{area.block}"
    return f"district:{area.district}" if area.district is not None else "state"
