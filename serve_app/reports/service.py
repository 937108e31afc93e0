"""Reports of an area: CSV exports (schools with their live figures, daily attendance, alerts,
risk) and the PDF report of a district, block or school.

Everything here is read from the other domains: the twin (its reader, its per-school read model
`twin.views.school_metrics` over the shards' state, whose sums are the twin's own roll-ups, and its
daily history from the event log), the school register, risk (the rules' scores), alerts and
finance. No figure is computed here that the twin does not already define; the reports only
select, order and lay them out. Where a figure is missing (risk scoring down, no cost norms for the
year) its cells are blank and the report says so rather than inventing one."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from serve_app.reports import cells, charts, performance, school_table
from serve_app.reports import figures as grouping
from serve_app.reports.cache_keys import report_key, twin_under
from serve_app.reports.schemas import (
    ALERT_COLUMNS,
    ATTENDANCE_COLUMNS,
    FINANCE_COLUMNS,
    FORECAST_COLUMNS,
    RISK_COLUMNS,
    SCHOOL_COLUMNS,
    CsvKind,
)
from serve_app.schools.service import school_filter
from serve_app.shared.paths import API
from twin import finance as money
from twin import geography
from twin.area import Area
from twin.errors import InvalidInput, NotFound, Unavailable
from twin.metrics import summarise
from twin.norms import BANDS, day_date, day_number
from twin.risk import FACTORS, NEIGHBOURS
from twin.state import HISTORY_DAYS, NO_DAY

if TYPE_CHECKING:
    from actors.router import ShardRouter
    from serve_app.alerts.service import AlertService
    from serve_app.finance.service import FinanceService
    from serve_app.risk.service import RiskService
    from serve_app.schools.service import SchoolService
    from serve_app.shared.read_cache import CachedReads
    from serve_app.twin.history import SchoolHistoryService
    from serve_app.twin.service import TwinReader
    from twin.directory import Directory
    from twin.state import ShardState

MAX_RANGE_DAYS = 366
JOBS_PATH = f"{API}/reports/jobs"  # where a report too large to answer in the request is built
DEFAULT_PERIOD_DAYS = 30  # without `from`: the 30 days ending on `to`
CHUNK_SCHOOLS = 500  # schools per streamed part of a CSV
CHUNK_ROWS = 2_000  # rows per streamed part of a CSV written from columns (one worker-thread trip each)
HISTORY_CONCURRENCY = 4  # school histories (log replays) in flight at once
ALERTS_PAGE = 1000
ALERTS_IN_PDF = 30  # the open alerts a PDF lists (the newest); it gives the total too
PERFORMANCE_DEFAULT_DAYS = 14
SEVERITIES = ("low", "medium", "high", "critical")
AMS_EXCEPTIONS = ("no_meal_streak", "no_meal_month", "meals_below_share")  # twin.alert_rules' causes


Locations = Callable[[], Awaitable[tuple[np.ndarray, np.ndarray]]]  # latitude, longitude by directory index
Forecast = Callable[[np.ndarray, list[float] | None], Awaitable[dict]]  # ModelService.forecast


@dataclass(frozen=True)
class SchoolFigures:
    """One active school of an area as the twin reads it now."""

    school_id: str
    district: str
    block: str
    figures: dict  # `twin.metrics.summarise` of the school's own metric row
    index: int = -1  # the directory's index of the school


@dataclass(frozen=True)
class Period:
    first: dt.date
    last: dt.date
    asked: bool = True  # False: neither end was asked (the default period)


class ReportService:
    def __init__(self, directory: Directory, router: ShardRouter, reader: TwinReader, schools: SchoolService,
                 risk: RiskService, alerts: AlertService, history: SchoolHistoryService,
                 finance: FinanceService | None = None, locations: Locations | None = None,
                 forecast: Forecast | None = None, read_cache: CachedReads | None = None,
                 max_schools: int | None = None) -> None:
        self._directory = directory
        self._router = router
        self._reader = reader
        self._schools = schools
        self._risk = risk  # the rules' scores (the reports show no learned probability)
        self._alerts = alerts
        self._history = history
        self._finance = finance
        self._locations = locations  # the schools' coordinates, for the map of schools by risk
        self._forecast = forecast  # the served forecaster's meals for the coming school days
        self._cache = read_cache  # performance and PDFs kept by `serve_app.reports.cache_keys`; None: none kept
        self._max_schools = max_schools  # schools a report answered in the request may cover (`limits.report_schools`)

    def check_size(self, area: Area, field: str) -> None:
        """Refuse at once, naming the limit and the report job, a report answered in the request
        whose area holds more active schools than `limits.report_schools` (a job builds any)."""
        if self._max_schools is None or area.school_id:
            return
        schools = int(np.count_nonzero(area.school_mask(self._directory) & self._directory.school_active))
        if schools > self._max_schools:
            raise InvalidInput(
                f"the report covers {schools:,} schools, over this twin's limit of {self._max_schools:,} for a report "
                f"answered in the request (limits.report_schools): build it as a report job (POST {JOBS_PATH}, "
                "answered at once; download the file when it is done), or ask for a smaller area",
                {"limit": self._max_schools, "schools": schools, "job": JOBS_PATH,
                 "fields": [{"field": field, "message": f"covers more than {self._max_schools:,} schools"}]})

    # -- the period -------------------------------------------------------------------------------
    async def twin_day(self) -> dt.date | None:
        today = await self._router.twin_day()
        return None if today == NO_DAY else day_date(today)

    async def period(self, first: dt.date | None, last: dt.date | None) -> Period:
        """The asked period: `to` defaults to the twin's day (today before any report), `from` to
        the 30 days ending on `to`. InvalidInput naming the field for a reversed or too long one."""
        asked = first is not None or last is not None
        if last is None:
            last = await self.twin_day() or dt.datetime.now(dt.UTC).date()
        if first is None:
            first = last - dt.timedelta(days=DEFAULT_PERIOD_DAYS - 1)
        if first > last:
            raise _invalid("to", f"to ({last}) is before from ({first})")
        if (last - first).days + 1 > MAX_RANGE_DAYS:
            raise _invalid("to", f"the period spans {(last - first).days + 1} days; at most {MAX_RANGE_DAYS}")
        return Period(first, last, asked)

    # -- CSV --------------------------------------------------------------------------------------
    def csv(self, kind: CsvKind, area: Area, period: Period) -> AsyncIterator[str]:
        """The CSV of `kind` for `area` (already checked against the caller's), in parts."""
        if kind == CsvKind.schools:
            return self._school_sheet(area) if area.school_id else self._schools_csv(area)
        if kind == CsvKind.finance:
            return self._finance_csv(area)
        return {CsvKind.attendance: self._attendance_csv, CsvKind.alerts: self._alerts_csv,
                CsvKind.risk: self._risk_csv, CsvKind.forecasts: self._forecasts_csv}[kind](area, period)

    async def _finance_csv(self, area: Area) -> AsyncIterator[str]:
        """Each school's money for the financial year of the twin's day: its entitlement by the cost
        norms (finance's allocation dry run) with the Centre's and the State's shares, what was
        released to it and what it utilised, and the percentages officers compare; one school as
        metric,value rows."""
        schools, names, today = await asyncio.gather(self.school_figures(area), self._names(area), self.twin_day())
        year, allocation = await self._allocations(area, today)
        as_of = today.isoformat() if today else None
        rows = []
        for s in schools:
            f, a = s.figures["funds"], allocation.get(s.school_id)
            used = f["meal_cost_inr"] + f["other_utilised_inr"]
            total = a["total_inr"] if a else None
            rows.append([
                s.school_id, names.get(s.school_id), s.district, s.block, s.figures["enrolment"], year if a else None,
                total, a and a["centre_inr"], a and a["state_inr"], _share(a and a["centre_inr"], total),
                _share(a and a["state_inr"], total), f["released_to_schools_inr"], f["meal_cost_inr"],
                f["other_utilised_inr"], round(used, 2), f["school_balance_inr"],
                _percent(f["released_to_schools_inr"], total), _percent(used, f["released_to_schools_inr"]),
                _percent(used, total), as_of])
        if area.school_id:
            yield cells.lines(list(zip(FINANCE_COLUMNS, rows[0] if rows else [None] * len(FINANCE_COLUMNS))),
                              ("metric", "value"))
            return
        yield cells.lines([], FINANCE_COLUMNS)
        for part in _chunks(rows, CHUNK_SCHOOLS):
            yield cells.lines(part)

    async def _forecasts_csv(self, area: Area, period: Period) -> AsyncIterator[str]:
        """Each school's meals forecast for the coming school days by the served forecaster (503
        while none is served): the period does not apply, a forecast starts after the twin's day."""
        if self._forecast is None:
            raise Unavailable("forecasts are not served by this twin")
        schools, names = await asyncio.gather(self.school_figures(area), self._names(area))
        by_id = {s.school_id: s for s in schools}
        index = _indices(schools)
        found = await self._forecast(index, None) if len(index) else {"schools": [], "origin": None, "model": {}}
        version = (found.get("model") or {}).get("version")
        yield cells.lines([], FORECAST_COLUMNS)
        for part in _chunks(found["schools"], CHUNK_SCHOOLS):
            rows = []
            for f in part:
                s = by_id.get(f["school_id"])
                if s is None:
                    continue
                rows += [[s.school_id, names.get(s.school_id), s.district, s.block, d["date"], d["p10"], d["p50"],
                          d["p90"], found["origin"], version] for d in f["days"]]
            yield cells.lines(rows)

    async def _schools_csv(self, area: Area) -> AsyncIterator[str]:
        """Every active school of the area with its live figures, risk and the year's entitlement,
        written from the shards' arrays a column at a time (see `school_table`)."""
        states = await self._states_of(area)
        schools, names, today = await asyncio.gather(
            asyncio.to_thread(school_table.school_columns, states, area.school_mask(self._directory)),
            self._names(area), self.twin_day())
        # the risk desk and finance read at once
        entitled, risk = await asyncio.gather(self._entitled(area, today), self._risk_scores(schools.index))
        sheet = await asyncio.to_thread(school_table.SchoolSheet, schools, self._directory, names, risk, entitled,
                                        today.isoformat() if today else None)
        yield cells.lines([], SCHOOL_COLUMNS)
        for start in range(0, sheet.rows, CHUNK_ROWS):
            yield await asyncio.to_thread(sheet.lines, start, start + CHUNK_ROWS)

    async def _school_sheet(self, area: Area) -> AsyncIterator[str]:
        """One school as metric,value rows."""
        sid: str = area.school_id  # type: ignore[assignment]
        view, names = await asyncio.gather(self._reader.school(sid), self._names(area))
        (school,) = await self.school_figures(area) or (None,)
        risk = (await self._risks([sid], area) or {}).get(sid)
        money_view = await self._finance_of(area)
        f = school.figures if school else {}
        rows: list[tuple[str, Any]] = [
            ("school_id", sid), ("name", names.get(sid)), ("district", view["district"]), ("block", view["block"]),
            ("as_of", view["today"]),
            *((f"enrolment_{band}", view["enrolment"][band]) for band in BANDS),
            ("enrolment", f.get("enrolment")), ("present_today", f.get("present_today")),
            ("meals_today", f.get("meals_today")), ("attendance_rate", f.get("attendance_rate")),
            ("last_report_date", view["last_report_date"]), ("days_since_report", view["days_since_report"]),
            ("stale", view["stale"]), ("closed_today", bool(view["closed"] and view["closed"]["closed_today"])),
            *((f"stock_{k}_kg", v) for k, v in view["stock_kg"].items()), ("stock_eggs", view["stock_eggs"]),
            ("stock_days", view["stock_days"]),
            ("funds_released_inr", view["funds"]["released_inr"]), ("meal_cost_inr", view["funds"]["meal_cost_inr"]),
            ("other_utilised_inr", view["funds"]["other_utilised_inr"]), ("funds_balance_inr", view["funds"]["balance_inr"]),
            ("last_inspection_date", (view["last_inspection"] or {}).get("date")),
            ("last_inspection_score", (view["last_inspection"] or {}).get("score")),
            ("last_shortage_date", (view["last_shortage"] or {}).get("date")),
            ("last_shortage_item", (view["last_shortage"] or {}).get("item")),
            ("risk_score", risk and risk["score"]), ("risk_level", risk and risk["level"]),
            ("cascade_flagged", risk and risk["cascade"]["flagged"]),
            ("open_alert_causes", risk and ";".join(risk["open_alerts"])),
        ]
        if money_view is not None:
            rows += [("financial_year", money_view["year_label"]),
                     ("allocated_inr", money_view["allocated"]["total_inr"]),
                     ("allocated_centre_inr", money_view["allocated"]["centre_inr"]),
                     ("allocated_state_inr", money_view["allocated"]["state_inr"]),
                     *((("entitlement_inr", money_view["entitlement"]["total_inr"]),) if "entitlement" in money_view
                       else ()),
                     ("utilisation_efficiency", money_view["utilisation_efficiency"]),
                     ("burn_inr_per_school_day", money_view["release_rules"]["burn"]["inr_per_school_day"])]
        yield cells.lines(rows, ("metric", "value"))

    async def _attendance_csv(self, area: Area, period: Period) -> AsyncIterator[str]:
        schools = await self.school_figures(area)
        yield cells.lines([], ATTENDANCE_COLUMNS)
        gate = asyncio.Semaphore(HISTORY_CONCURRENCY)

        async def one(s: SchoolFigures) -> list[dict]:
            async with gate:
                try:
                    return (await self._history.history(s.school_id, period.first, period.last))["days"]
                except NotFound:  # deactivated since the twin was read
                    return []

        for part in _chunks(schools, HISTORY_CONCURRENCY * 4):
            histories = await asyncio.gather(*(one(s) for s in part))
            rows = []
            for s, days in zip(part, histories):
                for d in days:
                    meals = d["meals_served"]
                    rows.append([d["date"], s.school_id, s.district, s.block, d["day_kind"], d["reported"],
                                 d["present"], *(meals[b] if meals else None for b in BANDS),
                                 sum(meals.values()) if meals else None, d["no_meal_reason"],
                                 d["stock_kg"]["rice"], d["funds_balance_inr"], s.figures["enrolment"]])
            yield cells.lines(rows)

    async def _alerts_csv(self, area: Area, period: Period) -> AsyncIterator[str]:
        yield cells.lines([], ALERT_COLUMNS)
        # alerts carry the wall-clock times they were raised and resolved: without an asked period, all of them
        async for part in self.alerts_in_period(area, period if period.asked else None):
            yield cells.lines([[a["id"], a["created_at"], a["updated_at"], a["resolved_at"],
                                "resolved" if a["is_resolved"] else "open", a["severity"], a["category"],
                                a["alert_type"], a["district"], a["block"], a["school_id"], a["title"], a["message"],
                                a["is_read"]] for a in part])

    async def _risk_csv(self, area: Area, period: Period) -> AsyncIterator[str]:
        schools, names = await asyncio.gather(self.school_figures(area), self._names(area))
        risks = await self._risks([s.school_id for s in schools], area)
        if risks is None:
            raise Unavailable("risk scoring is not running in this twin")
        yield cells.lines([], RISK_COLUMNS)
        for part in _chunks(schools, CHUNK_SCHOOLS):
            rows = []
            for s in part:
                r = risks.get(s.school_id)
                if r is None:
                    continue
                points = {f["factor"]: f["points"] for f in r["factors"]}
                rows.append([s.school_id, names.get(s.school_id), s.district, s.block, r["score"], r["level"],
                             r["local_score"], r["cascade"]["flagged"], r["cascade"]["pressure"],
                             *(points.get(k) for k in (*FACTORS, NEIGHBOURS)), ";".join(r["open_alerts"])])
            yield cells.lines(rows)

    # -- reads of the other domains ----------------------------------------------------------------
    async def school_figures(self, area: Area, states: Sequence[ShardState] | None = None) -> list[SchoolFigures]:
        """Every active school of `area` with its figures as the twin reads them now, by UDISE
        code. The figures are each school's own row of the twin's metric matrix, so summed over
        the area they are the twin's roll-up of it. `states`: the shards' state already copied."""
        states = states if states is not None else await self._states_of(area)
        return await asyncio.to_thread(self._figures_of, states, area)

    async def _states_of(self, area: Area) -> list[ShardState]:
        """A copy of the state of the shards holding `area`: of a district, block or school, only
        its district's rows (a shard may host every district: at India scale, 1.08 M schools)."""
        if area.is_state:
            return await self._router.state_copies()
        d: int = area.district_index()  # type: ignore[assignment]
        return [await self._router.shard_of(d).state_copy([d])]

    def _figures_of(self, states: Sequence[ShardState], area: Area) -> list[SchoolFigures]:
        schools = school_table.school_columns(states, area.school_mask(self._directory))
        names, blocks = geography.district_names(), self._directory.blocks.names
        district, block = self._directory.school_district[schools.index], self._directory.school_block[schools.index]
        return [SchoolFigures(f"{i:011d}", names[d], blocks[b], summarise(row), g)
                for i, d, b, row, g in zip(schools.ids.tolist(), district.tolist(), block.tolist(), schools.metrics,
                                           schools.index.tolist())]

    async def _names(self, area: Area) -> dict[str, str]:
        """The register's names of the area's schools."""
        return await self._schools.names(school_filter(None, None, None, False, area))

    async def _risks(self, school_ids: Sequence[str], area: Area) -> dict[str, dict] | None:
        """The rules' risk of each school (absent for one the desk does not score), in one read;
        None altogether when risk scoring is not running."""
        try:
            return await self._risk.risks(list(school_ids), area)
        except Unavailable:
            return None

    async def _risk_scores(self, index: np.ndarray) -> school_table.RiskScores | None:
        """The rules' score, level and cascade flag of the schools at `index` (inside the area), in
        one read of arrays; None when risk scoring is not running."""
        try:
            return school_table.RiskScores(*await self._risk.scores(index))
        except Unavailable:
            return None

    async def _entitled(self, area: Area, today: dt.date | None) -> school_table.Entitled | None:
        """The financial year's entitlement by the norms of the area's schools as columns, when the
        finance service is there and has norms for the year."""
        if self._finance is None:
            return None
        year = money.financial_year(today or dt.datetime.now(dt.UTC).date())
        district = area.district_index()
        block = None if area.block is None else self._directory.blocks.index(district, area.block)  # type: ignore[arg-type]
        try:
            ids, amounts = await self._finance.entitlement_columns(year, district, block)
        except InvalidInput:
            return None
        return school_table.Entitled(year, ids, amounts)

    async def _allocations(self, area: Area, today: dt.date | None) -> tuple[int | None, dict[str, dict]]:
        """The financial year's allocation of each school of the area by the cost norms (finance's
        dry run), when the finance service is there and has norms for the year."""
        if self._finance is None:
            return None, {}
        year = money.financial_year(today or dt.datetime.now(dt.UTC).date())
        district = area.district_index()
        block = None if area.block is None else self._directory.blocks.index(district, area.block)  # type: ignore[arg-type]
        try:
            plan = await self._finance.allocate(year, district, block, "norms", 1, len(self._directory) + 1)
        except InvalidInput:
            return None, {}
        return year, {r["school_id"]: r for r in plan["rows"]}

    async def _finance_of(self, area: Area) -> dict | None:
        if self._finance is None:
            return None
        try:
            if area.school_id:
                return await self._finance.school(area.school_id)
            d = area.district_index()
            if area.block:
                return await self._finance.block(self._directory.blocks.index(d, area.block))  # type: ignore[arg-type]
            return await self._finance.district(d) if d is not None else await self._finance.state()
        except InvalidInput:  # no cost norms for the year
            return None

    async def alerts_in_period(self, area: Area, period: Period | None, open_only: bool = False,
                               limit: int | None = None) -> AsyncIterator[list[dict]]:
        """The area's alerts open at some time in `period` (raised by its end, not resolved before its
        start), newest change first, in pages."""
        where = self._alerts.scope(None, None, None, area, is_resolved=False if open_only else None)
        page, given = 1, 0
        while True:
            found = await self._alerts.page(where, page, ALERTS_PAGE)
            part = [a for a in found["alerts"] if period is None or (
                a["created_at"][:10] <= period.last.isoformat()
                and (a["resolved_at"] is None or a["resolved_at"][:10] >= period.first.isoformat()))]
            if limit is not None:
                part = part[: limit - given]
            given += len(part)
            if part:
                yield part
            if page >= found["pagination"]["pages"] or (limit is not None and given >= limit):
                return
            page += 1

    # -- programme performance ----------------------------------------------------------------------
    async def _cache_key(self, kind: str, area: Area, period: Period, extra: str | None = None) -> str:
        statuses, alerts_version = await asyncio.gather(self._router.statuses(), self._alerts.version())
        return report_key(kind, area, period.first.isoformat(), period.last.isoformat(), period.asked,
                          twin_under(area.district_index(), statuses), alerts_version, extra)

    async def performance(self, area: Area, period: Period) -> dict:
        """`measured_performance`, from the read cache when the twin and the alerts under it have
        not changed since it was measured."""
        if self._cache is None:
            return await self.measured_performance(area, period)
        return await self._cache.get_or_compute(await self._cache_key("performance", area, period),
                                                lambda: self.measured_performance(area, period))

    async def measured_performance(self, area: Area, period: Period) -> dict:
        """Meal coverage, no-meal school-days and their reasons, reporting compliance, the monitoring
        system's exceptions, stock-out school-days and fund utilisation of `area` over `period`, in
        total and by its parts (the state's districts, a district's blocks, a block's schools), with
        the change from the previous period of the same length when the twin still holds it.
        InvalidInput naming the field for a period the twin's daily record does not hold."""
        if not period.asked:  # by default two weeks, so that the previous two are held too
            period = Period(period.last - dt.timedelta(days=PERFORMANCE_DEFAULT_DAYS - 1), period.last, False)
        states = await self._states_of(area)
        figures = await self.school_figures(area, states)
        today = max(int(state.today[0]) for state in states)
        if today == NO_DAY:
            raise _invalid("to", "the twin holds no daily reports yet")
        kept_from, first, last = today - HISTORY_DAYS + 1, day_number(period.first), day_number(period.last)
        if last > today:
            raise _invalid("to", f"the twin's latest day is {day_date(today).isoformat()}")
        if first < kept_from:
            raise _invalid("from", f"the twin's daily record holds {day_date(kept_from).isoformat()} to "
                                   f"{day_date(today).isoformat()} (its last {HISTORY_DAYS} days); the period "
                                   f"starts before it")
        record = await asyncio.to_thread(self._record, states, figures, area.kind)
        now = await asyncio.to_thread(performance.measure, record, first, last)
        before_first, before_last = performance.previous(period.first, period.last)
        before = None
        if day_number(before_first) >= kept_from:
            before = await asyncio.to_thread(performance.measure, record, day_number(before_first),
                                             day_number(before_last))
        exceptions = await self._exceptions(area, period)
        funds = {name: (rel, used) for name, rel, used in grouping.funds_by_part(figures, area.kind)}

        def part(name: str) -> dict:
            rel, used = funds.get(name, (0.0, 0.0))
            current = now["by_part"][name] | {"monitoring_exceptions": exceptions.get(name, 0),
                                              "funds_released_inr": rel, "funds_utilised_inr": used,
                                              "fund_utilisation": round(used / rel, 4) if rel else None}
            return {"name": name, **current,
                    "trend": performance.trend(current, before and before["by_part"].get(name))}

        released, used = sum(r for r, _ in funds.values()), sum(u for _, u in funds.values())
        total = now["total"] | {"monitoring_exceptions": sum(exceptions.values()), "funds_released_inr": round(released, 2),
                                "funds_utilised_inr": round(used, 2),
                                "fund_utilisation": round(used / released, 4) if released else None}
        return {
            "area": {"level": area.kind, "district": area.district, "block": area.block, "school_id": area.school_id},
            "period": {"from": period.first.isoformat(), "to": period.last.isoformat()},
            "previous_period": {"from": before_first.isoformat(), "to": before_last.isoformat(), "held": before is not None},
            "parts_are": {"state": "districts", "district": "blocks"}.get(area.kind, "schools"),
            "total": total | {"trend": performance.trend(total, before and before["total"])},
            "parts": [part(name) for name in record.parts], "daily": now["daily"],
            "note": None if before is not None else (
                "The previous period is older than the twin's daily record: no trend is given."),
        }

    def _record(self, states: Sequence[ShardState], figures: list[SchoolFigures], level: str) -> performance.Record:
        names = sorted({grouping.part_of(s, level) for s in figures})
        code = {n: k for k, n in enumerate(names)}
        index = _indices(figures)
        part = np.array([code[grouping.part_of(s, level)] for s in figures], np.int64)
        enrolment = np.array([s.figures["enrolment"] for s in figures], np.int64)
        day = np.full((len(figures), HISTORY_DAYS), NO_DAY, np.int32)
        meals = np.zeros((len(figures), HISTORY_DAYS), np.int64)
        reason = np.zeros((len(figures), HISTORY_DAYS), np.int8)
        for state in states:
            inside = index < len(state.school_local)
            local = np.full(len(index), -1, np.int64)
            local[inside] = state.school_local[index[inside]]
            rows = np.flatnonzero(local >= 0)
            day[rows] = state.hist_day[local[rows]]
            meals[rows] = state.hist_meals[local[rows]].sum(axis=2)
            reason[rows] = state.hist_reason[local[rows]]
        return performance.Record(part, names, enrolment, day, meals, reason)

    async def _exceptions(self, area: Area, period: Period) -> dict[str, int]:
        """The monitoring system's exceptions (no meal 3 school days running, more than 5 no-meal days
        in a month, meals below a share of enrolment) raised or open in the period, by part."""
        out: dict[str, int] = {}
        async for part in self.alerts_in_period(area, period):
            for a in part:
                if a["alert_type"] in AMS_EXCEPTIONS and a["school_id"]:
                    where = {"state": a["district"], "district": a["block"]}.get(area.kind, a["school_id"])
                    out[where] = out.get(where, 0) + 1
        return out

    # -- a role's landing page -----------------------------------------------------------------------
    async def dashboard(self, role: str, area: Area) -> dict:
        """The figures `role`'s landing page shows for `area` (already checked against the caller's):
        the twin's headline figures, schools by risk level, open alerts by severity, the last week's
        performance, and the parts of the area most at risk (districts of the state, blocks of a
        district, schools of a block)."""
        states = await self._states_of(area)
        figures = await self.school_figures(area, states)
        if area.school_id:
            totals = figures[0].figures if figures else None
        elif area.is_state:
            totals = await self._reader.state()
        elif area.block:
            totals = await self._reader.block(area.block, area.district)
        else:
            totals = await self._reader.district(area.district)  # type: ignore[arg-type]
        risks = await self._risks([s.school_id for s in figures], area)
        severities = {}
        for severity in SEVERITIES:
            found = await self._alerts.page(self._alerts.scope(None, None, None, area, is_resolved=False,
                                                               severity=severity), 1, 1)
            severities[severity] = found["pagination"]["total"]
        today = await self.twin_day()
        week = None
        if today is not None:
            try:
                week = (await self.performance(area, Period(today - dt.timedelta(days=6), today)))["total"]
            except InvalidInput:  # the twin's record does not hold the week yet
                week = None
        by_part = grouping.levels_by_part(figures, risks, area.kind) if not area.school_id else None
        attention = sorted(((name, levels.get("high", 0) + levels.get("critical", 0))
                            for name, levels in (by_part or {}).items()), key=lambda p: (-p[1], p[0]))
        t = totals or {}
        return {
            "role": role, "area": {"level": area.kind, "district": area.district, "block": area.block,
                                   "school_id": area.school_id},
            "as_of": today.isoformat() if today else None,
            "figures": {k: t.get(k) for k in ("schools", "enrolment", "present_today", "meals_today",
                                              "attendance_rate", "stock_days", "stale")} | {
                "schools": t.get("schools", 1 if totals else 0), "funds": t.get("funds")},
            "risk_by_level": None if risks is None else dict(sorted(
                Counter(r["level"] for r in risks.values()).items())),
            "open_alerts": {"total": sum(severities.values()), "by_severity": severities},
            "last_week": None if week is None else {k: week[k] for k in (
                "meal_coverage", "reporting_compliance", "no_meal_school_days", "stock_out_school_days",
                "monitoring_exceptions", "fund_utilisation")},
            "attention": [{"name": name, "high_or_critical": n} for name, n in attention[:5] if n > 0],
        }

    # -- the PDF ------------------------------------------------------------------------------------
    async def cached_pdf(self, area: Area, period: Period, generated_at: dt.datetime, fixed_time: bool) -> bytes:
        """`pdf`, from the read cache when the twin and the alerts under it have not changed since
        it was made. Unless the caller fixed the printed generation time (`fixed_time`), a cached
        PDF shows the time it was made."""
        if self._cache is None:
            return await self.pdf(area, period, generated_at)
        key = await self._cache_key("pdf", area, period, generated_at.isoformat() if fixed_time else None)
        return await self._cache.get_or_make_bytes(key, lambda: self.pdf(area, period, generated_at))

    async def pdf(self, area: Area, period: Period, generated_at: dt.datetime) -> bytes:
        from serve_app.reports import pdf

        report = await self.pdf_content(area, period, generated_at)
        return await asyncio.to_thread(pdf.render, report)

    async def pdf_content(self, area: Area, period: Period, generated_at: dt.datetime) -> dict:
        """What the PDF of `area` over `period` shows, gathered from the domains (the shards' state
        copied once for all its parts)."""
        states = await self._states_of(area)
        figures = await self.school_figures(area, states)
        if area.school_id:
            view = await self._reader.school(area.school_id)
            names = await self._names(area)
            title = f"{names.get(area.school_id) or 'School'} ({area.school_id})"
            place = f"{view['block']} block, {view['district']} district"
            totals = figures[0].figures if figures else None
            series = await self._school_series(area.school_id, period, view)
        else:
            if area.is_state:
                totals, title, place = await self._reader.state(), "Tamil Nadu", "the state"
            elif area.block:
                totals = await self._reader.block(area.block, area.district)
                title, place = f"{area.block} block", f"{area.district} district"
            else:
                totals = await self._reader.district(area.district)  # type: ignore[arg-type]
                title, place = f"{area.district} district", "Tamil Nadu"
            series = await self._area_series(area, period, figures, states)
        risks = await self._risks([s.school_id for s in figures], area)
        money_view = await self._finance_of(area)
        open_alerts = await self._alerts.page(self._alerts.scope(None, None, None, area, is_resolved=False), 1, 1)
        listed = [a async for part in self.alerts_in_period(area, None, open_only=True, limit=ALERTS_IN_PDF)
                  for a in part]
        as_of = await self.twin_day()
        return {
            "title": title, "place": place, "level": area.kind, "period": (period.first, period.last),
            "generated_at": generated_at, "as_of": as_of,
            "figures": _key_figures(totals, money_view, open_alerts["pagination"]["total"]),
            "finance_basis": money_view["basis"] if money_view else None,
            "series": series, "children": await self._children(area, figures, risks),
            "stock_bins": None if area.school_id else charts.stock_bins(grouping.stock_days(figures)),
            "risk_points": await self._risk_points(figures, risks) if not area.school_id else None,
            "funds_by_area": grouping.funds_by_part(figures, area.kind),
            "forecast": await self._forecast_of(figures),
            "alerts": {"total": open_alerts["pagination"]["total"], "rows": listed},
        }

    async def _children(self, area: Area, figures: list[SchoolFigures], risks: dict[str, dict] | None) -> list[dict]:
        """The state's districts or a district's blocks: each one's twin figures and its schools by
        risk level (other areas: none)."""
        if area.kind not in ("state", "district"):
            return []
        by_level = grouping.levels_by_part(figures, risks, area.kind)
        present = {grouping.part_of(s, area.kind) for s in figures}
        if area.is_state:
            names = [n for n in geography.district_names() if n in present]
            views = [await self._reader.district(n) for n in names]
        else:
            d = area.district_index()
            names = [self._directory.blocks.names[int(b)] for b in np.flatnonzero(self._directory.blocks.district == d)]
            names = [n for n in names if n in present]
            views = [await self._reader.block(n, area.district) for n in names]
        return [{"name": n, "view": v, "by_level": None if by_level is None else by_level.get(n, {})}
                for n, v in zip(names, views)]

    async def _risk_points(self, figures: list[SchoolFigures], risks: dict[str, dict] | None) -> list | None:
        """(latitude, longitude, level) of each scored school: the map of schools by risk."""
        if risks is None or self._locations is None:
            return None
        lat, lon = await self._locations()
        out = []
        for s in figures:
            r, i = risks.get(s.school_id), s.index
            if r is not None and 0 <= i < len(lat):
                out.append((round(float(lat[i]), 5), round(float(lon[i]), 5), r["level"]))
        return out

    async def _forecast_of(self, figures: list[SchoolFigures]) -> dict | None:
        """The meals forecast of the area's schools for the coming school days, or why there is none."""
        if self._forecast is None or not figures:
            return None
        schools = _indices(figures)
        try:
            found = await self._forecast(schools, None)
        except Unavailable as exc:
            return {"days": [], "note": f"No forecast: {exc}"}
        days = [{"date": dt.date.fromisoformat(d["date"]), "p10": d["p10"], "p50": d["p50"], "p90": d["p90"]}
                for d in found["total"]]
        model = found.get("model") or {}
        return {"days": days, "note": f"Meals forecast from {found['origin']} by the served model "
                                      f"({model.get('kind')}, version {model.get('version')}); {found.get('note', '')}."}

    async def _area_series(self, area: Area, period: Period, figures: list[SchoolFigures],
                           states: Sequence[ShardState]) -> dict:
        """Schools reporting, children present and meals served on each day of the period that the
        twin's daily report record still holds (its last `HISTORY_DAYS` days); the days before it
        are not charted for an area and the series says so."""
        enrolment = sum(s.figures["enrolment"] for s in figures)
        today = max(int(state.today[0]) for state in states)
        if today == NO_DAY:
            return _series([], enrolment, "The twin holds no reports yet: only its current state is shown.")
        kept_from = today - HISTORY_DAYS + 1
        first, last = max(day_number(period.first), kept_from), min(day_number(period.last), today)
        index = _indices(figures)
        held_rows = []
        for state in states:
            local = state.school_local[index[index < len(state.school_local)]]
            held_rows.append((state, local[local >= 0]))
        days = []
        for day in range(first, last + 1):
            slot = day % HISTORY_DAYS
            reported = present = meals = 0
            for state, rows in held_rows:
                held = state.hist_day[rows, slot] == day
                reported += int(held.sum())
                present += int(state.hist_present[rows, slot][held].sum())
                meals += int(state.hist_meals[rows, slot][held].sum())
            days.append({"date": day_date(day), "reported": reported, "present": present, "meals": meals})
        note = None
        if day_number(period.first) < kept_from:
            note = (f"For an area the twin keeps each school's last {HISTORY_DAYS} days of reports "
                    f"(from {day_date(kept_from).isoformat()}); "
                    + ("none of the period lies in them: only the current state is available for this area, "
                       "and no series is drawn." if first > last else
                       "earlier days of the period are not charted (each school's full daily history is in the "
                       "attendance CSV)."))
        elif day_number(period.last) > today:
            note = f"The twin's latest day is {day_date(today).isoformat()}: later days have no reports yet."
        return _series(days, enrolment, note)

    async def _school_series(self, school_id: str, period: Period, view: dict) -> dict:
        history = await self._history.history(school_id, period.first, period.last)
        days = [{"date": dt.date.fromisoformat(d["date"]), "reported": 1, "present": d["present"],
                 "meals": sum(d["meals_served"].values())} for d in history["days"] if d["reported"]]
        enrolment = sum(view["enrolment"].values())
        note = None if days else "No attendance was reported in the period."
        return _series(days, enrolment, note)


def _indices(figures: Sequence[SchoolFigures]) -> np.ndarray:
    """The directory's index of each school, as the twin's read gave it (no lookup a school)."""
    return np.fromiter((s.index for s in figures), np.int64, len(figures))


def _series(days: list[dict], enrolment: int, note: str | None) -> dict:
    return {"days": days, "enrolment": enrolment, "note": note}


def _key_figures(totals: dict | None, money_view: dict | None, open_alerts: int) -> list[tuple[str, Any]]:
    t = totals or {}
    funds = t.get("funds") or {}
    out: list[tuple[str, Any]] = [
        ("Schools", t.get("schools", 1 if totals else None)), ("Enrolment", t.get("enrolment")),
        ("Children present (twin's day)", t.get("present_today")), ("Meals served (twin's day)", t.get("meals_today")),
        ("Attendance rate (twin's day)", t.get("attendance_rate")), ("Rice stock, school days", t.get("stock_days")),
        ("Schools not reporting (twin's day)", t.get("stale")), ("Open alerts", open_alerts),
        ("Funds released to schools, INR", funds.get("released_to_schools_inr")),
        ("Funds utilised by schools, INR", _plus(funds.get("meal_cost_inr"), funds.get("other_utilised_inr"))),
        ("Schools' balance, INR", funds.get("school_balance_inr")),
    ]
    if money_view is not None:
        label = money_view["year_label"]
        if "entitlement" in money_view:  # finance keeps the recorded allocation apart from the norms' entitlement
            out.append((f"Entitlement for {label} by the norms, INR", money_view["entitlement"]["total_inr"]))
        out += [(f"Allocated for {label} (recorded), INR", money_view["allocated"]["total_inr"]),
                ("Utilisation of releases", money_view["utilisation_efficiency"])]
    return out


def _share(part: float | None, whole: float | None) -> float | None:
    return None if part is None or not whole else round(part / whole, 4)


def _percent(part: float | None, whole: float | None) -> float | None:
    return None if part is None or not whole else round(100.0 * part / whole, 2)


def _plus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(a + b, 2)


def _chunks(items: Sequence, size: int):
    for k in range(0, len(items), size):
        yield items[k : k + size]


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"The request is not valid: {field}: {message}", {"fields": [{"field": field, "message": message}]})

