"""`mealtwin`: run the twin, generate data, feed it, migrate, benchmark."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import sys
from collections.abc import Callable

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from configs import Settings

app = typer.Typer(help="mealtwin: a live digital twin of Tamil Nadu's school noon-meal programme.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
data_app = typer.Typer(help="Synthetic data.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks: each prints one JSON object.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(db_app, name="db")
app.add_typer(bench_app, name="bench")
scenario_app = typer.Typer(help="What-if scenarios: Monte Carlo replications of plans against a baseline.",
                           no_args_is_help=True)
app.add_typer(scenario_app, name="scenario")
users_app = typer.Typer(help="Accounts.", no_args_is_help=True)
app.add_typer(users_app, name="users")
from cli.ml_commands import app as ml_app  # noqa: E402 - heavy imports stay inside the commands
from cli.ml_commands import history as data_history  # noqa: E402

data_app.command("history")(data_history)
app.add_typer(ml_app, name="ml")
console = Console(stderr=True, soft_wrap=True)  # no line breaks inserted in logs


def _logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _say(message: str) -> None:
    console.print(f"[bold green]mealtwin[/] {message}")


def _bench_progress(json_out: bool) -> Callable[[str], None]:
    """How a benchmark tells its progress: not at all when only its JSON is wanted."""
    return (lambda _message: None) if json_out else _say


def _print_result(result: dict, json_out: bool, **dumps) -> None:  # noqa: ANN003
    """A benchmark's figures: one line of JSON with --json, indented for a reader otherwise."""
    print(json.dumps(result, indent=None if json_out else 2, **dumps))


@app.command()
def up(
    feed: bool = typer.Option(True, help="run the live feed of every school in Tamil Nadu"),
    days: int = typer.Option(0, help="stop the feed after this many simulated days (0: run until Ctrl-C)"),
    api: bool = typer.Option(True, help="serve the API here (--no-api: only the shards, for `serve run "
                                        "configs/serve.yaml` against this Ray)"),
    ray_address: str = typer.Option(None, help="run on this existing Ray cluster (its head's host:port); "
                                               "default: MEALTWIN_RAY_ADDRESS, else RAY_ADDRESS, else a local Ray"),
    schools: int = typer.Option(None, min=10, help="schools generated on a first start (default MEALTWIN_SCHOOLS, "
                                                   "else 43,000; 1080000: India scale, see the README)"),
) -> None:
    """Set up (migrate, generate schools if none) and run the twin: shards on Ray, the API on Ray
    Serve, and the live feed."""
    _logging(logging.WARNING)
    settings = Settings()
    if ray_address:
        settings = settings.model_copy(update={"ray_address": ray_address})
    if schools:
        settings = settings.model_copy(update={"schools": schools})
    asyncio.run(_up(settings, feed and api, days or None, api))


async def _up(settings: Settings, feed: bool, days: int | None, api: bool = True) -> None:
    from cli.stop_signals import StopSignals
    from startup.runtime import start_twin, stop_twin

    # SIGTERM (a service manager, `kill`) and SIGINT (Ctrl-C) stop the twin in order, a second one
    # forces it (see cli.stop_signals); without this Serve's HAProxy and Ray's agents outlived a
    # driver that just died, and kept the port
    StopSignals(_say).install(asyncio.current_task())
    twin = None
    tasks: list[asyncio.Task] = []
    try:
        twin = await start_twin(settings, _say, serve_api=api)
        if api:
            _say(f"ready in {twin.timings['startup_s']:.1f}s: API {twin.base_url}/api/docs, "
                 f"state {twin.base_url}/api/v1/twin/state")
            _say(f"dashboard {twin.base_url}/ : sign in with an account's email and password (make the first "
                 "state admin with `mealtwin users create-admin --email E --full-name N`; they create the others)")
        else:
            _say(f"shards ready in {twin.timings['startup_s']:.1f}s; serve the API with "
                 "`RAY_ADDRESS=auto serve run configs/serve.yaml`")
        tasks.append(asyncio.create_task(_watch(twin)))
        if feed:
            tasks.append(asyncio.create_task(_feed(settings, twin.base_url, days)))
        await asyncio.gather(*tasks)
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass
    finally:
        # the feed first: a batch in flight is answered or dropped before Serve goes
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        _say("stopping")
        await stop_twin(twin, _say)
        _say("stopped")


async def _watch(twin) -> None:  # noqa: ANN001
    """Ping the shards: Ray restarts a dead one, and its recovery shows up here."""
    while True:
        await asyncio.sleep(2)
        try:
            await twin.cluster.check()
        except Exception as exc:  # noqa: BLE001 - a shard mid-restart answers late; try again
            logging.getLogger("mealtwin").warning("shard check failed: %s", exc)


async def _feed(settings: Settings, base_url: str, days: int | None) -> None:
    import httpx

    from cli.credentials import feed_api_key
    from cli.feed import run_feed
    from serve_app.schools.rows import from_rows
    from db.engine import create_engine
    from db.school_repository import SchoolRepository
    from simulation.world import World

    engine = create_engine(settings.database_url)
    _say("feed: reading the schools for the world model")
    table = from_rows(await SchoolRepository(engine).all())
    await engine.dispose()
    api_key = await feed_api_key(settings)
    async with httpx.AsyncClient(base_url=base_url, timeout=30, headers={"X-API-Key": api_key}) as client:
        state = (await client.get("/api/v1/twin/state")).json()["data"]
    start = dt.date.fromisoformat(settings.feed.start_date)
    resuming = state.get("today") is not None
    if resuming:  # carry on from the twin's latest day rather than replaying the past
        start = dt.date.fromisoformat(state["today"]) + dt.timedelta(days=1)
        _say(f"feed: resuming at {start}")
    world = World(table, seed=settings.feed.seed, start=start)
    await run_feed(base_url, world, settings.feed.seconds_per_day, settings.feed.batch_size, days,
                   send_opening=not resuming, say=_say, api_key=api_key)


@app.command()
def feed(
    url: str = typer.Option("http://127.0.0.1:8000", help="the twin's API"),
    days: int = typer.Option(0, help="simulated days to send (0: until Ctrl-C)"),
    seconds_per_day: float = typer.Option(None, help="real seconds per simulated day (default from settings)"),
) -> None:
    """Feed a running twin from the world model."""
    _logging(logging.WARNING)
    settings = Settings()
    if seconds_per_day:
        settings.feed.seconds_per_day = seconds_per_day
    asyncio.run(_feed(settings, url, days or None))


@users_app.command("create-admin")
def users_create_admin(
    email: str = typer.Option(..., help="the admin's email (their sign-in name)"),
    full_name: str = typer.Option(..., help="the admin's full name"),
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True,
                                 help="asked for when not given (it is not echoed)"),
) -> None:
    """Create a state admin: the first account, who then creates the others through the API."""
    from cli.credentials import create_admin
    from twin.errors import TwinError

    _logging(logging.WARNING)
    try:
        user = asyncio.run(create_admin(Settings(), email, full_name, password))
    except TwinError as exc:
        console.print(f"[bold red]not created:[/] {exc.message}")
        raise typer.Exit(1) from None
    _say(f"state admin {user['email']} created (id {user['id']}): sign in at POST /api/v1/auth/login")


@data_app.command("generate")
def data_generate(
    schools: int = typer.Option(None, help="how many schools (default from settings: about 43,000)"),
    seed: int = typer.Option(None, help="random seed"),
    replace: bool = typer.Option(False, help="delete the existing schools, events and snapshots first"),
) -> None:
    """Generate realistic synthetic schools for all 38 districts and 391 blocks into the database."""
    settings = Settings()
    asyncio.run(_generate(settings, schools or settings.schools, settings.seed if seed is None else seed, replace))


async def _generate(settings: Settings, n: int, seed: int, replace: bool) -> None:
    from sqlalchemy import delete

    from startup.runtime import generate_schools_into
    from db.engine import create_engine
    from db.migrate import upgrade_async
    from db.school_repository import SchoolRepository
    from db.tables import events, schools, snapshots

    await upgrade_async(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        repo = SchoolRepository(engine)
        existing = await repo.count()
        if existing and not replace:
            _say(f"the database already has {existing:,} schools; use --replace to start afresh")
            raise typer.Exit(1)
        if existing:
            async with engine.begin() as conn:
                for table in (snapshots, events, schools):
                    await conn.execute(delete(table))
        with Progress(TextColumn("schools"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console) as bar:
            task = bar.add_task("schools", total=n)
            count = await generate_schools_into(repo, n, seed, lambda done: bar.update(task, completed=done))
        _say(f"{count:,} schools written to {settings.database_url}")
    finally:
        await engine.dispose()


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply the database migrations."""
    from db.migrate import upgrade

    settings = Settings()
    upgrade(settings.database_url, revision)
    _say(f"database at {revision}: {settings.database_url}")


@bench_app.command("ingest")
def bench_ingest(
    json_out: bool = typer.Option(False, "--json", help="print only the JSON result"),
    schools: int = typer.Option(43_000, help="schools in the benchmark's state"),
    postgres: bool = typer.Option(False, help="measure PostgreSQL (a fresh `mealtwin_bench` database on "
                                               "127.0.0.1; MEALTWIN_BENCH_POSTGRES_URL overrides) instead of SQLite"),
    outage: bool = typer.Option(False, help="instead: the live feed's ingest on a PostgreSQL of the benchmark's "
                                            "own (initdb/pg_ctl, a free port), stopped mid-way and started again"),
    outage_s: float = typer.Option(30.0, help="with --outage: how long PostgreSQL stays stopped"),
    days: int = typer.Option(10, help="with --outage: simulated school days fed"),
    kill_mid_day: bool = typer.Option(False, help="kill the shard once it has folded half the school day, "
                                                  "with the feed going on, instead of after the day"),
) -> None:
    """End-to-end ingest of a full Tamil Nadu school day through the API, with a shard killed and
    recovered, against the database's raw insert rate measured in the same run; or, with --outage,
    ingest through a PostgreSQL restart."""
    _logging(logging.WARNING)
    say = _bench_progress(json_out)
    if outage:
        from benchmarks.ingest_outage import run as run_outage

        result = asyncio.run(run_outage(schools=schools, outage_s=outage_s, days=days, say=say))
        _print_result(result, json_out)
        return
    from benchmarks.ingest import run

    result = asyncio.run(run(schools=schools, postgres=postgres, say=say, kill_mid_day=kill_mid_day))
    _print_result(result, json_out)


@bench_app.command("api")
def bench_api(
    json_out: bool = typer.Option(False, "--json", help="print only the JSON result"),
    seconds: float = typer.Option(10.0, help="seconds per measurement"),
    connections: int = typer.Option(32, help="keep-alive connections for the throughput measurement"),
    proxy: str = typer.Option("auto", help="Serve's HTTP proxy: haproxy, serve, or auto (haproxy when installed)"),
    schools: int = typer.Option(43_000, help="schools in the benchmark's twin"),
    ws_clients: int = typer.Option(1_000, help="WebSocket clients for the fan-out measurement"),
) -> None:
    """A twin read through Ray Serve against the same app on plain uvicorn, same load, same run;
    then event-to-client latency over WebSocket streams."""
    from benchmarks.api import run

    _logging(logging.WARNING)
    result = asyncio.run(run(schools, seconds, connections, proxy, ws_clients,
                             say=_bench_progress(json_out)))
    _print_result(result, json_out)


@bench_app.command("load")
def bench_load(
    json_out: bool = typer.Option(False, "--json", help="print only the JSON result"),
    users: int = typer.Option(1_000, help="simulated users (officers, school admins, integrations, API clients)"),
    seconds: float = typer.Option(90.0, help="how long the load runs once users start"),
    spawn_rate: float = typer.Option(50.0, help="users started a second"),
    schools: int = typer.Option(43_000, help="schools in the benchmark's twin"),
    postgres: bool = typer.Option(False, help="on PostgreSQL (a fresh `mealtwin_bench` database on 127.0.0.1; "
                                               "MEALTWIN_BENCH_POSTGRES_URL overrides) instead of SQLite"),
) -> None:
    """The Locust suite headless against a twin started here, with the live feed running: per-endpoint
    percentiles, failures and server errors."""
    from benchmarks.load import run

    _logging(logging.WARNING)
    result = asyncio.run(run(users, seconds, schools, spawn_rate, postgres,
                             say=_bench_progress(json_out)))
    _print_result(result, json_out)


@bench_app.command("streams")
def bench_streams(
    json_out: bool = typer.Option(False, "--json", help="print only the JSON result"),
    schools: int = typer.Option(43_000, help="schools in the benchmark's shard"),
    runs: int = typer.Option(7, help="batches of 5,000 events timed"),
    redis: str | None = typer.Option(None, help="also publish to this Redis (e.g. redis://127.0.0.1:6379/0)"),
    clients: int = typer.Option(0, help="instead: hold this many WebSocket viewers (schools, dashboards, alerts) "
                                        "on a live twin with its feed running, and time probes reaching them"),
    processes: int = typer.Option(2, help="with --clients: processes the viewers run in"),
    rounds: int = typer.Option(15, help="with --clients: probe rounds, one every --round-interval-s"),
    round_interval_s: float = typer.Option(2.0, help="with --clients: seconds between probe rounds"),
    connect_per_s: float = typer.Option(200.0, help="with --clients: new connections a second"),
    replicas: int | None = typer.Option(None, help="with --clients: API replicas (default: the setting)"),
    max_ongoing_requests: int | None = typer.Option(None, help="with --clients: a replica's slots (default: the setting)"),
    compression: bool = typer.Option(True, "--compression/--no-compression",
                                     help="with --clients: viewers offer per-message compression, as browsers do"),
) -> None:
    """What publishing a folded 5,000-event batch's changes to the stream broker costs a shard; or,
    with --clients N, N WebSocket viewers held on a live twin: event-to-viewer latency, drops, memory."""
    _logging(logging.WARNING)
    if clients:
        from benchmarks.stream_clients import run as run_clients

        result = asyncio.run(run_clients(clients, schools, processes, rounds, round_interval_s, connect_per_s,
                                         replicas, max_ongoing_requests, compression=compression,
                                         say=_bench_progress(json_out)))
        _print_result(result, json_out)
        return
    from benchmarks.streams import run

    _print_result(asyncio.run(run(schools, runs, redis)), json_out)


@bench_app.command("cache")
def bench_cache(
    json_out: bool = typer.Option(False, "--json", help="print only the JSON result"),
    schools: int = typer.Option(800, help="schools in the benchmark's state"),
    days: int = typer.Option(120, help="school days fed before the reads"),
    runs: int = typer.Option(15, help="reads timed for each of miss and hit"),
    redis: str | None = typer.Option(None, help="also measure the cache in this Redis (e.g. redis://127.0.0.1:6379/0)"),
) -> None:
    """The read cache: a school's history and the state as of a past moment, missing and hitting the
    cache, in memory and in Redis."""
    from benchmarks.read_cache import run

    _logging(logging.WARNING)
    result = asyncio.run(run(schools, days, runs, redis, say=_bench_progress(json_out)))
    _print_result(result, json_out)


@bench_app.command("search")
def bench_search(
    json_out: bool = typer.Option(False, "--json", help="print only the JSON result"),
    database_url: str | None = typer.Option(None, help="search this database (migrated; filled with --schools "
                                            "generated schools when it has none); default: a fresh SQLite file"),
    schools: int = typer.Option(43_000, help="schools generated into an empty database"),
    runs: int = typer.Option(5, help="times each query is timed, each way"),
) -> None:
    """School search by code and name: through the names' trigram index against the one query that
    sorts every match, on the same database; medians by query shape."""
    from benchmarks.search import run

    _logging(logging.WARNING)
    result = asyncio.run(run(database_url, schools, runs, say=_bench_progress(json_out)))
    _print_result(result, json_out)


@bench_app.command("forecast-reads")
def bench_forecast_reads(
    json_out: bool = typer.Option(False, "--json", help="print only the JSON result"),
    schools: int = typer.Option(43_000, help="schools in the simulated twin"),
    runs: int = typer.Option(7, help="reads timed each way for each of a school, a block and a district"),
) -> None:
    """Forecast reads from the nightly job's files against computing them on the request."""
    from benchmarks.forecast_reads import run

    _logging(logging.WARNING)
    result = asyncio.run(run(schools, runs, say=_bench_progress(json_out)))
    _print_result(result, json_out)


@bench_app.command("cascade")
def bench_cascade(
    json_out: bool = typer.Option(False, "--json", help="print only the JSON result"),
    schools: int = typer.Option(43_000, help="schools in the neighbour graph"),
    runs: int = typer.Option(7, help="timed full propagations (each against scipy)"),
    seed: int = typer.Option(0, help="seed of the schools and their local risk"),
    incremental_tol: float = typer.Option(None, help="residual tolerance of the incremental updates "
                                                     "(default: the twin's own, 1e-10 at alpha 0.5)"),
) -> None:
    """Cascade-risk propagation: the numba kernels against scipy sparse and plain Python on the same
    graph in the same run; incremental updates; building the graph."""
    from benchmarks.cascade import run

    _print_result(run(schools, seed, runs, incremental_tol=incremental_tol), json_out)


@bench_app.command("optimise")
def bench_optimise(
    json_out: bool = typer.Option(False, "--json", help="print only the JSON result"),
    schools: int = typer.Option(43_000, help="schools in the synthetic state"),
    blocks: int = typer.Option(20, help="blocks re-solved alone (median reported)"),
    seed: int = typer.Option(0),
) -> None:
    """Optimisation models: the stock LP of the whole state (build and solve), one block re-solved,
    the delivery schedule and fund advances."""
    from benchmarks.optimise import run

    _print_result(run(schools, seed, blocks), json_out)


@bench_app.command("ml")
def bench_ml(
    json_out: bool = typer.Option(False, "--json", help="print only the JSON result"),
    schools: int = typer.Option(43_000, help="schools in the history"),
    store: str | None = typer.Option(None, help="history store to reuse (or fill); default: a temporary one"),
    years: int = typer.Option(3, help="years of history to generate when the store is empty"),
    forecast_schools: int = typer.Option(3000, help="schools sampled (whole blocks) for training"),
    risk_rows: int = typer.Option(300_000, help="risk rows built from the sample"),
    seed: int = typer.Option(0),
    learning_curve: str | None = typer.Option(None, help="instead: retrain on samples of these many schools "
                                              "(comma-separated, e.g. 1000,3000,10000,43000) and give accuracy "
                                              "and retraining time for each"),
    nightly_schools: int = typer.Option(0, help="with --learning-curve: then forecast this many schools "
                                                "(e.g. 1080000) in chunks, as the nightly job does"),
    chunk_schools: int = typer.Option(50_000, help="with --nightly-schools: schools forecast at a time"),
) -> None:
    """Learned models: risk and forecast backtests against their baselines, training times, and a
    7-day forecast of every school with the served forecaster; or, with --learning-curve, accuracy
    against the number of schools trained on, and the nightly forecast of every school."""
    from pathlib import Path

    from benchmarks.ml import run
    from cli.ml_commands import live_feed_start

    say = _bench_progress(json_out)
    if learning_curve:
        from benchmarks.ml_scale import run as run_scale

        try:
            sizes = [int(n) for n in learning_curve.split(",") if n.strip()]
        except ValueError:
            raise typer.BadParameter("comma-separated school counts, e.g. 1000,3000,10000", param_hint="--learning-curve")
        if not sizes or min(sizes) < 10:
            raise typer.BadParameter("at least one sample of 10 or more schools", param_hint="--learning-curve")
        result = run_scale(sizes, schools, Path(store) if store else None, seed, years, live_feed_start(),
                           nightly_schools, chunk_schools, say=say)
        _print_result(result, json_out, default=str)
        return
    result = run(schools, Path(store) if store else None, seed, years, live_feed_start(), forecast_schools, risk_rows,
                 say=say)
    _print_result(result, json_out, default=str)


@scenario_app.command("run")
def scenario_run(
    file: str = typer.Argument(..., help="scenario YAML (see configs/scenarios/)"),
    reps_max: int = typer.Option(None, help="at most this many replications (default: the spec's stopping rule)"),
    schools: int = typer.Option(None, help="schools in the synthetic world (default from settings: about 43,000)"),
    out: str = typer.Option("var/scenarios", help="directory for result.json and trajectories.png"),
    use_ray: bool = typer.Option(True, "--ray/--no-ray", help="replications as Ray tasks, or all in this process"),
    from_twin: bool = typer.Option(False, "--from-twin", help="start from the twin's database (now, or as it was "
                                                              "on the spec's date) instead of the synthetic world"),
) -> None:
    """Run a scenario from the twin's database (`--from-twin`: the twin as it is now, or as it was on
    the spec's start date), or from the synthetic world (`Settings().schools` schools,
    `Settings().seed`) run up to the start (the spec's date; `live`: the feed's start date). Prints
    each plan's headline KPIs with 95% intervals and the paired differences against the baseline,
    and writes result.json and a PNG of the trajectories."""
    import pathlib

    from rich.table import Table

    from scenarios.chart import trajectory_chart
    from scenarios.montecarlo import run_scenario, serial_map
    from scenarios.spec import ScenarioSpec
    from simulation.start_state import synthetic_start

    _logging(logging.WARNING)
    settings = Settings()
    spec = ScenarioSpec.from_yaml(pathlib.Path(file))
    if from_twin:
        from startup.scenario_start import twin_start
        from twin.errors import TwinError

        _say(f"{spec.name}: rebuilding the twin {'as it is now' if spec.start == 'live' else f'as of {spec.start}'} "
             f"from {settings.database_url.split('://')[0]}")
        try:
            start = asyncio.run(twin_start(settings, spec))
        except TwinError as exc:
            console.print(f"[bold red]cannot start there:[/] {exc.message}")
            raise typer.Exit(1) from None
    else:
        day = spec.start_date(dt.date.fromisoformat(settings.feed.start_date))
        _say(f"{spec.name}: building the start from the synthetic world on {day}")
        start = synthetic_start(schools or settings.schools, settings.seed, day)
    pool, workers = serial_map, 1
    if use_ray:
        from actors.remote import start_ray
        from actors.replication_pool import RayReplicationPool

        start_ray(settings.ray_address, settings.ray_object_store_mib)
        pool = RayReplicationPool()
        workers = pool.workers
    with Progress(TextColumn("replications"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.description}"), console=console) as bar:
        task = bar.add_task("", total=spec.stopping.reps_min)

        def progress(p) -> None:  # noqa: ANN001
            served = p.estimates["baseline"]["meals_served"]
            bar.update(task, completed=p.done, total=max(p.planned, p.done),
                       description=f"baseline meals {served.mean:,.0f} ± {served.half_width:,.0f}")

        result = run_scenario(spec, start, pool, workers, reps_max, progress)
    table = Table(title=f"{result.name}: {result.schools:,} schools, {result.replications} replications "
                        f"({result.stop_reason}), 95% intervals")
    table.add_column("KPI")
    for plan in result.plans:
        table.add_column(plan.name, justify="right")
        if plan.vs_baseline is not None:
            table.add_column(f"{plan.name} - baseline", justify="right")
    for k in result.headline_kpis:
        row = [k]
        for plan in result.plans:
            e = plan.kpis[k]
            row.append(f"{e.mean:,.1f} ± {e.half_width:,.1f}")
            if plan.vs_baseline is not None:
                d = plan.vs_baseline[k]
                row.append(f"{d.mean:+,.1f} ± {d.half_width:,.1f}")
        table.add_row(*row)
    Console(width=None if sys.stdout.isatty() else 200).print(table)  # piped: do not wrap at 80
    folder = pathlib.Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "result.json").write_text(result.to_json())
    chart = trajectory_chart(result, folder / "trajectories.png")
    _say(f"wrote {folder / 'result.json'} and {chart}")


@bench_app.command("finance")
def bench_finance(
    json_out: bool = typer.Option(False, "--json", help="print only the JSON result"),
    schools: int = typer.Option(43_000, help="schools in the benchmark's twin"),
    days: int = typer.Option(10, help="school days fed to the twin before the reads"),
    seed: int = typer.Option(0),
) -> None:
    """Money on a live twin: the year's allocation (dry run and recorded), state and district reads
    (median of 100), and the state's 4-quarter budget forecast with its backtest against the naive."""
    from benchmarks.finance import run

    _logging(logging.WARNING)
    result = asyncio.run(run(schools, days, seed, say=_bench_progress(json_out)))
    _print_result(result, json_out)


@bench_app.command("dashboard")
def bench_dashboard(
    json_out: bool = typer.Option(False, "--json", help="print only the JSON result"),
    schools: int = typer.Option(43_000, help="schools in the benchmark's twin"),
    viewers: int = typer.Option(100, help="dashboard streams held open while events arrive"),
    seconds: float = typer.Option(20.0, help="how long the viewers are held (and the redraws last, halved)"),
    events: int = typer.Option(20, help="event batches timed from acknowledgement to the page"),
) -> None:
    """The dashboard in headless Chromium against a twin on Ray Serve: first render of every school,
    bytes of the first load, event to pixel, redraw time, and viewers held without a drop."""
    from benchmarks.dashboard import run

    _logging(logging.WARNING)
    result = asyncio.run(run(schools, viewers, seconds, events, say=_bench_progress(json_out)))
    _print_result(result, json_out)


@bench_app.command("reports")
def bench_reports(
    json_out: bool = typer.Option(False, "--json", help="print only the JSON result"),
    schools: int = typer.Option(43_000, help="schools in the benchmark's twin"),
    days: int = typer.Option(10, help="school days fed to the twin before the reports"),
    repeats: int = typer.Option(3, help="runs of each repeated figure (the median is given)"),
    seed: int = typer.Option(0),
) -> None:
    """The reports of a live twin of the state: state-wide CSVs, one district's PDF, all 38 at once,
    the state's PDF and a PDF table of 10,000 rows."""
    from benchmarks.reports import run

    _logging(logging.WARNING)
    result = asyncio.run(run(schools, days, repeats, seed, say=_bench_progress(json_out)))
    _print_result(result, json_out)


@bench_app.command("scenario")
def bench_scenario(
    json_out: bool = typer.Option(False, "--json", help="print only the JSON result"),
    schools: int = typer.Option(43_000, help="schools in the benchmark's state"),
    days: int = typer.Option(30, help="days each replication simulates"),
    reps: int = typer.Option(200, help="replications of each of the two plans"),
    ray_niceness: int = typer.Option(0, help="niceness of Ray's workers (Ray's default is 15: on a shared "
                                             "machine its tasks then yield to every other process)"),
) -> None:
    """One 30-day replication of the state, then 200 replications x 2 plans serially and as Ray tasks."""
    from benchmarks.scenario import run

    _logging(logging.WARNING)
    result = run(schools=schools, days=days, reps=reps, worker_niceness=ray_niceness,
                 say=_bench_progress(json_out))
    _print_result(result, json_out)


if __name__ == "__main__":
    app()
