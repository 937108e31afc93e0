"""Alert rules: which alerts should be open, and how the open ones change (open, escalate, resolve).

Every rule is evaluated for every school at once, as a severity matrix [schools, causes] (-1: no
alert), and `AlertBook` compares it with the alerts already open. So there is at most one open
alert per school and cause, a worsening cause escalates the open alert instead of raising another,
and an alert resolves itself when its cause clears. Only the changes become Python objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from twin.risk import F, feature_dict

SEVERITIES = ("low", "medium", "high", "critical")
LOW, MEDIUM, HIGH, CRITICAL = range(4)
NONE = -1

# School causes, in column order, with their category.
SCHOOL_CAUSES = {
    "risk_high": "risk",
    "stock_low": "stock",
    "no_meal_streak": "meals",  # AMS exception: no meal 3 school days in a row
    "no_meal_month": "meals",  # AMS exception: no meal on more than 5 days in a month
    "meals_below_share": "meals",  # AMS exception: meals below a set share of enrolment
    "stale_report": "reporting",
    "funds_exhausted": "funds",
    "inspection_overdue": "inspection",
    "funds_low": "funds",  # the balance lasts fewer school days than a setting at the recent burn
    "utilisation_rule_at_risk": "funds",  # the 75% release rule will not be met by the year's end
}
CAUSES = tuple(SCHOOL_CAUSES)
C = {cause: i for i, cause in enumerate(CAUSES)}
BLOCK_CAUSE, BLOCK_CATEGORY = "cascade_warning", "cascade"
# The money causes raised for blocks and districts too, from their schools' sums, in column order.
AREA_FUNDS_CAUSES = ("funds_exhausted", "funds_low", "utilisation_rule_at_risk")
CATEGORIES = tuple(sorted({*SCHOOL_CAUSES.values(), BLOCK_CATEGORY}))


class AlertRulesLike(Protocol):
    """`configs.settings.AlertRules`."""

    stock_days_below: float
    stale_days: int
    no_meal_streak_days: int
    no_meal_days_month: int
    meal_share_below: float
    cascade_block_schools: int
    funds_days_below: float


def school_severities(features: np.ndarray, level: np.ndarray, rules: AlertRulesLike,
                      inspection_interval_days: float) -> np.ndarray:
    """int8 [n, len(CAUSES)]: the severity each cause calls for (NONE: no alert). `features` are
    `twin.risk` features, `level` the risk level codes (0 low .. 3 critical) including neighbours."""
    n = len(features)
    out = np.full((n, len(CAUSES)), NONE, np.int8)
    # unknown (NaN) never satisfies a rule below, as every comparison with NaN is false: the columns
    # are read in place (a NaN-free copy of every feature took ~0.25 s a round for 1.08 M schools)
    x = features
    with np.errstate(invalid="ignore"):
        open_today = ~(x[:, F["closed_today"]] > 0)  # a closed school is not expected to report or cook

    def rule(cause: str, severity: int, when: np.ndarray) -> None:
        column = out[:, C[cause]]
        column[when & (column < severity)] = severity

    rule("risk_high", HIGH, level == HIGH)
    rule("risk_high", CRITICAL, level == CRITICAL)
    stock_days = x[:, F["stock_days"]]
    rule("stock_low", HIGH, (stock_days >= 0) & (stock_days < rules.stock_days_below))
    rule("stock_low", CRITICAL, (stock_days >= 0) & (stock_days < rules.stock_days_below / 3))
    rule("no_meal_streak", HIGH, open_today & (x[:, F["no_meal_streak"]] >= rules.no_meal_streak_days))
    rule("no_meal_month", HIGH, open_today & (x[:, F["no_meal_days_30"]] > rules.no_meal_days_month))
    share = x[:, F["meal_share"]]
    rule("meals_below_share", MEDIUM, open_today & (share >= 0) & (share < rules.meal_share_below))
    stale = x[:, F["days_since_report"]]
    rule("stale_report", MEDIUM, open_today & (stale >= rules.stale_days))
    rule("stale_report", HIGH, open_today & (stale >= 2 * rules.stale_days))
    funds_days = x[:, F["funds_days"]]
    rule("funds_exhausted", HIGH, (funds_days >= 0) & (funds_days < 1))
    rule("funds_low", MEDIUM, (funds_days >= 1) & (funds_days < rules.funds_days_below))
    rule("utilisation_rule_at_risk", MEDIUM, x[:, F["utilisation_rule_days"]] > 0)
    rule("inspection_overdue", MEDIUM, x[:, F["days_since_inspection"]] > inspection_interval_days)
    return out


def block_severities(school_block: np.ndarray, level: np.ndarray, active: np.ndarray, n_blocks: int,
                     rules: AlertRulesLike) -> tuple[np.ndarray, np.ndarray]:
    """The cascade warning of each block: int8 [n_blocks] severity (NONE, HIGH, or CRITICAL at twice
    the threshold) and int64 [n_blocks] the number of its schools at high risk or worse."""
    at_risk = np.bincount(school_block[(level >= HIGH) & active], minlength=n_blocks).astype(np.int64)
    out = np.full(n_blocks, NONE, np.int8)
    out[at_risk >= rules.cascade_block_schools] = HIGH
    out[at_risk >= 2 * rules.cascade_block_schools] = CRITICAL
    return out, at_risk


def area_funds_severities(group: np.ndarray, money: np.ndarray, active: np.ndarray, n_groups: int,
                          rules: AlertRulesLike, min_utilised_share: float = 0.75) -> np.ndarray:
    """int8 [n_groups, len(AREA_FUNDS_CAUSES)]: the funds alerts of areas (blocks or districts)
    from their active schools' money summed, as `school_severities` calls them for one school.

    group: int [n] each school's area; money: [n, 5] balance, daily meal cost, released, utilised
    (INR) and the school days left in the financial year (`twin.school_features.AREA_FUNDS`). The
    balance lasts balance / daily cost school days (exhausted below 1, low below
    `rules.funds_days_below`); the 75% rule is at risk when the area, spending its daily cost each
    school day left, will not have utilised `min_utilised_share` of its releases by the year's end.
    An area with nothing released, or no meal cost lately, raises none."""
    money = np.nan_to_num(np.asarray(money, np.float64))
    keep = np.asarray(active, bool)
    g = np.asarray(group, np.int64)[keep]
    sums = np.stack([np.bincount(g, money[keep, k], n_groups) for k in range(4)], axis=1)
    days_left = np.zeros(n_groups)
    np.maximum.at(days_left, g, money[keep, 4])
    balance, daily, released, utilised = sums.T
    out = np.full((n_groups, len(AREA_FUNDS_CAUSES)), NONE, np.int8)
    spending = (released > 0) & (daily > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        lasts = np.where(spending, np.maximum(balance, 0) / np.where(daily > 0, daily, 1), np.inf)
        short = np.maximum(min_utilised_share * released - utilised, 0)
        needed = np.where(spending, np.ceil(short / np.where(daily > 0, daily, 1)), 0)
    out[spending & (lasts < 1), 0] = HIGH
    out[spending & (lasts >= 1) & (lasts < rules.funds_days_below), 1] = MEDIUM
    out[spending & (needed > days_left), 2] = MEDIUM
    return out


def area_funds_figures(group: np.ndarray, money: np.ndarray, active: np.ndarray, area: int) -> dict:
    """The sums behind one area's funds alert, for its message and details."""
    keep = np.asarray(active, bool) & (np.asarray(group) == area)
    m = np.nan_to_num(np.asarray(money, np.float64)[keep])
    balance, daily, released, utilised = (float(x) for x in m[:, :4].sum(axis=0))
    return {"schools": int(keep.sum()), "balance_inr": round(balance, 2), "daily_cost_inr": round(daily, 2),
            "released_inr": round(released, 2), "utilised_inr": round(utilised, 2),
            "funds_days": round(max(balance, 0) / daily, 1) if daily > 0 else None,
            "school_days_left": int(m[:, 4].max()) if len(m) else 0}


def describe_area_funds(cause: str, area_name: str, figures: dict) -> tuple[str, str, dict]:
    """Title, message and details of a block's or district's funds alert."""
    texts = {
        "funds_exhausted": (f"Funds exhausted in {area_name}",
                            f"Its schools' balance (Rs {figures['balance_inr']:,.0f}) does not cover a day's meals."),
        "funds_low": (f"Funds running low in {area_name}",
                      (f"Its schools' balance covers {figures['funds_days'] or 0:.0f} school days of meals at the "
                       f"recent cost.")),
        "utilisation_rule_at_risk": (
            f"Next instalment at risk in {area_name}",
            (f"At the recent spending its schools will not have utilised 75% of the "
             f"Rs {figures['released_inr']:,.0f} released by the end of the financial year: the next instalment "
             f"would be refused.")),
    }
    title, message = texts[cause]
    return title, message, figures


@dataclass(frozen=True)
class Changes:
    """What changed between the open alerts and what the rules call for; arrays of equal length
    per kind: the subject's index (school or block), the cause's column, the new severity."""

    opened: tuple[np.ndarray, np.ndarray, np.ndarray]
    escalated: tuple[np.ndarray, np.ndarray, np.ndarray]
    resolved: tuple[np.ndarray, np.ndarray, np.ndarray]

    def __len__(self) -> int:
        return sum(len(part[0]) for part in (self.opened, self.escalated, self.resolved))


class AlertBook:
    """The severity of every open alert, as a matrix [subjects, causes] (NONE: none open)."""

    def __init__(self, n_subjects: int, n_causes: int) -> None:
        self.open = np.full((n_subjects, n_causes), NONE, np.int8)

    def grow(self, n_subjects: int) -> None:
        if n_subjects > len(self.open):
            extra = np.full((n_subjects - len(self.open), self.open.shape[1]), NONE, np.int8)
            self.open = np.concatenate([self.open, extra])

    def reconcile(self, wanted: np.ndarray, rows: np.ndarray | None = None) -> Changes:
        """Bring the book to `wanted` (severities of `rows`, default all subjects). Open alerts
        never de-escalate: they stay at their worst until the cause clears."""
        rows = np.arange(len(self.open)) if rows is None else np.asarray(rows)
        current = self.open[rows]
        opened = (current == NONE) & (wanted != NONE)
        escalated = (current != NONE) & (wanted > current)
        resolved = (current != NONE) & (wanted == NONE)

        def part(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            r, c = np.nonzero(mask)
            return rows[r], c, wanted[r, c].astype(np.int8)

        changes = Changes(part(opened), part(escalated), part(resolved))
        self.open[rows] = np.where(opened | escalated, wanted, np.where(resolved, NONE, current))
        return changes


def describe(cause: str, subject_name: str, features: np.ndarray | None = None, score: float | None = None,
             level: str | None = None, at_risk: int | None = None) -> tuple[str, str, dict]:
    """Title, message and details of an alert for a reader (an officer's inbox, an SMS)."""
    x = {} if features is None else feature_dict(features, digits=2)
    if cause == BLOCK_CAUSE:
        return (f"Cascade warning in {subject_name}", f"{at_risk} schools of {subject_name} are at high risk or worse.",
                {"schools_at_risk": at_risk})
    texts = {
        "risk_high": (f"{(level or '').capitalize()} risk at {subject_name}",
                      f"Risk score {score:.0f} of 100 ({level})." if score is not None else ""),
        "stock_low": (f"Rice running out at {subject_name}", f"Rice left for {x.get('stock_days')} school days."),
        "no_meal_streak": (f"No meal {x.get('no_meal_streak', 0):.0f} school days in a row at {subject_name}",
                           "No meal served on the latest reported school days."),
        "no_meal_month": (f"No meal on {x.get('no_meal_days_30', 0):.0f} days this month at {subject_name}",
                          "More no-meal days in 30 than the monitoring norm allows."),
        "meals_below_share": (f"Few meals at {subject_name}",
                              f"Meals served were {100 * (x.get('meal_share') or 0):.0f}% of enrolment this week."),
        "stale_report": (f"No report from {subject_name}", _last_report_text(x.get("days_since_report"))),
        "funds_exhausted": (f"Funds exhausted at {subject_name}", "The balance does not cover a day's meals."),
        "funds_low": (f"Funds running low at {subject_name}",
                      f"The balance covers {x.get('funds_days') or 0:.0f} school days of meals at the recent cost."),
        "utilisation_rule_at_risk": (
            f"Next instalment at risk at {subject_name}",
            (f"At the recent spending, 75% of the funds released will not be utilised by the end of the financial "
             f"year (short by {x.get('utilisation_rule_days') or 0:.0f} school days): the next instalment would be "
             f"refused.")),
        "inspection_overdue": (f"Inspection overdue at {subject_name}",
                               f"Last inspection {x.get('days_since_inspection'):.0f} days ago."
                               if x.get("days_since_inspection") is not None else "No inspection recorded."),
    }
    title, message = texts[cause]
    details = {k: v for k, v in x.items() if v is not None}
    if score is not None:
        details |= {"risk_score": round(float(score), 1), "risk_level": level}
    return title, message, details


def _last_report_text(school_days: float | None) -> str:
    """The stale alert's message: the feature counts school days (weekends, holidays and vacations
    are not missed reports), and a reader should not take it for calendar days."""
    if school_days is None:
        return "No report received."
    return f"Last report {school_days:.0f} school day{'' if round(school_days) == 1 else 's'} ago."
