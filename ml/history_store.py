"""The history store: daily school history on disk as Parquet, one file per month.

Layout under `root`:
    history/yyyy-mm.parquet       one row per (date, school), in (date, school) order, so a month loads
                                  straight into [T, S] arrays without a pivot
    history/days/yyyy-mm.parquet  one row per date: the calendar's day kind and every district's rain
    history/schools.parquet       the schools (id, district, block) in column order
    history/meta.json             how it was made: seed, generator and code version

The generator writes whole months; the live twin appends its own days (`append_days`), replacing a
day it already wrote, so a re-run of the same day changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ml.panel import DAY_FIELDS, SCHOOL_DAY_FIELDS, Panel

HISTORY_DIR = "history"
COMPRESSION = "zstd"
_ROW_GROUP_ROWS = 1_000_000


def history_dir(root: Path | str) -> Path:
    return Path(root) / HISTORY_DIR


def month_key(day: np.datetime64) -> str:
    return str(np.datetime64(day, "M"))  # yyyy-mm


# ----------------------------------------------------------------- writing


def write_schools(root: Path | str, panel: Panel, meta: dict) -> None:
    """The store's schools (in column order) and how the history was made; replaces both."""
    folder = history_dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.table({
        "school_id": pa.array(panel.school_id, pa.int64()),
        "district": pa.array(panel.district, pa.int16()),
        "block": pa.array(panel.block, pa.int32()),
    })
    _atomic(folder / "schools.parquet", lambda path: pq.write_table(table, path, compression=COMPRESSION))
    text = json.dumps(meta, indent=2, sort_keys=True, default=str)
    _atomic(folder / "meta.json", lambda path: Path(path).write_text(text))


def write_month(root: Path | str, panel: Panel) -> Path:
    """Write `panel` (days of one calendar month) as that month's file, replacing it."""
    months = {month_key(d) for d in panel.dates}
    if len(months) != 1:
        raise ValueError(f"a month file holds one month, got {sorted(months)}")
    folder = history_dir(root)
    (folder / "days").mkdir(parents=True, exist_ok=True)
    if not (folder / "schools.parquet").exists():
        write_schools(root, panel, {})
    _check_schools(root, panel)
    (key,) = months
    _atomic(folder / "days" / f"{key}.parquet",
            lambda path: pq.write_table(_day_table(panel), path, compression=COMPRESSION))
    target = folder / f"{key}.parquet"
    _atomic(target, lambda path: pq.write_table(_school_day_table(panel), path, compression=COMPRESSION,
                                                row_group_size=_ROW_GROUP_ROWS))
    return target


def append_days(root: Path | str, panel: Panel) -> list[Path]:
    """Add the days of `panel` to the store, replacing any day already there: the live twin's own
    history. Idempotent: appending the same days twice leaves the same files."""
    written = []
    for key in sorted({month_key(d) for d in panel.dates}):
        start = np.datetime64(key, "M").astype("datetime64[D]")
        end = (np.datetime64(key, "M") + 1).astype("datetime64[D]")
        new = panel.days(start, end)
        path = history_dir(root) / f"{key}.parquet"
        if path.exists():
            old = _read_month(root, key)
            keep = ~np.isin(old.dates, new.dates)
            parts = sorted([old.days(d, d + 1) for d in old.dates[keep]] + [new], key=lambda p: p.dates[0])
            new = _join_days(parts)
        written.append(write_month(root, new))
    return written


# ----------------------------------------------------------------- reading


def load_panel(
    root: Path | str,
    start: dt.date | np.datetime64 | None = None,
    end: dt.date | np.datetime64 | None = None,
    districts: list[int] | np.ndarray | None = None,
) -> Panel:
    """The stored days with start <= date < end (None: from the first, to the last) of the schools
    in `districts` (indices into `twin.geography.district_names()`; None: all)."""
    keys = months(root)
    if start is not None:
        keys = [k for k in keys if np.datetime64(k, "M") >= np.datetime64(start, "M")]
    if end is not None:
        keys = [k for k in keys if np.datetime64(k, "M") <= np.datetime64(np.datetime64(end, "D") - 1, "M")]
    if not keys:
        raise FileNotFoundError(f"no stored history in {history_dir(root)} for {start} .. {end}")
    columns = None
    if districts is not None:
        schools = pq.read_table(history_dir(root) / "schools.parquet")
        columns = np.flatnonzero(np.isin(schools.column("district").to_numpy(), np.asarray(districts)))
    parts = []
    for key in keys:
        month = _read_month(root, key, columns)
        lo = np.datetime64(start, "D") if start is not None else month.dates[0]
        hi = np.datetime64(end, "D") if end is not None else month.dates[-1] + 1
        parts.append(month.days(lo, hi))
    parts = [p for p in parts if p.n_days]
    out = Panel.concat(parts)  # checks the days follow one another
    return out


def months(root: Path | str) -> list[str]:
    """The stored months, oldest first (yyyy-mm)."""
    folder = history_dir(root)
    return sorted(p.stem for p in folder.glob("*.parquet") if p.stem != "schools")


def describe(root: Path | str) -> dict:
    """What the store holds: date range, schools, rows, bytes on disk and how it was made."""
    folder = history_dir(root)
    keys = months(root)
    if not keys:
        return {"root": str(root), "months": 0}
    first = pq.read_table(folder / "days" / f"{keys[0]}.parquet", columns=["date"]).column("date")
    last = pq.read_table(folder / "days" / f"{keys[-1]}.parquet", columns=["date"]).column("date")
    rows = sum(pq.ParquetFile(folder / f"{k}.parquet").metadata.num_rows for k in keys)
    meta_path = folder / "meta.json"
    return {
        "root": str(root),
        "first_day": str(first[0].as_py()),
        "last_day": str(last[-1].as_py()),
        "months": len(keys),
        "schools": pq.ParquetFile(folder / "schools.parquet").metadata.num_rows,
        "rows": rows,
        "bytes": sum(p.stat().st_size for p in folder.rglob("*.parquet")),
        "meta": json.loads(meta_path.read_text()) if meta_path.exists() else {},
    }


# ----------------------------------------------------------------- internals


def _school_day_table(panel: Panel) -> pa.Table:
    t, s = panel.n_days, panel.n_schools
    columns = {
        "date": pa.array(np.repeat(panel.dates, s), pa.date32()),
        "school_id": pa.array(np.tile(panel.school_id, t), pa.int64()),
    }
    for name in SCHOOL_DAY_FIELDS:
        values = getattr(panel, name).reshape(-1)
        # NaN stays NaN (not null): the arrays come back exactly as they went in
        columns[name] = pa.array(values, pa.bool_() if values.dtype == bool else pa.float32())
    return pa.table(columns)


def _day_table(panel: Panel) -> pa.Table:
    return pa.table({
        "date": pa.array(panel.dates, pa.date32()),
        "day_kind": pa.array(panel.day_kind, pa.int8()),
        "rainfall_mm": pa.FixedSizeListArray.from_arrays(
            pa.array(panel.rainfall_mm.reshape(-1), pa.float32()), panel.rainfall_mm.shape[1]),
    })


def _read_month(root: Path | str, key: str, columns: np.ndarray | None = None) -> Panel:
    folder = history_dir(root)
    schools = pq.read_table(folder / "schools.parquet")
    days = pq.read_table(folder / "days" / f"{key}.parquet")
    table = pq.read_table(folder / f"{key}.parquet", columns=list(SCHOOL_DAY_FIELDS))
    dates = days.column("date").to_numpy().astype("datetime64[D]")
    t, s = len(dates), schools.num_rows
    if table.num_rows != t * s:
        raise ValueError(f"{key}: {table.num_rows} rows is not {t} days x {s} schools")
    fields = {name: table.column(name).to_numpy().reshape(t, s) for name in SCHOOL_DAY_FIELDS}
    rain = days.column("rainfall_mm").combine_chunks()
    panel = Panel(
        dates=dates,
        school_id=schools.column("school_id").to_numpy(),
        district=schools.column("district").to_numpy(),
        block=schools.column("block").to_numpy(),
        day_kind=days.column("day_kind").to_numpy(),
        rainfall_mm=rain.flatten().to_numpy().reshape(t, -1),
        **{k: (v if v.dtype == bool else v.astype(np.float32)) for k, v in fields.items()},
    )
    return panel if columns is None else panel.schools(columns)


def _join_days(parts: list[Panel]) -> Panel:
    """Days of the same schools in date order; unlike Panel.concat, gaps are allowed (a month file
    of the live twin may miss a day it never saw)."""
    first = parts[0]
    return replace(first, **{name: np.concatenate([getattr(p, name) for p in parts])
                             for name in SCHOOL_DAY_FIELDS + DAY_FIELDS})


def _check_schools(root: Path | str, panel: Panel) -> None:
    stored = pq.read_table(history_dir(root) / "schools.parquet", columns=["school_id"])
    if not np.array_equal(stored.column("school_id").to_numpy(), panel.school_id):
        raise ValueError("the panel's schools differ from the store's: one store holds one set of schools")


def _atomic(target: Path, write: Callable[[str], object]) -> None:
    """Write through a temporary file in the same folder and rename: readers never see half a file."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
