"""Places named in requests: a district or block by name (any case), as the twin's indices."""

from __future__ import annotations

from twin import geography
from twin.directory import Directory
from twin.errors import InvalidInput, NotFound


def district_index(name: str) -> int:
    """The district called `name`; NotFound if none is."""
    try:
        return geography.district_index(name)
    except KeyError:
        raise NotFound(f"no district {name!r}", {"district": name}) from None


def block_index(directory: Directory, name: str, district: str | None = None) -> int:
    """The global index of block `name` (in `district` when given); NotFound if there is none,
    InvalidInput if the name is used in several districts and none is given."""
    blocks = directory.blocks
    if district is not None:
        d = district_index(district)
        try:
            return blocks.index(d, name)
        except KeyError:
            raise NotFound(f"no block {name!r} in {district}", {"block": name, "district": district}) from None
    candidates = [i for i, n in enumerate(blocks.names) if n.lower() == name.strip().lower()]
    if not candidates:
        raise NotFound(f"no block {name!r}", {"block": name})
    if len(candidates) > 1:
        names = geography.district_names()
        raise InvalidInput(f"block name {name!r} is used in more than one district: add ?district=",
                           {"districts": [names[int(blocks.district[i])] for i in candidates]})
    return candidates[0]
