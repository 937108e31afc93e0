"""Between the generator's column table of schools and the `schools` table's rows."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from simulation.synthetic_schools import SchoolTable
from twin import geography
from twin.directory import BlockTable


def to_rows(table: SchoolTable) -> Iterator[dict]:
    names = geography.district_names()
    blocks = BlockTable.from_geography()
    total = table.enrolment.sum(axis=1)
    for i in range(len(table)):
        p, u, s = (int(x) for x in table.enrolment[i])
        block = blocks.names[int(table.block[i])]
        district = names[int(table.district[i])]
        yield {
            "id": f"{int(table.udise[i]):011d}", "name": table.name[i], "district": district, "block": block,
            "address": f"{block} block, {district} district, Tamil Nadu",
            "latitude": float(table.latitude[i]), "longitude": float(table.longitude[i]),
            "total_students": int(total[i]), "enrolment_primary": p, "enrolment_upper_primary": u,
            "enrolment_secondary": s, "capacity": int(table.capacity[i]), "has_hostel": bool(table.has_hostel[i]),
            "breakfast_scheme": bool(table.breakfast_scheme[i]), "depot_id": table.depot_id[i],
            "risk_level": "low", "is_active": True,
        }


def from_rows(rows: list) -> SchoolTable:
    """A `SchoolTable` from `schools` rows (mappings), e.g. for the feed's world model."""
    blocks = BlockTable.from_geography()
    district = np.array([geography.district_index(r["district"]) for r in rows], np.int16)
    return SchoolTable(
        udise=np.array([int(r["id"]) for r in rows], np.int64),
        name=[r["name"] for r in rows],
        district=district,
        block=np.array([blocks.index(int(d), r["block"]) for d, r in zip(district, rows)], np.int32),
        latitude=np.array([r["latitude"] for r in rows], np.float64),
        longitude=np.array([r["longitude"] for r in rows], np.float64),
        enrolment=np.array([(r["enrolment_primary"], r["enrolment_upper_primary"], r["enrolment_secondary"])
                            for r in rows], np.int32).reshape(-1, 3),
        capacity=np.array([r["capacity"] for r in rows], np.int32),
        has_hostel=np.array([r["has_hostel"] for r in rows], bool),
        breakfast_scheme=np.array([r["breakfast_scheme"] for r in rows], bool),
        depot_id=[r["depot_id"] for r in rows],
    )
