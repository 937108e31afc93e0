"""The history store: daily school history on disk as numpy arrays, one file per month.

Layout under `root`:
    history/yyyy-mm.npz      a month: its dates, day kinds and district rain [T], and every school-day
                             field as a [T, S] array in the schools' column order
    history/schools.npz      the schools (id, district, block) in column order
    history/meta.json        how it was made: seed, generator and code version

Files are zip archives of `.npy` arrays (what `np.load` reads), deflated at level 1: a quarter of
the raw size at a fraction of the default level's time. Written deterministically (fixed member
times), so writing the same days twice gives the same bytes.

The generator writes whole months; the live twin appends its own days (`append_days`), replacing a
day it already wrote, so a re-run of the same day changes nothing.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from ml.panel import DAY_FIELDS, SCHOOL_DAY_FIELDS, SCHOOL_FIELDS, Panel

HISTORY_DIR = "history"
SCHOOLS_FILE = "schools.npz"
_SUFFIX = ".npz"
_LEVEL = 1  # zlib level: ~4x smaller than raw; higher levels cost several times the CPU for ~10% less
_EPOCH = (1980, 1, 1, 0, 0, 0)  # every member's zip timestamp: the bytes depend only on the arrays


def history_dir(root: Path | str) -> Path:
    return Path(root) / HISTORY_DIR


def month_key(day: np.datetime64) -> str:
    return str(np.datetime64(day, "M"))  # yyyy-mm


def has_schools(root: Path | str) -> bool:
    return (history_dir(root) / SCHOOLS_FILE).exists()


def load_schools(root: Path | str) -> dict[str, np.ndarray]:
    """The store's schools in column order: `school_id`, `district`, `block`."""
    return _read(history_dir(root) / SCHOOLS_FILE)


# ----------------------------------------------------------------- writing


def write_schools(root: Path | str, panel: Panel, meta: dict) -> None:
    """The store's schools (in column order) and how the history was made; replaces both."""
    folder = history_dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder / SCHOOLS_FILE, {name: getattr(panel, name) for name in SCHOOL_FIELDS})
    text = json.dumps(meta, indent=2, sort_keys=True, default=str)
    _atomic(folder / "meta.json", lambda path: Path(path).write_text(text))


def write_month(root: Path | str, panel: Panel) -> Path:
    """Write `panel` (days of one calendar month) as that month's file, replacing it."""
    months = {month_key(d) for d in panel.dates}
    if len(months) != 1:
        raise ValueError(f"a month file holds one month, got {sorted(months)}")
    if not has_schools(root):
        write_schools(root, panel, {})
    _check_schools(root, panel)
    (key,) = months
    target = history_dir(root) / f"{key}{_SUFFIX}"
    _write(target, {name: getattr(panel, name) for name in DAY_FIELDS + SCHOOL_DAY_FIELDS})
    return target


def append_days(root: Path | str, panel: Panel) -> list[Path]:
    """Add the days of `panel` to the store, replacing any day already there: the live twin's own
    history. Idempotent: appending the same days twice leaves the same files."""
    written = []
    for key in sorted({month_key(d) for d in panel.dates}):
        start = np.datetime64(key, "M").astype("datetime64[D]")
        end = (np.datetime64(key, "M") + 1).astype("datetime64[D]")
        new = panel.days(start, end)
        if (history_dir(root) / f"{key}{_SUFFIX}").exists():
            old = _read_month(root, key, load_schools(root))
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
    schools = load_schools(root)
    columns = None if districts is None else np.flatnonzero(np.isin(schools["district"], np.asarray(districts)))
    parts = []
    for key in keys:
        month = _read_month(root, key, schools, columns)
        lo = np.datetime64(start, "D") if start is not None else month.dates[0]
        hi = np.datetime64(end, "D") if end is not None else month.dates[-1] + 1
        parts.append(month.days(lo, hi))
    return Panel.concat([p for p in parts if p.n_days])  # checks the days follow one another


def load_month_fields(root: Path | str, key: str, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Only the named arrays of stored month `key` (yyyy-mm), e.g. its `dates` and `meals`: a
    fraction of what reading the whole month as a panel costs."""
    return _read(history_dir(root) / f"{key}{_SUFFIX}", names)


def months(root: Path | str) -> list[str]:
    """The stored months, oldest first (yyyy-mm)."""
    return sorted(p.stem for p in history_dir(root).glob(f"*{_SUFFIX}") if p.name != SCHOOLS_FILE)


def remove_months(root: Path | str) -> int:
    """Delete every month file and the store's schools (an unfinished history); returns how many months."""
    keys = months(root)
    for key in keys:
        (history_dir(root) / f"{key}{_SUFFIX}").unlink(missing_ok=True)
    (history_dir(root) / SCHOOLS_FILE).unlink(missing_ok=True)
    return len(keys)


def describe(root: Path | str) -> dict:
    """What the store holds: date range, schools, rows, bytes on disk and how it was made."""
    folder = history_dir(root)
    keys = months(root)
    if not keys:
        return {"root": str(root), "months": 0}
    schools = len(load_schools(root)["school_id"])
    dates = [_read(folder / f"{k}{_SUFFIX}", ("dates",))["dates"] for k in keys]
    meta_path = folder / "meta.json"
    return {
        "root": str(root),
        "first_day": str(dates[0][0]),
        "last_day": str(dates[-1][-1]),
        "months": len(keys),
        "schools": schools,
        "rows": sum(len(d) for d in dates) * schools,
        "bytes": sum(p.stat().st_size for p in folder.glob(f"*{_SUFFIX}")),
        "meta": json.loads(meta_path.read_text()) if meta_path.exists() else {},
    }


# ----------------------------------------------------------------- internals


def _read_month(root: Path | str, key: str, schools: dict[str, np.ndarray], columns: np.ndarray | None = None) -> Panel:
    """A month's file as a panel of the store's `schools` (`load_schools`), or of its `columns`."""
    arrays = _read(history_dir(root) / f"{key}{_SUFFIX}")
    t, s = len(arrays["dates"]), len(schools["school_id"])
    if arrays["enrolment"].shape != (t, s):
        raise ValueError(f"{key}: {arrays['enrolment'].shape} is not {t} days x {s} schools")
    panel = Panel(**schools, **arrays)
    return panel if columns is None else panel.schools(columns)


def _join_days(parts: list[Panel]) -> Panel:
    """Days of the same schools in date order; unlike Panel.concat, gaps are allowed (a month file
    of the live twin may miss a day it never saw)."""
    first = parts[0]
    return replace(first, **{name: np.concatenate([getattr(p, name) for p in parts])
                             for name in SCHOOL_DAY_FIELDS + DAY_FIELDS})


def _check_schools(root: Path | str, panel: Panel) -> None:
    if not np.array_equal(load_schools(root)["school_id"], panel.school_id):
        raise ValueError("the panel's schools differ from the store's: one store holds one set of schools")


def _write(target: Path, arrays: dict[str, np.ndarray]) -> None:
    def write(path: str) -> None:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, array in arrays.items():
                data = io.BytesIO()
                np.lib.format.write_array(data, np.ascontiguousarray(array), allow_pickle=False)
                archive.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=_EPOCH), data.getbuffer(),
                                 zipfile.ZIP_DEFLATED, _LEVEL)

    _atomic(target, write)


def _read(path: Path, names: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in (names or archive.files)}


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
