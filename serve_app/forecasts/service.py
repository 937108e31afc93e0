"""The learned models behind the API: 7-day meal forecasts and the learned risk probability from
the live twin's recent days, the accuracy board, and retraining jobs.

Inference runs in a worker thread (never on the event loop). The recent days come from the shards'
state of only the districts of the schools asked (at India scale one shard holds 1.08 M schools:
the whole state is ~960 MiB to copy and its recent days ~880 MiB to keep), and are kept by the
districts they cover, up to `recent_schools` schools in all, least recently used out first. Kept
days serve any request within their districts; they are rebuilt at most every `cache_s` seconds,
when the twin's day moves on, or when a school asked was registered since. A forecast goes into
the read cache (Redis or memory, `serve_app.shared.read_cache`) under a key naming all it depends
on: the served model's version, the recent days' version (the applied log seq of each district
they were built from), the schools and the rain. A new model or a rebuild of the recent days is a
new key, so nothing is invalidated by hand, and replicas that built the same days share answers.

The models' code (torch, scikit-learn: ~1 GiB over two replicas) is imported on the
first request that needs it, not when a replica starts: ingest and reads never pay for it."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from pathlib import Path

import numpy as np

from ml.forecast_files import NightlyForecasts
from ml.jobs import JobFiles
from ml.registry import Registry
from serve_app.shared.live_copy import LiveStates, TwinDay, live_copy
from serve_app.shared.read_cache import CachedReads
from twin import geography
from twin.area import Area
from twin.directory import Directory
from twin.errors import InvalidInput, NotFound, Unavailable
from twin.norms import day_date
from twin.state import NO_DAY, ShardState

if TYPE_CHECKING:
    from ml.panel import Panel
    from ml.serving import ServedModels

FORECAST_KIND, RISK_KIND = "forecaster", "risk"  # the registry's kinds (ml.serving, ml.risk_model)

HORIZON = 7
_NOTE = ("P10-P90 of each school; the total's band is the sum of the schools' bands (a planning range, wider than "
         "a calibrated interval of the sum)")
# Runs a job's work somewhere else than the event loop (a Ray task, or a thread without Ray).
Background = Callable[[Callable[[], object]], Awaitable[None]]


async def thread_background(work: Callable[[], object]) -> None:
    await asyncio.to_thread(work)


class ModelService:
    def __init__(self, root: Path, directory: Directory, live_states: LiveStates,
                 twin_day: TwinDay, background: Background = thread_background,
                 cache_s: float = 600.0, retrain_options: dict | None = None,
                 read_cache: CachedReads | None = None, recent_schools: int = 100_000) -> None:
        self.root = root
        self._directory = directory
        self._live_states = live_states  # a copy of the shards' state: costly, so its recent days are kept
        self._twin_day = twin_day  # cheap: has the twin moved to a new day?
        self._background = background
        self._cache_s = cache_s
        self._served: ServedModels | None = None
        self._jobs = JobFiles(root)
        self._nightly_files = NightlyForecasts(root)  # the nightly job's forecasts of every school
        self._recent: OrderedDict[frozenset[int], RecentDays] = OrderedDict()  # by districts, least recently used first
        self._recent_schools = recent_schools  # the schools kept in `_recent` beyond its newest (~850 B each)
        self.read_cache = read_cache  # forecasts kept by `forecast_key`; None: none kept
        self._lock = asyncio.Lock()
        self._running: set[asyncio.Task] = set()
        self.retrain_options = retrain_options or {}  # sample sizes and model options of `ml.pipeline.retrain`

    # ---- forecasts ------------------------------------------------------------------------

    async def forecast(self, schools: np.ndarray, rain_mm: list[float] | None) -> dict:
        """The next 7 school days of `schools` (directory indices): per school, and their sum. From
        the nightly job's files when they are of the twin's day and the served forecaster, and no
        rain is given (`source` "nightly"); otherwise computed from the recent days ("computed")."""
        if rain_mm is None:
            nightly = await self._nightly(schools)
            if nightly is not None:
                return nightly
        forecast = None
        served = await self._served_version(FORECAST_KIND)
        if served is not None:
            recent = await self._recent_days(schools)

            async def compute() -> dict | None:
                return await asyncio.to_thread(self._forecast, recent, schools, rain_mm, served)

            if self.read_cache is None:
                forecast = await compute()
            else:
                forecast = await self.read_cache.get_or_compute(
                    forecast_key(served.get("version"), recent.version, schools, rain_mm), compute)
        if forecast is None:
            raise Unavailable("no forecaster is trained yet: it is trained on the first start (a few minutes) and "
                              "then daily; a state admin can start it with POST /api/v1/predictions/retrain")
        return forecast

    def _forecast(self, recent: RecentDays, schools: np.ndarray, rain_mm: list[float] | None,
                  served: dict) -> dict | None:
        part = recent.of(schools)
        result = self._models.forecast(part, self._rain(part, rain_mm))
        if result is None:
            return None
        dates = [str(d) for d in result.dates[0]]
        per_school = [{"school_id": f"{int(s):011d}", "days": _days(dates, result.p10[k], result.p50[k], result.p90[k])}
                      for k, s in enumerate(result.school_id)]
        total = _days(dates, result.p10.sum(0), result.p50.sum(0), result.p90.sum(0))
        return {"origin": str(result.origin), "model": {"version": served.get("version"), "kind": served.get("model")},
                "rain_forecast_mm": rain_mm, "schools": per_school, "total": total, "note": _NOTE, "source": "computed"}

    async def _nightly(self, schools: np.ndarray) -> dict | None:
        """The forecasts of `schools` in the nightly job's newest files, if those are of the twin's
        day and the forecaster served now; None otherwise. Any replica reads them: they lie under
        the models' root in the twin's data folder, which every replica is given."""
        day = await self._twin_day()
        if day == NO_DAY or schools.size == 0:
            return None
        return await asyncio.to_thread(self._nightly_answer, schools, str(day_date(day)))

    def _nightly_answer(self, schools: np.ndarray, origin: str) -> dict | None:
        registry = Registry(self.root)
        version = registry.served(FORECAST_KIND)
        if version is None:
            return None
        found = self._nightly_files.of(schools, self._directory.school_ids[schools], origin, version)
        if found is None:
            return None
        dates = [str(d) for d in found["dates"][0]]
        per_school = [{"school_id": f"{int(s):011d}", "days": _days(dates, found["p10"][k], found["p50"][k], found["p90"][k])}
                      for k, s in enumerate(found["school_id"])]
        total = _days(dates, found["p10"].sum(0), found["p50"].sum(0), found["p90"].sum(0))
        kind = registry.meta(FORECAST_KIND, version).get("model")
        return {"origin": origin, "model": {"version": version, "kind": kind}, "rain_forecast_mm": None,
                "schools": per_school, "total": total, "note": _NOTE, "source": "nightly"}

    @staticmethod
    def _rain(part: Panel, rain_mm: list[float] | None) -> np.ndarray | None:
        """A caller's rain forecast for the schools' district, over each district's recent mean (the
        forecaster's own assumption without one)."""
        if rain_mm is None:
            return None
        from ml.forecast_features import recent_rain

        rain = np.tile(np.nan_to_num(recent_rain(part, part.n_days - 1)), (HORIZON, 1)).astype(np.float32)
        for d in np.unique(part.district):
            rain[:, int(d)] = rain_mm
        return rain

    async def learned_risk(self, school: int) -> dict | None:
        """The learned model's probability of a shortage or a day without a meal in the next 7 days,
        with the contributions that add up to it; None while none is served."""
        if await self._served_version(RISK_KIND) is None:
            return None
        recent = await self._recent_days(np.array([school]))
        return await asyncio.to_thread(self._learned_risk, recent, school)

    @property
    def _models(self) -> ServedModels:
        if self._served is None:
            from ml.serving import ServedModels

            self._served = ServedModels(self.root)
        return self._served

    async def _served_version(self, kind: str) -> dict | None:
        """The served version of `kind`, or None (checked, with the registry re-read, before the
        costly view of the recent days is built). With none served, the registry's pointer says so
        and the models' code (torch, scikit-learn: seconds to import) is not loaded to find out."""
        def served() -> dict | None:
            if self._served is None and Registry(self.root).served(kind) is None:
                return None
            self._models.refresh()
            return self._models.versions().get(kind)
        return await asyncio.to_thread(served)

    def _learned_risk(self, recent: RecentDays, school: int) -> dict | None:
        panel, column = recent.panel, int(recent.columns(np.array([school]))[0])
        block = np.flatnonzero(panel.block == panel.block[column])  # the model's block features need the block
        scored = self._models.risk(panel.schools(block), schools=np.array([panel.school_id[column]]))
        if scored is None:
            return None
        explanation = scored["explanations"][0]
        top = dict(list(explanation["contributions"].items())[:8])
        return {"version": scored["version"], "model": scored["model"], "day": scored["day"],
                "probability_7d": round(explanation["probability"], 4), "base": round(explanation["base"], 4),
                "top_contributions": {k: round(v, 4) for k, v in top.items()},
                "other_contributions": round(sum(explanation["contributions"].values()) - sum(top.values()), 4)}

    async def _recent_days(self, schools: np.ndarray) -> RecentDays:
        """Fresh recent days of at least `schools` (directory indices): kept ones if some cover
        them, else built from the state of their districts (see module)."""
        districts = frozenset(np.unique(self._directory.school_district[schools]).tolist())
        async with self._lock:  # one rebuild at a time; the others wait for it
            recent = await self._kept(districts, schools)
            if recent is None:
                recent = await self._build(districts)
                self._keep(recent)
            return recent

    async def _kept(self, districts: frozenset[int], schools: np.ndarray) -> RecentDays | None:
        """The smallest kept recent days covering `schools` of `districts` that are still fresh
        (the smallest: its version names the fewest districts, so other replicas' reads of the
        same districts more likely share its key). Stale ones are dropped."""
        now = time.monotonic()
        for key in [k for k, r in self._recent.items() if now - r.built_at > self._cache_s]:
            del self._recent[key]
        covering = [r for r in self._recent.values() if r.covers(districts, schools)]
        if not covering:
            return None
        today = await self._twin_day()
        for key in [k for k, r in self._recent.items() if r.day != today]:  # all were built before the day moved
            del self._recent[key]
        fresh = [r for r in covering if r.day == today]
        if not fresh:
            return None
        smallest = min(fresh, key=lambda r: r.panel.n_schools)
        self._recent.move_to_end(smallest.districts)
        return smallest

    async def _build(self, districts: frozenset[int]) -> RecentDays:
        """The recent days of every school of `districts`, from a copy of only their state, up to
        the twin's day (`serve_app.shared.live_copy`)."""
        states, today = await live_copy(self._live_states, self._twin_day, sorted(districts))
        from ml.live_panel import panel_from_states

        if today < 0:
            raise Unavailable("the twin has no reports yet: forecasts start with the first school day")
        schools = np.flatnonzero(np.isin(self._directory.school_district, list(districts)))
        panel = await asyncio.to_thread(panel_from_states, states, self._directory, schools=schools, today=today)
        return RecentDays(panel, schools, districts, days_version(states, panel.n_schools), today, time.monotonic())

    def _keep(self, recent: RecentDays) -> None:
        """Keep `recent` (in place of older days of the same districts) and drop the least recently
        used others while more than `recent_schools` schools are kept: the newest is kept alone
        even when larger (a state-wide forecast at India scale), until the next build."""
        self._recent.pop(recent.districts, None)
        self._recent[recent.districts] = recent  # the most recently used
        while len(self._recent) > 1 and sum(r.panel.n_schools for r in self._recent.values()) > self._recent_schools:
            self._recent.popitem(last=False)

    # ---- accuracy and retraining -----------------------------------------------------------

    async def accuracy(self, area: Area) -> dict:
        from ml.pipeline import accuracy

        board = await asyncio.to_thread(accuracy, self.root)
        return _within(board, area)

    async def retrain(self, requested_by: str) -> dict:
        from serve_app.forecasts.upkeep import retrain_job

        job, work = retrain_job(self.root, requested_by, self.retrain_options)
        task = asyncio.get_running_loop().create_task(self._background(work))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return job

    def job(self, job_id: str) -> dict:
        job = self._jobs.get(job_id)
        if job is None:
            raise NotFound(f"no job {job_id}", {"job_id": job_id})
        return {k: v for k, v in job.items() if k != "traceback"}

    def jobs(self) -> list[dict]:
        return [{k: v for k, v in j.items() if k != "traceback"} for j in self._jobs.list()]


@dataclass(frozen=True)
class RecentDays:
    """The recent days of the schools of some districts, and what they were built from."""

    panel: Panel
    schools: np.ndarray  # the directory indices of the panel's columns, ascending
    districts: frozenset[int]
    version: str  # `days_version` of the states they were built from
    day: int  # the twin's day they end on
    built_at: float  # time.monotonic()

    def columns(self, schools: np.ndarray) -> np.ndarray:
        """The panel's columns of `schools` (directory indices, all of them in the panel)."""
        return np.searchsorted(self.schools, schools)

    def covers(self, districts: frozenset[int], schools: np.ndarray) -> bool:
        """Whether these days hold all of `districts` and every one of `schools` (one registered
        since they were built is not)."""
        at = self.columns(schools)
        inside = at < len(self.schools)
        return districts <= self.districts and bool(inside.all()) and bool(np.all(self.schools[at] == schools))

    def of(self, schools: np.ndarray) -> Panel:
        """The recent days of `schools` (directory indices), in their order."""
        return self.panel.schools(self.columns(schools))


def days_version(states: list[ShardState], n_schools: int) -> str:
    """What the recent days were built from: the applied log seq of every district in `states`
    (the copies of the districts they cover), and the schools."""
    seqs = sorted((int(d), int(seq)) for state in states
                  for d, seq in zip(state.district_global.tolist(), state.district_applied_seq.tolist()))
    return hashlib.blake2b(repr((seqs, n_schools)).encode(), digest_size=12).hexdigest()


def forecast_key(model_version: object, days: str, schools: np.ndarray, rain_mm: list[float] | None) -> str:
    """The read cache's key of a forecast: the model, the recent days, the schools and the rain."""
    asked = hashlib.blake2b(np.ascontiguousarray(schools, np.int64).tobytes() + repr(rain_mm).encode(),
                            digest_size=12).hexdigest()
    return f"forecast:{model_version}:{days}:{asked}"


def parse_rain(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != HORIZON or not all(0 <= v <= 1000 for v in values):
        raise InvalidInput(f"rain_mm: {HORIZON} comma-separated millimetres (0-1000), one per school day ahead",
                           {"fields": [{"field": "rain_mm", "message": "7 numbers from 0 to 1000"}]})
    return values


def _days(dates: list[str], p10: np.ndarray, p50: np.ndarray, p90: np.ndarray) -> list[dict]:
    return [{"date": d, "p10": round(float(a), 1), "p50": round(float(b), 1), "p90": round(float(c), 1)}
            for d, a, b, c in zip(dates, p10, p50, p90)]


def _within(board: dict, area: Area) -> dict:
    """The accuracy board as the caller may see it: tables by district cut to the caller's."""
    if area.is_state:
        return board
    names = set(geography.district_names())

    def cut(value):  # noqa: ANN001, ANN202
        if isinstance(value, dict):
            return {k: cut(v) for k, v in value.items() if k not in names or k == area.district}
        if isinstance(value, list):
            return [cut(v) for v in value if not (isinstance(v, dict) and v.get("district") in names
                                                  and v.get("district") != area.district)]
        return value
    return cut(board)

