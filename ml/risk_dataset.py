"""Training rows for the learned risk model, and the rule-based score on the very same rows.

A row is (school, origin day): features from what the twin knows at the end of the origin day (its
state and its recent reports), and the label "a shortage reported or a day without a meal on any of
the next 7 days". Counts of no-meal days use the reports (the twin sees nothing else); the label
uses the world's truth (a day without a meal counts even if the school never reported it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from configs.settings import RiskRules
from ml.panel import Panel
from simulation.world import district_rain_normals
from twin import calendar
from twin import risk as rule_risk

HORIZON_DAYS = 7
LOOKBACK_DAYS = 30  # origins need this much history before them
CAP_DAYS = 60  # "never in the kept history" reads as this many days
SCHOOL_DAY_KINDS = np.array([k in (calendar.DayKind.SCHOOL_DAY, calendar.DayKind.EXAM_DAY)
                             for k in calendar.DayKind])

FEATURES = (
    "rice_days",  # rice on hand, in days of the school's use
    "rice_days_change_7",  # a rise means a delivery came
    "funds_days",  # balance / a day's meal cost (negative: the organiser is out of pocket)
    "funds_days_change_7",
    "meal_share_7",  # meals / enrolment over the reported open days of the last week (-1: none)
    "report_share_7",  # reported / open days over the last week
    "no_meal_days_30",  # reported days without a meal, last 30 days
    "no_meal_streak",  # latest reported open days in a row without a meal
    "days_since_report",  # calendar days, capped at CAP_DAYS; 0 when closed today (the rule score's
    # feature of the same name counts school days, as the twin's does)
    "days_since_shortage",  # capped at CAP_DAYS
    "shortages_30",
    "closed_today",
    "log_enrolment",
    "rain_3d_mm",  # the district's rain, origin day and the two before
    "rain_7d_mm",
    "rain_normal_next_7_mm",  # the district's climate normal for the coming week (season, region)
    "school_days_next_7",  # from the calendar: no school, no meal to miss
    "doy_sin",
    "doy_cos",
    "block_no_meal_rate_30",  # the block's reported no-meal days per open day, last 30 days
    "block_low_rice_share",  # share of the block's schools under 5 days of rice: a depot running late
    "block_rice_days_median",
    "days_since_rice_delivery",  # rice on hand went up: a delivery (capped at CAP_DAYS)
    "block_days_since_delivery",  # the block's median: depots deliver block by block, some late
    "days_into_quarter",  # the quarter's funds come down the chain weeks into it
    "funds_released_this_quarter",  # 1 once the school's balance has gone up this quarter
)
RICE_DELIVERY_DAYS = 0.5  # a rise in rice on hand bigger than this is a delivery, not noise
FUNDS_RELEASE_DAYS = 1.0


@dataclass
class RiskDataset:
    features: np.ndarray  # float32 [N, len(FEATURES)], no NaN
    label: np.ndarray  # bool [N]
    rule_score: np.ndarray  # float64 [N] the rule-based local score (0-100) on the same rows
    rule_points: np.ndarray  # float64 [N, len(twin.risk.FACTORS)]
    origin: np.ndarray  # datetime64[D] [N]
    school: np.ndarray  # int64 [N] column of the panel
    school_id: np.ndarray  # int64 [N]

    def __len__(self) -> int:
        return int(self.label.shape[0])

    def take(self, mask: np.ndarray) -> RiskDataset:
        return RiskDataset(**{k: v[mask] for k, v in self.__dict__.items()})

    @staticmethod
    def concat(parts: list[RiskDataset]) -> RiskDataset:
        return RiskDataset(**{k: np.concatenate([getattr(p, k) for p in parts]) for k in parts[0].__dict__})


def origin_days(panel: Panel, stride: int = 5, horizon: int = HORIZON_DAYS, lookback: int = LOOKBACK_DAYS,
                offset: int = 0) -> np.ndarray:
    """Row indices of origin days: every `stride`-th day (5 cycles through the weekdays) with a full
    lookback before it, a full horizon after it, and at least one school day in that horizon."""
    days = np.arange(lookback - 1 + offset, panel.n_days - horizon, stride)
    return np.array([t for t in days.tolist() if school_days_ahead(panel.dates[t], horizon) > 0], np.int64)


def build_risk_dataset(panel: Panel, origins: np.ndarray, rules: RiskRules | None = None,
                       horizon: int = HORIZON_DAYS, schools_per_origin: int | None = None,
                       seed: int = 0) -> RiskDataset:
    """Features, labels and the rule score for every school at each origin day (row of `panel`), or
    for `schools_per_origin` of them drawn afresh at each origin (seeded), so that a large sample
    keeps many origin days within a row budget instead of few days of every school."""
    rules = rules or RiskRules()
    origins = np.asarray(origins, np.int64)
    if origins.size and (origins.min() < LOOKBACK_DAYS - 1 or origins.max() + horizon >= panel.n_days):
        raise ValueError("origins need LOOKBACK_DAYS before them and the horizon after them in the panel")
    h = _History(panel)
    draw = np.random.default_rng(seed)
    parts = []
    for t in origins.tolist():
        part = _at_origin(panel, h, int(t), rules, horizon)
        if schools_per_origin is not None and schools_per_origin < panel.n_schools:
            part = part.take(np.sort(draw.choice(panel.n_schools, schools_per_origin, replace=False)))
        parts.append(part)
    if not parts:
        return _empty()
    return RiskDataset.concat(parts)


def features_at(panel: Panel, t: int = -1, rules: RiskRules | None = None) -> RiskDataset:
    """Every school's features and rule points at the end of day `t` (default: the panel's last day),
    for serving: no horizon is needed after it, and the label reads False where the days are unknown."""
    t = t % panel.n_days
    if t < LOOKBACK_DAYS - 1:
        raise ValueError(f"features need {LOOKBACK_DAYS} days of history up to the day scored")
    return _at_origin(panel, _History(panel), t, rules or RiskRules(), HORIZON_DAYS)


def label_at(panel: Panel, t: int, horizon: int = HORIZON_DAYS) -> np.ndarray:
    """bool [S]: a day without a meal or a reported shortage on any day t+1 .. t+horizon."""
    window = slice(t + 1, t + 1 + horizon)
    return (panel.no_meal[window] | panel.shortage[window]).any(axis=0)


# ----------------------------------------------------------------- internals


class _History:
    """Running counts over the panel's days, so every window is a difference of two rows."""

    def __init__(self, p: Panel):
        t, s = p.n_days, p.n_schools
        seen = p.reported & p.open
        self.seen_no_meal = seen & p.no_meal
        self.cum_open = _cumsum(p.open)
        self.cum_seen = _cumsum(seen)
        self.cum_seen_no_meal = _cumsum(self.seen_no_meal)
        self.cum_shortage = _cumsum(p.shortage)
        share = np.where(seen, p.meals / np.maximum(p.enrolment, 1), 0.0)
        self.cum_share = _cumsum(share)
        rows = np.arange(t)[:, None]
        self.last_report = _last_index(p.reported, rows)
        self.last_shortage = _last_index(p.shortage, rows)
        self.last_served_report = _last_index(seen & ~p.no_meal, rows)
        rice, funds = np.nan_to_num(p.rice_days), np.nan_to_num(p.funds_days)
        rice_rise = np.zeros((t, s), bool)
        rice_rise[1:] = rice[1:] > rice[:-1] + RICE_DELIVERY_DAYS
        self.last_delivery = _last_index(rice_rise, rows)
        funds_rise = np.zeros((t, s), bool)
        funds_rise[1:] = funds[1:] > funds[:-1] + FUNDS_RELEASE_DAYS
        self.cum_funds_rise = _cumsum(funds_rise)
        self.first_day = 0
        self.shape = (t, s)


def _cumsum(a: np.ndarray) -> np.ndarray:
    """Cumulative sum along days with a zero row in front: window (a, b] = c[b + 1] - c[a + 1]."""
    out = np.zeros((a.shape[0] + 1, a.shape[1]), np.float64)
    np.cumsum(a, axis=0, out=out[1:])
    return out


def _last_index(event: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """int32 [T, S]: the latest day index <= t on which `event` happened, -1 if none yet."""
    return np.maximum.accumulate(np.where(event, rows, -1), axis=0).astype(np.int32)


def _window(cum: np.ndarray, t: int, days: int) -> np.ndarray:
    """Sum over days t-days+1 .. t."""
    return cum[t + 1] - cum[max(t + 1 - days, 0)]


def school_days_ahead(day: np.datetime64, horizon: int = HORIZON_DAYS) -> int:
    """School days in the `horizon` days after `day`, from the calendar (known in advance)."""
    first = np.datetime64(day, "D").astype(dt.date)
    return sum(calendar.is_school_day(first + dt.timedelta(days=k)) for k in range(1, horizon + 1))


def _at_origin(p: Panel, h: _History, t: int, rules: RiskRules, horizon: int) -> RiskDataset:
    s = p.n_schools
    f = np.empty((s, len(FEATURES)), np.float32)
    col = {name: i for i, name in enumerate(FEATURES)}
    closed = SCHOOL_DAY_KINDS[p.day_kind[t]] & ~p.open[t]
    rice = np.nan_to_num(p.rice_days[t], nan=0.0)
    funds = np.nan_to_num(p.funds_days[t], nan=0.0)
    f[:, col["rice_days"]] = rice
    f[:, col["rice_days_change_7"]] = rice - np.nan_to_num(p.rice_days[t - 7], nan=0.0)
    f[:, col["funds_days"]] = funds
    f[:, col["funds_days_change_7"]] = funds - np.nan_to_num(p.funds_days[t - 7], nan=0.0)
    seen_7 = _window(h.cum_seen, t, 7)
    open_7 = _window(h.cum_open, t, 7)
    meal_share = np.where(seen_7 > 0, _window(h.cum_share, t, 7) / np.maximum(seen_7, 1), np.nan)
    f[:, col["meal_share_7"]] = np.nan_to_num(meal_share, nan=-1.0)
    f[:, col["report_share_7"]] = np.where(open_7 > 0, seen_7 / np.maximum(open_7, 1), 1.0)
    no_meal_30 = _window(h.cum_seen_no_meal, t, 30)
    f[:, col["no_meal_days_30"]] = no_meal_30
    served_at = h.last_served_report[t]
    streak = h.cum_seen_no_meal[t + 1] - h.cum_seen_no_meal[served_at + 1, np.arange(s)]
    f[:, col["no_meal_streak"]] = streak
    since_report = np.where(h.last_report[t] >= 0, t - h.last_report[t], t + 1)
    since_report = np.where(closed, 0, since_report)
    f[:, col["days_since_report"]] = np.minimum(since_report, CAP_DAYS)
    since_shortage = np.where(h.last_shortage[t] >= 0, t - h.last_shortage[t], CAP_DAYS)
    f[:, col["days_since_shortage"]] = np.minimum(since_shortage, CAP_DAYS)
    f[:, col["shortages_30"]] = _window(h.cum_shortage, t, 30)
    f[:, col["closed_today"]] = closed
    f[:, col["log_enrolment"]] = np.log1p(p.enrolment[t])
    f[:, col["rain_3d_mm"]] = p.rainfall_mm[t - 2:t + 1].sum(axis=0)[p.district]
    f[:, col["rain_7d_mm"]] = p.rainfall_mm[t - 6:t + 1].sum(axis=0)[p.district]
    f[:, col["rain_normal_next_7_mm"]] = _rain_normal_ahead(p.dates[t], horizon)[p.district]
    f[:, col["school_days_next_7"]] = school_days_ahead(p.dates[t], horizon)
    doy = 2 * np.pi * (p.dates[t] - p.dates[t].astype("datetime64[Y]")).astype(np.int64) / 365.25
    f[:, col["doy_sin"]], f[:, col["doy_cos"]] = np.sin(doy), np.cos(doy)
    blocks, block_of = np.unique(p.block, return_inverse=True)
    open_30 = _window(h.cum_open, t, 30)
    f[:, col["block_no_meal_rate_30"]] = (_block_sum(no_meal_30, block_of, len(blocks))
                                          / np.maximum(_block_sum(open_30, block_of, len(blocks)), 1))[block_of]
    f[:, col["block_low_rice_share"]] = (_block_sum(rice < 5, block_of, len(blocks))
                                         / np.bincount(block_of, minlength=len(blocks)))[block_of]
    f[:, col["block_rice_days_median"]] = _block_median(rice, block_of, len(blocks))[block_of]

    since_delivery = np.where(h.last_delivery[t] >= 0, t - h.last_delivery[t], CAP_DAYS)
    since_delivery = np.minimum(since_delivery, CAP_DAYS)
    f[:, col["days_since_rice_delivery"]] = since_delivery
    f[:, col["block_days_since_delivery"]] = _block_median(since_delivery.astype(np.float64), block_of,
                                                           len(blocks))[block_of]
    today = p.dates[t].astype(dt.date)
    into_quarter = (today - dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)).days
    f[:, col["days_into_quarter"]] = into_quarter
    f[:, col["funds_released_this_quarter"]] = _window(h.cum_funds_rise, t, into_quarter + 1) > 0

    # the twin counts the school days the school was open after its last report up to today
    # (twin.school_days, less its closure); a school that never reported, since the panel's first
    # day, as the twin since its first
    school_days_since_report = h.cum_open[t + 1] - h.cum_open[h.last_report[t] + 1, np.arange(s)]  # never: row 0
    school_days_since_report = np.where(closed, 0, school_days_since_report)
    points = rule_risk.factor_points(_rule_features(p, h, t, closed, meal_share, no_meal_30, streak,
                                                    school_days_since_report, since_shortage), rules)
    return RiskDataset(
        features=f,
        label=label_at(p, t, horizon),
        rule_score=points.sum(axis=1),
        rule_points=points,
        origin=np.full(s, p.dates[t]),
        school=np.arange(s, dtype=np.int64),
        school_id=p.school_id.astype(np.int64),
    )


def _rule_features(p: Panel, h: _History, t: int, closed: np.ndarray, meal_share: np.ndarray,
                   no_meal_30: np.ndarray, streak: np.ndarray, since_report: np.ndarray,
                   since_shortage: np.ndarray) -> np.ndarray:
    """twin.risk's raw features as the twin would hold them at the end of day t (`since_report` in
    school days, as twin.school_features counts it). The panel has no inspections, so their factor
    reads as unknown (no points), as for a school never inspected."""
    x = np.full((p.n_schools, len(rule_risk.FEATURES)), np.nan)
    F = rule_risk.F
    x[:, F["stock_days"]] = p.rice_days[t]
    x[:, F["meal_share"]] = meal_share
    x[:, F["days_since_report"]] = since_report
    x[:, F["no_meal_streak"]] = streak
    x[:, F["no_meal_days_30"]] = no_meal_30
    x[:, F["funds_days"]] = np.maximum(p.funds_days[t], 0)
    x[:, F["days_since_shortage"]] = np.where(h.last_shortage[t] >= 0, since_shortage, np.nan)
    x[:, F["closed_today"]] = closed
    return x


def _block_sum(values: np.ndarray, block_of: np.ndarray, nb: int) -> np.ndarray:
    return np.bincount(block_of, weights=np.asarray(values, np.float64), minlength=nb)


def _block_median(values: np.ndarray, block_of: np.ndarray, nb: int) -> np.ndarray:
    order = np.lexsort((values, block_of))
    counts = np.bincount(block_of, minlength=nb)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    lo = order[starts + (counts - 1) // 2]
    hi = order[starts + counts // 2]
    return (values[lo] + values[hi]) / 2


_NORMALS = district_rain_normals()


def _rain_normal_ahead(day: np.datetime64, horizon: int) -> np.ndarray:
    """float64 [D]: the districts' normal rain over the `horizon` days after `day`."""
    first = day.astype(dt.date)
    months = [(first + dt.timedelta(days=k)).month - 1 for k in range(1, horizon + 1)]
    return _NORMALS[:, months].sum(axis=1)


def _empty() -> RiskDataset:
    return RiskDataset(np.zeros((0, len(FEATURES)), np.float32), np.zeros(0, bool), np.zeros(0),
                       np.zeros((0, len(rule_risk.FACTORS))), np.zeros(0, "datetime64[D]"),
                       np.zeros(0, np.int64), np.zeros(0, np.int64))
