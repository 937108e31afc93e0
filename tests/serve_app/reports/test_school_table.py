"""The schools CSV written from the shards' columns says, cell for cell, what the per-school reads
say: each school's summarised figures (`twin.metrics.summarise`), the risk desk's answer and
finance's allocation dry run, put through the formula guard a row at a time. The reference below
is that slow, obvious construction (how the CSV was built before it was written from columns)."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from serve_app.reports import cells
from serve_app.reports.schemas import SCHOOL_COLUMNS, CsvKind
from tests.fixtures.report_world import BLOCK_OF, EVIL, S1, S2, TAMIL_NAME, report_app
from twin import finance as money
from twin.area import STATE, Area


@pytest.fixture
async def app(database_url):
    from configs import Settings

    async with report_app(Settings(database_url=database_url)) as app:
        yield app


async def _reference(reports, area: Area) -> str:  # noqa: ANN001
    """The schools CSV a row dict at a time, from the other domains' per-school answers."""
    services_finance = reports._finance
    schools = await reports.school_figures(area)
    names = await reports._names(area)
    today = await reports.twin_day()
    year = money.financial_year(today)
    district = area.district_index()
    block = None if area.block is None else reports._directory.blocks.index(district, area.block)
    plan = await services_finance.allocate(year, district, block, "norms", 1, len(reports._directory) + 1)
    allocation = {r["school_id"]: r for r in plan["rows"]}
    risks = await reports._risk.risks([s.school_id for s in schools], area)
    rows = []
    for s in schools:
        f, r, a = s.figures, risks.get(s.school_id), allocation.get(s.school_id)
        funds = f["funds"]
        used = round(funds["meal_cost_inr"] + funds["other_utilised_inr"], 2)
        rows.append([
            s.school_id, names.get(s.school_id), s.district, s.block, f["enrolment"], f["present_today"],
            f["meals_today"], f["attendance_rate"], f["stock_days"], f["stock_kg"]["rice"], bool(f["stale"]),
            bool(f["closed_today"]), r and r["score"], r and r["level"], r and r["cascade"]["flagged"],
            funds["released_to_schools_inr"], used, funds["school_balance_inr"], a and a["total_inr"],
            a and a["centre_inr"], a and a["state_inr"], year if a else None, today.isoformat()])
    return cells.lines(rows, SCHOOL_COLUMNS)


async def _columnar(reports, area: Area) -> tuple[str, int]:  # noqa: ANN001
    period = await reports.period(None, None)
    parts = [part async for part in reports.csv(CsvKind.schools, area, period)]
    return "".join(parts), len(parts)


@pytest.mark.parametrize("area", [STATE, Area("Ariyalur"), Area("Ariyalur", BLOCK_OF[S1])],
                         ids=["state", "district", "block"])
async def test_the_schools_csv_from_columns_is_the_per_school_reads(app, area):
    reports = app.state.services.reports
    text, parts = await _columnar(reports, area)
    assert text == await _reference(reports, area)
    assert parts >= 2  # the header, then the rows: streamed, not one string
    rows = {r["school_id"]: r for r in csv.DictReader(io.StringIO(text))}
    assert len(rows) == len(await reports.school_figures(area))
    # what the comparison rests on: a name a spreadsheet would run is quoted, Tamil kept as it is,
    # the school that missed the twin's day reads stale, and the risk and money columns are filled
    assert rows[S1]["name"] == TAMIL_NAME and rows[S2]["name"] == "'" + EVIL
    assert rows[S2]["stale"] == "true" and rows[S1]["stale"] == "false"
    for r in rows.values():
        assert r["risk_level"] in ("low", "medium", "high", "critical") and r["cascade_flagged"] in ("true", "false")
        assert r["allocated_financial_year"] == str(money.financial_year(dt.date(2025, 7, 7)))
        assert float(r["allocated_inr"]) > 0
