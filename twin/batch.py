"""`EventBatch`: events as columns, the form in which they travel to shards and into kernels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_VALUES = 6  # per-kind numeric payload width; see `twin.encoding` for what each slot means


@dataclass
class EventBatch:
    """Struct of arrays, one row per event, in log order (ascending `seq`).

    seq: int64 global log sequence number (0 until the event is durable)
    kind: int8 `EventKind`
    school: int32 global school index, -1 when the event is not about one school
    block: int32 global block index, -1 when no block is named
    district: int16 district index (every event belongs to exactly one district)
    day: int32 day number of `date`; day_end: int32 last day of a closure (else = day)
    values: float64 [n, N_VALUES] kind-specific quantities
    """

    seq: np.ndarray
    kind: np.ndarray
    school: np.ndarray
    block: np.ndarray
    district: np.ndarray
    day: np.ndarray
    day_end: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return int(self.seq.shape[0])

    @classmethod
    def empty(cls, n: int = 0) -> EventBatch:
        return cls(
            seq=np.zeros(n, np.int64),
            kind=np.zeros(n, np.int8),
            school=np.full(n, -1, np.int32),
            block=np.full(n, -1, np.int32),
            district=np.full(n, -1, np.int16),
            day=np.zeros(n, np.int32),
            day_end=np.zeros(n, np.int32),
            values=np.zeros((n, N_VALUES), np.float64),
        )

    def take(self, rows: np.ndarray) -> EventBatch:
        """The rows selected by an index or boolean mask, order kept."""
        return EventBatch(*(getattr(self, f)[rows] for f in _FIELDS))

    @classmethod
    def concat(cls, batches: list[EventBatch]) -> EventBatch:
        if not batches:
            return cls.empty()
        return cls(*(np.concatenate([getattr(b, f) for b in batches]) for f in _FIELDS))


_FIELDS = ("seq", "kind", "school", "block", "district", "day", "day_end", "values")
