"""Ports: what the twin needs from the outside world, as Protocols. `db/` implements them, and
`actors/` implements `ShardPort`, the typed calls to a shard."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, NotRequired, Protocol, TypedDict

if TYPE_CHECKING:
    import datetime as dt

    import numpy as np

    from twin.batch import EventBatch
    from twin.directory import Directory
    from twin.funds_columns import FundsColumns
    from twin.range_funds import RangeFunds
    from twin.state import ShardState


class LogRow(NamedTuple):
    """One event as the log stores it (a tuple: ingest builds tens of thousands a second)."""

    event_id: str
    type: str
    district: int
    school_id: str | None
    event_date: object  # datetime.date
    payload: str  # the validated event as JSON


@dataclass(frozen=True)
class AppendResult:
    """What `EventLog.append` made durable.

    seqs[i] is the log seq given to row i, or 0 if its event_id was already in the log.
    Every event with seq <= after_seq committed before this batch; none lies between after_seq
    and this batch's first seq, which lets a shard detect and fill gaps in what it was sent.
    """

    after_seq: int
    upto_seq: int
    seqs: list[int]


class EventLog(Protocol):
    async def append(self, rows: Sequence[LogRow]) -> AppendResult: ...

    async def read(
        self, after_seq: int, districts: Sequence[int], upto_seq: int | None = None, limit: int = 50_000
    ) -> list[tuple[int, str]]: ...

    async def max_seq(self) -> int: ...

    async def dated_since(self, districts: Sequence[int], types: Sequence[str], first: dt.date,
                          school_id: str | None = None) -> list[tuple[int, str]]:
        """(seq, payload) of events of `districts` and `types` dated on or after `first` (of one
        school's when `school_id` is given), in seq order."""
        ...


class SnapshotStore(Protocol):
    async def save_all(self, seq: int, parts: Sequence[tuple[int, bytes]]) -> None:
        """Store each (district, data) as its snapshot at `seq`, all or none."""
        ...

    async def latest(self, district: int) -> tuple[int, bytes] | None: ...

    async def at_or_before(self, district: int, seq: int | None) -> tuple[int, bytes] | None:
        """The newest kept snapshot of `district` at log position `seq` or earlier."""
        ...


class SnapshotDeltaStore(Protocol):
    """Chains of deltas after a district's snapshot: each the rows changed since the one before."""

    async def save_deltas(self, base_seq: int, seq: int, parts: Sequence[tuple[int, bytes]]) -> None:
        """Store each (district, data) as its delta at `seq` after its snapshot at `base_seq`, all or none."""
        ...

    async def deltas(self, district: int, base_seq: int) -> list[tuple[int, bytes]]:
        """(seq, data) of `district`'s deltas after its snapshot at `base_seq`, in seq order."""
        ...


class EventHistory(Protocol):
    """What reading the past needs from the log, beyond folding it."""

    async def last_seq_received_by(self, moment: object) -> int:
        """The last seq of an event received at or before `moment` (an aware datetime); 0 if none."""
        ...

    async def school_log(self, school_id: str) -> list[tuple[int, str]]:
        """(seq, payload) of every event naming the school, in seq order."""
        ...


# -- calls to a shard ----------------------------------------------------------------------------

View = dict[str, Any]  # a school's, block's or district's twin as JSON-able fields (`twin.views`)
SchoolChange = tuple[int, int, int, int, bool]  # (UDISE code, enrolment by band x3, active)


class ShardStatus(TypedDict):
    districts: list[int]  # the district indices the shard hosts, ascending
    schools: int
    applied_seq: int  # every log event at or below this is folded in
    events_applied: int
    today: int  # the twin's day (days since the epoch)
    district_seqs: list[int]  # per hosted district (as `districts`), the last log seq folded into it
    # from a shard actor only: which one, its process and its last recovery
    shard: NotRequired[int]
    pid: NotRequired[int]
    node: NotRequired[str]  # the Ray node it runs on
    replayed: NotRequired[int]  # log events replayed on recovery
    recovery_s: NotRequired[float]
    push_period_s: NotRequired[float]  # how often it pushes its roll-ups (`actors.pacing`)
    risk_push_period_s: NotRequired[float]  # and its changed risk features


class DistrictRows(TypedDict):
    """Roll-ups of every district a shard hosts: what the state twin aggregates."""

    districts: list[int]
    rows: np.ndarray  # float64 [hosted districts, metrics], `twin.kernels.rollup`
    views: list[View]  # one per hosted district, in `districts` order
    today: int
    applied_seq: int
    # added by a shard actor pushing to the state twin: (global school indices int64 [k], features [k, F])
    risk: NotRequired[tuple[np.ndarray, np.ndarray]]


class SchoolSync(TypedDict):
    synced: int  # changed schools the shard hosts, now reflected
    unknown: list[str]  # UDISE codes (11 digits) of changed schools it does not host


class ShardPort(Protocol):
    """What a shard answers: a `DistrictShard` in this process or a shard actor, alike.
    (Not to be confused with `ShardPorts`, what a shard itself needs from outside.)"""

    async def apply(self, batch: EventBatch, after_seq: int, upto_seq: int) -> np.ndarray:
        """Fold a durable batch whose events lie in (after_seq, upto_seq]; int8 outcomes aligned
        with `batch` (`twin.kernels`)."""
        ...

    async def status(self) -> ShardStatus: ...

    async def school(self, global_index: int) -> View | None:
        """The twin of one school; None if not hosted here or deactivated."""
        ...

    async def block(self, global_block: int) -> View | None:
        """The twin of one block with `as_of_seq`; None if not hosted here."""
        ...

    async def district(self, district: int) -> View | None:
        """The twin of one district with `as_of_seq`; None if not hosted here."""
        ...

    async def views(self, districts: Sequence[int], blocks: Sequence[int]) -> tuple[list[View | None],
                                                                                    list[View | None]]:
        """The twins of many districts and blocks (global indices) in one call, as `district` and
        `block` give them (None for one not hosted here), each with `as_of_seq` the applied seq read
        before any of them: every view holds at least the events up to it."""
        ...

    async def district_rows(self) -> DistrictRows: ...

    async def sync(self) -> int:
        """Fold whatever the log holds beyond what was delivered; returns the applied seq."""
        ...

    async def sync_schools(self, changes: Sequence[SchoolChange], later: Directory | None = None) -> SchoolSync:
        """Reflect changed rows of the schools table; `later`, a fresh directory, brings new schools."""
        ...

    async def snapshot_now(self) -> int:
        """Store every hosted district's snapshot; returns its seq."""
        ...

    async def funds_columns(self, year: int, district: int | None = None, block: int | None = None,
                            school: int | None = None) -> FundsColumns:
        """The money columns of the hosted active schools (of a district, block or school: global
        indices) with financial year `year`'s allocation (`twin.funds_columns`), between folds."""
        ...

    async def funds_in_range(self, districts: Sequence[int], first: dt.date, last: dt.date,
                             school_id: str | None = None) -> RangeFunds:
        """The funds moved from `first` to `last` in the hosted ones of `districts` (of one school's
        events when `school_id` is given), folded from the log (`twin.funds_range`)."""
        ...

    async def state_copy(self, districts: Sequence[int] | None = None) -> ShardState:
        """A consistent copy of the whole state between folds (for what-if runs), or of only the
        hosted ones of `districts` (global indices; `twin.district_copy`)."""
        ...


@dataclass
class ShardPorts:
    """What a shard needs from outside, opened inside the process (and event loop) that uses it."""

    event_log: EventLog
    snapshots: SnapshotStore
    directory: object  # twin.directory.Directory
    enrolment: object  # numpy int32 [N, 3]
    close: object  # async () -> None
    broker: StreamBroker | None = None  # where the shard publishes what changed; None: it does not
    low_stock_days: float = 3.0  # rice stock below this many days is published as an alert
    # where a shard larger than its snapshot's every_events keeps deltas; None: whole snapshots only
    snapshot_deltas: SnapshotDeltaStore | None = None


class StreamBroker(Protocol):
    """Topics of JSON-able messages, each numbered by a per-topic `seq` (consecutive integers,
    increasing even across a restart of the broker), with the latest `history` messages of every
    topic kept so that a reader can resume from a seq.

    `read` answers the messages after each cursor (`{topic: last seq seen}`), waiting up to
    `block_s` for one if there are none yet; a cursor older than the history gets what is kept.
    `bounds` is (oldest kept seq, latest seq): (1, 0) for a topic with no messages yet.

    A payload is published as a dict, or as its JSON already encoded (bytes): a publisher of large
    messages encodes them off its event loop, and they cross processes as one string each instead
    of being pickled object by object. Readers always get dicts."""

    async def publish(self, topic: str, payload: dict | bytes) -> int: ...

    async def publish_many(self, messages: Sequence[tuple[str, dict | bytes]]) -> list[int]: ...

    async def read(self, cursors: dict[str, int], block_s: float) -> list[tuple[str, int, dict]]: ...

    async def bounds(self, topic: str) -> tuple[int, int]: ...

    async def close(self) -> None: ...


class AlertStore(Protocol):
    """Where alert changes are kept (`db.alert_repository.AlertRepository`)."""

    async def open_alerts(self) -> list[tuple[str, str, str]]:
        """(subject, cause, severity) of every open alert."""
        ...

    async def apply(self, opened: Sequence[dict], escalated: Sequence[dict],
                    resolved: Sequence[tuple[str, str]]) -> list[dict]:
        """Write one round of changes; returns the opened and escalated alerts as stored."""
        ...


class RiskLevelStore(Protocol):
    """Where each school's risk level is kept for listing and filtering (the schools table)."""

    async def set_risk_levels(self, levels: Sequence[tuple[str, str]]) -> None:
        """(UDISE code, level) pairs."""
        ...


class AlertNotifier(Protocol):
    """Tells subscribers (email, webhooks, SMS) of new and escalated alerts. Must return at once."""

    def submit(self, alerts: Sequence[dict]) -> None: ...


@dataclass
class DeskPorts:
    """What the risk desk needs from outside, opened inside the state actor's process."""

    directory: object  # twin.directory.Directory
    latitude: object  # numpy float64 [N], degrees
    longitude: object
    store: AlertStore | None = None
    broker: StreamBroker | None = None
    notifier: AlertNotifier | None = None
    levels: RiskLevelStore | None = None
    close: object = None  # async () -> None
    load_schools: object = None  # async () -> (directory, latitude, longitude), read afresh
