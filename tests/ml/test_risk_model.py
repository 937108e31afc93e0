"""The learned risk model: an honest time split, skill over the prevalence baseline, calibrated
probabilities, and explanations that add up to exactly what is served."""

from __future__ import annotations

import datetime as dt
import pickle
from dataclasses import replace

import numpy as np
import pytest

from ml.history import generate_history, synthetic_schools
from ml.panel import Panel
from ml.registry import Registry
from ml.risk_dataset import FEATURES, build_risk_dataset, origin_days
from ml.risk_model import (
    CANDIDATES,
    RISK_BACKTEST_KIND,
    RISK_KIND,
    RULE_SCORE,
    RiskModel,
    RuleScoreModel,
    refit_split,
    register_backtest,
    run_backtest,
    served_backtest_brier,
    select_served,
    time_split,
)

COL = {name: i for i, name in enumerate(FEATURES)}


@pytest.fixture(scope="module")
def data():
    """600 schools over 20 months (two north-east monsoons), an origin every 4 days."""
    table = synthetic_schools(600, seed=21)
    panel = Panel.concat(list(generate_history(table, dt.date(2024, 9, 1), dt.date(2026, 5, 1), seed=21)))
    return build_risk_dataset(panel, origin_days(panel, stride=4))


@pytest.fixture(scope="module")
def backtest(data):
    return run_backtest(data, seed=0)


def test_windows_follow_in_time_with_a_label_horizon_between(data):
    split = time_split(data.origin)
    train, valid, test = split.masks(data.origin)
    assert train.any() and valid.any() and test.any()
    assert not (train & valid).any() and not (valid & test).any()
    week = np.timedelta64(7, "D")
    assert data.origin[train].max() + week < data.origin[valid].min()
    assert data.origin[valid].max() + week < data.origin[test].min()


def test_learned_models_beat_the_prevalence_baseline_and_the_choice_follows_the_backtest(backtest):
    for name in CANDIDATES:
        m = backtest.metrics[name]
        assert m["brier"] < m["brier_baseline"], name
        assert m["roc_auc"] > 0.6 and m["pr_auc"] > m["prevalence"], name
    rule = backtest.metrics[RULE_SCORE]
    assert rule["roc_auc"] > 0.5
    best = min(backtest.metrics, key=lambda name: backtest.metrics[name]["brier"])
    assert backtest.served == best


def test_probabilities_are_calibrated_on_the_later_window(backtest, data):
    model = backtest.models["hist_gradient_boosting"]
    _, _, test = backtest.split.masks(data.origin)
    p, y = model.predict(data.features[test]), data.label[test]
    assert ((p >= 0) & (p <= 1)).all()
    assert p.mean() == pytest.approx(y.mean(), abs=0.02)  # the calibrated mean tracks the later rate
    high = p > np.quantile(p, 0.9)
    assert y[high].mean() > 2 * y[~high].mean()


@pytest.mark.parametrize("name", [*CANDIDATES, RULE_SCORE])
def test_explanations_add_up_to_the_served_prediction(backtest, data, name):
    model = backtest.models[name]
    rows = np.argsort(-data.rule_score)[:150]  # risky schools, where explanations matter
    x = data.rule_points[rows] if name == RULE_SCORE else data.features[rows]
    base, contributions = model.explain_many(x)
    np.testing.assert_allclose(base + contributions.sum(axis=1), model.predict(x), atol=1e-12)
    one = model.explain(x[0])
    assert one["prediction"] == pytest.approx(float(model.predict(x[:1])[0]), abs=1e-12)
    assert one["base"] + sum(one["contributions"].values()) == pytest.approx(one["prediction"], abs=1e-12)
    assert set(one["contributions"]) == set(model.feature_names)


@pytest.mark.parametrize("name", CANDIDATES)
def test_raw_contributions_add_up_to_the_model_s_own_score(backtest, data, name):
    model: RiskModel = backtest.models[name]
    x = data.features[:300]
    base, contributions = model.raw_contributions(x)
    np.testing.assert_allclose(base + contributions.sum(axis=1), model.raw_score(x), atol=1e-5)


@pytest.mark.parametrize("name", CANDIDATES)
def test_the_explained_calibration_map_is_the_one_served(backtest, data, name):
    model: RiskModel = backtest.models[name]
    x = data.features[::97]
    np.testing.assert_allclose(model.calibration_map(model.raw_score(x)), model.predict(x), atol=1e-12)


def test_little_rice_left_pushes_the_risk_up(backtest, data):
    model = backtest.models["random_forest"]
    low = np.flatnonzero(data.features[:, COL["rice_days"]] < 2)[:100]
    assert low.size > 10
    _, contributions = model.explain_many(data.features[low])
    assert (contributions[:, COL["rice_days"]] > 0).mean() > 0.9


def test_the_rule_score_can_be_the_backtest_s_choice():
    figures = {"random_forest": {"brier": 0.050}, RULE_SCORE: {"brier": 0.045}, "logistic_regression": {"brier": 0.048}}
    assert select_served(figures) == RULE_SCORE
    assert select_served({"random_forest": {"brier": 0.04}, RULE_SCORE: {"brier": 0.04}}) == RULE_SCORE
    assert select_served({"random_forest": {"pr_auc": 0.3}, RULE_SCORE: {"pr_auc": 0.2}}, "pr_auc", True) == "random_forest"


def test_a_model_survives_a_round_trip_through_bytes(backtest, data):
    model = backtest.models["random_forest"]
    again = RiskModel.from_bytes(model.to_bytes())
    np.testing.assert_array_equal(again.predict(data.features[:500]), model.predict(data.features[:500]))


def test_the_refit_moves_the_backtest_windows_up_to_the_latest_labelled_origin(backtest, data):
    split = refit_split(data.origin, backtest.split)
    train, calibration, test = split.masks(data.origin)
    assert not test.any()  # the backtest has scored the recipe already
    assert data.origin[calibration].max() == data.origin.max()
    assert split.valid_end - split.valid_start == backtest.split.valid_end - backtest.split.valid_start
    assert data.origin[train].max() + np.timedelta64(7, "D") < data.origin[calibration].min()
    assert data.origin[train].min() == data.origin.min()
    assert data.origin[train].max() > backtest.split.test_start  # it learns from the test window's days


@pytest.fixture(scope="module")
def registered(backtest, data, tmp_path_factory):
    """The backtest registered twice in a fresh registry: the second is the same model again."""
    registry = Registry(tmp_path_factory.mktemp("registry"))
    first = register_backtest(registry, backtest, data, {"source": "test"}, seed=0)
    second = register_backtest(registry, backtest, data, {"source": "test"}, seed=0)
    return registry, first, second


def test_the_served_model_is_refitted_on_the_latest_data_with_the_backtest_s_figures(registered, backtest, data):
    registry, (version, promoted), _ = registered
    assert promoted and registry.served(RISK_KIND) == version
    meta = registry.meta(RISK_KIND, version)
    assert meta["model"] == backtest.served and meta["metrics"] == backtest.metrics[backtest.served]
    window, figures_from = meta["training_window"], meta["backtest_window"]
    assert figures_from["test"][0] == str(data.origin[data.origin >= backtest.split.test_start].min())
    assert np.datetime64(window["last_origin"]) > backtest.split.test_start
    assert window["calibration"][1] == str(data.origin.max())
    assert np.datetime64(window["last_origin"]) + np.timedelta64(7, "D") < np.datetime64(window["calibration"][0])
    served = RiskModel.from_bytes(registry.load_bytes(RISK_KIND, version))
    backtested = backtest.models[backtest.served]
    x = data.features[np.argsort(-data.rule_score)[:150]]
    assert served.name == backtested.name and not np.array_equal(served.predict(x), backtested.predict(x))
    base, contributions = served.explain_many(x)
    np.testing.assert_allclose(base + contributions.sum(axis=1), served.predict(x), atol=1e-12)


def test_a_version_is_compared_by_its_backtest_s_fit_never_by_the_refit(registered, backtest, data):
    registry, (first, _), (second, promoted) = registered
    kept = registry.meta(RISK_KIND, first)["backtest_model"]
    assert kept["kind"] == RISK_BACKTEST_KIND
    backtested = RiskModel.from_bytes(registry.load_bytes(kept["kind"], kept["version"]))
    np.testing.assert_array_equal(backtested.predict(data.features[:500]),
                                  backtest.models[backtest.served].predict(data.features[:500]))
    meta = registry.meta(RISK_KIND, second)
    assert meta["served_model_comparison"] == "rescored"
    assert meta["served_model_brier_on_this_test"] == pytest.approx(meta["metrics"]["brier"], abs=1e-12)
    assert not promoted and registry.served(RISK_KIND) == first


def test_a_served_version_whose_backtest_saw_the_test_window_is_not_re_scored(registered, backtest, data):
    registry, *_ = registered
    _, calibration, _ = backtest.split.masks(data.origin)
    rows = data.take(calibration)  # test rows starting inside the served version's calibration window
    assert served_backtest_brier(registry, backtest.split.valid_start, rows) == (None, "recorded")
    test_start = backtest.split.test_start
    assert served_backtest_brier(registry, test_start, data.take(data.origin >= test_start))[1] == "rescored"


def test_a_winning_rule_score_is_served_as_backtested(backtest, data, tmp_path):
    registry = Registry(tmp_path)
    version, promoted = register_backtest(registry, replace(backtest, served=RULE_SCORE), data, {}, seed=0)
    assert promoted
    served = pickle.loads(registry.load_bytes(RISK_KIND, version))  # noqa: S301 - written just above
    assert isinstance(served, RuleScoreModel)
    points = data.rule_points[:500]
    np.testing.assert_array_equal(served.predict(points), backtest.models[RULE_SCORE].predict(points))
    meta = registry.meta(RISK_KIND, version)
    assert meta["refit"] is None and "backtest_model" not in meta
    assert {k: v for k, v in meta["training_window"].items() if k != "gap_days"} == meta["backtest_window"]
    assert not (tmp_path / "models" / RISK_BACKTEST_KIND).exists()
