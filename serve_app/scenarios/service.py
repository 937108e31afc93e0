"""What-if scenario runs as jobs: started by the API, run in the background of the replica that
took them (replications as Ray tasks), their progress stored and streamed, cancellable from any
replica (the cancel flag lives in the database), their results kept.

A run from the live twin copies the state of only the districts its scope covers (every district
for a state-wide one): the engine simulates only the scope's schools, and at India scale one shard
may host every district, a copy of all of them ~1 GiB. The twin's day is read from the shards'
statuses, without copying state."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import numpy as np

from db.scenario_repository import ACTIVE, ScenarioRepository
from scenarios.places import check_block
from scenarios.spec import ScenarioError, ScenarioSpec
from serve_app.auth.errors import Forbidden
from serve_app.shared.live_copy import LiveStates, TwinDay, live_copy
from serve_app.shared.news import publish_news
from serve_app.shared.page import offset, pagination
from twin import geography
from twin.area import STATE, Area
from twin.directory import BlockTable, Directory
from twin.errors import Conflict, InvalidInput, NotFound, TwinError
from twin.norms import day_date
from twin.ports import StreamBroker
from twin.state import ShardState

if TYPE_CHECKING:  # the engine is imported when a run starts: ~60 MiB an API replica need not hold
    from scenarios.montecarlo import MapReplications, Progress

log = logging.getLogger(__name__)

CANCEL_POLL_S = 1.0
HEARTBEAT_S = 60.0  # a runner says it is alive this often, however long a round of replications takes
ABANDONED_AFTER = dt.timedelta(minutes=15)  # an active run whose runner was silent this long has died


def enclosing_area(spec: ScenarioSpec) -> Area:
    """The smallest area holding everything the scenario covers: one block, one district, or the state."""
    if spec.scope.state:
        return STATE
    blocks = BlockTable.from_geography()
    places = {(d, None) for d in spec.scope.districts}
    for name in spec.scope.blocks:
        for b in check_block(name):
            places.add((geography.district_names()[int(blocks.district[b])], blocks.names[b]))
    districts = {d for d, _ in places}
    if len(districts) > 1:
        return STATE
    if len(places) == 1 and next(iter(places))[1] is not None:
        return Area(*next(iter(places)))
    return Area(districts.pop())


def scope_districts(spec: ScenarioSpec, directory: Directory) -> list[int] | None:
    """The districts (indices) of the schools the scenario simulates, or every one (None) for the state."""
    if spec.scope.state:
        return None
    return np.unique(directory.blocks.district[spec.scope.mask()]).tolist()


def _area_of(run: dict) -> Area:
    return Area(run["area"]["district"], run["area"]["block"])


def scenario_topic(run_id: str) -> str:
    return f"scenario:{run_id}"


class ScenarioRuns:
    def __init__(self, repo: ScenarioRepository, directory: Directory,
                 live_states: LiveStates, twin_day: TwinDay,
                 past_states: Callable[[dt.datetime], Awaitable[list[ShardState]]],
                 replication_pool: Callable[[], MapReplications], broker: StreamBroker | None = None,
                 max_schools: int | None = None) -> None:
        self._repo = repo
        self._max_schools = max_schools  # schools a scenario may cover (`limits.scenario_schools`)
        self._directory = directory
        self._live_states = live_states  # a copy of the districts given (None: every one)
        self._twin_day = twin_day  # cheap: the shards' statuses
        self._past_states = past_states
        self._pool = replication_pool
        self._broker = broker
        self._tasks: dict[str, asyncio.Task] = {}
        self._cancels: dict[str, threading.Event] = {}  # runs of this replica, told at once of a cancel

    async def start(self, spec: ScenarioSpec, owner: str | None = None, area: Area = STATE) -> dict:
        """Check what can be checked now, store the run as queued and start it in the background.
        `area` is the caller's: a scenario reaching outside it is refused."""
        covered = enclosing_area(spec)
        if not area.contains(covered):
            raise Forbidden(f"the scenario covers {covered.label()}, outside your area ({area.label()})")
        self._check_size(spec)
        if spec.start == "live":
            today = await self._twin_day()
            if today < 0:
                raise InvalidInput("the live twin has no reports yet: start from a past date, or wait for the feed",
                                   {"fields": [{"field": "start", "message": "no live state yet"}]})
            spec.check_dates(day_date(today + 1))
        else:
            spec.check_dates(spec.start)
        districts = sorted({*spec.scope.districts, *(b.split("/", 1)[0] for b in spec.scope.blocks if "/" in b)})
        run_id = uuid.uuid4().hex
        run = await self._repo.create(run_id, spec.name, spec.model_dump(mode="json"), districts, owner, covered)
        task = asyncio.get_running_loop().create_task(self._run(run_id, spec))
        self._tasks[run_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(run_id, None))
        return run

    def _check_size(self, spec: ScenarioSpec) -> None:
        """Refuse, before anything is copied or queued, a scenario covering more schools than the limit."""
        if self._max_schools is None:
            return
        covered = int(np.count_nonzero(spec.scope.mask()[self._directory.school_block]))
        if covered > self._max_schools:
            raise InvalidInput(
                f"the scenario covers {covered:,} schools, over this twin's limit of {self._max_schools:,} a scenario "
                "(limits.scenario_schools, set by what its replications cost here): narrow its scope to fewer "
                "districts or blocks", {"limit": self._max_schools, "schools": covered,
                                        "fields": [{"field": "scope", "message": "covers too many schools"}]})

    async def _run(self, run_id: str, spec: ScenarioSpec) -> None:
        from scenarios.montecarlo import run_scenario
        from simulation.start_state import StartState

        loop = asyncio.get_running_loop()
        cancel = self._cancels[run_id] = threading.Event()
        watcher = loop.create_task(self._watch_cancel(run_id, cancel))
        try:
            await self._repo.started(run_id)
            await self._tell(run_id, {"status": "running"})
            if spec.start == "live":
                states, today = await self._live(spec)
                start = await asyncio.to_thread(StartState.from_shards, states, self._directory, None, today)
            else:
                states = await self._past_states(dt.datetime.combine(spec.start, dt.time(), tzinfo=dt.UTC))
                start = await asyncio.to_thread(StartState.from_shards, states, self._directory, spec.start)

            told: list = []  # progress reports in flight, told in order and before the end
            in_order = asyncio.Lock()

            def progress(p: Progress) -> None:  # called from the runner's thread
                told.append(asyncio.run_coroutine_threadsafe(self._progressed(run_id, p, in_order), loop))

            pool = await asyncio.to_thread(self._pool)  # one per run: it holds the run's start state in Ray
            try:
                result = await asyncio.to_thread(run_scenario, spec, start, pool, None, None, progress, cancel.is_set)
            finally:
                getattr(pool, "close", lambda: None)()
            await asyncio.gather(*map(asyncio.wrap_future, told), return_exceptions=True)
            status = "cancelled" if result.stop_reason == "cancelled" else "done"
            await self._repo.finished(run_id, status, result.to_json())
            await self._tell(run_id, {"status": status, "replications": result.replications,
                                      "stop_reason": result.stop_reason})
        except asyncio.CancelledError:
            await asyncio.shield(self._repo.finished(run_id, "failed", error="stopped: the API process shut down"))
            raise
        except TwinError as exc:
            await self._failed(run_id, str(exc))
        except Exception as exc:  # noqa: BLE001 - a run's failure is its own, stored for its reader
            log.exception("scenario run %s failed", run_id)
            await self._failed(run_id, f"{type(exc).__name__}: {exc}")
        finally:
            watcher.cancel()
            self._cancels.pop(run_id, None)

    async def _live(self, spec: ScenarioSpec) -> tuple[list[ShardState], int]:
        """A copy of the live state of the scope's districts, and the twin's day
        (`serve_app.shared.live_copy`)."""
        states, today = await live_copy(self._live_states, self._twin_day, scope_districts(spec, self._directory))
        if not any(s.n_schools for s in states):  # refused as the engine refuses a scope of no schools
            raise ScenarioError("no schools in the scenario's scope", {"scope": spec.scope.model_dump()})
        return states, today

    async def _failed(self, run_id: str, error: str) -> None:
        await self._repo.finished(run_id, "failed", error=error)
        await self._tell(run_id, {"status": "failed", "error": error})

    async def _watch_cancel(self, run_id: str, cancel: threading.Event) -> None:
        """The runner checks `cancel` between rounds; the request may come through any replica.
        Meanwhile the run's heartbeat goes on: silence means its process stopped (`get`)."""
        loop = asyncio.get_running_loop()
        beaten = loop.time()
        while not cancel.is_set():
            await asyncio.sleep(CANCEL_POLL_S)
            try:
                if await self._repo.cancel_requested(run_id):
                    cancel.set()
                if loop.time() - beaten >= HEARTBEAT_S:
                    await self._repo.beat(run_id)
                    beaten = loop.time()
            except Exception:  # noqa: BLE001 - try again next poll
                log.warning("reading the cancel flag of run %s failed", run_id, exc_info=True)

    async def _progressed(self, run_id: str, p: Progress, in_order: asyncio.Lock) -> None:
        async with in_order:  # a lock wakes its waiters first come, first served
            await self._report(run_id, p)

    async def _report(self, run_id: str, p: Progress) -> None:
        progress = {"done": p.done, "planned": p.planned, "rounds": p.rounds, "converged": p.converged,
                    "estimates": {plan: {k: e.model_dump() for k, e in kpis.items()} for plan, kpis in p.estimates.items()}}
        try:
            await self._repo.progressed(run_id, progress)
        except Exception:  # noqa: BLE001 - progress is informative; the result is what counts
            log.warning("storing the progress of run %s failed", run_id, exc_info=True)
        await self._tell(run_id, {"status": "running", "progress": progress})

    async def _tell(self, run_id: str, message: dict) -> None:
        await publish_news(self._broker, scenario_topic(run_id), {"run_id": run_id, **message}, f"run {run_id}")

    async def get(self, run_id: str, area: Area = STATE) -> dict:
        """A run as stored. One still active whose runner has been silent for `ABANDONED_AFTER`
        (its process stopped) is marked failed first, as listing the runs does."""
        run = await self._repo.get(run_id)
        if run is None or not area.contains(_area_of(run)):
            raise NotFound(f"no scenario run {run_id}", {"id": run_id})
        if self._repo.abandoned(run, ABANDONED_AFTER) and await self._repo.fail_abandoned(ABANDONED_AFTER, run_id):
            run = await self._repo.get(run_id)  # marked failed just now
        return run

    async def page(self, status: str | None, page: int, page_size: int, area: Area = STATE) -> dict:
        await self._repo.fail_abandoned(ABANDONED_AFTER)
        runs, total = await self._repo.page(status, offset(page, page_size), page_size, area)
        return {"runs": runs, "pagination": pagination(page, page_size, total)}

    async def cancel(self, run_id: str, area: Area = STATE) -> dict:
        run = await self.get(run_id, area)
        if run["status"] not in ACTIVE:
            raise Conflict(f"scenario run {run_id} is {run['status']}: only a queued or running run can be cancelled",
                           {"id": run_id, "status": run["status"]})
        await self._repo.request_cancel(run_id)
        if run_id in self._cancels:  # ours: stop now; another replica's runner sees the flag when it polls
            self._cancels[run_id].set()
        return await self.get(run_id, area)

    async def compare(self, run_ids: list[str], area: Area = STATE) -> dict:
        """The headline KPIs of every plan of finished runs side by side, with each plan's paired
        difference against its run's baseline."""
        runs = []
        for run_id in run_ids:
            run = await self.get(run_id, area)
            if run["result"] is None:
                raise Conflict(f"scenario run {run_id} has no result yet ({run['status']})",
                               {"id": run_id, "status": run["status"]})
            result = run["result"]
            runs.append({"id": run_id, "name": run["name"], "replications": result["replications"],
                         "start_date": result["start_date"], "horizon_days": result["horizon_days"],
                         "plans": [{"name": p["name"], "kpis": p["kpis"], "vs_baseline": p["vs_baseline"]}
                                   for p in result["plans"]]})
        return {"kpis": list(runs[0]["plans"][0]["kpis"]), "runs": runs}

    async def close(self) -> None:
        for cancel in list(self._cancels.values()):
            cancel.set()  # the runner's thread cannot be interrupted: it stops after its round
        for task in list(self._tasks.values()):
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
