"""The events that record a committed allocation: one `funds_allocated` a school, and, when asked,
the year's first instalment as `funds_released` down the chain (state to district, district to
block, block to school).

Every event id is made from the year and the recipient, so committing the same allocation again,
or retrying after a failure, records only what is missing: the log drops a repeated id. A district
office receives its blocks' instalments one event a block, so committing a block and later its
whole district releases nothing twice. The instalment is 25% of each school's allocation
(`twin.release_rules.MAX_INSTALMENT_SHARE`), the Centre's and the State's parts in proportion; a
block's and a district's instalments are the sums of their schools', so at every level what comes
in equals what goes down.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from twin import finance, geography
from twin.funds_columns import FundsColumns
from twin.release_rules import MAX_INSTALMENT_SHARE, check_release

FIRST_INSTALMENT = 1


@dataclass(frozen=True)
class AllocationEvents:
    allocations: list[dict]  # funds_allocated, a school each
    releases: list[dict]  # funds_released, in the chain's order: each district's, its block's, their schools'


def allocation_id(year: int, school_id: str) -> str:
    return f"alloc:{year}:{school_id}"


def allocation_events(schools: FundsColumns, ent: finance.Entitlement, year: int, policy: str, norms_version: str,
                      on: dt.date, block_names: tuple[str, ...], first_instalment: bool) -> AllocationEvents:
    """The events for `schools` (sorted as wished) and their entitlement `ent` (aligned). Schools
    entitled to nothing (no child enrolled) get no event."""
    centre, state = np.round(ent.centre_inr, 2), np.round(ent.state_inr, 2)
    given = (centre + state) > 0
    ids = [f"{int(x):011d}" for x in schools.ids]
    date = on.isoformat()
    allocations = [{"type": "funds_allocated", "event_id": allocation_id(year, ids[i]), "date": date,
                    "school_id": ids[i], "year": year, "centre_inr": float(centre[i]), "state_inr": float(state[i]),
                    "policy": policy, "norms_version": norms_version} for i in np.flatnonzero(given)]
    if not first_instalment:
        return AllocationEvents(allocations, [])
    instalment = np.round(MAX_INSTALMENT_SHARE * (centre + state), 2)
    # the rules, as a check on the arithmetic: the year's first instalment, the payers in proportion
    share = np.divide(state, centre + state, out=np.zeros_like(centre), where=given)
    check = check_release(centre, state, np.zeros_like(centre), np.zeros_like(centre),
                          instalment * (1 - share), instalment * share)
    assert bool(np.all(check.allowed[given])), "the first instalment breaks the release rules"
    return AllocationEvents(allocations, instalment_events(schools, centre + state, year, FIRST_INSTALMENT, on,
                                                           block_names))


def instalment_school_id(year: int, number: int, school_id: str) -> str:
    """The event id of a school's share of instalment `number` of `year`."""
    return f"rel:{year}:{number}:s{school_id}"


def instalment_events(schools: FundsColumns, allocation_inr: np.ndarray, year: int, number: int, on: dt.date,
                      block_names: tuple[str, ...]) -> list[dict]:
    """Instalment `number` of `year` as `funds_released` events down the chain: 25% of each school's
    allocation (`allocation_inr` [n], both payers; a school without one gets nothing), its district's
    and block's legs the sums of their schools'. Ids from the year, the number and the recipient."""
    instalment = np.round(MAX_INSTALMENT_SHARE * np.asarray(allocation_inr, np.float64), 2)
    given = instalment > 0
    ids = [f"{int(x):011d}" for x in schools.ids]
    date, districts, tag = on.isoformat(), geography.district_names(), f"{year}:{number}"
    releases: list[dict] = []
    for b in np.unique(schools.block[given]):
        rows = np.flatnonzero(given & (schools.block == b))
        d = int(schools.district[rows[0]])
        amount = round(float(instalment[rows].sum()), 2)
        where = {"district": districts[d], "block": block_names[int(b)]}
        releases.append({"type": "funds_released", "event_id": f"rel:{tag}:d{d}:b{int(b)}", "date": date,
                         "amount_inr": amount, "district": districts[d]})
        releases.append({"type": "funds_released", "event_id": f"rel:{tag}:b{int(b)}", "date": date,
                         "amount_inr": amount, **where})
        releases += [{"type": "funds_released", "event_id": instalment_school_id(year, number, ids[i]), "date": date,
                      "amount_inr": float(instalment[i]), "school_id": ids[i]} for i in rows]
    return releases
