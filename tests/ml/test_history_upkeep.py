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
