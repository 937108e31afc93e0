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
A page whose `n` differs from its map's reloads the map (a school was added or deactivated)."""

from __future__ import annotations

import struct

import numpy as np

from db.school_map_repository import MapPoints

MAP_MAGIC, LEVELS_MAGIC = b"MTM1", b"MTL1"


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
