"""The directory: which district and block every school belongs to, and index lookups by id/name.

Schools are addressed by UDISE code outside the twin and by a dense global index inside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from twin import geography


@dataclass(frozen=True)
class BlockTable:
    """Every block of the state: global block index -> (district index, name)."""

    district: np.ndarray  # int16 [nb]
    names: tuple[str, ...]

    @classmethod
    def from_geography(cls) -> BlockTable:
        district, names = [], []
        for d_idx, d in enumerate(geography.districts()):
            for b in d.blocks:
                district.append(d_idx)
                names.append(b.name)
        return cls(np.array(district, np.int16), tuple(names))

    def __len__(self) -> int:
        return len(self.names)

    @cached_property
    def _lookup(self) -> dict[tuple[int, str], int]:
        return {(int(d), n.lower()): i for i, (d, n) in enumerate(zip(self.district, self.names))}

    def index(self, district_idx: int, name: str) -> int:
        """Global index of block `name` in district `district_idx`; KeyError if there is none."""
        return self._lookup[(district_idx, name.strip().lower())]


@dataclass
class Directory:
    """Schools by global index: UDISE code (int64), district index and global block index."""

    school_ids: np.ndarray  # int64 [n]
    school_district: np.ndarray  # int16 [n]
    school_block: np.ndarray  # int32 [n]
    blocks: BlockTable = field(default_factory=BlockTable.from_geography)
    # bool [n]; inactive (soft-deleted) schools keep their index so indices agree across processes
    school_active: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.school_active is None:
            self.school_active = np.ones(len(self.school_ids), bool)
        order = np.argsort(self.school_ids, kind="stable")
        # one attribute, so a lookup in another thread never pairs a new order with an old sort
        self._search = (self.school_ids[order], order)

    def __len__(self) -> int:
        return int(self.school_ids.shape[0])

    def lookup(self, ids: np.ndarray) -> np.ndarray:
        """Global indices of UDISE codes (int64 array); -1 where the code is unknown."""
        ids = np.asarray(ids, dtype=np.int64)
        ordered, order = self._search
        pos = np.searchsorted(ordered, ids)
        pos_clipped = np.minimum(pos, max(len(ordered) - 1, 0))
        found = (pos < len(ordered)) & (ordered[pos_clipped] == ids) if len(ordered) else np.zeros(ids.shape, bool)
        return np.where(found, order[pos_clipped], -1).astype(np.int32)

    def extend(self, later: Directory) -> bool:
        """Take the schools that `later` (a fresh load) adds at its end, in place. Returns False
        and changes nothing unless this directory is a prefix of `later`: an index once given
        never changes, since batches carry indices between processes."""
        n = len(self)
        if len(later) < n or not np.array_equal(later.school_ids[:n], self.school_ids):
            return False
        if len(later) > n:
            # grow the columns before the search pair, so every index a lookup returns is valid
            self.school_active = np.concatenate([self.school_active, later.school_active[n:]])
            self.school_district = later.school_district.copy()
            self.school_block = later.school_block.copy()
            self.school_ids = later.school_ids.copy()
            self._search = later._search
        return True

    def index(self, school_id: str | int) -> int:
        """Global index of one school; -1 if unknown."""
        return int(self.indices([school_id])[0])

    def indices(self, school_ids: Sequence[str | int | None]) -> np.ndarray:
        """Global indices (int32) of many schools in one lookup; -1 where unknown or not a code."""
        return self.lookup(np.fromiter((_code(s) for s in school_ids), np.int64, len(school_ids)))

    def district_names(self) -> tuple[str, ...]:
        return geography.district_names()


_INT64 = np.iinfo(np.int64)


def _code(school_id: str | int | None) -> int:
    """A school id as the number it names, or -1 for one that names none (not a number, or past
    any UDISE code's 11 digits)."""
    try:
        code = int(school_id)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return -1
    return code if _INT64.min <= code <= _INT64.max else -1
