"""Quarterly budget forecast: what the next financial-year quarters will cost an area, by component
and by payer, with a P10-P90 range, and its backtest on the history store.

The meal-demand forecaster (`ml.forecaster`) sees 7 school days ahead; a quarter is ~60. So a
quarter's meals per school day are the forecaster's level for the coming week times a seasonal
ratio read from the history a year earlier:

    meals per school day in Q  =  level (next 7 school days, P10/P50/P90)
                                  x  (meals per school day in Q - 1 year) / (the same over the 7 school
                                     days that followed the origin - 1 year)

and the quarter's meals are that times its school days by the calendar (`twin.calendar`). Meals are
split into class bands by the area's enrolment, and costed at the material rate in force on each
day (`twin.finance`'s norms: a revision inside the quarter is honoured day by day). The cooks'
honorarium accrues by calendar day (as `twin.finance.entitlement` has it), MME is its share of
both. The naive forecast to beat is "the same quarter last year": that quarter's actual cost.

Everything here works on daily meal sums per block ([T, nb] arrays), never on the schools' panel,
so that three years of 43,000 schools fit in memory. Amounts INR, meals per day float64.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from twin import calendar, finance
from twin.norms import BANDS

QUANTILES = ("p10", "p50", "p90")
LEVEL_SCHOOL_DAYS = 7  # the forecaster's horizon: the level is the mean of these school days


# -- quarters of the financial year (Apr-Jun, Jul-Sep, Oct-Dec, Jan-Mar) ------------------------------
def quarter_of(d: dt.date) -> tuple[dt.date, dt.date]:
    """First and last day of the financial-year quarter holding `d`."""
    start_month = ((d.month - 4) % 12) // 3 * 3 + 4
    start_month = start_month - 12 if start_month > 12 else start_month
    first = dt.date(d.year, start_month, 1)
    nxt = dt.date(first.year + (first.month + 3 > 12), (first.month + 2) % 12 + 1, 1)
    return first, nxt - dt.timedelta(days=1)


def next_quarters(origin: dt.date, n: int) -> list[tuple[dt.date, dt.date]]:
    """The `n` whole quarters after the one holding `origin`."""
    out, day = [], quarter_of(origin)[1] + dt.timedelta(days=1)
    for _ in range(n):
        first, last = quarter_of(day)
        out.append((first, last))
        day = last + dt.timedelta(days=1)
    return out


def quarter_label(first: dt.date) -> str:
    fy = finance.financial_year(first)
    return f"{fy}-{(fy + 1) % 100:02d} Q{((first.month - 4) % 12) // 3 + 1}"


def year_before(d: dt.date) -> dt.date:
    return d.replace(year=d.year - 1) if not (d.month == 2 and d.day == 29) else dt.date(d.year - 1, 2, 28)


# -- daily meals of areas -------------------------------------------------------------------------
@dataclass(frozen=True)
class DailyMeals:
    """Meals served each day, summed by group (blocks, districts, or one area)."""

    dates: np.ndarray  # datetime64[D] [T], consecutive
    meals: np.ndarray  # float64 [T, G]

    def window(self, first: dt.date, last: dt.date) -> np.ndarray | None:
        """[G] meals summed over first..last, or None if the record does not cover the span."""
        lo, hi = np.datetime64(first, "D"), np.datetime64(last, "D")
        if len(self.dates) == 0 or lo < self.dates[0] or hi > self.dates[-1]:
            return None
        rows = (self.dates >= lo) & (self.dates <= hi)
        return self.meals[rows].sum(axis=0)

    def grouped(self, group_of: np.ndarray, n_groups: int) -> DailyMeals:
        """Sum the columns by `group_of` (int [G] -> [0, n_groups))."""
        out = np.zeros((self.meals.shape[0], n_groups))
        np.add.at(out.T, np.asarray(group_of), self.meals.T)
        return DailyMeals(self.dates, out)


def school_days_between(first: dt.date, last: dt.date) -> int:
    return int(finance.school_days(first, last).sum())


def _school_days_after(d: dt.date, n: int) -> tuple[dt.date, dt.date]:
    """The first and the n-th school day after `d`."""
    first = day = calendar.next_school_day(d)
    for _ in range(n - 1):
        day = calendar.next_school_day(day)
    return first, day


def seasonal_ratio(history: DailyMeals, origin: dt.date, first: dt.date, last: dt.date) -> np.ndarray | None:
    """[G] meals per school day in first..last a year earlier over meals per school day in the
    `LEVEL_SCHOOL_DAYS` school days after `origin` a year earlier; None if the history lacks either
    span. A group with no meals in the earlier window gets 1."""
    q_first, q_last = year_before(first), year_before(last)
    w_first, w_last = _school_days_after(year_before(origin), LEVEL_SCHOOL_DAYS)
    quarter, window = history.window(q_first, q_last), history.window(w_first, w_last)
    if quarter is None or window is None:
        return None
    per_day_q = quarter / max(school_days_between(q_first, q_last), 1)
    per_day_w = window / max(school_days_between(w_first, w_last), 1)
    return np.where(per_day_w > 0, per_day_q / np.where(per_day_w > 0, per_day_w, 1.0), 1.0)


# -- a quarter's cost -------------------------------------------------------------------------------
@dataclass(frozen=True)
class QuarterCost:
    """G groups' cost of one quarter; quantile arrays are [3, G] in `QUANTILES` order."""

    first: dt.date
    last: dt.date
    school_days: int
    meals: np.ndarray  # [3, G] meals over the quarter
    material_inr: np.ndarray  # [3, G]
    material_by_band_inr: np.ndarray  # [G, 3] at P50
    honorarium_inr: np.ndarray  # [G] (no uncertainty: cooks by enrolment, by calendar day)
    mme_inr: np.ndarray  # [3, G]
    total_inr: np.ndarray  # [3, G]
    centre_inr: np.ndarray  # [3, G]
    state_inr: np.ndarray  # [3, G]


def quarter_cost(meals_per_school_day: np.ndarray, enrolment_by_band: np.ndarray, first: dt.date, last: dt.date,
                 norms: finance.FinanceNorms | None = None) -> QuarterCost:
    """The cost of first..last for G groups.

    meals_per_school_day: [3, G] (P10, P50, P90) meals on each school day of the span;
    enrolment_by_band: [G, 3] children by band, which splits the meals into bands and sets the
    cooks. Material: meals x band share x the rate in force each school day; honorarium and its
    Centre share from `twin.finance.entitlement` over the span; MME its share of material and
    honorarium, split as they are."""
    norms = norms or finance.load_finance_norms()
    level = np.asarray(meals_per_school_day, np.float64)
    enrol = np.asarray(enrolment_by_band, np.float64)
    school_day = finance.school_days(first, last)
    days = np.datetime64(first, "D") + np.arange(school_day.shape[0])
    row = np.searchsorted(norms.effective_day, days, side="right") - 1
    rate = norms.material_inr_per_child_day[row[school_day]]  # [d, 3] on school days
    centre_rate = rate * norms.centre_share_by_band[row[school_day]]
    total_enrol = enrol.sum(axis=1, keepdims=True)
    share = np.divide(enrol, total_enrol, out=np.full_like(enrol, 1 / len(BANDS)), where=total_enrol > 0)  # [G, 3]
    per_meal = share @ rate.sum(axis=0)  # [G] INR a school day's meal, summed over the span's days
    per_meal_centre = share @ centre_rate.sum(axis=0)
    material = level * per_meal  # [3, G]
    material_centre = level * per_meal_centre
    # honorarium and its Centre part from the entitlement over the span: there, Centre total =
    # (Centre material + Centre honorarium) x (1 + MME share), with MME one share over the table
    ent = finance.entitlement(enrol, first, school_day, norms=norms)
    mme_k = float(norms.mme_share[row[0]])
    centre_material_ent = enrol @ centre_rate.sum(axis=0)
    honorarium = ent.honorarium_inr
    honorarium_centre = np.clip(ent.centre_inr / (1 + mme_k) - centre_material_ent, 0, honorarium)
    mme = mme_k * (material + honorarium)
    total = material + honorarium + mme
    centre = (material_centre + honorarium_centre) * (1 + mme_k)
    n_days = int(school_day.sum())
    return QuarterCost(first, last, n_days, level * n_days, material, _material_by_band(level[1], share, rate),
                       honorarium, mme, total, centre, total - centre)


def _material_by_band(level_p50: np.ndarray, share: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """[G, 3] the P50 material cost by band: meals by band x each school day's rate."""
    return level_p50[:, None] * share * rate.sum(axis=0)[None, :]


def actual_cost(history: DailyMeals, enrolment_by_band: np.ndarray, first: dt.date, last: dt.date,
                norms: finance.FinanceNorms | None = None) -> np.ndarray | None:
    """[G] what first..last actually cost by the record (its meals, costed as `quarter_cost` costs a
    forecast); None if the record does not cover the span."""
    meals = history.window(first, last)
    if meals is None:
        return None
    days = max(school_days_between(first, last), 1)
    per_day = np.broadcast_to(meals / days, (3, meals.shape[0]))
    return quarter_cost(per_day, enrolment_by_band, first, last, norms).total_inr[1]


# -- the backtest ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Backtest:
    quarter: tuple[dt.date, dt.date]
    origin: dt.date
    actual_inr: np.ndarray  # [G]
    forecast_inr: np.ndarray  # [G] P50
    naive_inr: np.ndarray  # [G] the same quarter a year earlier, actual
    p10_inr: np.ndarray
    p90_inr: np.ndarray

    @property
    def wape(self) -> float:
        return wape(self.forecast_inr, self.actual_inr)

    @property
    def naive_wape(self) -> float:
        return wape(self.naive_inr, self.actual_inr)

    @property
    def coverage(self) -> float:
        """Share of groups whose actual cost fell within P10-P90."""
        inside = (self.actual_inr >= self.p10_inr) & (self.actual_inr <= self.p90_inr)
        return float(inside.mean()) if inside.size else float("nan")


def wape(forecast: np.ndarray, actual: np.ndarray) -> float:
    """Weighted absolute percentage error: sum |forecast - actual| / sum actual."""
    total = float(np.sum(np.abs(actual)))
    return float(np.sum(np.abs(np.asarray(forecast) - np.asarray(actual))) / total) if total > 0 else float("nan")


def held_out_quarter(history: DailyMeals) -> tuple[dt.date, dt.date] | None:
    """The latest whole quarter the record covers with the same quarter a year before it and the
    level window before it (so both forecasts can be made); None if there is none."""
    last_day = history.dates[-1].astype(dt.date)
    first, last = quarter_of(last_day)
    if last > last_day:
        first, last = quarter_of(first - dt.timedelta(days=1))
    while history.window(year_before(first) - dt.timedelta(days=30), year_before(last)) is not None:
        if history.window(first, last) is not None:
            return first, last
        first, last = quarter_of(first - dt.timedelta(days=1))
    return None


def backtest(history: DailyMeals, level_at: callable, enrolment_by_band: np.ndarray,
             quarter: tuple[dt.date, dt.date] | None = None,
             norms: finance.FinanceNorms | None = None) -> Backtest | None:
    """Hold out `quarter` (default `held_out_quarter`): forecast it from the day before it starts with
    `level_at(origin)` -> [3, G] meals per school day for the next school days (the served
    forecaster on the history up to `origin`), and compare with its actual cost and with the naive
    forecast. None if the record is too short."""
    quarter = quarter or held_out_quarter(history)
    if quarter is None:
        return None
    first, last = quarter
    origin = first - dt.timedelta(days=1)
    ratio = seasonal_ratio(history, origin, first, last)
    actual = actual_cost(history, enrolment_by_band, first, last, norms)
    naive = actual_cost(history, enrolment_by_band, year_before(first), year_before(last), norms)
    if ratio is None or actual is None or naive is None:
        return None
    cost = quarter_cost(np.asarray(level_at(origin)) * ratio, enrolment_by_band, first, last, norms)
    return Backtest(quarter, origin, actual, cost.total_inr[1], naive, cost.total_inr[0], cost.total_inr[2])
