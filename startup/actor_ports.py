"""What the twin's actors open in their own processes (shards, the state actor's risk desk): the
database, the stream broker, alert delivery. Kept apart from `startup.services` so that an actor
unpickling an opener imports only this (the API's modules would add ~100 MiB to every actor)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from configs import Settings
from configs.settings import AlertDelivery
from db.alert_repository import AlertRepository
from db.engine import create_engine
from db.event_log import SqlEventLog
from db.school_repository import SchoolRepository
from db.snapshot_deltas import SqlSnapshotDeltas
from db.snapshot_store import SqlSnapshotStore
from serve_app.alerts.delivery import StoredDeliveryRecorder
from startup.delivery import open_dispatcher
from serve_app.alerts.delivery.notifier import SubscriberNotifier
from adapters.redis_broker import RedisBroker
from twin.directory import Directory
from twin.ports import DeskPorts, ShardPorts, StreamBroker


async def open_shard_ports(database_url: str, redis_url: str | None = None, stream_history: int = 10_000,
                           ray_broker: bool = False, redis_prefix: str = "mealtwin:",
                           low_stock_days: float = 3.0) -> ShardPorts:
    """Everything a shard needs, opened in the caller's process and event loop. The stream broker
    is Redis when `redis_url` is set, else the `stream-broker` actor when `ray_broker`, else none."""
    engine = create_engine(database_url)
    directory, enrolment = await SchoolRepository(engine).load_directory()
    broker = open_broker(redis_url, stream_history, redis_prefix) if redis_url or ray_broker else None
    return ShardPorts(SqlEventLog(engine), SqlSnapshotStore(engine), directory, enrolment, engine.dispose,
                      broker=broker, low_stock_days=low_stock_days, snapshot_deltas=SqlSnapshotDeltas(engine))


def shard_ports_opener(settings: Settings) -> Callable[[], Awaitable[ShardPorts]]:
    """A picklable opener that shard actors call in their own process."""
    return functools.partial(open_shard_ports, settings.database_url, settings.redis_url,
                             settings.streams.history_messages, True, settings.streams.redis_prefix,
                             settings.streams.low_stock_days)


async def load_schools(engine: AsyncEngine) -> tuple[Directory, object, object]:
    """The directory and every school's latitude and longitude, read afresh (the stored arrays and
    the rows changed since: `db.school_arrays`)."""
    return await SchoolRepository(engine).load_schools()


async def open_desk_ports(database_url: str, redis_url: str | None = None, stream_history: int = 10_000,
                          redis_prefix: str = "mealtwin:", delivery: AlertDelivery | None = None) -> DeskPorts:
    """Everything the risk desk needs, opened in the state actor's process: the schools, the alert
    store, the stream broker, and alert delivery to subscribers."""
    engine = create_engine(database_url)
    directory, lat, lon = await load_schools(engine)
    broker = open_broker(redis_url, stream_history, redis_prefix)
    store = AlertRepository(engine)
    notifier = await open_notifier(delivery or AlertDelivery(), store)

    async def close() -> None:
        await notifier.close()
        await engine.dispose()

    return DeskPorts(directory, lat, lon, store=store, broker=broker, notifier=notifier,
                     levels=SchoolRepository(engine), close=close, load_schools=functools.partial(load_schools, engine))


async def open_notifier(delivery: AlertDelivery, store: AlertRepository) -> SubscriberNotifier:
    """Delivery of new and escalated alerts to the subscriptions in the table."""
    dispatcher = await open_dispatcher(delivery, StoredDeliveryRecorder(store))
    return SubscriberNotifier(dispatcher, store.subscriptions)


def desk_ports_opener(settings: Settings) -> Callable[[], Awaitable[DeskPorts]]:
    """A picklable opener the state actor calls in its own process."""
    return functools.partial(open_desk_ports, settings.database_url, settings.redis_url,
                             settings.streams.history_messages, settings.streams.redis_prefix,
                             settings.alert_delivery)


def open_broker(redis_url: str | None, history: int, redis_prefix: str = "mealtwin:") -> StreamBroker:
    """Redis Streams when configured (every node shares it), else the embedded `stream-broker` actor."""
    if redis_url:
        return RedisBroker(redis_url, history, redis_prefix)
    from actors.broker import RayBroker

    return RayBroker()
