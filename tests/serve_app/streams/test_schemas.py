"""Every message a WebSocket client receives is a `StreamMessage`: snapshots, deltas, alerts,
notices and heartbeats of the school, alert, dashboard and scenario streams; notices and a
scenario's news have the documented shapes; refusals are the error envelope."""

import pytest

from serve_app.shared.envelope import ErrorEnvelope
from serve_app.streams.schemas import (FellBehind, LiveNotice, ScenarioNews, StreamMessage, TooOld,
                                       stream_schemas)
from tests.fixtures.ws import Closed
from tests.serve_app.streams.test_endpoints import (  # noqa: F401 - fixtures
    BLOCK, DISTRICT, SCHOOL, attendance, delivery, sqlite_url, twin_factory)


async def received(ws, n: int = 1, timeout_s: float = 5) -> list[StreamMessage]:  # noqa: ANN001
    return [StreamMessage.model_validate(await ws.receive_json(timeout_s=timeout_s)) for _ in range(n)]


async def test_school_alert_and_dashboard_messages_are_stream_messages(twin_factory):  # noqa: F811
    twin = await twin_factory(heartbeat_s=0.2, dashboard_interval_s=0.05, history_messages=10)
    async with twin.ws(f"/api/v1/ws/schools/{SCHOOL}") as school, twin.ws("/api/v1/ws/alerts", district=DISTRICT) as alerts, \
            twin.ws("/api/v1/ws/dashboard", scope=f"block:{DISTRICT}/{BLOCK}") as dashboard:
        [snapshot] = await received(school)
        [live] = await received(alerts)
        [view] = await received(dashboard)
        assert (snapshot.type, live.type, view.type) == ("snapshot", "notice", "snapshot")
        LiveNotice.model_validate(live.data)
        await twin.post({"type": "shortage_reported", "event_id": "s1", "date": "2025-07-01", "school_id": SCHOOL,
                         "item": "rice"}, attendance())
        deltas = [m for m in await received(school, 2) if m.type == "delta"]
        assert deltas and deltas[0].seq > snapshot.seq
        alert = next(m for m in await received(alerts, 2) if m.type != "heartbeat")
        assert alert.type == "alert" and alert.topic == f"alerts:{DISTRICT}"
        got = [StreamMessage.model_validate(m) for m in await dashboard.receive_until(lambda m: m["type"] == "delta")]
        beat = next(m for m in await received(dashboard, 2, timeout_s=2) if m.type == "heartbeat")
        assert beat.data is None and beat.seq == got[-1].seq

    for primary in range(12):
        await twin.post(attendance(primary=primary))
    async with twin.ws(f"/api/v1/ws/schools/{SCHOOL}", after_seq=0) as school:  # older than the history kept
        snapshot, notice = await received(school, 2)
        assert snapshot.type == "snapshot" and notice.type == "notice"
        TooOld.model_validate(notice.data)


async def test_a_slow_clients_notice_is_a_stream_message(twin_factory):  # noqa: F811
    twin = await twin_factory(client_queue=3)
    async with twin.ws(f"/api/v1/ws/schools/{SCHOOL}") as slow:
        await received(slow)
        slow.stalled()
        for primary in range(10):
            await twin.post(attendance(primary=primary))
        slow.resume()
        got = [StreamMessage.model_validate(m) for m in
               await slow.receive_until(lambda m: m["type"] == "delta" and m["data"]["meals_today"] == 9)]
        notice = next(m for m in got if m.type == "notice")
        FellBehind.model_validate(notice.data)


async def test_a_scenario_streams_a_snapshot_then_news(twin_factory):  # noqa: F811
    twin = await twin_factory()
    await twin.post(delivery(), attendance())
    spec = {"name": "week", "start": "live", "horizon_days": 7, "scope": {"districts": [DISTRICT]}, "seed": 3,
            "stopping": {"reps_min": 2, "reps_max": 8, "relative_half_width": 0.5}}
    started = await twin.http.post("/api/v1/scenarios", json=spec)
    assert started.status_code == 202, started.text
    run_id = started.json()["data"]["id"]
    async with twin.ws(f"/api/v1/ws/scenarios/{run_id}") as ws:
        [snapshot] = await received(ws)
        assert snapshot.type == "snapshot" and snapshot.data["id"] == run_id
        news = [snapshot]
        while snapshot.data["status"] not in ("done", "failed") and news[-1].data.get("status") not in ("done", "failed"):
            [message] = await received(ws, timeout_s=60)
            if message.type == "delta":
                assert message.seq > news[-1].seq
                assert ScenarioNews.model_validate(message.data).run_id == run_id
            news.append(message)
    if snapshot.data["status"] != "done":  # followed live: the news came as deltas
        assert [m.data["status"] for m in news if m.type == "delta"][-1] == "done"


@pytest.mark.parametrize("path, query", [("/api/v1/ws/schools/33999999999", {}),
                                         ("/api/v1/ws/dashboard", {"scope": "galaxy"}),
                                         ("/api/v1/ws/scenarios/" + "0" * 32, {})])
async def test_a_refusal_is_the_error_envelope(twin_factory, path, query):  # noqa: F811
    twin = await twin_factory()
    ws = twin.ws(path, **query)
    await ws.connect()
    ErrorEnvelope.model_validate(await ws.receive_json())
    with pytest.raises(Closed):
        await ws.receive_json()
    await ws.close()


def test_the_message_models_have_json_schemas():
    schemas = stream_schemas()
    assert schemas["StreamMessage"]["properties"]["type"]["enum"] == ["snapshot", "delta", "alert", "notice",
                                                                      "heartbeat"]
    assert schemas["ScenarioNews"]["properties"]["progress"]["anyOf"][0]["$ref"] == "#/components/schemas/RunProgress"
