"""The directory: which district and block every school belongs to, and index lookups by id/name.

Schools are addressed by UDISE code outside the twin and by a dense global index inside it.
"""

from __future__ import annotations

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

    def __post_init__(self) -> None:
        self._order = np.argsort(self.school_ids, kind="stable")
        self._sorted = self.school_ids[self._order]

    def __len__(self) -> int:
        return int(self.school_ids.shape[0])

    def lookup(self, ids: np.ndarray) -> np.ndarray:
        """Global indices of UDISE codes (int64 array); -1 where the code is unknown."""
        ids = np.asarray(ids, dtype=np.int64)
        pos = np.searchsorted(self._sorted, ids)
        pos_clipped = np.minimum(pos, max(len(self._sorted) - 1, 0))
        found = (pos < len(self._sorted)) & (self._sorted[pos_clipped] == ids) if len(self._sorted) else np.zeros(ids.shape, bool)
        return np.where(found, self._order[pos_clipped], -1).astype(np.int32)

    def index(self, school_id: str | int) -> int:
        """Global index of one school; -1 if unknown."""
        try:
            key = int(school_id)
        except (TypeError, ValueError):
            return -1
        return int(self.lookup(np.array([key]))[0])

    def district_names(self) -> tuple[str, ...]:
        return geography.district_names()
