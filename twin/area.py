"""An area of the state: what a user or an API key may see. The whole state, one district, one
block or one school. Canonical names as stored in `schools` (districts and blocks of geography)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twin import geography
from twin.directory import Directory


@dataclass(frozen=True)
class Area:
    district: str | None = None  # None: the whole state
    block: str | None = None  # within `district`
    school_id: str | None = None  # within `block`

    def __post_init__(self) -> None:
        if (self.block and not self.district) or (self.school_id and not self.block):
            raise ValueError("an area names its district before its block, and its block before a school")

    @property
    def is_state(self) -> bool:
        return self.district is None

    @property
    def kind(self) -> str:
        return "school" if self.school_id else "block" if self.block else "district" if self.district else "state"

    def label(self) -> str:
        return {"state": "Tamil Nadu", "district": f"district {self.district}",
                "block": f"block {self.district}/{self.block}", "school": f"school {self.school_id}"}[self.kind]

    def covers_school(self, district: str, block: str, school_id: str) -> bool:
        return (self.district is None or self.district == district) and \
            (self.block is None or self.block == block) and (self.school_id is None or self.school_id == school_id)

    def covers_block(self, district: str, block: str) -> bool:
        """The whole block lies inside the area."""
        return self.school_id is None and (self.district is None or self.district == district) and \
            (self.block is None or self.block == block)

    def covers_district(self, district: str) -> bool:
        return self.block is None and (self.district is None or self.district == district)

    def contains(self, other: Area) -> bool:
        """Every school of `other` lies inside this area."""
        if other.school_id:
            return self.covers_school(other.district, other.block, other.school_id)  # type: ignore[arg-type]
        if other.block:
            return self.covers_block(other.district, other.block)  # type: ignore[arg-type]
        if other.district:
            return self.covers_district(other.district)
        return self.is_state

    def district_index(self) -> int | None:
        return None if self.district is None else geography.district_index(self.district)

    def school_mask(self, directory: Directory) -> np.ndarray:
        """bool [n]: which of the directory's schools lie inside the area."""
        if self.is_state:
            return np.ones(len(directory), bool)
        d = geography.district_index(self.district)  # type: ignore[arg-type]
        if self.school_id:
            mask = np.zeros(len(directory), bool)
            i = directory.index(self.school_id)
            if i >= 0:
                mask[i] = True
            return mask
        if self.block:
            return directory.school_block == directory.blocks.index(d, self.block)
        return directory.school_district == d

    def covers_index(self, directory: Directory, i: int) -> bool:
        """School number `i` of the directory lies inside the area."""
        if self.is_state:
            return True
        d = geography.district_index(self.district)  # type: ignore[arg-type]
        if int(directory.school_district[i]) != d:
            return False
        if self.block and int(directory.school_block[i]) != directory.blocks.index(d, self.block):
            return False
        return self.school_id is None or int(directory.school_ids[i]) == int(self.school_id)


STATE = Area()
