"""Where-clauses that keep rows inside an area (`twin.area.Area`): the tables that place a row by
district, block and school name those columns alike (a school's own id column aside)."""

from __future__ import annotations

from sqlalchemy import Table

from twin.area import Area


def area_clauses(table: Table, area: Area, school_column: str = "school_id") -> list:
    """Rows whose own place lies inside `area` (none: the whole state)."""
    wanted = (("district", area.district), ("block", area.block), (school_column, area.school_id))
    return [table.c[column] == value for column, value in wanted if value is not None]
