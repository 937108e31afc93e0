"""Districts, blocks and depots named in a scenario, resolved to a mask over the state's blocks."""

from __future__ import annotations

import difflib
from functools import cache

import numpy as np

from simulation.start_state import depot_ids
from twin import geography
from twin.directory import BlockTable


@cache
def _blocks() -> BlockTable:
    return BlockTable.from_geography()


@cache
def _block_lookup() -> dict[str, list[int]]:
    """Lower-case block name -> global blocks of that name (a name can occur in two districts)."""
    out: dict[str, list[int]] = {}
    for i, name in enumerate(_blocks().names):
        out.setdefault(name.lower(), []).append(i)
    return out


@cache
def _depot_lookup() -> dict[str, int]:
    return {d.lower(): i for i, d in enumerate(depot_ids())}


def _suggest(name: str, choices) -> str:  # noqa: ANN001
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.6)
    return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""


def check_district(name: str) -> str:
    """The district's canonical name; ValueError naming the unknown one (with suggestions)."""
    try:
        return geography.district_names()[geography.district_index(name)]
    except KeyError:
        raise ValueError(f"unknown district {name!r}{_suggest(name, geography.district_names())}") from None


def check_block(name: str) -> list[int]:
    """Global blocks named `name`: "Block" when the name is unique in the state, else "District/Block"."""
    if "/" in name:
        district, block = (part.strip() for part in name.split("/", 1))
        d = geography.district_index(check_district(district))
        try:
            return [_blocks().index(d, block)]
        except KeyError:
            names = [n for n, k in zip(_blocks().names, _blocks().district) if int(k) == d]
            raise ValueError(f"district {district!r} has no block {block!r}{_suggest(block, names)}") from None
    hits = _block_lookup().get(name.strip().lower())
    if not hits:
        raise ValueError(f"unknown block {name!r}{_suggest(name, _blocks().names)}")
    if len(hits) > 1:
        where = ", ".join(f"'{geography.district_names()[int(_blocks().district[b])]}/{name}'" for b in hits)
        raise ValueError(f"block {name!r} is in several districts: write one of {where}")
    return hits


def check_depot(name: str) -> int:
    try:
        return _depot_lookup()[name.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown depot {name!r}{_suggest(name.upper(), depot_ids())}") from None


def block_mask(districts: list[str] = (), blocks: list[str] = (), depots: list[str] = ()) -> np.ndarray:  # noqa: B006
    """bool [nb] over global blocks: the union of the named places (all blocks when none is named)."""
    table = _blocks()
    if not (districts or blocks or depots):
        return np.ones(len(table), bool)
    mask = np.zeros(len(table), bool)
    for d in districts:
        mask |= table.district == geography.district_index(check_district(d))
    for b in blocks:
        mask[check_block(b)] = True
    for depot in depots:
        mask[check_depot(depot)] = True  # one depot per block
    return mask


def block_label(b: int) -> str:
    """"District/Block" of a global block."""
    table = _blocks()
    return f"{geography.district_names()[int(table.district[b])]}/{table.names[b]}"
