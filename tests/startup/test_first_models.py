"""The models' first history and training run beside the twin: its start does not wait for them, and
a stop part-way tells the history to stop."""

import asyncio
import threading

from configs import Settings
from configs.settings import Models
from serve_app.forecasts import upkeep
from startup.runtime import RunningTwin, _look_after_models


async def test_the_start_returns_while_the_history_is_made_and_a_stop_reaches_it(tmp_path, monkeypatch):
    started, stopped = threading.Event(), threading.Event()

    def slow_history(settings, say, stop):  # stands in for ensure_history
        started.set()
        stop.wait(30)  # a history that takes as long as the twin lets it
        if stop.is_set():
            stopped.set()
        return False

    monkeypatch.setattr(upkeep, "ensure_history", slow_history)
    settings = Settings(data_dir=str(tmp_path), models=Models(root=str(tmp_path), retrain_daily=False))
    twin = RunningTwin(settings, cluster=None)
    await asyncio.wait_for(_look_after_models(twin, lambda _line: None), 5)  # returns at once
    assert len(twin.background) == 1 and not twin.background[0].done()
    assert await asyncio.to_thread(started.wait, 10)
    twin.background[0].cancel()  # what stop_twin does
    await asyncio.gather(*twin.background, return_exceptions=True)
    assert await asyncio.to_thread(stopped.wait, 10)
