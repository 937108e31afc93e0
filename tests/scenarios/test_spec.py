"""Scenario specs: the examples load, and mistakes are refused with messages that say what is wrong."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pydantic import ValidationError

from scenarios.compile import compile_scenario
from scenarios.spec import BASELINE, ScenarioError, ScenarioSpec
from simulation.start_state import StartState
from simulation.synthetic_schools import generate_schools
from twin.errors import InvalidInput

EXAMPLES = sorted((Path(__file__).parents[2] / "configs" / "scenarios").glob("*.yaml"))


def _spec(**over) -> dict:
    base = {"name": "t", "start": "2025-11-17", "horizon_days": 30, "scope": {"districts": ["Cuddalore"]},
            "plans": [{"name": "buffer", "buffer_days": 45}]}
    return base | over


def _error(**over) -> str:
    with pytest.raises(ValidationError) as info:
        ScenarioSpec.model_validate(_spec(**over))
    return str(info.value)


def test_the_examples_load_and_compile():
    assert len(EXAMPLES) >= 2
    schools = generate_schools(1_500, seed=1)
    for path in EXAMPLES:
        spec = ScenarioSpec.from_yaml(path)
        assert spec.plans
        start = StartState.from_schools(schools, spec.start_date(dt.date(2025, 6, 2)))
        compiled = compile_scenario(spec, start)
        assert [p.name for p in compiled.plans][0] == BASELINE
        assert 0 < len(compiled.start) <= len(start)


def test_places_are_checked_against_the_states_geography():
    assert "unknown district 'Cudalore'" in _error(scope={"districts": ["Cudalore"]})
    assert "did you mean 'Cuddalore'" in _error(scope={"districts": ["Cudalore"]})
    assert "unknown block" in _error(scope={"blocks": ["Nowhere"]})
    assert "several districts" in _error(scope={"blocks": ["Ammapet"]})
    assert "has no block" in _error(scope={"blocks": ["Cuddalore/Kumbakonam"]})
    assert "unknown depot" in _error(interventions=[{"kind": "delivery_cancel", "depots": ["DEPOT-99-01"]}])
    assert "outside the scope" in _error(interventions=[{"kind": "delivery_cancel", "districts": ["Madurai"]}])
    ok = ScenarioSpec.model_validate(_spec(scope={"blocks": ["Cuddalore/Panruti", "Kumbakonam"]},
                                           interventions=[{"kind": "delivery_cancel", "blocks": ["Panruti"]}]))
    assert ok.scope.mask().sum() == 2


def test_numbers_and_dates_are_checked():
    assert "greater than 0" in _error(interventions=[{"kind": "delivery_delay", "delay_days": -3}])
    assert "greater than or equal to 1" in _error(horizon_days=0)
    assert "outside the horizon" in _error(interventions=[{"kind": "closure", "from": "2025-12-20", "to": "2025-12-22"}])
    assert "before 'from'" in _error(interventions=[{"kind": "closure", "from": "2025-11-25", "to": "2025-11-20"}])
    assert "less than or equal to 1" in _error(interventions=[{"kind": "egg_shortfall", "share": 1.5}])
    assert "kind" in _error(interventions=[{"kind": "alien_invasion"}])
    assert "Extra inputs" in _error(plans=[{"name": "x", "bufer_days": 3}])


def test_plans_are_checked():
    assert "always included" in _error(plans=[{"name": "Baseline"}])
    assert "unique" in _error(plans=[{"name": "a"}, {"name": "a"}])
    assert "must exceed below_days" in _error(plans=[{"name": "a", "reallocation": {"below_days": 5, "above_days": 4}}])
    assert "reps_max" in _error(stopping={"reps_min": 50, "reps_max": 20})
    assert "unknown KPI" in _error(stopping={"kpis": ["happiness"]})


def test_a_live_start_checks_its_dates_once_the_start_is_known():
    spec = ScenarioSpec.model_validate(_spec(start="live", interventions=[
        {"kind": "closure", "from": "2025-11-20", "to": "2025-11-22"}]))
    start = StartState.from_schools(generate_schools(500, seed=1), dt.date(2026, 1, 5))
    with pytest.raises(ScenarioError) as info:
        compile_scenario(spec, start)
    assert isinstance(info.value, InvalidInput) and "outside the horizon" in info.value.message
    assert info.value.details == {"index": 0, "field": "from"}


def test_yaml_text_loads_like_a_file():
    text = "name: x\nstart: 2025-07-07\nhorizon_days: 5\nplans:\n  - name: fortnightly\n    delivery_interval_days: 15\n"
    spec = ScenarioSpec.from_yaml(text)
    assert spec.start == dt.date(2025, 7, 7) and spec.scope.state and spec.plans[0].delivery_interval_days == 15
