"""Closing the in-process services closes every database connection they opened: one left in a
pool is finalised later by the garbage collector, on a thread whose event loop is gone."""

from __future__ import annotations

import gc
import warnings

from configs import Settings
from startup.services import open_local_services


async def test_close_leaves_no_database_connection_open(sqlite_seeded):
    services = await open_local_services(Settings(database_url=sqlite_seeded), placement=[[0, 1, 2]])
    assert services.shards[0].status()["applied_seq"] == 0  # the shards read the log: their engine holds connections
    await services.close()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del services
        gc.collect()
    unclosed = [str(w.message) for w in caught if "deleted before being closed" in str(w.message)]
    assert not unclosed, unclosed
