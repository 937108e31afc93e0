"""The learned risk model: an honest time split, skill over the prevalence baseline, calibrated
probabilities, and explanations that add up to exactly what is served."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from ml.history import generate_history, synthetic_schools
from ml.panel import Panel
from ml.risk_dataset import FEATURES, build_risk_dataset, origin_days
from ml.risk_model import (
    CANDIDATES,
    RULE_SCORE,
    RiskModel,
    run_backtest,
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
