"""The Ray side of the twin: the shard and state actors, and `TwinCluster`, which starts, finds
and watches them. (Every `ray.*` call of the project lives in `actors/`.)"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import ray

from actors.broker import start_broker_actor
from actors.heap import settle_heap
from actors.names import ACCESS_ACTOR, NAMESPACE, STATE_ACTOR, shard_name
from actors.node_placement import current_node, shard_options, singleton_options
from actors.pacing import EVALUATE_CPU_SHARE, PacedPush, push_period
from actors.ray_processes import local_ray_processes, reap
from actors.router import ShardRouter
from actors.shard_port import RayShard
from actors.state_twin import StateTwin
from twin import geography
from twin.placement import shard_of_district
from twin.ports import DeskPorts, DistrictRows, SchoolChange, SchoolSync, ShardPorts, ShardStatus, View
from twin.risk_answers import RiskColumns, risk_answers

if TYPE_CHECKING:
    from actors.risk_desk import RiskDesk
    from twin.batch import EventBatch
    from twin.directory import Directory
    from twin.funds_columns import FundsColumns
    from twin.range_funds import RangeFunds
    from twin.state import ShardState

log = logging.getLogger(__name__)

# a shard's pushes to the state twin, each at most this often (those that cost more are spaced
# further, `actors.pacing`): the roll-ups, which a dashboard waits for and which cost a few ms after a
# small batch (only the schools folds wrote are computed, `twin.pushed_columns`), and the risk
# features, which the risk desk scores in rounds of its own
_ROLLUPS_EVERY_S = 0.25
_RISK_EVERY_S = 1.0
_EVALUATE_DELAY_S = 0.25


class ShardHost:
    """A `DistrictShard` inside a Ray actor. Its constructor opens the ports and recovers from
    snapshot and log, so a restarted actor (after a crash or `kill -9`) answers only once caught up.
    Its methods are those of `twin.ports.ShardPort`, which `RayShard` calls through the handle."""

    async def __init__(self, shard_id: int, districts: list[int],
                       open_ports: Callable[[], Awaitable[ShardPorts]], snapshot_every_events: int,
                       snapshot_every_seconds: float) -> None:
        # numba's kernels load here, in the shard's process, not in the driver that defines the actor
        from actors.district_shard import DistrictShard
        from actors.shard_publisher import ShardPublisher

        started = time.monotonic()
        self.shard_id = shard_id
        self._ports = await open_ports()
        # what each folded batch changed goes to the stream broker, off the apply path
        self.publisher = ShardPublisher(self._ports.broker, self._ports.directory,
                                        self._ports.low_stock_days) if self._ports.broker else None
        self.shard = DistrictShard(districts, self._ports.directory, self._ports.enrolment, self._ports.event_log,
                                   self._ports.snapshots, snapshot_every_events, snapshot_every_seconds,
                                   on_applied=self.publisher.on_applied if self.publisher else None,
                                   snapshot_deltas=self._ports.snapshot_deltas)
        self._state = ray.get_actor(STATE_ACTOR, namespace=NAMESPACE)
        reconstructed = ray.get_runtime_context().was_current_actor_reconstructed
        publish_after = await self._published_before_restart(districts) if reconstructed else None
        self.replayed = await self.shard.recover(publish_after=publish_after)
        self.recovery_s = time.monotonic() - started
        self._state.shard_started.remote(shard_id, os.getpid())
        settle_heap()  # the recovered state and imports stay for life
        self._state_boot: str | None = None
        # after batches, two pushes to the state twin, each paced by its own cost: the roll-ups (what
        # a dashboard waits for) and the changed risk features (the risk desk's, costly after a new day)
        self._rollups = PacedPush(self._push_rollups, _ROLLUPS_EVERY_S)
        self._risk = PacedPush(self._push_risk, _RISK_EVERY_S)
        # in the background: answering (recovery) need not wait for the state twin
        self._rollups.news()
        self._risk.news()
        log.info("shard %d up: %d districts, %d schools, replayed %d events in %.2fs", shard_id,
                 len(districts), self.shard.state.n_schools, self.replayed, self.recovery_s)

    async def _published_before_restart(self, districts: list[int]) -> int | None:
        """Where this shard's earlier incarnation had published to, so that its replay publishes
        the events appended while it was down (and no alert twice): from the broker's latest
        delta of our districts, else from the state twin's last roll-up of ours (pushed at most a
        second apart, so a second's deltas may be sent again). None when neither knows: the
        replay then publishes nothing, as a fresh start's does."""
        if self.publisher is None:
            return None
        try:
            found = await self.publisher.published_upto(districts)
        except Exception as exc:  # noqa: BLE001 - a broker that is down: ask the state twin
            log.warning("shard %d could not ask the stream broker what it published: %s", self.shard_id, exc)
            found = None
        if found is None:
            try:
                found = await self._state.applied_seq.remote(self.shard_id)
            except ray.exceptions.RayError as exc:
                log.warning("shard %d could not ask the state twin where it was: %s", self.shard_id, exc)
        return found

    async def apply(self, batch: EventBatch, after_seq: int, upto_seq: int) -> np.ndarray:
        outcome = await self.shard.apply(batch, after_seq, upto_seq)
        # a batch without rows of this shard still moves its applied seq, which the state's view of
        # the whole twin waits for, so the roll-ups are pushed after every batch
        self._rollups.news()
        self._risk.news()
        return outcome

    async def _push_rollups(self) -> float:
        """The roll-ups to the state twin. Returns their CPU seconds."""
        rows, spent_s = await asyncio.to_thread(_timed, self.shard.district_rows)
        try:
            self._heard_from_state(await self._state.update.remote(self.shard_id, rows))
        except ray.exceptions.RayError:
            log.warning("the state twin did not take shard %d's roll-ups; sent again after the next batch",
                        self.shard_id)
        return spent_s

    async def _push_risk(self) -> float:
        """The risk features changed since the last push to the state twin's risk desk. Returns
        their CPU seconds."""
        (schools, features), spent_s = await asyncio.to_thread(_timed, self.shard.changed_risk_features)
        if not len(schools):
            return spent_s  # nothing new for the desk (a batch of another shard's schools, say)
        try:
            self._heard_from_state(await self._state.risk_features.remote(self.shard_id, schools, features))
        except ray.exceptions.RayError:
            log.warning("the state twin did not take shard %d's risk features; resending all of them next time",
                        self.shard_id)
            self.shard.forget_sent_features()
        return spent_s

    def _heard_from_state(self, boot: str) -> None:
        """A state twin that restarted since the last answer starts empty: it needs every school's
        features again (its roll-ups come whole with every push anyway)."""
        if self._state_boot not in (None, boot):
            self.shard.forget_sent_features()
            self._risk.news()
        self._state_boot = boot

    async def status(self) -> ShardStatus:
        return {**self.shard.status(), "shard": self.shard_id, "pid": os.getpid(), "node": current_node(),
                "replayed": self.replayed, "recovery_s": round(self.recovery_s, 3),
                "push_period_s": round(self._rollups.period_s, 2), "risk_push_period_s": round(self._risk.period_s, 2)}

    async def school(self, global_index: int) -> View | None:
        return self.shard.school(global_index)

    async def block(self, global_block: int) -> View | None:
        return self.shard.block(global_block)

    async def district(self, district: int) -> View | None:
        return await asyncio.to_thread(self.shard.district, district)

    async def views(self, districts: Sequence[int], blocks: Sequence[int]) -> tuple[list[View | None],
                                                                                    list[View | None]]:
        """Many districts' and blocks' views in one call (a replica's dashboards due at one moment),
        computed in one thread as `district` is."""
        return await asyncio.to_thread(self.shard.views, districts, blocks)

    async def district_rows(self) -> DistrictRows:
        return await asyncio.to_thread(self.shard.district_rows)

    async def sync(self) -> int:
        return await self.shard.sync()

    async def sync_schools(self, changes: Sequence[SchoolChange], later: Directory | None = None) -> SchoolSync:
        result = await self.shard.sync_schools(changes, later)
        await self._rollups.now()  # the state twin's totals count schools and enrolment
        self._risk.news()
        return result

    async def snapshot_now(self) -> int:
        return await self.shard.snapshot_now()

    async def push_state(self) -> None:
        """Send the state actor every roll-up and every school's features now (a restarted state
        actor asks: it starts empty)."""
        self.shard.forget_sent_features()
        await self._rollups.now()
        await self._risk.now()

    async def funds_columns(self, year: int, district: int | None = None, block: int | None = None,
                            school: int | None = None) -> FundsColumns:
        return await self.shard.funds_columns(year, district, block, school)

    async def funds_in_range(self, districts: Sequence[int], first: dt.date, last: dt.date,
                             school_id: str | None = None) -> RangeFunds:
        return await self.shard.funds_in_range(districts, first, last, school_id)

    async def state_copy(self, districts: Sequence[int] | None = None) -> ShardState:
        return await self.shard.state_copy(districts)


class StateHost:
    """The state twin inside a Ray actor, with the risk desk when `open_desk` is given: the desk
    scores the features shards push with their roll-ups, and evaluates shortly after news arrives
    (one evaluation at a time; features arriving meanwhile wait for the next round)."""

    async def __init__(self, placement: list[list[int]], open_desk: Callable[[], Awaitable[DeskPorts]] | None = None,
                       risk_rules=None, alert_rules=None) -> None:  # noqa: ANN001
        self.twin = StateTwin(placement)
        self.boot = f"{os.getpid()}-{time.time_ns()}"  # shards resend every feature to a new incarnation
        self.desk: RiskDesk | None = None
        self._ports: DeskPorts | None = None
        if open_desk is not None:
            # imported here: the desk's graph needs scipy (~50 MiB), which shard processes never use
            from actors.risk_desk import RiskDesk

            self._ports = await open_desk()
            self.desk = RiskDesk(self._ports, risk_rules, alert_rules)
            await self.desk.start()
        self._evaluation: asyncio.Task | None = None
        self._catch_up: asyncio.Task | None = None
        if ray.get_runtime_context().was_current_actor_reconstructed:
            # a restart (a crash, kill -9): this incarnation starts empty, and a shard pushes only
            # after its next batch, so ask them all now rather than wait for the feed
            self._catch_up = asyncio.get_running_loop().create_task(self._ask_shards(len(placement)))

    async def _ask_shards(self, n_shards: int) -> None:
        for k in range(n_shards):
            try:
                await asyncio.wait_for(ray.get_actor(shard_name(k), namespace=NAMESPACE).push_state.remote(), 60)
            except Exception as exc:  # noqa: BLE001 - that shard pushes after its next batch anyway
                log.warning("shard %d did not resend its roll-ups to the restarted state actor: %s", k, exc)

    def shard_started(self, shard: int, pid: int) -> None:
        self.twin.shard_started(shard, pid)

    def restarts(self) -> dict[int, int]:
        return self.twin.restarts()

    def get_placement(self) -> list[list[int]]:
        return self.twin.get_placement()

    def applied_seq(self, shard: int) -> int | None:
        return self.twin.applied_seq(shard)

    def state(self) -> dict:
        out = self.twin.state()
        if self.desk is not None:
            out["risk"] = self.desk.summary()
        return out

    def district(self, district: int) -> dict | None:
        return self.twin.district(district)

    def update(self, shard: int, rolled: dict) -> str:
        """A shard's roll-ups. Returns this incarnation's boot id."""
        self.twin.update(shard, rolled)
        return self.boot

    def risk_features(self, shard: int, schools: np.ndarray, features: np.ndarray) -> str:  # noqa: ARG002
        """(school indices, features) of a shard's schools whose risk features changed, for the
        risk desk's next round. Returns this incarnation's boot id."""
        if self.desk is not None and len(schools):
            self.desk.ingest(schools, features)
            if self._evaluation is None or self._evaluation.done():
                self._evaluation = asyncio.get_running_loop().create_task(self._evaluate())
        return self.boot

    async def _evaluate(self) -> None:
        await asyncio.sleep(_EVALUATE_DELAY_S)  # let the other shards' news of the same moment arrive
        while self.desk.pending:
            try:
                await self.desk.evaluate(self.twin.today)
            except Exception:  # noqa: BLE001 - risk must never take the state twin down
                log.exception("risk evaluation failed")
                return
            # the next round waits so that rounds take at most a share of a core (`actors.pacing`):
            # a round is ~0.6 s of CPU for 1.08 M schools (then one at most every 4 s), less in proportion
            spent = self.desk.round_cpu_s
            await asyncio.sleep(push_period(spent, 0.0, EVALUATE_CPU_SHARE) - spent)

    async def risk(self, school: int) -> dict | None:
        return self.desk.risk(school) if self.desk else None

    async def cascade_view(self, schools: np.ndarray) -> dict | None:
        return self.desk.cascade_view(schools) if self.desk else None

    async def risks(self, schools: np.ndarray) -> list[dict | None] | None:
        return self.desk.risks(schools) if self.desk else None

    async def risk_columns(self, schools: np.ndarray) -> RiskColumns | None:
        return self.desk.risk_columns(schools) if self.desk else None

    async def schools_changed(self) -> None:
        """The school register changed: rebuild the neighbour graph from the table."""
        if self.desk is not None and self._ports.load_schools is not None:
            await self.desk.reload_schools(*await self._ports.load_schools())


def _timed(compute: Callable[[], Any]) -> tuple[Any, float]:
    """`compute()` and the CPU seconds it took in this thread (a busy machine's waits do not count
    as its cost)."""
    started = time.thread_time()
    return compute(), time.thread_time() - started


def start_ray(address: str | None, object_store_mib: int = 512, env: dict[str, str] | None = None,
              dashboard_port: int | None = None) -> RayEndpoints:
    """Connect to `address` (else `RAY_ADDRESS`), or start a local Ray sized for this machine,
    with its dashboard on 127.0.0.1:`dashboard_port` when given. `env` is exported first: Ray's
    processes inherit it from here (Serve reads its proxy options in its own). Returns where Ray's
    own tools find it."""
    # Ray's own convention: a shell that set RAY_ADDRESS (an operator's, or one that read a
    # cluster's ray.env) means that cluster; `ray.init` would otherwise refuse the local sizing
    address = address or os.environ.get("RAY_ADDRESS") or None
    if not ray.is_initialized():
        os.environ.update(env or {})
        with _caller_keeps_stop_signals():
            if address:
                ray.init(address=address, namespace=NAMESPACE, log_to_driver=False)
            else:
                ray.init(num_cpus=os.cpu_count() or 2, namespace=NAMESPACE,
                         include_dashboard=dashboard_port is not None, dashboard_host="127.0.0.1",
                         dashboard_port=dashboard_port,
                         object_store_memory=object_store_mib * 1024 * 1024, log_to_driver=False)
    context = ray.get_runtime_context()
    node = ray._private.worker.global_worker.node  # private: Ray keeps the dashboard's URL nowhere else
    dashboard = node.webui_url if node is not None else None
    return RayEndpoints(gcs_address=context.gcs_address,
                        dashboard_url=f"http://{dashboard}" if dashboard else None,
                        token_auth=os.environ.get("RAY_AUTH_MODE", "").lower() == "token",
                        started_here=bool(node is not None and node.head))


@dataclass(frozen=True)
class RayEndpoints:
    """Where the twin's Ray listens, for `ray status` (GCS) and `serve status` (dashboard)."""

    gcs_address: str
    dashboard_url: str | None
    token_auth: bool  # Ray's own clients then need `RAY_AUTH_MODE=token` and the cluster's token
    started_here: bool = True  # a local Ray of this driver's own, not an existing cluster it joined


@contextlib.contextmanager
def _caller_keeps_stop_signals():
    """Ray's driver installs a native handler for SIGTERM that prints a stack dump before passing
    the signal on: a service manager's ordinary stop looked like a crash. The Python handlers the
    caller had (its orderly stop) are put back over it."""
    on_main_thread = threading.current_thread() is threading.main_thread()
    kept = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)} if on_main_thread else {}
    try:
        yield
    finally:
        for sig, handler in kept.items():
            if handler is not None:  # None: installed outside Python, nothing of ours to restore
                signal.signal(sig, handler)


def ray_running() -> bool:
    return ray.is_initialized()


def shutdown_ray() -> None:
    """Disconnect; a Ray started here is stopped with every process it started (see
    `actors.ray_processes`)."""
    if ray.is_initialized():
        ours = local_ray_processes()
        ray.shutdown()
        reap(ours)


class TwinCluster:
    """The shard actors and the state actor of one running twin."""

    def __init__(self, placement: list[list[int]], shards: list, state) -> None:  # noqa: ANN001
        self.placement = placement
        self.shards = shards
        self.state = state
        self.broker = None  # the embedded stream broker actor, when this cluster started one
        self.restarts = 0
        self._pids: dict[int, int] = {}

    @classmethod
    def start(cls, placement: list[list[int]], open_ports: Callable[[], Awaitable[ShardPorts]],
              snapshot_every_events: int, snapshot_every_seconds: float,
              stream_history: int | None = 10_000, stream_history_s: float = 300.0,
              stream_journal_dir: str | None = None,
              open_desk: Callable[[], Awaitable[DeskPorts]] | None = None, risk_rules=None, alert_rules=None,  # noqa: ANN001
              shard_loads: Sequence[int] | None = None) -> TwinCluster:
        """Create the actors (named, so Serve replicas can find them). Returns at once; shards
        recover in their constructors: await `wait_ready`. On a cluster of several nodes the
        shards are spread over them by `shard_loads` (each shard's schools; default: its
        districts), see `actors.node_placement`. The embedded broker journals its messages in
        `stream_journal_dir` when given, to come back with them after a restart."""
        # the embedded stream broker (None: the shards publish to Redis instead); before the shards,
        # which look it up by name when they start
        broker = start_broker_actor(stream_history, stream_history_s, stream_journal_dir) if stream_history else None
        state = ray.remote(num_cpus=0, max_restarts=-1, max_concurrency=100)(StateHost).options(
            name=STATE_ACTOR, namespace=NAMESPACE, get_if_exists=True, **singleton_options()).remote(
                placement, open_desk, risk_rules, alert_rules)
        host = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1, max_concurrency=1000)(ShardHost)
        where = shard_options(shard_loads if shard_loads is not None else [len(d) for d in placement])
        shards = [
            host.options(name=shard_name(k), namespace=NAMESPACE, get_if_exists=True, **where[k]).remote(
                k, districts, open_ports, snapshot_every_events, snapshot_every_seconds)
            for k, districts in enumerate(placement)
        ]
        cluster = cls(placement, shards, state)
        cluster.broker = broker
        return cluster

    @classmethod
    def attach(cls) -> TwinCluster:
        """Find the actors of the twin running in this Ray cluster (from a Serve replica). The
        placement is read from the shards, which are up before Serve starts: the state actor answers
        only once its constructor is done, and its risk desk's neighbour graph of every school took
        tens of seconds at India scale, which every replica waited for. The state actor's placement
        stays the reference: it is asked when the shards' districts do not cover every district once."""
        state = ray.get_actor(STATE_ACTOR, namespace=NAMESPACE)
        shards = []
        with contextlib.suppress(ValueError):  # no actor of that name: every shard found
            while True:
                shards.append(ray.get_actor(shard_name(len(shards)), namespace=NAMESPACE))
        placement = [list(status["districts"]) for status in ray.get([s.status.remote() for s in shards])]
        if sorted(d for districts in placement for d in districts) != list(range(len(geography.district_names()))):
            placement = ray.get(state.get_placement.remote())
            shards = [ray.get_actor(shard_name(k), namespace=NAMESPACE) for k in range(len(placement))]
        return cls(placement, shards, state)

    async def wait_ready(self, timeout_s: float = 300.0) -> list[dict]:
        statuses = await asyncio.wait_for(asyncio.gather(*(s.status.remote() for s in self.shards)), timeout_s)
        self._pids = {st["shard"]: st["pid"] for st in statuses}
        return list(statuses)

    def router(self) -> ShardRouter:
        n = len(geography.district_names())
        return ShardRouter([RayShard(handle) for handle in self.shards], shard_of_district(self.placement, n))

    async def check(self, timeout_s: float = 10.0) -> list[dict]:
        """Every shard's status; counts restarts (a shard answering from a new process)."""
        statuses = await self.wait_ready(timeout_s) if not self._pids else await asyncio.wait_for(
            asyncio.gather(*(s.status.remote() for s in self.shards)), timeout_s)
        for st in statuses:
            if self._pids.get(st["shard"]) not in (None, st["pid"]):
                self.restarts += 1
                log.warning("shard %d restarted (pid %d), replayed %d events in %.2fs", st["shard"], st["pid"],
                            st["replayed"], st["recovery_s"])
            self._pids[st["shard"]] = st["pid"]
        return list(statuses)

    async def twin_state(self) -> dict:
        return await self.state.state.remote()

    async def risk(self, school: int) -> dict | None:
        return await self.state.risk.remote(school)

    async def cascade_view(self, schools: np.ndarray) -> dict | None:
        return await self.state.cascade_view.remote(schools)

    async def risks(self, schools: np.ndarray) -> list[dict | None] | None:
        # arrays across Ray, the answers built here off the event loop: a dict a school pickled by
        # the state actor (which Ray runs at a low priority) cost seconds for the state
        columns = await self.state.risk_columns.remote(schools)
        return None if columns is None else await asyncio.to_thread(risk_answers, columns)

    async def risk_columns(self, schools: np.ndarray) -> RiskColumns | None:
        return await self.state.risk_columns.remote(schools)

    async def schools_changed(self) -> None:
        await self.state.schools_changed.remote()

    async def shard_restarts(self) -> dict[int, int]:
        return await self.state.restarts.remote()

    def kill(self) -> None:
        for actor in [*self.shards, self.state, *([self.broker] if self.broker else []), *_access_actor()]:
            ray.kill(actor, no_restart=True)

    async def stop(self, snapshot_timeout_s: float = 60.0) -> list[int]:
        """Stop in order once nothing sends events any more (Serve is down): every shard writes a
        final snapshot (the next start replays nothing), then the shards, the state actor, the
        API's access state and the stream broker go. Returns the seq each shard stored at.
        A shard that cannot snapshot in time is stopped all the same: the log has every event."""
        try:
            stored = list(await asyncio.wait_for(asyncio.gather(*(s.snapshot_now.remote() for s in self.shards)),
                                                 snapshot_timeout_s))
        except (TimeoutError, ray.exceptions.RayError) as exc:
            log.warning("final snapshots not all stored (%s); the next start replays the log after the last ones", exc)
            stored = []
        for actor in [*self.shards, self.state, *_access_actor(), *([self.broker] if self.broker else [])]:
            try:
                ray.kill(actor, no_restart=True)
            except ray.exceptions.RayError:
                pass  # gone already
        return stored


def _access_actor() -> list:
    """The API replicas' shared security state, if a replica started it (see `actors.access_state`)."""
    try:
        return [ray.get_actor(ACCESS_ACTOR, namespace=NAMESPACE)]
    except ValueError:
        return []
