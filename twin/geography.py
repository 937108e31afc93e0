"""Tamil Nadu's districts and blocks (panchayat unions), from the public list shipped in `data/`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

# Chennai has no panchayat unions: its schools are grouped into urban zones of our own naming.
CHENNAI_ZONES = ("Chennai North", "Chennai Central", "Chennai South")
STATE_CODE = "33"
# The state's bounding box (degrees), from NORMS.md.
LAT_RANGE = (8.07, 13.58)
LON_RANGE = (76.25, 80.34)


@dataclass(frozen=True)
class Block:
    district: str
    name: str
    village_panchayats: int


@dataclass(frozen=True)
class District:
    code: int  # 1-based position in the alphabetical list; used as the UDISE district digits
    name: str
    hq_lat: float
    hq_lon: float
    blocks: tuple[Block, ...]


@cache
def districts() -> tuple[District, ...]:
    """All 38 districts, alphabetical, each with its blocks (Chennai with its urban zones)."""
    raw = json.loads(resources.files("twin").joinpath("data/tn_geography.json").read_text())
    out = []
    for code, d in enumerate(sorted(raw["districts"], key=lambda d: d["name"]), start=1):
        known = sorted(b["village_panchayats"] for b in d["blocks"] if b["village_panchayats"])
        typical = known[len(known) // 2] if known else 20  # a few blocks have no published count
        blocks = tuple(
            Block(d["name"], b["name"], int(b["village_panchayats"] or typical)) for b in d["blocks"]
        )
        if not blocks:  # fully urban
            blocks = tuple(Block(d["name"], z, 20) for z in CHENNAI_ZONES)
        out.append(District(code, d["name"], float(d["hq"][0]), float(d["hq"][1]), blocks))
    return tuple(out)


@cache
def district_names() -> tuple[str, ...]:
    return tuple(d.name for d in districts())


def district_index(name: str) -> int:
    """0-based index of a district by name (case-insensitive); raises KeyError if unknown."""
    return _district_lookup()[name.strip().lower()]


@cache
def _district_lookup() -> dict[str, int]:
    return {name.lower(): i for i, name in enumerate(district_names())}
