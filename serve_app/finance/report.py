"""The year's financial summary of an area by district, block and school: one row per place, the
same figures at every level (allocated from the log, the norms' entitlement, released, utilised,
balance, the shares), so that each level's rows add up to the level above. Pure: from the shards'
money extract (`twin.funds_columns`) and the entitlement, to rows and to CSV text."""

from __future__ import annotations

import csv
import io

import numpy as np

from twin import geography
from twin.funds_columns import FundsColumns
from twin.state import FUNDS_RELEASED, MEAL_COST, OTHER_UTILISED, PASSED_DOWN, RECEIVED

LEVELS = ("district", "block", "school")
COLUMNS = ("level", "district", "block", "school_id", "schools", "enrolment", "allocated_inr", "allocated_centre_inr",
           "allocated_state_inr", "entitlement_inr", "released_inr", "meal_cost_inr", "other_utilised_inr",
           "utilised_inr", "balance_inr", "released_share_of_allocation", "utilisation_efficiency",
           "office_received_inr", "office_passed_down_inr")


def summary_rows(schools: FundsColumns, entitled_inr: np.ndarray, block_names: tuple[str, ...]) -> list[dict]:
    """Rows of every district, then every block, then every school of `schools` (active schools of
    the area; `entitled_inr` [n] aligned), each level sorted by name (schools by UDISE code)."""
    districts = geography.district_names()
    values = np.column_stack([np.ones(len(schools)), schools.enrolment.sum(axis=1), schools.allocation,
                              entitled_inr, schools.funds[:, FUNDS_RELEASED], schools.funds[:, MEAL_COST],
                              schools.funds[:, OTHER_UTILISED]])  # [n, 8]
    offices = {"district": dict(zip(schools.district_global.tolist(), schools.district_funds.tolist())),
               "block": dict(zip(schools.block_global.tolist(), schools.block_funds.tolist()))}
    rows: list[dict] = []
    for level, key in (("district", schools.district), ("block", schools.block), ("school", schools.ids)):
        groups, group = np.unique(key, return_inverse=True)
        sums = np.zeros((len(groups), values.shape[1]))
        np.add.at(sums, group, values)
        first = np.zeros(len(groups), np.int64)
        first[group[::-1]] = np.arange(len(group))[::-1]  # a school of each group, for its place
        part = []
        for k, g in enumerate(groups.tolist()):
            i = int(first[k])
            office = offices.get(level, {}).get(g)
            part.append(_row(level, districts[int(schools.district[i])],
                             None if level == "district" else block_names[int(schools.block[i])],
                             f"{int(g):011d}" if level == "school" else None, sums[k], office))
        part.sort(key=lambda r: (r["district"], r["block"] or "", r["school_id"] or ""))
        rows += part
    return rows


def _row(level: str, district: str, block: str | None, school_id: str | None, v: np.ndarray,
         office: list[float] | None) -> dict:
    schools, enrolment, centre, state, entitled, released, meal, other = (float(x) for x in v)
    allocated, utilised = centre + state, meal + other
    return {"level": level, "district": district, "block": block, "school_id": school_id, "schools": int(schools),
            "enrolment": int(enrolment), "allocated_inr": _r(allocated), "allocated_centre_inr": _r(centre),
            "allocated_state_inr": _r(state), "entitlement_inr": _r(entitled), "released_inr": _r(released),
            "meal_cost_inr": _r(meal), "other_utilised_inr": _r(other), "utilised_inr": _r(utilised),
            "balance_inr": _r(released - utilised),
            "released_share_of_allocation": round(released / allocated, 4) if allocated > 0 else None,
            "utilisation_efficiency": round(utilised / released, 4) if released > 0 else None,
            "office_received_inr": None if office is None else _r(office[RECEIVED]),
            "office_passed_down_inr": None if office is None else _r(office[PASSED_DOWN])}


def to_csv(rows: list[dict]) -> str:
    """The rows as CSV with a header (`COLUMNS`); an empty cell for a missing figure. Every text cell
    is a place name from the geography or a UDISE code, so no cell can start a spreadsheet formula."""
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)
    return out.getvalue()


def _r(x: float) -> float:
    return round(float(x), 2)
