"""The model registry: versions with their provenance, and promotion only on a better backtest."""

from __future__ import annotations

import json

import pytest

from ml.registry import Registry, code_version


def _meta(brier: float) -> dict:
    return {"metrics": {"brier": brier, "roc_auc": 0.7}, "training_window": {"first": "2024-01-01"}}


def test_versions_count_up_and_keep_their_meta(tmp_path):
    reg = Registry(tmp_path)
    assert reg.list("risk") == [] and reg.served("risk") is None
    v1 = reg.register("risk", b"model one", _meta(0.05))
    source = tmp_path / "weights.pt"
    source.write_bytes(b"model two")
    v2 = reg.register("risk", source, _meta(0.04))
    assert (v1, v2) == ("v1", "v2")
    assert reg.load_bytes("risk", v2) == b"model two"
    listed = reg.list("risk")
    assert [m["version"] for m in listed] == ["v1", "v2"]
    assert listed[0]["metrics"]["brier"] == 0.05 and listed[0]["code_version"] == code_version()
    assert {"created_at", "model_sha256", "training_window"} <= set(listed[1])
    assert not [p for p in (tmp_path / "models" / "risk").iterdir() if p.name.startswith(".")]  # no leftovers
    assert reg.list("demand") == []


def test_promotes_only_a_better_version(tmp_path):
    reg = Registry(tmp_path)
    first = reg.register("risk", b"a", _meta(0.050))
    assert reg.promote_if_better("risk", first, "brier", higher_is_better=False)
    assert not reg.promote_if_better("risk", first, "brier", higher_is_better=False)  # already served
    worse = reg.register("risk", b"b", _meta(0.060))
    tie = reg.register("risk", b"c", _meta(0.050))
    assert not reg.promote_if_better("risk", worse, "brier", higher_is_better=False)
    assert not reg.promote_if_better("risk", tie, "brier", higher_is_better=False)
    assert reg.served("risk") == first
    better = reg.register("risk", b"d", _meta(0.045))
    assert reg.promote_if_better("risk", better, "brier", higher_is_better=False)
    assert reg.served("risk") == better
    pointer = json.loads((tmp_path / "models" / "risk" / "served.json").read_text())
    assert pointer["replaced"] == first and pointer["value"] == 0.045
    # higher-is-better metrics, and the served model re-scored on the candidate's own window
    assert not reg.promote_if_better("risk", worse, "roc_auc", higher_is_better=True)  # 0.7 is no better
    assert not reg.promote_if_better("risk", worse, "brier", higher_is_better=False, incumbent_value=0.059)
    assert reg.promote_if_better("risk", worse, "brier", higher_is_better=False, incumbent_value=0.061)


def test_rejects_kinds_that_would_escape_the_registry(tmp_path):
    with pytest.raises(ValueError):
        Registry(tmp_path).register("../x", b"", _meta(0.1))
