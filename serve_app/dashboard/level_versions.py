"""The risk levels of each area as versions, so that a page holding one is sent only the schools
whose level changed since (`binary.pack_changes`), and a page holding none, or one this replica
does not keep (one it never read, or one too old), the whole area again (`binary.pack_levels`): a
reconnecting page always ends up with every level right.

A version is a digest of the levels themselves, not a counter: every replica reading the same
levels names them alike, so a page whose reads go to another replica behind the edge is still sent
only the changes when that replica has read the levels the page holds. A quiet area keeps its
version, and a page polling it is told "no change"."""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np

from twin.area import Area

KEPT = 16  # versions kept per area: a page asks at most once a second, so it is a few behind at most
MAX_AREAS = 512  # areas are few (the state, districts, blocks, schools); a flood of them must not grow this


def version_of(levels: np.ndarray) -> str:
    return hashlib.blake2b(levels.astype("u1").tobytes(), digest_size=8).hexdigest()


class LevelVersions:
    def __init__(self) -> None:
        self._areas: dict[Area, OrderedDict[str, np.ndarray]] = {}  # version -> levels, oldest first

    def record(self, area: Area, levels: np.ndarray) -> str:
        """The version of `levels`, the area's levels as read now, kept for later diffs."""
        kept = self._areas.get(area)
        if kept is None:
            if len(self._areas) >= MAX_AREAS:
                self._areas.clear()
            kept = self._areas[area] = OrderedDict()
        version = version_of(levels)
        if version in kept:
            kept.move_to_end(version)
        else:
            kept[version] = levels.copy()
            while len(kept) > KEPT:
                kept.popitem(last=False)
        return version

    def levels_at(self, area: Area, version: str) -> np.ndarray | None:
        """The area's levels as of `version`, if this replica keeps them."""
        kept = self._areas.get(area)
        return None if kept is None else kept.get(version)
