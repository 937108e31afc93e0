"""`data history` and `ml train-risk` end to end on a small world: store, backtest, registry."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cli.main import app as mealtwin
from ml import history_store
from ml.registry import Registry


def test_history_then_risk_training_registers_and_promotes_only_once(tmp_path):
    runner, cli = CliRunner(), mealtwin
    made = runner.invoke(cli, ["data", "history", "--years", "2", "--schools", "300", "--seed", "7",
                               "--end", "2026-03-01", "--out", str(tmp_path)])
    assert made.exit_code == 0, made.output
    info = history_store.describe(tmp_path)
    assert (info["first_day"], info["last_day"], info["schools"]) == ("2024-03-01", "2026-02-28", 300)
    assert info["meta"]["seed"] == 7 and info["meta"]["generator_version"] >= 1
    again = runner.invoke(cli, ["data", "history", "--years", "1", "--out", str(tmp_path)])
    assert again.exit_code == 1  # an existing store is kept unless --replace

    args = ["ml", "train-risk", "--store", str(tmp_path), "--registry", str(tmp_path), "--stride", "7",
            "--models", "hist_gradient_boosting,logistic_regression"]
    first = runner.invoke(cli, args)
    assert first.exit_code == 0, first.output
    result = json.loads(first.stdout.strip().splitlines()[-1])
    assert result["version"] == "v1" and result["promoted"]
    assert set(result["metrics"]) == {"hist_gradient_boosting", "logistic_regression", "rule_score"}
    assert result["served"] in result["metrics"]
    second = json.loads(runner.invoke(cli, args).stdout.strip().splitlines()[-1])
    assert second["version"] == "v2" and not second["promoted"]  # same data, same seed: no better
    registry = Registry(tmp_path)
    assert registry.served("risk") == "v1"
    meta = registry.meta("risk", "v2")
    assert meta["data"]["schools"] == 300 and meta["data"]["store_meta"]["seed"] == 7
    assert meta["served_model_brier_on_this_test"] == meta["metrics"]["brier"]

    school = str(history_store.load_panel(tmp_path, "2026-02-01", "2026-02-02").school_id[5])
    shown = runner.invoke(cli, ["ml", "explain-risk", school, "--store", str(tmp_path), "--registry", str(tmp_path),
                                "--top", "100"])
    assert shown.exit_code == 0, shown.output
    why = json.loads(shown.stdout)
    assert why["version"] == "v1" and 0 <= why["prediction"] <= 1
    assert why["base"] + sum(why["contributions"].values()) == pytest.approx(why["prediction"], abs=1e-9)
