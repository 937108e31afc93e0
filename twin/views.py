"""Read models over `ShardState`: one school's twin, and school -> block -> district roll-ups."""

from __future__ import annotations

import numpy as np

from twin.encoding import NO_MEAL_REASONS, SHORTAGE_ITEMS
from twin.events import ClosureReason
from twin.kernels import rice_need_per_day, rollup
from twin.metrics import METRICS, summarise
from twin.norms import day_date
from twin.state import FUNDS_RELEASED, MEAL_COST, NO_DAY, OTHER_UTILISED, ShardState

_M = {name: i for i, name in enumerate(METRICS)}
_CLOSURE_REASONS = {i: r.value for i, r in enumerate(ClosureReason, start=1)}


def school_metrics(state: ShardState, rows: np.ndarray | None = None) -> np.ndarray:
    """float64 [n, len(METRICS)]: each school's contribution to its block's and district's totals;
    only the schools at `rows` (local indices, in that order) when given: the rows folds wrote
    since the last refresh of the kept metrics (`twin.pushed_columns`)."""
    if rows is None:
        rows = slice(None)
    today = int(state.today[0])
    active = state.active[rows]
    out = np.zeros((len(active), len(METRICS)))
    slot = today % state.hist_day.shape[1] if today >= 0 else 0
    reported = (state.hist_day[rows, slot] == today) & (today >= 0)
    closed = (state.closed_from[rows] <= today) & (today <= state.closed_to[rows])
    hist_meals = state.hist_meals[rows]
    enrolment = state.enrolment[rows]
    out[:, _M["schools"]] = 1
    out[:, _M["enrolment"]] = enrolment.sum(axis=1)
    out[:, _M["reported_today"]] = reported
    out[:, _M["stale"]] = ~reported & ~closed & (today >= 0)
    out[:, _M["closed_today"]] = closed
    out[:, _M["present_today"]] = np.where(reported, state.hist_present[rows, slot], 0)
    out[:, _M["meals_today"]] = np.where(reported, hist_meals[:, slot].sum(axis=1), 0)
    out[:, _M["rice_kg"] : _M["eggs"] + 1] = np.maximum(state.stock[rows], 0)
    out[:, _M["rice_need_kg_per_day"]] = rice_need_per_day(hist_meals, enrolment)
    funds = state.funds[rows]
    out[:, _M["funds_released_inr"]] = funds[:, FUNDS_RELEASED]
    out[:, _M["meal_cost_inr"]] = funds[:, MEAL_COST]
    out[:, _M["other_utilised_inr"]] = funds[:, OTHER_UTILISED]
    out[~active] = 0  # a deactivated school counts for nothing above it
    return out


def block_rollup(state: ShardState) -> np.ndarray:
    """float64 [nb, len(METRICS)]: school metrics summed by block."""
    return rollup(state.school_block, school_metrics(state), len(state.block_global))


def district_rollup(state: ShardState, blocks: np.ndarray | None = None) -> np.ndarray:
    """float64 [nd, len(METRICS)]: block totals summed by district."""
    blocks = block_rollup(state) if blocks is None else blocks
    return rollup(state.block_district, blocks, len(state.district_global))


def block_view(state: ShardState, b_local: int, names: tuple[str, ...], totals: np.ndarray) -> dict:
    """One block's figures from its totals (a row of `block_rollup`)."""
    out = summarise(totals)
    received, passed = state.block_funds[b_local]
    out["funds"] |= {"received_inr": round(received, 2), "balance_inr": round(received - passed, 2)}
    out["name"] = names[int(state.block_global[b_local])]
    out["depot_stock"] = depot_view(state, b_local)
    return out


def depot_view(state: ShardState, b_local: int) -> dict | None:
    """The block depot's logged stock (a book balance: below zero when it sent more than it was
    logged receiving), or None while no consignment to it is logged."""
    if not state.block_depot_logged[b_local]:
        return None
    rice, pulses, oil, eggs = (float(x) for x in state.block_depot_stock[b_local])
    return {"rice_kg": round(rice, 3), "pulses_kg": round(pulses, 3), "oil_kg": round(oil, 3), "eggs": round(eggs)}


def district_view(state: ShardState, d_local: int, totals: np.ndarray) -> dict:
    """One district's figures from its totals (a row of `district_rollup`)."""
    out = summarise(totals)
    received, passed = state.district_funds[d_local]
    out["funds"] |= {"received_inr": round(received, 2), "released_to_blocks_inr": round(passed, 2),
                     "balance_inr": round(received - passed, 2)}
    return out


def school_view(state: ShardState, i: int) -> dict:
    """Everything the twin knows about one school, derived for a reader."""
    today = int(state.today[0])
    W = state.hist_day.shape[1]
    order = np.argsort(state.hist_day[i])[::-1]
    recent = [
        {
            "date": day_date(int(state.hist_day[i, j])).isoformat(),
            "present": int(state.hist_present[i, j]),
            "meals_served": dict(zip(("primary", "upper_primary", "secondary"), map(int, state.hist_meals[i, j]))),
            "no_meal_reason": NO_MEAL_REASONS[int(state.hist_reason[i, j])].value if state.hist_reason[i, j] else None,
        }
        for j in order
        if state.hist_day[i, j] != NO_DAY
    ]
    need = float(rice_need_per_day(state.hist_meals[i : i + 1], state.enrolment[i : i + 1])[0])
    released, cost, other = (float(x) for x in state.funds[i])
    last = int(state.last_report_day[i])
    closed = state.closed_from[i] <= today <= state.closed_to[i] and today >= 0
    return {
        "school_id": f"{int(state.school_ids[i]):011d}",
        "today": day_date(today).isoformat() if today >= 0 else None,
        "enrolment": dict(zip(("primary", "upper_primary", "secondary"), map(int, state.enrolment[i]))),
        "last_report_date": day_date(last).isoformat() if last >= 0 else None,
        "stale": bool(today >= 0 and last < today and not closed),
        "days_since_report": (today - last) if last >= 0 and today >= 0 else None,
        "closed": {
            "from": day_date(int(state.closed_from[i])).isoformat(),
            "to": day_date(int(state.closed_to[i])).isoformat(),
            "reason": _CLOSURE_REASONS.get(int(state.closed_reason[i])),
            "closed_today": bool(closed),
        } if state.closed_from[i] != NO_DAY else None,
        "stock_kg": {k: round(max(float(state.stock[i, j]), 0.0), 2) for j, k in enumerate(("rice", "pulses", "oil"))},
        "stock_eggs": int(max(state.stock[i, 3], 0)),
        "stock_book_balance": {k: round(float(state.stock[i, j]), 2) for j, k in enumerate(("rice_kg", "pulses_kg", "oil_kg", "eggs"))},
        "stock_days": round(max(float(state.stock[i, 0]), 0.0) / need, 1) if need > 0 else None,
        "funds": {
            "released_inr": round(released, 2),
            "meal_cost_inr": round(cost, 2),
            "other_utilised_inr": round(other, 2),
            "balance_inr": round(released - cost - other, 2),
        },
        "last_inspection": {
            "date": day_date(int(state.inspection_day[i])).isoformat(),
            "score": float(state.inspection_score[i]),
            "issues_found": bool(state.inspection_issues[i]),
        } if state.inspection_day[i] != NO_DAY else None,
        "last_shortage": {
            "date": day_date(int(state.shortage_day[i])).isoformat(),
            "item": SHORTAGE_ITEMS[int(state.shortage_item[i])].value,
        } if state.shortage_day[i] != NO_DAY else None,
        "recent_days": recent[:W],
    }

