"""A small hand-built history for the forecaster tests: a weekly pattern, the real school calendar
with its holidays and exams, and rain that keeps children at home."""

from __future__ import annotations

import datetime as dt

import numpy as np

from ml.panel import Panel
from twin import calendar, geography

RAIN_DISTRICTS = 4  # schools sit in the first few districts, so each district has plenty of them


def rain_attendance_factor(rain_mm: np.ndarray) -> np.ndarray:
    """Heavy rain keeps children at home: about 10% fewer at 20 mm, 40% fewer at 100 mm."""
    return np.exp(-0.005 * rain_mm)


def build_panel(n_schools: int = 200, n_days: int = 300, seed: int = 0, start: dt.date = dt.date(2024, 6, 3)) -> Panel:
    rng = np.random.default_rng(seed)
    n_districts = len(geography.district_names())
    dates = np.arange(np.datetime64(start), np.datetime64(start + dt.timedelta(days=n_days)))
    days = [d.astype(dt.date) for d in dates]
    kinds = tuple(calendar.DayKind)
    day_kind = np.array([kinds.index(calendar.day_kind(d)) for d in days], np.int8)
    school_day = np.array([calendar.is_school_day(d) for d in days])
    exam = np.array([calendar.day_kind(d) == calendar.DayKind.EXAM_DAY for d in days])
    weekday = np.array([d.weekday() for d in days])
    monsoon = np.array([calendar.is_monsoon(d) for d in days])

    district = rng.integers(0, RAIN_DISTRICTS, n_schools).astype(np.int16)
    block = (district.astype(np.int32) * 10 + rng.integers(0, 3, n_schools)).astype(np.int32)
    enrolment = np.round(rng.lognormal(np.log(100), 0.5, n_schools)).clip(15, 1500)
    base_rate = rng.uniform(0.75, 0.95, n_schools)

    # Rain: showers most days of the monsoon, now and then a downpour; the odd storm otherwise.
    wet = rng.random((n_days, n_districts)) < np.where(monsoon, 0.5, 0.15)[:, None]
    rain = np.where(wet, rng.exponential(np.where(monsoon, 25.0, 8.0)[:, None], (n_days, n_districts)), 0.0)

    weekday_factor = np.where(np.isin(weekday, (0, 4)), 0.94, 1.0) * np.where(exam, 1.04, 1.0)
    rate = base_rate[None, :] * weekday_factor[:, None] * rain_attendance_factor(rain[:, district])
    rate = np.clip(rate + rng.normal(0, 0.02, (n_days, RAIN_DISTRICTS))[:, district], 0.05, 0.99)
    closed = rng.random((n_days, n_schools)) < 0.003
    is_open = school_day[:, None] & ~closed
    present = rng.binomial(np.broadcast_to(enrolment.astype(np.int64), (n_days, n_schools)), rate).astype(np.float32)
    no_meal = is_open & (rng.random((n_days, n_schools)) < 0.003)
    meals = np.where(no_meal, 0.0, rng.binomial(present.astype(np.int64), 0.97)).astype(np.float32)
    meals = np.where(is_open, meals, np.nan).astype(np.float32)
    reported = is_open & (rng.random((n_days, n_schools)) < 0.92)
    panel = Panel(
        dates=dates.astype("datetime64[D]"),
        school_id=(33_000_000_000 + np.arange(n_schools)).astype(np.int64),
        district=district,
        block=block,
        enrolment=np.broadcast_to(enrolment.astype(np.float32), (n_days, n_schools)).copy(),
        day_kind=day_kind,
        rainfall_mm=rain.astype(np.float32),
        open=is_open,
        reported=reported,
        present=np.where(reported, present, np.nan).astype(np.float32),
        meals=meals,
        no_meal=no_meal,
        shortage=np.zeros((n_days, n_schools), bool),
        rice_days=np.full((n_days, n_schools), 20.0, np.float32),
        funds_days=np.full((n_days, n_schools), 60.0, np.float32),
    )
    panel.validate()
    return panel
