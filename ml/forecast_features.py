"""Inputs and targets for the meal-demand forecasters, built from a `Panel`.

A forecast is made at the end of an *origin* day for each school's next `HORIZON` school days (school
and exam days of the calendar). What the forecasters may know at that moment:

- the school's last `HISTORY_DAYS` days as reported (meals and attendance over enrolment), with the
  calendar, the school's open flag and its district's rainfall on each of those days;
- the calendar of the days ahead (weekday, month, exam, how far each one is from a break);
- a rainfall forecast for each district on the days ahead. In training and backtests the rain that
  actually fell is used as a perfect forecast; when serving, an operator's forecast is passed in.

The days ahead come from the calendar alone (closures are rarely known a week ahead), so every
school of a panel shares them. The target of a day is the school's true meals served; a day on which
the school turns out to be closed has none and is neither trained on nor scored.

Everything is expressed as a share of the school's enrolment, minus the school's recent *level*, so
one global model can serve a 30-pupil school and a 1,500-pupil school alike.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ml.panel import Panel
from twin import calendar
from twin.calendar import DayKind

HORIZON = 7  # school days ahead
QUANTILES = (0.1, 0.5, 0.9)  # every model returns these, in this order, along the last axis
HISTORY_DAYS = 28  # calendar days of history the encoder sees: about four school weeks
LEVEL_LOOKBACK_DAYS = 150  # long enough to reach back over the summer vacation to April
LEVEL_REPORTS = 20  # a school's level is the mean of its last this-many reported school days
RAIN_SCALE = float(np.log1p(100.0))  # log1p(mm) / RAIN_SCALE is about 1 on a 100 mm day
GAP_CAP_DAYS = 10.0  # distances to the nearest school day are capped: past a week, a break is a break
PRIOR_RATIO = 0.8  # meals / enrolment assumed before any school has reported: most enrolled children eat
SAME_WEEKDAY_WEEKS = 6  # how far back the seasonal-naive lookup may go to skip breaks and closures

_KINDS = tuple(DayKind)
_SCHOOL_KINDS = np.array([k in (DayKind.SCHOOL_DAY, DayKind.EXAM_DAY) for k in _KINDS])
_EXAM = _KINDS.index(DayKind.EXAM_DAY)

HISTORY_FEATURES = (
    "meals_ratio", "present_ratio", "reported", "open", "school_day", "exam_day", "rain",
    "mon", "tue", "wed", "thu", "fri", "sat", "sun",
)  # fmt: skip
FUTURE_FEATURES = (
    "exam_day", "mon", "tue", "wed", "thu", "fri", "sat", "month_sin", "month_cos",
    "days_since_school_day", "days_to_school_day", "rain", "monsoon", "step", "days_ahead",
    "same_weekday_ratio", "same_weekday_found",
)  # fmt: skip
STATIC_FEATURES = ("level", "log_enrolment", "reported_share", "recent_ratio", "recent_present", "rain_last_week")
RAIN_FEATURE = FUTURE_FEATURES.index("rain")
SAME_WEEKDAY_FEATURE = FUTURE_FEATURES.index("same_weekday_ratio")


@dataclass
class ForecastInputs:
    """One row per (origin, school) pair; the HORIZON axis is the school's next school days."""

    origin: np.ndarray  # int64 [N] origin day's row in the panel the inputs were built from
    school: np.ndarray  # int64 [N] school's column in that panel
    dates: np.ndarray  # datetime64[D] [N, H] the school days forecast
    history: np.ndarray  # float32 [N, HISTORY_DAYS, len(HISTORY_FEATURES)]
    future: np.ndarray  # float32 [N, H, len(FUTURE_FEATURES)]
    static: np.ndarray  # float32 [N, len(STATIC_FEATURES)]
    level: np.ndarray  # float32 [N] recent meals / enrolment
    enrolment: np.ndarray  # float32 [N] enrolment on the origin day
    target: np.ndarray  # float32 [N, H] meals served (NaN where unknown or the school was closed)

    @property
    def n(self) -> int:
        return int(self.origin.shape[0])

    @property
    def known(self) -> np.ndarray:
        """Where a target exists: the school was open that day and the day is inside the panel."""
        return ~np.isnan(self.target)

    def target_ratio(self) -> np.ndarray:
        """Targets on the models' scale: meals / origin enrolment - level."""
        return self.target / self.enrolment[:, None] - self.level[:, None]

    def to_meals(self, ratio: np.ndarray) -> np.ndarray:
        """Back from the models' scale to meals; never negative. `ratio` is [N, H] or [N, H, Q]."""
        extra = (slice(None), None) + (None,) * (ratio.ndim - 2)
        return np.maximum((ratio + self.level[extra]) * self.enrolment[extra], 0.0)

    def take(self, rows: np.ndarray) -> ForecastInputs:
        return ForecastInputs(**{name: value[rows] for name, value in vars(self).items()})


# ----------------------------------------------------------------- the calendar ahead


@lru_cache(maxsize=4096)
def _kind(d: dt.date) -> DayKind:
    return calendar.day_kind(d)


def _is_school_day(d: dt.date) -> bool:
    return _kind(d) in (DayKind.SCHOOL_DAY, DayKind.EXAM_DAY)


@lru_cache(maxsize=4096)
def next_school_days(origin: dt.date, n: int = HORIZON) -> tuple[dt.date, ...]:
    """The first `n` calendar school days strictly after `origin`."""
    out, d = [], origin
    while len(out) < n:
        d = calendar.next_school_day(d)
        out.append(d)
    return tuple(out)


def _gap_to_school_day(d: dt.date, step: int) -> int:
    """Calendar days from `d` to the nearest school day before (step -1) or after (step 1) it.
    A Monday is 3 days from Friday; the first day after Pongal or a vacation is much further, and
    attendance around breaks is not like an ordinary week."""
    gap, e = 1, d + dt.timedelta(days=step)
    while not _is_school_day(e) and gap < GAP_CAP_DAYS:
        gap, e = gap + 1, e + dt.timedelta(days=step)
    return gap


@lru_cache(maxsize=1024)
def _calendar_ahead(origin: dt.date) -> np.ndarray:
    """Known-in-advance calendar features of the school days after `origin`: [H, len(FUTURE_FEATURES)],
    with the rain and same-weekday columns left at zero for the caller to fill."""
    rows = np.zeros((HORIZON, len(FUTURE_FEATURES)), np.float32)
    for k, d in enumerate(next_school_days(origin)):
        row = rows[k]
        row[0] = _kind(d) == DayKind.EXAM_DAY
        if d.weekday() < 6:
            row[1 + d.weekday()] = 1.0
        angle = 2 * np.pi * (d.month - 1) / 12
        row[7], row[8] = np.sin(angle), np.cos(angle)
        row[9] = _gap_to_school_day(d, -1) / GAP_CAP_DAYS
        row[10] = _gap_to_school_day(d, 1) / GAP_CAP_DAYS
        row[12] = calendar.is_monsoon(d)
        row[13] = k / (HORIZON - 1)
        row[14] = (d - origin).days / 14.0
    return rows


def scale_rain(mm: np.ndarray) -> np.ndarray:
    """Rainfall on the models' scale: log-compressed, since 100 mm is not ten times 10 mm for attendance."""
    return (np.log1p(np.maximum(np.nan_to_num(mm), 0.0)) / RAIN_SCALE).astype(np.float32)


def _as_date(day: np.datetime64) -> dt.date:
    return day.astype("datetime64[D]").astype(dt.date)


# ----------------------------------------------------------------- from a panel


def observed_ratio(panel: Panel) -> tuple[np.ndarray, np.ndarray]:
    """Meals and attendance over enrolment as the twin saw them: NaN unless the school was open and
    reported that day (an unreported day is unknown, never zero)."""
    seen = panel.open & panel.reported
    enrolment = np.maximum(panel.enrolment, 1.0)
    meals = np.where(seen, panel.meals / enrolment, np.nan).astype(np.float32)
    present = np.where(seen, panel.present / enrolment, np.nan).astype(np.float32)
    return meals, present


def school_level(ratio: np.ndarray, origin: np.ndarray, school: np.ndarray) -> np.ndarray:
    """Each pair's mean ratio over its school's last LEVEL_REPORTS reported days up to the origin
    (within LEVEL_LOOKBACK_DAYS); for a school with none, the mean over all schools up to the origin."""
    fallback = _mean_until(ratio)[origin]
    rows = origin[:, None] - np.arange(LEVEL_LOOKBACK_DAYS)[None, :]  # newest first
    inside = rows >= 0
    window = np.where(inside, ratio[np.maximum(rows, 0), school[:, None]], np.nan)
    seen = ~np.isnan(window)
    recent = seen & (np.cumsum(seen, axis=1) <= LEVEL_REPORTS)
    count = recent.sum(axis=1)
    total = np.where(recent, window, 0.0).sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), fallback).astype(np.float32)


def _mean_until(ratio: np.ndarray) -> np.ndarray:
    """[T] mean of every reported ratio on or before each day; PRIOR_RATIO before the first report."""
    seen = ~np.isnan(ratio)
    total = np.cumsum(np.where(seen, ratio, 0.0).sum(axis=1))
    count = np.cumsum(seen.sum(axis=1))
    return np.where(count > 0, total / np.maximum(count, 1), PRIOR_RATIO)


def build_inputs(
    panel: Panel,
    origin: np.ndarray,
    school: np.ndarray,
    rain_ahead_mm: np.ndarray | None = None,
) -> ForecastInputs:
    """Inputs for the (origin, school) pairs given as panel row and column indices.

    The rain on the days ahead comes from `rain_ahead_mm` ([HORIZON, D], for pairs that share one
    origin) when given, else from the panel itself (the rain that fell, as a perfect forecast); a day
    ahead beyond the panel without a forecast gets the district's mean rain of the last HISTORY_DAYS.
    Targets are filled where the day ahead lies inside the panel and the school was open.
    """
    origin = np.asarray(origin, np.int64)
    school = np.asarray(school, np.int64)
    if rain_ahead_mm is not None and np.unique(origin).size > 1:
        raise ValueError("a rain forecast applies to a single origin")
    meals_ratio, present_ratio = observed_ratio(panel)
    level = school_level(meals_ratio, origin, school)
    district = panel.district.astype(np.int64)[school]

    history = _history(panel, meals_ratio, present_ratio, origin, school, district, level)
    future, dates, target_rows = _future(panel, origin, district, rain_ahead_mm)
    future[:, :, SAME_WEEKDAY_FEATURE :] = _same_weekday(panel, meals_ratio, origin, school, dates, level)

    inside = target_rows < panel.n_days
    safe_rows = np.minimum(target_rows, panel.n_days - 1)
    target = np.where(inside, panel.meals[safe_rows, school[:, None]], np.nan)
    target = np.where(inside & panel.open[safe_rows, school[:, None]], target, np.nan).astype(np.float32)

    enrolment = np.maximum(panel.enrolment[origin, school], 1.0).astype(np.float32)
    static = _static(history, level, enrolment)
    return ForecastInputs(origin, school, dates, history, future, static, level, enrolment, target)


def _history(panel, meals_ratio, present_ratio, origin, school, district, level) -> np.ndarray:
    rows = origin[:, None] - np.arange(HISTORY_DAYS - 1, -1, -1)[None, :]  # oldest first, origin last
    inside = rows >= 0
    r = np.maximum(rows, 0)
    s = school[:, None]
    meals = np.where(inside, meals_ratio[r, s], np.nan)
    present = np.where(inside, present_ratio[r, s], np.nan)
    seen = ~np.isnan(meals)
    kind = panel.day_kind.astype(np.int64)[r]
    weekday = (panel.dates[r].astype("datetime64[D]").astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    out = np.zeros(rows.shape + (len(HISTORY_FEATURES),), np.float32)
    out[..., 0] = np.where(seen, meals - level[:, None], 0.0)
    out[..., 1] = np.where(seen & ~np.isnan(present), present - level[:, None], 0.0)
    out[..., 2] = seen
    out[..., 3] = inside & panel.open[r, s]
    out[..., 4] = inside & _SCHOOL_KINDS[kind]
    out[..., 5] = inside & (kind == _EXAM)
    out[..., 6] = np.where(inside, scale_rain(panel.rainfall_mm[r, district[:, None]]), 0.0)
    out[..., 7:14] = np.eye(7, dtype=np.float32)[weekday] * inside[..., None]
    return out


def _future(panel, origin, district, rain_ahead_mm) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = origin.shape[0]
    future = np.zeros((n, HORIZON, len(FUTURE_FEATURES)), np.float32)
    dates = np.zeros((n, HORIZON), "datetime64[D]")
    target_rows = np.zeros((n, HORIZON), np.int64)
    for o in np.unique(origin).tolist():
        pairs = origin == o
        day = _as_date(panel.dates[o])
        ahead = np.array(next_school_days(day), "datetime64[D]")
        rows = o + (ahead - panel.dates[o]).astype(np.int64)
        future[pairs] = _calendar_ahead(day)
        dates[pairs] = ahead
        target_rows[pairs] = rows
        future[pairs, :, RAIN_FEATURE] = scale_rain(_rain_ahead(panel, o, rows, rain_ahead_mm)[:, district[pairs]].T)
    return future, dates, target_rows


def recent_rain(panel: Panel, o: int) -> np.ndarray:
    """[D] each district's mean rain over the `HISTORY_DAYS` up to row `o`: the forecast assumed for
    the days ahead when none is given."""
    return np.nanmean(panel.rainfall_mm[max(o - HISTORY_DAYS + 1, 0) : o + 1], axis=0)


def _rain_ahead(panel: Panel, o: int, rows: np.ndarray, forecast_mm: np.ndarray | None) -> np.ndarray:
    """[HORIZON, D] rain on the days ahead of origin row `o`."""
    if forecast_mm is not None:
        forecast_mm = np.asarray(forecast_mm, np.float32)
        expected = (HORIZON, panel.rainfall_mm.shape[1])
        if forecast_mm.shape != expected:
            raise ValueError(f"rain forecast has shape {forecast_mm.shape}, expected {expected}")
        return forecast_mm
    recent = recent_rain(panel, o)
    inside = rows < panel.n_days
    return np.where(inside[:, None], panel.rainfall_mm[np.minimum(rows, panel.n_days - 1)], recent[None, :])


def _same_weekday(panel, meals_ratio, origin, school, dates, level) -> np.ndarray:
    """For each day ahead, the school's ratio on the latest reported day of the same weekday up to
    SAME_WEEKDAY_WEEKS back (not after the origin), preferring a day of the same kind (exam or
    ordinary), minus the level; and whether one was found. Stepping back whole weeks keeps the
    weekday. This is the seasonal-naive forecast, and the strongest single input the learned models get."""
    out = np.zeros(dates.shape + (2,), np.float32)
    exam_ahead = np.zeros(dates.shape, bool)
    for d in np.unique(dates).tolist():
        exam_ahead[dates == np.datetime64(d, "D")] = _kind(d) == DayKind.EXAM_DAY
    kinds = panel.day_kind.astype(np.int64)
    target_rows = origin[:, None] + (dates - panel.dates[origin][:, None]).astype(np.int64)
    for same_kind_only in (True, False):
        for weeks in range(1, SAME_WEEKDAY_WEEKS + 1):
            back = target_rows - 7 * weeks
            usable = (back >= 0) & (back <= origin[:, None])
            r = np.clip(back, 0, panel.n_days - 1)
            ratio = np.where(usable, meals_ratio[r, school[:, None]], np.nan)
            if same_kind_only:
                ratio = np.where((kinds[r] == _EXAM) == exam_ahead, ratio, np.nan)
            take = (out[..., 1] == 0) & ~np.isnan(ratio)
            out[..., 0] = np.where(take, ratio - level[:, None], out[..., 0])
            out[..., 1] = np.where(take, 1.0, out[..., 1])
    return out


def _static(history: np.ndarray, level: np.ndarray, enrolment: np.ndarray) -> np.ndarray:
    seen = history[..., 2] > 0
    last_week = slice(HISTORY_DAYS - 7, HISTORY_DAYS)
    recent_seen = seen[:, last_week]
    count = np.maximum(recent_seen.sum(axis=1), 1)
    out = np.zeros((history.shape[0], len(STATIC_FEATURES)), np.float32)
    out[:, 0] = level
    out[:, 1] = np.log(enrolment) / 7.0
    out[:, 2] = seen.sum(axis=1) / np.maximum(history[..., 4].sum(axis=1), 1)
    out[:, 3] = np.where(recent_seen, history[:, last_week, 0], 0).sum(axis=1) / count
    out[:, 4] = np.where(recent_seen, history[:, last_week, 1], 0).sum(axis=1) / count
    out[:, 5] = history[:, last_week, 6].mean(axis=1)
    return out


# ----------------------------------------------------------------- which pairs


def valid_origins(panel: Panel) -> np.ndarray:
    """Panel rows that can be training origins: the next HORIZON school days are inside the panel."""
    if panel.n_days == 0:
        return np.zeros(0, np.int64)
    last = panel.dates[-1]
    ok = [
        np.datetime64(next_school_days(_as_date(d))[-1], "D") <= last
        for d in panel.dates
    ]
    return np.flatnonzero(ok).astype(np.int64)


def training_pairs(
    panel: Panel, max_pairs: int, seed: int, min_history_days: int = HISTORY_DAYS
) -> tuple[np.ndarray, np.ndarray]:
    """Random (origin, school) pairs whose targets lie inside the panel, at most `max_pairs`, in time
    order (so the caller can hold out the latest ones). Origins before `min_history_days` are skipped
    so every pair has a full history window."""
    origins = valid_origins(panel)
    origins = origins[origins >= min_history_days - 1]
    total = origins.size * panel.n_schools
    if total == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    rng = np.random.default_rng(seed)
    flat = np.arange(total) if total <= max_pairs else np.sort(rng.choice(total, max_pairs, replace=False))
    return origins[flat // panel.n_schools], (flat % panel.n_schools).astype(np.int64)


def training_inputs(panel: Panel, max_pairs: int, seed: int) -> ForecastInputs:
    """Training pairs with at least one known target."""
    origin, school = training_pairs(panel, max_pairs, seed)
    if origin.size == 0:
        raise ValueError(f"a panel of {panel.n_days} days is too short to train on: it needs {HISTORY_DAYS} days "
                         f"of history and {HORIZON} school days after them")  # fmt: skip
    inputs = build_inputs(panel, origin, school)
    return inputs.take(np.flatnonzero(inputs.known.any(axis=1)))


def serving_inputs(panel_until_origin: Panel, rain_ahead_mm: np.ndarray | None = None) -> ForecastInputs:
    """Every school's inputs for a forecast made at the end of the panel's last day."""
    origin = np.full(panel_until_origin.n_schools, panel_until_origin.n_days - 1, np.int64)
    return build_inputs(panel_until_origin, origin, np.arange(panel_until_origin.n_schools), rain_ahead_mm)
