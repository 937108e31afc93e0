"""Ports: what the twin needs from the outside world, as Protocols. `db/` implements them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class LogRow:
    """One event as the log stores it."""

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


class SnapshotStore(Protocol):
    async def save(self, district: int, seq: int, data: bytes) -> None: ...

    async def latest(self, district: int) -> tuple[int, bytes] | None: ...


@dataclass
class ShardPorts:
    """What a shard needs from outside, opened inside the process (and event loop) that uses it."""

    event_log: EventLog
    snapshots: SnapshotStore
    directory: object  # twin.directory.Directory
    enrolment: object  # numpy int32 [N, 3]
    close: object  # async () -> None
