"""Retraining, promotion, the accuracy board and serving, on a small simulated store."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ml import history_store
from ml.forecaster import DemandForecaster
from ml.pipeline import (
    FORECAST_KIND,
    MAX_RISK_STRIDE_DAYS,
    RISK_KIND,
    ServedModels,
    _risk_origins,
    accuracy,
    append_live_days,
    retrain,
)
from ml.registry import Registry
from ml.risk_dataset import HORIZON_DAYS, LOOKBACK_DAYS, build_risk_dataset, features_at, origin_days
from ml.risk_model import fit_risk_model, time_split
from tests.fixtures.model_store import small_store

# Small models: the tests check the plumbing and the promotion rule, not the accuracy.
TINY = {"lstm": {"epochs": 1, "max_pairs": 3000, "hidden": 8}, "gbm": {"max_pairs": 3000, "max_iter": 30},
        "seasonal_naive": {"max_pairs": 3000}}
SMALL = {"forecast_schools": 150, "risk_rows": 20_000, "forecast_months": 4, "forecast_backtest_days": 25,
         "forecast_options": TINY}
WORSE = {"forecast_models": ("seasonal_naive",), "risk_candidates": ("logistic_regression",)}


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return small_store(tmp_path_factory.mktemp("store"), schools=150, seed=5)


@pytest.fixture(scope="module")
def live_panel(store):
    last = np.datetime64(history_store.describe(store)["last_day"], "D")
    return history_store.load_panel(store, last - 34, last + 1)


@pytest.fixture(scope="module")
def trained(store, tmp_path_factory):
    """A registry after a full retrain and then a retrain whose candidates can only do worse."""
    registry = tmp_path_factory.mktemp("registry")
    stages = []
    first = retrain(store, registry_root=registry, progress=lambda stage, f: stages.append(f), **SMALL)
    second = retrain(store, registry_root=registry, **SMALL, **WORSE)
    return registry, first, second, stages


def test_first_retrain_registers_and_serves_both_kinds(trained):
    registry, first, _, stages = trained
    reg = Registry(registry)
    for kind, part in ((FORECAST_KIND, first["forecaster"]), (RISK_KIND, first["risk"])):
        assert part["promoted"] and part["version"] == "v1" and reg.served(kind) == "v1"
        meta = reg.meta(kind, "v1")
        for key in ("metrics", "training_window", "code_version", "created_at"):
            assert meta[key]
        assert meta["data"]["hash"] and meta["data"]["sample"]["schools"] == 150
    assert set(first["forecaster"]["wape"]) == {"lstm", "gbm", "seasonal_naive"}
    assert stages[0] == 0.0 and stages[-1] == 1.0 and stages == sorted(stages)


def test_a_worse_candidate_is_registered_but_not_served(trained):
    registry, first, second, _ = trained
    reg = Registry(registry)
    for kind, part in ((FORECAST_KIND, second["forecaster"]), (RISK_KIND, second["risk"])):
        assert part["version"] == "v2" and not part["promoted"]
        assert reg.served(kind) == "v1"
        assert "not served" in part["statement"]
    # the rule: served only when strictly better than the served figure it was compared with
    assert second["forecaster"]["metrics"]["wape"] >= second["forecaster"]["incumbent_wape"]
    assert second["forecaster"]["incumbent_wape"] == pytest.approx(first["forecaster"]["metrics"]["wape"])
    assert second["risk"]["metrics"]["brier"] >= second["risk"]["incumbent_brier"]


def test_a_better_candidate_replaces_the_served_one(store, tmp_path):
    worse = retrain(store, registry_root=tmp_path, **SMALL, **WORSE)
    better = retrain(store, registry_root=tmp_path, **SMALL)
    fc_before, fc_after = worse["forecaster"]["metrics"]["wape"], better["forecaster"]["metrics"]["wape"]
    assert better["forecaster"]["promoted"] == (fc_after < fc_before)
    assert fc_after < fc_before  # the learned models beat the naive one on this world
    assert Registry(tmp_path).served(FORECAST_KIND) == "v2"
    assert better["risk"]["promoted"] == (better["risk"]["metrics"]["brier"] < better["risk"]["incumbent_brier"])


@pytest.fixture(scope="module")
def refitted(tmp_path_factory):
    """Two retrains on a school year of 300 schools (where a learned model beats the rule score),
    the second on the same data: what is served, and how the second was compared with it."""
    store = small_store(tmp_path_factory.mktemp("year"), schools=300, seed=5, end=dt.date(2025, 6, 1))
    registry = tmp_path_factory.mktemp("refitted")
    quick = {**SMALL, "forecast_schools": 300, "risk_rows": 40_000, "forecast_models": ("seasonal_naive",)}
    first = retrain(store, registry_root=registry, **quick)
    second = retrain(store, registry_root=registry, **quick)
    last = np.datetime64(history_store.describe(store)["last_day"], "D")
    return registry, first["risk"], second["risk"], history_store.load_panel(store, last - 34, last + 1)


def test_the_served_risk_model_has_learned_from_the_backtest_s_test_window(refitted):
    registry, first, _, live = refitted
    meta = Registry(registry).meta(RISK_KIND, "v1")
    assert first["model"] != "rule_score" and first["refit_rows"]["train"] > 0
    window, figures_from = meta["training_window"], meta["backtest_window"]
    assert first["training_window"] == window and meta["metrics"] == first["all_metrics"][first["model"]]
    assert np.datetime64(window["last_origin"]) > np.datetime64(figures_from["test"][0])
    assert window["calibration"][1] == figures_from["test"][1]  # calibrated up to the latest labelled origin
    assert np.datetime64(window["last_origin"]) + np.timedelta64(7, "D") < np.datetime64(window["calibration"][0])
    served = ServedModels(registry)
    assert served.versions()[RISK_KIND]["training_window"] == window
    scored = served.risk(live, schools=live.school_id[:20])
    assert scored["version"] == "v1" and scored["model"] == first["model"] and len(scored["explanations"]) == 20
    for e in scored["explanations"]:
        assert e["base"] + sum(e["contributions"].values()) == pytest.approx(e["probability"], abs=1e-9)


def test_a_retrain_compares_with_the_served_version_s_backtest_not_its_refit(refitted):
    registry, first, second, _ = refitted
    assert (first["incumbent_basis"], second["incumbent_basis"]) == ("none", "rescored")
    # the same data and seed fit the same backtest model: equal figures, and a tie keeps v1 served
    assert second["incumbent_brier"] == pytest.approx(second["metrics"]["brier"], abs=1e-12)
    assert not second["promoted"] and Registry(registry).served(RISK_KIND) == "v1"
    assert "on the same test rows" in second["reason"]


def test_accuracy_marks_exactly_one_served_version_per_kind(trained):
    registry, *_ = trained
    board = accuracy(registry, registry_root=registry)
    for kind in (FORECAST_KIND, RISK_KIND):
        rows = board[kind]["versions"]
        assert [r["version"] for r in rows] == ["v1", "v2"]
        assert sum(r["served"] for r in rows) == 1
        assert [r["version"] for r in rows if r["served"]] == [board[kind]["served"]] == ["v1"]
        assert all(r["metrics"] and r["training_window"] and r["code_version"] and r["data_hash"] for r in rows)
        assert board[kind]["latest_backtest"]["statement"]
    assert set(board[FORECAST_KIND]["latest_backtest"]["table"]) == {"seasonal_naive"}  # v2's narrowed run
    assert "rule_score" in board[RISK_KIND]["latest_backtest"]["table"]


def test_nothing_is_served_before_any_training(tmp_path, live_panel):
    served = ServedModels(tmp_path)
    assert served.forecast(live_panel) is None
    assert served.risk(live_panel) is None
    assert served.versions() == {FORECAST_KIND: None, RISK_KIND: None}


def test_forecasts_are_identical_after_a_reload(trained, live_panel):
    registry, *_ = trained
    first = ServedModels(registry).forecast(live_panel)
    again = ServedModels(registry).forecast(live_panel)
    assert first.p50.shape == (live_panel.n_schools, 7)
    np.testing.assert_array_equal(first.p50, again.p50)
    np.testing.assert_array_equal(first.p90, again.p90)
    districts = first.aggregate("district")
    assert districts.p50.sum() == pytest.approx(first.p50.sum(), rel=1e-5)


def test_refresh_picks_up_a_newly_served_version(store, tmp_path, live_panel):
    retrain(store, registry_root=tmp_path, **SMALL, **WORSE)
    served = ServedModels(tmp_path)
    assert served.versions()[FORECAST_KIND]["version"] == "v1"
    assert served.refresh() == {FORECAST_KIND: False, RISK_KIND: False}
    retrain(store, registry_root=tmp_path, **SMALL)
    reg = Registry(tmp_path)
    changed = served.refresh()
    assert changed[FORECAST_KIND] == (reg.served(FORECAST_KIND) == "v2")
    assert served.versions()[FORECAST_KIND]["version"] == reg.served(FORECAST_KIND)


def test_a_saved_forecaster_and_risk_model_predict_the_same_after_loading(store, tmp_path, live_panel):
    panel = history_store.load_panel(store)
    forecaster = DemandForecaster("gbm", seed=0, **TINY["gbm"]).fit(panel)
    data = build_risk_dataset(panel, origin_days(panel, 3))
    split = time_split(data.origin)
    train, valid, _ = split.masks(data.origin)
    risk_model = fit_risk_model("hist_gradient_boosting", data.take(train), data.take(valid))
    reg = Registry(tmp_path)
    reg.register(FORECAST_KIND, forecaster.to_bytes(), {"metrics": {"wape": 0.1}})
    reg.register(RISK_KIND, risk_model.to_bytes(), {"metrics": {"brier": 0.1}})
    assert reg.promote_if_better(FORECAST_KIND, "v1", "wape", False)
    assert reg.promote_if_better(RISK_KIND, "v1", "brier", False)

    served = ServedModels(tmp_path)
    np.testing.assert_array_equal(served.forecast(live_panel).p50, forecaster.forecast(live_panel).p50)
    scored = served.risk(live_panel, schools=live_panel.school_id[:5])
    np.testing.assert_array_equal(scored["probability"], risk_model.predict(features_at(live_panel).features))
    assert [e["school_id"] for e in scored["explanations"]] == live_panel.school_id[:5].tolist()
    for e in scored["explanations"]:  # contributions add up to the probability
        assert e["base"] + sum(e["contributions"].values()) == pytest.approx(e["probability"], abs=1e-9)


def test_live_days_append_to_the_store_on_its_schools(store, tmp_path, live_panel):
    root = tmp_path / "copy"
    shutil.copytree(store, root)
    last = live_panel.dates[-1]
    days_after = replace(live_panel.days(last - 4, last + 1), dates=live_panel.dates[-5:] + 5)
    # the twin knows one school fewer than the store, and one the store never held
    keep = np.arange(1, days_after.n_schools)
    live = days_after.schools(keep)
    live = replace(live, school_id=live.school_id.copy())
    live.school_id[-1] = 999_999_999_999
    assert append_live_days(root, live) == 5
    info = history_store.describe(root)
    assert info["last_day"] == str(last + 5)
    appended = history_store.load_panel(root, last + 1, last + 6)
    np.testing.assert_array_equal(appended.school_id, live_panel.school_id)
    assert not appended.reported[:, 0].any()  # the school the twin does not know
    np.testing.assert_array_equal(appended.reported[-5:, 1:-1], days_after.reported[:, 1:-1])
    assert append_live_days(root, live) == 5  # the same days again change nothing
    assert history_store.describe(root)["rows"] == info["rows"]


def test_history_command_ends_where_the_live_feed_starts_and_accuracy_reads_the_registry(tmp_path):
    import json

    from typer.testing import CliRunner

    from cli.main import app as cli
    from configs import Settings

    runner = CliRunner()
    made = runner.invoke(cli, ["data", "history", "--years", "1", "--schools", "40", "--out", str(tmp_path)])
    assert made.exit_code == 0, made.output
    start = dt.date.fromisoformat(Settings().feed.start_date)
    info = history_store.describe(tmp_path)
    assert info["last_day"] == str(start - dt.timedelta(days=1))
    assert info["first_day"] == str(start.replace(year=start.year - 1))
    board = runner.invoke(cli, ["ml", "accuracy", "--store", str(tmp_path)])
    assert board.exit_code == 0, board.output
    assert json.loads(board.stdout)[FORECAST_KIND] == {"served": None, "versions": [], "latest_backtest": None}


def test_a_served_forecaster_trained_before_the_new_backtest_is_rescored_on_it(store, tmp_path):
    early = tmp_path / "early"
    (early / "history").mkdir(parents=True)
    for name in ("schools.npz", "meta.json", *(f"{key}.npz" for key in history_store.months(store)[:5])):  # June to October
        shutil.copy(store / "history" / name, early / "history" / name)
    registry = tmp_path / "registry"
    retrain(early, registry_root=registry, **SMALL)
    later = retrain(store, registry_root=registry, **SMALL)["forecaster"]
    assert later["incumbent_basis"] == "rescored" and np.isfinite(later["incumbent_wape"])
    assert later["promoted"] == (later["metrics"]["wape"] < later["incumbent_wape"])
    assert Registry(registry).served(FORECAST_KIND) == ("v2" if later["promoted"] else "v1")


def test_a_large_sample_keeps_origin_days_all_year_and_draws_schools_at_each_within_the_row_budget():
    three_years = 1096
    for schools in (1_078, 3_004):  # small samples: every school at a stride that meets the budget
        stride, per_origin = _risk_origins(three_years, schools, 300_000)
        assert per_origin is None and stride <= MAX_RISK_STRIDE_DAYS and stride % 7
    for schools in (10_075, 43_000, 1_080_000):
        stride, per_origin = _risk_origins(three_years, schools, 300_000)
        assert stride == MAX_RISK_STRIDE_DAYS  # not one origin every 150 days, as 43,000 schools gave
        origins = (three_years - LOOKBACK_DAYS - HORIZON_DAYS) // stride
        assert 300_000 <= origins * per_origin < 300_000 + origins
