"""Live streams as users get them: WebSockets through Ray Serve's proxy and FastAPI ingress, the
shard actors publishing to the embedded `stream-broker` actor, the replicas' hubs reading it."""

import asyncio
import contextlib
import json
from urllib.parse import quote

import httpx
import pytest
import websockets

from actors.remote import TwinCluster
from benchmarks.credentials import bench_token
from configs import Settings
from configs.settings import Streams
from startup.actor_ports import shard_ports_opener
from startup.deployment import run_app, shutdown_app
from tests.fixtures.builders import small_directory
from tests.fixtures.ports import free_port
from twin import geography

pytestmark = pytest.mark.ray



async def test_a_school_stream_through_serve_gets_the_change_posted(ray_session, seeded_url):
    settings = Settings(database_url=seeded_url, port=free_port())
    cluster = TwinCluster.start([[0], [1, 2]], shard_ports_opener(settings), 1000, 3600)
    try:
        await cluster.wait_ready(120)
        await asyncio.to_thread(run_app, settings)
        directory, _ = small_directory()
        school = f"{int(directory.school_ids[0]):011d}"
        base = f"127.0.0.1:{settings.port}"
        token = bench_token(settings)  # signed with the replicas' key
        async with websockets.connect(f"ws://{base}/api/v1/ws/schools/{school}?access_token={token}",
                                      open_timeout=30) as ws:
            snapshot = json.loads(await asyncio.wait_for(ws.recv(), 30))
            assert (snapshot["type"], snapshot["data"]["school_id"]) == ("snapshot", school)
            events = [{"type": "attendance_reported", "event_id": "a-1", "date": "2025-07-01", "school_id": school,
                       "present": 10, "meals_served": {"primary": 9}}]
            async with httpx.AsyncClient(base_url=f"http://{base}", timeout=60,
                                         headers={"Authorization": f"Bearer {token}"}) as client:
                posted = await client.post("/api/v1/events", json={"events": events})
            assert posted.status_code == 200
            delta = json.loads(await asyncio.wait_for(ws.recv(), 30))
            assert (delta["type"], delta["data"]["meals_today"]) == ("delta", 9) and delta["seq"] > snapshot["seq"]

        async with websockets.connect(f"ws://{base}/api/v1/ws/schools/33999999999?access_token={token}",
                                      open_timeout=30) as ws:
            error = json.loads(await asyncio.wait_for(ws.recv(), 30))
            assert error["error"]["code"] == "NOT_FOUND"
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 30)
            assert closed.value.rcvd.code == 4404
    finally:
        shutdown_app()
        cluster.kill()


async def test_the_state_dashboard_through_serve_moves_on_a_shards_news(ray_session, seeded_url):
    # a scope read once a minute without news: only a shard's news of the batch brings the view within
    # the wait below, and only once the shard without rows of the batch has pushed its applied seq too.
    # The district's and block's dashboards, read together in one call to their shard, move with it.
    settings = Settings(database_url=seeded_url, port=free_port(), streams=Streams(dashboard_interval_s=60.0))
    cluster = TwinCluster.start([[0], [1, 2]], shard_ports_opener(settings), 1000, 3600)
    try:
        await cluster.wait_ready(120)
        await asyncio.to_thread(run_app, settings)
        directory, _ = small_directory()
        i = next(i for i, d in enumerate(directory.school_district) if d == 0)
        school = f"{int(directory.school_ids[i]):011d}"
        district = geography.district_names()[0]
        block = directory.blocks.names[int(directory.school_block[i])]
        base = f"127.0.0.1:{settings.port}"
        token = bench_token(settings)
        async with contextlib.AsyncExitStack() as sockets:
            scopes = ["state", f"district:{quote(district)}", f"block:{quote(district)}/{quote(block)}"]
            dashboards = [await sockets.enter_async_context(websockets.connect(
                f"ws://{base}/api/v1/ws/dashboard?scope={scope}&access_token={token}", open_timeout=30))
                for scope in scopes]
            for ws in dashboards:
                snapshot = json.loads(await asyncio.wait_for(ws.recv(), 30))
                assert snapshot["type"] == "snapshot"
            events = [{"type": "attendance_reported", "event_id": "state-1", "date": "2025-07-01", "school_id": school,
                       "present": 10, "meals_served": {"primary": 9}}]
            async with httpx.AsyncClient(base_url=f"http://{base}", timeout=60,
                                         headers={"Authorization": f"Bearer {token}"}) as client:
                posted = await client.post("/api/v1/events", json={"events": events})
            assert posted.status_code == 200
            seq = posted.json()["data"]["results"][0]["seq"]
            deadline = asyncio.get_running_loop().time() + 30  # heartbeats come meanwhile: the whole wait is bounded
            for ws in dashboards:
                while True:
                    left = deadline - asyncio.get_running_loop().time()
                    message = json.loads(await asyncio.wait_for(ws.recv(), max(0.1, left)))
                    if message["type"] == "delta":
                        break
                assert message["seq"] >= seq and message["data"]["meals_today"] == 9
    finally:
        shutdown_app()
        cluster.kill()
