"""The API as users get it: deployed on Ray Serve, with the shards as named Ray actors.

Serve pickles the FastAPI app into its replica, so this catches what an in-process test cannot
(services opened in the wrong copy of the app, annotations that no longer resolve)."""


import httpx
import pytest

from actors.remote import TwinCluster
from benchmarks.credentials import bench_token
from configs import Settings
from startup.deployment import run_app, shutdown_app
from startup.actor_ports import shard_ports_opener
from tests.fixtures.builders import small_directory
from tests.fixtures.ports import free_port

pytestmark = pytest.mark.ray



async def test_served_app_ingests_and_reads_back(ray_session, seeded_url):
    settings = Settings(database_url=seeded_url, port=free_port())
    cluster = TwinCluster.start([[0], [1, 2]], shard_ports_opener(settings), 1000, 3600)
    try:
        await cluster.wait_ready(120)
        run_app(settings)
        directory, _ = small_directory()
        school = f"{int(directory.school_ids[0]):011d}"
        headers = {"Authorization": f"Bearer {bench_token(settings)}"}  # signed with the replicas' key
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.port}", timeout=60, headers=headers) as client:
            assert (await client.get(f"/api/v1/twin/schools/{school}", headers={"Authorization": ""})).status_code == 401
            ready = (await client.get("/ready")).json()
            assert ready["success"] and ready["data"]["shards"] == {"up": 2, "of": 2, "applied_seq_min": 0}

            events = [
                {"type": "stock_delivered", "event_id": "d-1", "date": "2025-07-01", "school_id": school, "rice_kg": 100},
                {"type": "attendance_reported", "event_id": "a-1", "date": "2025-07-01", "school_id": school,
                 "present": 10, "meals_served": {"primary": 10}},
                {"type": "stock_delivered", "event_id": "bad", "date": "2025-07-01", "school_id": "123"},
            ]
            posted = (await client.post("/api/v1/events", json={"events": events})).json()
            assert posted["data"]["accepted"] == 2 and posted["data"]["rejected"] == 1

            twin = (await client.get(f"/api/v1/twin/schools/{school}")).json()["data"]
            assert twin["recent_days"][0]["meals_served"]["primary"] == 10 and twin["stale"] is False
            assert twin["stock_kg"]["rice"] == pytest.approx(100 - 10 * 0.1)

            missing = await client.get("/api/v1/twin/schools/33999999999")
            assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND"
    finally:
        shutdown_app()
        cluster.kill()
