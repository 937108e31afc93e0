"""A recommendation's (or a whole run's) effect by simulation, off the event loop: the live state of
the smallest area holding it, and the plans the scenario engine replays against no action
(`scenarios.optimise_impact`): the greedy baselines, the recommendation, and its run's plan. A
transfer moves stock before the first day; a depot visit is replayed on its school day of the
schedule (late if the monsoon cuts its road or shuts the school that day)."""

from __future__ import annotations

import numpy as np

from db.recommendation_repository import APPROVED, PENDING
from serve_app.optimization.proposals import (
    DELIVERY,
    FUNDS,
    ITEMS,
    STOCK,
    Proposals,
    block_balances,
)
from twin.directory import Directory


class Verification:
    def __init__(self, proposals: Proposals, directory: Directory) -> None:
        self._proposals = proposals  # the same start state and input as the recommendations were computed on
        self._directory = directory

    def run(self, states, area, lat, lon, live, horizon_days, replications, stress, seed, pool,  # noqa: ANN001
            today=None) -> dict:
        """The run's live recommendations `live` together (`plan`) against no action and both greedy
        baselines. `today`: the twin's day, as `Proposals.area_start` takes it."""
        from scenarios.montecarlo import serial_map
        from scenarios.optimise_greedy import greedy_funds, greedy_stock, stock_change
        from scenarios.optimise_impact import PlanToVerify, stress_inputs, verify
        from scenarios.optimise_input import from_start
        from simulation.levers import ScenarioInputs

        start, g = self._proposals.area_start(states, area, today)
        inp = self._proposals.input(from_start, start, lat[g], lon[g], states)
        inp.block_balance_inr = block_balances(states, inp.n_blocks)
        row_of = {int(x): k for k, x in enumerate(g.tolist())}
        greedy = greedy_stock(inp)
        moves = [r for r in live if r["kind"] == STOCK]  # today's transfers; the depots' visits on their days
        visits = [r for r in live if r["kind"] == DELIVERY]
        plans = [PlanToVerify("greedy", stock_change(inp.n, greedy), greedy.transport_cost_inr, greedy_funds(inp)),
                 PlanToVerify("plan", self._change(inp.n, moves, row_of),
                              sum(r["cost_inr"] for r in moves + visits),
                              self._advance(inp.n, [r for r in live if r["kind"] == FUNDS], row_of),
                              self._visits(visits, row_of))]
        inputs = stress_inputs(horizon_days, seed) if stress else ScenarioInputs(horizon_days, seed)
        workers = getattr(pool, "workers", 1) if pool is not None else 1
        out = verify(start, inputs, plans, replications, pool or serial_map, workers,
                     ratios=(("plan", "none"), ("plan", "greedy")))
        return out | {"stress": stress}

    def recommendation(self, states, area, lat, lon, rec, plan_recs, horizon_days, replications, stress, seed,  # noqa: ANN001
                       pool, today=None) -> dict:
        """`rec` alone and with the live ones of `plan_recs` (its run, its block) against no action and
        the greedy baseline of its kind. `today`: the twin's day, as `Proposals.area_start` takes it."""
        from scenarios.montecarlo import serial_map
        from scenarios.optimise_greedy import greedy_funds, greedy_stock, stock_change
        from scenarios.optimise_impact import PlanToVerify, stress_inputs, verify
        from scenarios.optimise_input import from_start
        from simulation.levers import ScenarioInputs

        start, g = self._proposals.area_start(states, area, today)
        inp = self._proposals.input(from_start, start, lat[g], lon[g], states)
        row_of = {int(x): k for k, x in enumerate(g.tolist())}
        live = [r for r in plan_recs if r["status"] in (PENDING, APPROVED)]
        if rec["kind"] == FUNDS:  # money: the greedy clerk advances the soonest-broke first; no transport
            inp.block_balance_inr = block_balances(states, inp.n_blocks)
            plans = [PlanToVerify("greedy", None, 0.0, greedy_funds(inp)),
                     PlanToVerify("recommendation", None, 0.0, self._advance(inp.n, [rec], row_of)),
                     PlanToVerify("plan", None, 0.0, self._advance(inp.n, live, row_of))]
        elif rec["kind"] == DELIVERY:  # a depot visit comes on its school day, as the schedule's others do
            greedy = greedy_stock(inp)
            plans = [PlanToVerify("greedy", stock_change(inp.n, greedy), greedy.transport_cost_inr),
                     PlanToVerify("recommendation", None, rec["cost_inr"], stock_visits=self._visits([rec], row_of)),
                     PlanToVerify("plan", None, sum(r["cost_inr"] for r in live),
                                  stock_visits=self._visits(live, row_of))]
        else:
            greedy = greedy_stock(inp)
            plans = [PlanToVerify("greedy", stock_change(inp.n, greedy), greedy.transport_cost_inr),
                     PlanToVerify("recommendation", self._change(inp.n, [rec], row_of), rec["cost_inr"]),
                     PlanToVerify("plan", self._change(inp.n, live, row_of), sum(r["cost_inr"] for r in live))]
        inputs = stress_inputs(horizon_days, seed) if stress else ScenarioInputs(horizon_days, seed)
        workers = getattr(pool, "workers", 1) if pool is not None else 1
        out = verify(start, inputs, plans, replications, pool or serial_map, workers,
                     ratios=(("recommendation", "none"), ("plan", "none"), ("plan", "greedy")))
        return out | {"recommendation_id": rec["id"], "version": rec["version"], "stress": stress,
                      "area": {"district": area.district, "block": area.block}, "plan_recommendations": len(live)}

    def _advance(self, n: int, recs: list[dict], row_of: dict[int, int]) -> np.ndarray:
        out = np.zeros(n)
        for r in recs:
            to = row_of.get(int(self._directory.index(r["school_id"])))
            if to is not None:
                out[to] += r["cost_inr"]
        return out

    def _visits(self, recs: list[dict], row_of: dict[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Depot visits as the engine replays them: (school day, school row, items), one per visit
        to a school of the simulated area."""
        kept = [(int(r["action"].get("school_day", 0)), row_of[i], [r["action"]["items"].get(name, 0.0) for name in ITEMS])
                for r in recs if (i := int(self._directory.index(r["school_id"]))) in row_of]
        return (np.array([k[0] for k in kept], np.int64), np.array([k[1] for k in kept], np.int64),
                np.array([k[2] for k in kept], np.float64).reshape(len(kept), 4))

    def _change(self, n: int, recs: list[dict], row_of: dict[int, int]) -> np.ndarray:
        out = np.zeros((n, 4))
        for r in recs:
            items = np.array([r["action"]["items"].get(name, 0.0) for name in ITEMS])
            to = row_of.get(int(self._directory.index(r["school_id"])))
            if to is None:
                continue
            out[to] += items
            if r["from_school_id"]:
                src = row_of.get(int(self._directory.index(r["from_school_id"])))
                if src is not None:
                    out[src] -= items
        return out
