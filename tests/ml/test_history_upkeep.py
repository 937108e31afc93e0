"""The twin's first start makes the models' history once, and says what it does with files of the
store's earlier format."""

from __future__ import annotations

from configs import Settings
from configs.settings import Models
from ml import history_store
from serve_app.forecasts.upkeep import ensure_history


def test_history_is_made_once_and_an_earlier_parquet_store_is_named(tmp_path):
    settings = Settings(schools=40, models=Models(root=str(tmp_path), history_years=1))
    old = history_store.history_dir(tmp_path) / "2024-05.parquet"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"PAR1")
    said: list[str] = []
    assert ensure_history(settings, said.append)
    assert any("Parquet files" in line and "(1) are no longer read" in line for line in said), said
    info = history_store.describe(tmp_path)
    assert info["schools"] == 40 and info["months"] in (12, 13)
    assert info["last_day"] < settings.feed.start_date
    assert not ensure_history(settings, said.append)  # held already: nothing made again
    assert old.exists()  # not ours to delete


def test_a_twin_larger_than_the_history_bound_gets_an_even_sample_of_its_schools(tmp_path):
    import numpy as np

    from ml.history import synthetic_schools

    settings = Settings(schools=2_000, models=Models(root=str(tmp_path), history_years=1, history_schools=500))
    said: list[str] = []
    assert ensure_history(settings, said.append)
    assert any("a sample of 500 of the 2,000 schools" in line for line in said), said
    assert any("models' history:" in line and "(100%)" in line and line.endswith("done") for line in said), said
    info = history_store.describe(tmp_path)
    assert info["schools"] == 500
    stored = history_store.load_schools(tmp_path)["school_id"]
    twin = synthetic_schools(2_000, settings.seed)
    assert np.isin(stored, twin.udise).all()  # the twin's own schools, not another set
    # spread over the twin's districts as the twin is, not the first 500 of its order
    twin_share = np.bincount(twin.district, minlength=38) / len(twin)
    sample_share = np.bincount(twin.district[np.isin(twin.udise, stored)], minlength=38) / 500
    assert np.abs(twin_share - sample_share).max() < 0.01


def test_a_history_stopped_part_way_leaves_no_months_behind(tmp_path):
    import threading

    settings = Settings(schools=40, models=Models(root=str(tmp_path), history_years=1))
    stop = threading.Event()
    said: list[str] = []

    def say(line: str) -> None:
        said.append(line)
        if "models' history:" in line:  # a tenth done: the twin stops now
            stop.set()

    assert not ensure_history(settings, say, stop)
    assert history_store.months(tmp_path) == [] and not history_store.has_schools(tmp_path)
    assert "stopped" in said[-1]
    assert ensure_history(settings, said.append)  # the next start makes it whole
