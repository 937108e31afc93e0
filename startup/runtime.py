"""Bring the whole twin up (database, schools, Ray actors, Serve) and down again.

`mealtwin up` and `mealtwin bench ingest` both start the twin through `start_twin`, so the
start-up the benchmark measures is the one users get.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from pathlib import Path
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from actors.remote import TwinCluster, ray_running, shutdown_ray, start_ray
from configs import Settings
from configs.settings import models_root, ray_process_env
from db import school_arrays
from db.engine import create_engine
from db.migrate import upgrade_async
from db.school_repository import SchoolRepository
from startup.deployment import run_app, shutdown_app
from startup.ray_tools import write_ray_env
from startup.actor_ports import desk_ports_opener, shard_ports_opener
from simulation.progress import ProgressLine
from twin import geography
from twin.errors import Conflict
from twin.placement import pack_districts, shard_loads

Say = Callable[[str], None]


@dataclass
class RunningTwin:
    settings: Settings
    cluster: TwinCluster
    timings: dict = field(default_factory=dict)
    background: list = field(default_factory=list)  # tasks of the running twin (the models' first training)
    serves_api: bool = True
    owns_ray: bool = True  # a Ray started for this twin (not an existing cluster it joined)

    @property
    def base_url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.port}"


async def prepare_database(settings: Settings, say: Say = print, progress: Callable | None = None) -> int:
    """Migrate, and generate the synthetic schools if the table is empty. Returns the school count."""
    await upgrade_async(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        repo = SchoolRepository(engine)
        count = await repo.count()
        if count == 0:
            say(f"generating {settings.schools:,} synthetic schools (seed {settings.seed})")
            if progress is None:
                progress = functools.partial(ProgressLine("schools written", say), total=settings.schools)
            count = await generate_schools_into(repo, settings.schools, settings.seed, progress, say)
        return count
    finally:
        await engine.dispose()


async def generate_schools_into(repo: SchoolRepository, n: int, seed: int, progress: Callable | None = None,
                                say: Say = lambda message: None) -> int:
    from serve_app.schools.rows import to_rows
    from simulation.synthetic_schools import generate_schools

    table = await asyncio.to_thread(generate_schools, n, seed)
    done = await repo.insert_many(to_rows(table), progress)
    say(f"storing the directory of {done:,} schools as arrays, which every process of the twin reads")
    await repo.store_arrays()  # `db.school_arrays`
    return done


async def start_twin(settings: Settings, say: Say = print, serve_api: bool = True) -> RunningTwin:
    started = time.perf_counter()
    timings: dict = {}
    schools = await prepare_database(settings, say)
    timings["database_s"] = time.perf_counter() - started

    mark = time.perf_counter()
    engine = create_engine(settings.database_url)
    try:  # stored as arrays (if not already), which the shards, the state actor and the replicas read
        directory = (await school_arrays.refresh(engine)).directory()
    finally:
        await engine.dispose()
    timings["directory_s"] = time.perf_counter() - mark
    n_districts = len(geography.district_names())
    placement = pack_districts(directory.school_district, n_districts, settings.placement.shard_count(n_districts))

    if settings.ray_address is None:  # a local Ray: its processes inherit this one's limit
        settings = _with_open_files(settings, say)
    mark = time.perf_counter()
    endpoints = start_ray(settings.ray_address, settings.ray_object_store_mib, ray_process_env(settings),
                          settings.ray_dashboard_port if settings.ray_dashboard else None)
    timings["ray_s"] = time.perf_counter() - mark
    ray_env = write_ray_env(settings.data_dir, endpoints)
    say(f"Ray at {endpoints.gcs_address}" + (f", dashboard {endpoints.dashboard_url}" if endpoints.dashboard_url else "")
        + f"; for `ray status` and `serve status`: set -a; . {ray_env}; set +a")
    actors = f"{len(placement)} shard actor" + ("s" if len(placement) != 1 else "")
    say(f"{schools:,} schools in {n_districts} districts on {actors}; recovering from snapshots and log")
    mark = time.perf_counter()
    cluster = TwinCluster.start(placement, shard_ports_opener(settings), settings.snapshot.every_events,
                                settings.snapshot.every_seconds,
                                stream_history=None if settings.redis_url else settings.streams.history_messages,
                                stream_history_s=settings.streams.history_seconds,
                                stream_journal_dir=str(Path(settings.data_dir).resolve() / "broker"),
                                open_desk=desk_ports_opener(settings), risk_rules=settings.risk,
                                alert_rules=settings.alerts,
                                shard_loads=shard_loads(placement, directory.school_district, n_districts))
    statuses = await cluster.wait_ready()
    nodes = {s["node"] for s in statuses}
    if len(nodes) > 1:  # a cluster: say where the shards went (one machine's output stays as it was)
        say(f"shards on {len(nodes)} Ray nodes: " + ", ".join(
            f"{node[:12]} {sum(s['node'] == node for s in statuses)}" for node in sorted(nodes)))
    timings["shards_s"] = time.perf_counter() - mark
    say(f"shards ready: {sum(s['replayed'] for s in statuses):,} events replayed, log at seq "
        f"{max(s['applied_seq'] for s in statuses):,}")
    if serve_api:
        mark = time.perf_counter()
        await asyncio.to_thread(run_app, settings)
        twin = RunningTwin(settings, cluster, timings)
        await wait_ready(twin.base_url)
        timings["serve_s"] = time.perf_counter() - mark
    timings["startup_s"] = time.perf_counter() - started
    twin = RunningTwin(settings, cluster, timings, serves_api=serve_api, owns_ray=endpoints.started_here)
    await _look_after_models(twin, say)
    await _schedule_recommendations(twin, say)
    await _follow_risk(twin, say)
    return twin


async def _look_after_models(twin: RunningTwin, say: Say) -> None:
    """The models' history and first training (in the background), and their daily upkeep."""
    settings = twin.settings
    if not (settings.models.bootstrap or settings.models.retrain_daily):
        return
    from actors.background import run_on_ray
    from actors.daily import start_daily
    from serve_app.forecasts.upkeep import daily_upkeep

    if settings.models.bootstrap:
        # in the background: the twin, its API and the live feed never wait for the models
        twin.background.append(asyncio.create_task(_first_models(settings, say)))
    if settings.models.retrain_daily:
        _, first = await asyncio.to_thread(start_daily, settings.models.retrain_at, settings.models.retrain_timezone,
                                           functools.partial(daily_upkeep, settings, run_on_ray))
        say(f"models: the live days are added to their history and they retrain daily at "
            f"{settings.models.retrain_at} {settings.models.retrain_timezone} (next {first})")


def _with_open_files(settings: Settings, say: Say) -> Settings:
    """Raise the limit on open files to what HAProxy needs for `haproxy_maxconn` connections; where
    that is not permitted, HAProxy would not start at all: lower its maxconn to fit, and say so."""
    from startup.open_files import allow_open_files, haproxy_open_files, maxconn_within

    limit = allow_open_files(haproxy_open_files(settings.haproxy_maxconn))
    if limit >= haproxy_open_files(settings.haproxy_maxconn):
        return settings
    fits = maxconn_within(limit)
    say(f"open files are limited to {limit:,} here: HAProxy holds {fits:,} connections, not "
        f"{settings.haproxy_maxconn:,} (raise the hard limit, `ulimit -Hn`, for more WebSocket viewers)")
    return settings.model_copy(update={"haproxy_maxconn": fits})


async def _first_models(settings: Settings, say: Say) -> None:
    """The models' history (bounded: `models.history_schools`) and then their first training."""
    from actors.background import run_on_ray
    from serve_app.forecasts.upkeep import ensure_history, needs_training, retrain_job

    stop = threading.Event()
    try:
        await asyncio.to_thread(ensure_history, settings, say, stop)
    except asyncio.CancelledError:
        stop.set()  # the thread stops at its next day and takes the unfinished history away
        raise
    if not needs_training(settings):
        return
    try:
        job, work = retrain_job(Path(models_root(settings)), "first start")
    except Conflict:
        return  # one is running already
    say(f"training the models in the background (a few minutes); progress: GET "
        f"/api/v1/predictions/retrain/{job['id']}")
    await run_on_ray(work)


async def _schedule_recommendations(twin: RunningTwin, say: Say) -> None:
    """The daily state-wide optimisation run, when `optimisation.run_daily_at` is set."""
    rule = twin.settings.optimisation
    if rule.run_daily_at is None:
        return
    from actors.daily import start_daily
    from startup.recommendation_schedule import daily_optimisation

    _, first = await asyncio.to_thread(start_daily, rule.run_daily_at, rule.run_timezone,
                                       functools.partial(daily_optimisation, twin.settings), "optimisation-daily")
    say(f"recommendations: recomputed for the state daily at {rule.run_daily_at} {rule.run_timezone} (next {first})")


async def _follow_risk(twin: RunningTwin, say: Say) -> None:
    """A block re-solved alone when the twin crosses a risk threshold in it, when
    `optimisation.recompute_on_risk` is set."""
    rule = twin.settings.optimisation
    if not rule.recompute_on_risk:
        return
    from actors.follower import start_follower
    from startup.recommendation_triggers import follow_risk

    await asyncio.to_thread(start_follower, functools.partial(follow_risk, twin.settings), "optimisation-risk")
    say(f"recommendations: a block is re-solved {rule.risk_settle_s:g} s after its risk alerts settle "
        f"(at most every {rule.risk_debounce_s:g} s)")


async def wait_ready(base_url: str, timeout_s: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        while True:
            try:
                response = await client.get("/ready")
                if response.status_code == 200:
                    return response.json()["data"]
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{base_url}/ready did not answer 200 within {timeout_s:.0f}s")
            await asyncio.sleep(0.5)


async def stop_twin(twin: RunningTwin | None = None, say: Say = lambda message: None) -> None:
    """Stop in order: the twin's background work, Serve (no request is taken any more), the shards
    after a final snapshot, the state actor and the stream broker, then Ray with every process it
    started. `twin` is None when the start was interrupted: whatever of Serve and Ray is up goes.
    The blocking steps run in threads, so the caller's loop still hears a second signal."""
    if twin is None and not ray_running():
        return  # interrupted before Ray started: nothing runs yet (and Serve would start a Ray to look)
    try:
        if twin is not None:
            for task in twin.background:
                task.cancel()
            await asyncio.gather(*twin.background, return_exceptions=True)
        # Serve goes first when this twin started it, or when it is on this twin's own Ray (an app
        # deployed there with `serve deploy` must not outlive the shards it sends events to); one
        # that others deployed on a shared cluster is theirs to stop
        if twin is None or twin.serves_api or twin.owns_ray:
            say("stopping the API")
            await asyncio.to_thread(shutdown_app, twin.settings.port if twin is not None else None)
        if twin is not None:
            say("final snapshots of the shards")
            stored = await twin.cluster.stop()
            if stored:
                say(f"shards stopped at log seq {max(stored):,}")
    finally:
        say("stopping Ray")
        await asyncio.to_thread(shutdown_ray)
