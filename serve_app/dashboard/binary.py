"""The map's compact binary forms, read by the page with typed arrays (`static/js/map-data.js`).
Little-endian; each column starts on a multiple of its item size, so the page views it in place.

Map (`MTM1`), sent once a sign-in:
    magic b"MTM1" | uint32 n | uint32 0 | uint32 0                       16 bytes
    float64 school_id[n]   the UDISE code (11 digits: exact in a double)
    float32 latitude[n], float32 longitude[n]                            degrees
    uint16 block[n]        global block index (as `places` lists the blocks)
    uint8 district[n]      district index (as `places` lists the districts)
    uint8 level[n]         risk level, 0 low, 1 medium, 2 high, 3 critical

Levels (`MTL1`), fetched again when the area's figures move: the same schools in the same order.
    magic b"MTL1" | uint32 n | uint8 level[n]
Changes (`MTC1`), the answer to a page that names the levels version it holds: only the schools
whose level changed since, by their place in the map's order (`level_versions`).
    magic b"MTC1" | uint32 n | uint32 k | uint32 index[k] | uint8 level[k]
A page whose `n` differs from its map's reloads the map (a school was added or deactivated)."""

from __future__ import annotations

import struct

import numpy as np

from db.school_map_repository import MapPoints

MAP_MAGIC, LEVELS_MAGIC, CHANGES_MAGIC = b"MTM1", b"MTL1", b"MTC1"


def pack_map(points: MapPoints) -> bytes:
    n = len(points)
    return b"".join([
        MAP_MAGIC, struct.pack("<III", n, 0, 0),
        points.school_id.astype("<f8").tobytes(),
        points.latitude.astype("<f4").tobytes(), points.longitude.astype("<f4").tobytes(),
        points.block.astype("<u2").tobytes(), points.district.astype("u1").tobytes(), points.level.astype("u1").tobytes(),
    ])


def pack_levels(levels: np.ndarray) -> bytes:
    return LEVELS_MAGIC + struct.pack("<I", len(levels)) + levels.astype("u1").tobytes()


def pack_changes(n: int, index: np.ndarray, levels: np.ndarray) -> bytes:
    """The schools at `index` (places in a map of `n`) now at `levels`."""
    return CHANGES_MAGIC + struct.pack("<II", n, len(index)) + index.astype("<u4").tobytes() + levels.astype("u1").tobytes()
