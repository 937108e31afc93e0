"""`mealtwin bench reports`: the reports of a live twin of the whole state.

A twin of `schools` synthetic schools on Ray shard actors with the state actor scoring risk (no
Serve: the figures are the reports service's own, as an API replica calls it), fed the world's
opening events and `days` school days through the ingest path. Then, each the median of `repeats`
runs (the machine is shared: a median is steadier than a mean or a best):
- `csv_schools_s`: the schools CSV of the whole state (every school with its live figures, risk,
  funds and the year's entitlement), all parts consumed; `csv_schools_rows`;
- `csv_risk_s`, `csv_finance_s`: the state's risk and finance CSVs likewise;
- `pdf_district_s`: one district's PDF (gathering its figures and laying it out), the districts in turn;
- `pdf_all_districts_s`: all 38 districts' PDFs at once, the figures gathered concurrently and the
  layouts as Ray tasks (one CPU each), as report jobs run them in Serve replicas (once);
- `pdf_state_s`: the state's PDF, as its report job builds it (once);
- `pdf_table_10k_rows_s`: ReportLab laying out a PDF whose alerts table has 10,000 rows (a
  paragraph in each), from a district report's own figures (once).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import statistics
import time
from collections.abc import Callable

from benchmarks.credentials import bench_settings
from benchmarks.workdir import bench_workdir
from benchmarks.world_feed import feed_world

TABLE_ROWS = 10_000


async def _csv(reports, kind, area, period) -> tuple[float, int]:  # noqa: ANN001
    t = time.perf_counter()
    rows = 0
    async for part in reports.csv(kind, area, period):
        rows += part.count("\n")
    return time.perf_counter() - t, rows - 1


async def _median(repeats: int, measure: Callable) -> float:
    samples = [await measure() for _ in range(repeats)]
    return round(statistics.median(samples), 3)


async def run(schools: int = 43_000, days: int = 10, repeats: int = 3, seed: int = 0,
              say: Callable[[str], None] = print) -> dict:
    from actors.background import call_on_ray
    from serve_app.reports import pdf
    from serve_app.reports.schemas import CsvKind
    from startup.runtime import start_twin, stop_twin
    from startup.services import open_ray_services
    from twin import geography
    from twin.area import STATE, Area

    workdir = bench_workdir("mealtwin-bench-reports-")
    settings = bench_settings(database_url=f"sqlite+aiosqlite:///{workdir}/bench.db", schools=schools, seed=seed,
                              data_dir=workdir, access_log=False)
    twin = await start_twin(settings, say, serve_api=False)
    out: dict = {"schools": schools, "repeats": repeats}
    try:
        services = await open_ray_services(settings)
        out["events_fed"] = await feed_world(services, settings, days, say)
        reports = services.reports
        period = await reports.period(None, None)
        moment = dt.datetime(2025, 7, 8, 6, 30, tzinfo=dt.UTC)

        for name, kind in (("csv_schools", CsvKind.schools), ("csv_risk", CsvKind.risk),
                           ("csv_finance", CsvKind.finance)):
            say(f"{name}: the whole state, {repeats} times")
            samples, rows = [], 0
            for _ in range(repeats):
                seconds, rows = await _csv(reports, kind, STATE, period)
                samples.append(seconds)
            out[f"{name}_s"] = round(statistics.median(samples), 3)
            out[f"{name}_rows"] = rows

        names = geography.district_names()
        turn = iter(range(10**6))

        async def one_district() -> float:
            area = Area(names[next(turn) % len(names)])
            t = time.perf_counter()
            await reports.pdf(area, period, moment)
            return time.perf_counter() - t

        say(f"pdf_district: {repeats} districts in turn")
        out["pdf_district_s"] = await _median(repeats, one_district)

        say("pdf_all_districts: 38 at once, layouts as Ray tasks")
        t = time.perf_counter()
        contents = await asyncio.gather(*(reports.pdf_content(Area(n), period, moment) for n in names))
        files = await asyncio.gather(*(call_on_ray(pdf.render, c) for c in contents))
        out["pdf_all_districts_s"] = round(time.perf_counter() - t, 3)
        out["pdf_all_districts_mib"] = round(sum(len(f) for f in files) / 2**20, 2)

        say("pdf_state: the state's report")
        t = time.perf_counter()
        state_content = await reports.pdf_content(STATE, period, moment)
        state_pdf = await call_on_ray(pdf.render, state_content)
        out["pdf_state_s"] = round(time.perf_counter() - t, 3)
        out["pdf_state_mib"] = round(len(state_pdf) / 2**20, 2)

        say(f"pdf_table_10k_rows: {TABLE_ROWS:,} rows")
        figures = (await reports.school_figures(Area(names[0])))[:1] or [None]
        sample = {"created_at": moment.isoformat(), "severity": "high", "block": "Ariyalur",
                  "school_id": figures[0].school_id if figures[0] else "33010100101",
                  "title": "Rice stock below 3 days at the current meal rate"}
        big = contents[0] | {"alerts": {"total": TABLE_ROWS, "rows": [sample] * TABLE_ROWS}}
        t = time.perf_counter()
        table_pdf = await asyncio.to_thread(pdf.render, big)
        out["pdf_table_10k_rows_s"] = round(time.perf_counter() - t, 3)
        out["pdf_table_10k_rows_pages"] = table_pdf.count(b"/Type /Page\n") or table_pdf.count(b"/Type /Page")
        await services.close()
    finally:
        await stop_twin(twin)
    return out
