"""Request ids, JSON access logs and Prometheus metrics."""

import json
import logging

from serve_app.observability import JsonFormatter, request_id
from tests.serve_app.twin.test_ingest import SCHOOL, attendance, client  # noqa: F401 - the fixture


async def test_every_response_carries_a_request_id_and_a_sane_given_one_is_kept(client):  # noqa: F811
    fresh = await client.get("/health")
    assert len(fresh.headers["x-request-id"]) == 32
    kept = await client.get("/health", headers={"X-Request-ID": "gateway-42"})
    assert kept.headers["x-request-id"] == "gateway-42"
    replaced = await client.get("/health", headers={"X-Request-ID": "bad id with spaces"})
    assert replaced.headers["x-request-id"] != "bad id with spaces"


async def test_metrics_count_requests_by_route_and_events_by_outcome(client):  # noqa: F811
    await client.post("/api/v1/events", json={"events": [attendance("m1"), attendance("m1"), attendance("m2", school="33999999999")]})
    await client.get(f"/api/v1/twin/schools/{SCHOOL}")
    await client.get("/api/v1/twin/schools/33999999998")
    text = (await client.get("/metrics")).text
    assert 'mealtwin_events_ingested_total{status="accepted"} 1.0' in text
    assert 'mealtwin_events_ingested_total{status="duplicates"} 1.0' in text
    assert 'mealtwin_events_ingested_total{status="rejected"} 1.0' in text
    # labelled by route template, so ids do not multiply the series
    assert 'route="/api/v1/twin/schools/{school_id}",status="200"' in text
    assert 'route="/api/v1/twin/schools/{school_id}",status="404"' in text
    assert "mealtwin_event_apply_lag_seconds_count 1.0" in text


def test_log_lines_are_json_with_the_request_id():
    token = request_id.set("r-1")
    try:
        record = logging.LogRecord("mealtwin.access", logging.INFO, __file__, 1, "request", None, None)
        record.fields = {"status": 200}
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id.reset(token)
    assert line["request_id"] == "r-1" and line["status"] == 200 and line["message"] == "request"
