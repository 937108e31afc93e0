"""Keeping the learned models fed and current: on the first start, simulate the history they learn
from and train them in the background; every day, append the live twin's recent days to that
history and retrain (a new model is served only if it beats the served one)."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import threading
from collections.abc import Callable
from pathlib import Path

from configs import Settings
from configs.settings import models_root
from db.engine import create_engine
from db.school_repository import SchoolRepository
from ml import history_store
from ml.history_writer import write_history, years_before
from ml.jobs import JobFiles, run_job
from ml.registry import Registry
from simulation.progress import ProgressLine
from twin.errors import Conflict

Say = Callable[[str], None]
RETRAIN = "retrain"
FORECAST_KIND = "forecaster"  # ml.serving's; the modules that train and serve load torch: imported where used


def ensure_history(settings: Settings, say: Say = print, stop: threading.Event | None = None) -> bool:
    """Simulate `models.history_years` of daily history of the twin's schools (an even sample of at
    most `models.history_schools` of them), ending the day before the live feed starts, unless the
    store holds one. Says how far it is, with an estimate from the pace measured so far. True when
    it was made now. Once `stop` is set it stops within a day, and an unfinished history is removed
    (a later start would otherwise take its first months for the whole)."""
    root = Path(models_root(settings))
    if history_store.months(root):
        return False
    legacy = list(history_store.history_dir(root).rglob("*.parquet"))
    if legacy:  # the store's format before it kept numpy arrays
        say(f"the Parquet files of an earlier history store in {history_store.history_dir(root)} ({len(legacy)}) are "
            f"no longer read: the history is simulated again (delete them to free the space)")
    last = dt.date.fromisoformat(settings.feed.start_date)
    sample = min(settings.schools, settings.models.history_schools)
    of = f"{sample:,} schools" if sample == settings.schools else f"a sample of {sample:,} of the {settings.schools:,} schools"
    say(f"models: simulating {settings.models.history_years} years of daily history of {of} (once, beside the live "
        f"twin; about {HISTORY_S_PER_SCHOOL_YEAR * sample * settings.models.history_years:.0f} s of a free core)")
    line = ProgressLine("models' history", say)

    def progress(done: int, total: int) -> None:
        if stop is not None and stop.is_set():
            raise HistoryStopped
        line(done, total)

    try:
        write_history(root, settings.schools, settings.seed, years_before(last, settings.models.history_years), last,
                      progress=progress, most_schools=settings.models.history_schools)
    except HistoryStopped:
        history_store.remove_months(root)
        say("models' history: stopped, the unfinished months removed (made again on the next start)")
        return False
    return True


class HistoryStopped(Exception):
    """The twin stopped while the models' history was being made."""


# Seconds of one core to simulate and store one school's year of history: Tamil Nadu's 43,000
# schools over 3 years took ~20 s on an idle core (`mealtwin bench ml`, benchmarks/README.md).
HISTORY_S_PER_SCHOOL_YEAR = 20 / (43_000 * 3)


def needs_training(settings: Settings) -> bool:
    return Registry(Path(models_root(settings))).served(FORECAST_KIND) is None


def retrain_job(root: Path, requested_by: str, options: dict | None = None) -> tuple[dict, Callable[[], object]]:
    """A retraining recorded as a job: the job, and its work for a thread or a Ray task to run.
    Conflict when one is running already."""
    jobs = JobFiles(root)
    running = jobs.active(RETRAIN)
    if running is not None:
        raise Conflict(f"a retraining is already running (job {running['id']})", {"job_id": running["id"]})
    job = jobs.create(RETRAIN, requested_by)
    return job, functools.partial(run_job, root, job["id"], functools.partial(_retrain, root, options or {}))


def _retrain(root: Path, options: dict, progress: Callable[[str, float], None]) -> dict:
    from ml.pipeline import retrain

    return retrain(root, progress=progress, **options)


async def daily_upkeep(settings: Settings, run: Callable[[Callable[[], object]], object]) -> None:
    """Append the live twin's recent days to the history store, then retrain (run by `run`)."""
    from actors.remote import TwinCluster
    from ml.live_panel import panel_from_states
    from ml.serving import append_live_days

    root = Path(models_root(settings))
    cluster = await asyncio.to_thread(TwinCluster.attach)
    states = await cluster.router().state_copies()
    engine = create_engine(settings.database_url)
    try:
        directory, _ = await SchoolRepository(engine).load_directory()
    finally:
        await engine.dispose()
    panel = await asyncio.to_thread(panel_from_states, states, directory)
    await asyncio.to_thread(append_live_days, root, panel)
    _, work = retrain_job(root, "daily schedule")
    await run(work)
    # then every school's next week with the model now served, in chunks (bounded memory at India's
    # scale: see ml.forecast_all), here where the panel already is
    await asyncio.to_thread(forecast_every_school_served, root, panel)


def forecast_every_school_served(root: Path, panel) -> dict | None:  # noqa: ANN001 - an ml.panel.Panel
    """Every school of `panel` forecast by the served forecaster and kept under `root`
    (`ml.forecast_all`); None when no forecaster is served yet."""
    from ml.forecast_all import forecast_every_school
    from ml.forecaster import DemandForecaster

    registry = Registry(root)
    version = registry.served(FORECAST_KIND)
    if version is None:
        return None
    forecaster = DemandForecaster.from_bytes(registry.load_bytes(FORECAST_KIND, version))
    return forecast_every_school(forecaster, panel.schools, panel.n_schools, root, model_version=version)
