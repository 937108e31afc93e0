"""The budget forecast as the API answers it: the next quarters' cost of an area (`ml.budget_forecast`)
from the served meal-demand forecaster's week ahead on the live twin, last year's seasonal ratio from
the history store, the calendar and the norms; and the backtest of a held-out quarter of the history
store, the served forecaster's level against the naive "same quarter last year".

The history store's daily meals are summed by block once and kept until the store changes (the
twin appends its days every night); a state-wide forecast never holds the schools' panel.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np

from ml import budget_forecast as bf
from twin import finance
from twin.errors import Unavailable

LiveForecast = Callable[[np.ndarray], Awaitable[dict]]  # directory indices -> the forecasts service's answer
PANEL_DAYS = 160  # days of history the forecaster reads before an origin (its level looks back 150)


class BudgetForecaster:
    def __init__(self, n_blocks: int, models_root: Path | None, live_forecast: LiveForecast | None) -> None:
        self._n_blocks = n_blocks
        self._root = models_root
        self._live = live_forecast
        self._history: tuple[tuple, bf.DailyMeals] | None = None
        self._backtests: dict[tuple, dict] = {}
        self._lock = asyncio.Lock()
        self.timings_s: dict[str, float] = {}  # where the last calls' time went (for the benchmark)

    async def forecast(self, school_index: np.ndarray, school_block: np.ndarray, enrolment: np.ndarray,
                       origin: dt.date, quarters: int, norms: finance.FinanceNorms) -> dict:
        """The next `quarters` quarters after `origin` of the area made of the schools given
        (directory indices, their global blocks, enrolment [n, 3])."""
        if self._live is None or self._root is None:
            raise Unavailable("the budget forecast needs the served meal-demand forecaster, which is not set up")
        started = time.perf_counter()
        live = await self._live(school_index)
        self.timings_s["live_forecast"] = round(time.perf_counter() - started, 3)
        total = live["total"]
        level = np.array([[np.mean([d[q] for d in total])] for q in bf.QUANTILES])  # [3, 1] meals a school day
        history = await self.history()
        inside = np.isin(np.arange(self._n_blocks), school_block).astype(np.int64)  # 1: the area's block
        area = history.grouped(inside, 2)
        area = bf.DailyMeals(area.dates, area.meals[:, 1:])  # the area's blocks as one column
        enrol = enrolment.sum(axis=0, keepdims=True)

        def compute() -> list[dict]:
            out = []
            for first, last in bf.next_quarters(origin, quarters):
                ratio = bf.seasonal_ratio(area, origin, first, last)
                cost = bf.quarter_cost(level * (ratio if ratio is not None else 1.0), enrol, first, last, norms)
                out.append(_quarter(cost, None if ratio is None else float(ratio[0])))
            return out

        return {"origin": origin.isoformat(), "level_meals_per_school_day": dict(zip(bf.QUANTILES,
                                                                                    map(_r, level[:, 0]))),
                "model": live.get("model"), "quarters": await asyncio.to_thread(compute)}

    async def backtest(self, school_block: np.ndarray, school_district: np.ndarray, enrolment: np.ndarray,
                       norms: finance.FinanceNorms) -> dict | None:
        """The held-out quarter of the history store, for the area's blocks (or districts, for more
        than one district): WAPE of the forecast and of the naive one over them. None without a
        served forecaster or enough history. Kept until the history store changes."""
        from ml.history_store import load_panel
        from ml.serving import ServedModels

        history = await self.history()
        by_district = len(np.unique(school_district)) > 1
        key = (self._history[0] if self._history else None, tuple(np.unique(school_block).tolist()), by_district)
        if key in self._backtests:
            return self._backtests[key]
        groups, group_of_school = np.unique(school_district if by_district else school_block, return_inverse=True)
        enrol = np.zeros((len(groups), 3))
        np.add.at(enrol, group_of_school, enrolment)
        group_of_block = np.full(self._n_blocks, len(groups))  # blocks outside the area: a last, dropped group
        group_of_block[school_block] = group_of_school
        grouped = history.grouped(group_of_block, len(groups) + 1)
        grouped = bf.DailyMeals(grouped.dates, grouped.meals[:, :-1])
        served = ServedModels(self._root)
        districts = np.unique(school_district)
        blocks = np.unique(school_block)

        def level_at(origin: dt.date) -> np.ndarray:
            panel = load_panel(self._root, origin - dt.timedelta(days=PANEL_DAYS), origin + dt.timedelta(days=1),
                               districts)
            panel = panel.schools(np.isin(panel.block, blocks))
            result = served.forecast(panel)
            if result is None:
                raise LookupError("no forecaster is served")
            keys = result.district if by_district else result.block
            level = np.zeros((3, len(groups)))
            at = np.searchsorted(groups, keys)
            for q, values in enumerate((result.p10, result.p50, result.p90)):
                np.add.at(level[q], at, values.mean(axis=1))
            return level

        def run() -> dict | None:
            try:
                result = bf.backtest(grouped, level_at, enrol, norms=norms)
            except (LookupError, FileNotFoundError):
                return None
            if result is None:
                return None
            return {"quarter": bf.quarter_label(result.quarter[0]), "first_day": result.quarter[0].isoformat(),
                    "last_day": result.quarter[1].isoformat(), "origin": result.origin.isoformat(),
                    "groups": "districts" if by_district else "blocks", "wape": round(result.wape, 4),
                    "naive_wape": round(result.naive_wape, 4), "p10_p90_coverage": round(result.coverage, 4),
                    "actual_inr": _r(result.actual_inr.sum()), "forecast_inr": _r(result.forecast_inr.sum()),
                    "naive_inr": _r(result.naive_inr.sum())}

        started = time.perf_counter()
        out = await asyncio.to_thread(run)
        self.timings_s["backtest"] = round(time.perf_counter() - started, 3)
        self._backtests[key] = out
        return out

    async def history(self) -> bf.DailyMeals:
        """The history store's meals by day and block (read once, again when the store changes)."""
        from ml import history_store

        if self._root is None or not history_store.has_schools(self._root):
            raise Unavailable("no history store yet: it is made on the twin's first start (`mealtwin data history`)")
        stamp = tuple((p.name, p.stat().st_mtime_ns) for p in sorted(history_store.history_dir(self._root).glob("*")))
        async with self._lock:
            if self._history is None or self._history[0] != stamp:
                started = time.perf_counter()
                self._history = (stamp, await asyncio.to_thread(block_daily_meals, self._root, self._n_blocks))
                self.timings_s["history_read"] = round(time.perf_counter() - started, 3)
                self._backtests.clear()
            return self._history[1]


def block_daily_meals(root: Path, n_blocks: int) -> bf.DailyMeals:
    """Meals served each day of the history store, summed by (global) block, read a month at a time
    and only the month's dates and meals of it."""
    from ml import history_store

    block = history_store.load_schools(root)["block"].astype(np.int64)
    order = np.argsort(block, kind="stable")
    present, starts = np.unique(block[order], return_index=True)  # the blocks with schools, where each begins
    dates, meals = [], []
    for key in history_store.months(root):
        month = history_store.load_month_fields(root, key, ("dates", "meals"))
        by_present = np.add.reduceat(np.nan_to_num(month["meals"][:, order].astype(np.float64), nan=0.0), starts,
                                     axis=1) if len(order) else np.zeros((len(month["dates"]), 0))
        sums = np.zeros((len(month["dates"]), n_blocks))
        sums[:, present] = by_present
        dates.append(month["dates"])
        meals.append(sums)
    if not dates:
        raise Unavailable("the history store holds no days yet")
    return bf.DailyMeals(np.concatenate(dates), np.concatenate(meals))


def _quarter(cost: bf.QuarterCost, ratio: float | None) -> dict:
    def q(values: np.ndarray) -> dict:
        return {name: _r(values[k, 0]) for k, name in enumerate(bf.QUANTILES)}

    return {"quarter": bf.quarter_label(cost.first), "first_day": cost.first.isoformat(),
            "last_day": cost.last.isoformat(), "school_days": cost.school_days,
            "seasonal_ratio": None if ratio is None else round(ratio, 4), "meals": q(cost.meals),
            "material_inr": q(cost.material_inr),
            "material_by_band_inr": dict(zip(("primary", "upper_primary", "secondary"),
                                             map(_r, cost.material_by_band_inr[0]))),
            "honorarium_inr": _r(cost.honorarium_inr[0]), "mme_inr": q(cost.mme_inr), "total_inr": q(cost.total_inr),
            "centre_inr": q(cost.centre_inr), "state_inr": q(cost.state_inr)}


def _r(x: float) -> float:
    return round(float(x), 2)
