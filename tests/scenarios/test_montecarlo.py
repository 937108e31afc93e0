"""The Monte Carlo runner: the sequential rule, common random numbers, progress and cancel, a
JSON result, and the same figures however the replications are spread over workers (or Ray)."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from scenarios.montecarlo import run_scenario, serial_map
from scenarios.spec import ScenarioSpec
from simulation.start_state import synthetic_start

START = dt.date(2025, 11, 17)


@pytest.fixture(scope="module")
def start():
    return synthetic_start(1_200, seed=2, day=START, warm_up_days=20)


def _spec(**over) -> ScenarioSpec:
    raw = {
        "name": "test", "start": START.isoformat(), "horizon_days": 21, "seed": 4,
        "scope": {"districts": ["Cuddalore", "Viluppuram", "Chennai"]},
        "interventions": [{"kind": "delivery_delay", "delay_days": 10},
                          {"kind": "closure", "districts": ["Cuddalore"], "from": "2025-11-26", "to": "2025-11-28"}],
        "plans": [{"name": "same-as-baseline"}, {"name": "buffer-45", "buffer_days": 45, "top_up_at_start": True}],
        "stopping": {"reps_min": 6, "reps_max": 12},
    }
    return ScenarioSpec.model_validate(raw | over)


def _figures(result) -> dict:
    return {p.name: [p.kpis[k].mean for k in result.headline_kpis] for p in result.plans}


def test_identical_plans_differ_by_exactly_zero_and_a_buffer_by_its_effect(start):
    result = run_scenario(_spec(), start)
    same = result.plan("same-as-baseline").vs_baseline
    assert all(e.mean == 0 and e.half_width == 0 for e in same.values())
    buffer = result.plan("buffer-45").vs_baseline
    assert buffer["days_of_stock_end"].mean > 5 and buffer["days_of_stock_end"].low > 0
    assert buffer["stockout_school_days"].mean <= 0
    base = result.plan("baseline")
    assert base.kpis["meals_served"].low < base.kpis["meals_served"].mean < base.kpis["meals_served"].high
    assert set(base.districts) == {"Cuddalore", "Viluppuram", "Chennai"}
    assert len(base.daily["meals_served"].mean) == 21 == len(result.dates)
    assert len(base.district_daily["Cuddalore"]["days_of_stock"]) == 21


def test_rounds_stop_at_the_tolerance_or_the_maximum(start):
    loose = run_scenario(_spec(stopping={"reps_min": 4, "reps_max": 40, "relative_half_width": 0.5}), start)
    assert loose.stop_reason == "converged" and 4 <= loose.replications < 40
    tight = run_scenario(_spec(stopping={"reps_min": 4, "reps_max": 9, "relative_half_width": 0.0001}), start)
    assert tight.stop_reason == "max_replications" and tight.replications == 9


def test_progress_is_reported_each_round_and_cancel_stops_between_rounds(start):
    seen = []
    spec = _spec(stopping={"reps_min": 3, "reps_max": 30, "relative_half_width": 0.0001})
    result = run_scenario(spec, start, progress=seen.append, cancel=lambda: len(seen) >= 2)
    assert result.stop_reason == "cancelled"
    assert [p.done for p in seen] == sorted(p.done for p in seen) and seen[0].done == 3
    assert result.replications == seen[-1].done < 30
    assert "meals_served" in seen[0].estimates["baseline"]


def test_the_result_is_plain_json(start):
    result = run_scenario(_spec(stopping={"reps_min": 3, "reps_max": 3}), start)
    data = json.loads(result.to_json())
    assert data["plans"][0]["name"] == "baseline" and data["replications"] == 3
    assert data["spec"]["interventions"][1]["from"] == "2025-11-26"
    assert type(result).model_validate(data).plans[1].kpis == result.plans[1].kpis


def test_splitting_over_workers_changes_nothing(start):
    spec = _spec(stopping={"reps_min": 5, "reps_max": 5})
    one = run_scenario(spec, start, serial_map, workers=1)
    three = run_scenario(spec, start, serial_map, workers=3)
    assert _figures(one) == _figures(three)


@pytest.mark.ray
def test_ray_tasks_give_the_serial_figures(start, ray_session):
    from actors.replication_pool import RayReplicationPool

    spec = _spec(stopping={"reps_min": 4, "reps_max": 4})
    pool = RayReplicationPool()
    on_ray = run_scenario(spec, start, pool, workers=pool.workers)
    pool.close()
    serial = run_scenario(spec, start)
    for a, b in zip(_figures(on_ray).values(), _figures(serial).values()):
        np.testing.assert_array_equal(a, b)
