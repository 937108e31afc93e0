"""The OpenAPI document: every route is summarised and shows an example answer in the envelope."""

import json

from serve_app.app import create_api


def test_every_route_has_a_summary_and_an_example_answer():
    spec = create_api().openapi()
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            assert op.get("summary"), f"{method} {path} has no summary"
            if path == "/metrics":  # Prometheus text, not the envelope
                continue
            examples = [c.get("example") for r in op["responses"].values() for c in r.get("content", {}).values()]
            assert any(examples), f"{method} {path} shows no example answer"
            for example in filter(None, examples):
                if isinstance(example, dict):
                    assert "success" in example and "timestamp" in example, f"{method} {path}: not the envelope"


def test_docs_are_served_where_the_design_says():
    app = create_api()
    assert (app.docs_url, app.redoc_url, app.openapi_url) == ("/api/docs", "/api/redoc", "/api/openapi.json")
    assert json.dumps(app.openapi()["components"]["schemas"]["Event"])  # the event union is published


def test_every_json_answer_declares_its_envelope_and_every_refusal_the_error_envelope():
    spec = json.loads(json.dumps(create_api().openapi()))  # encodable, as it is served
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            if path in ("/metrics", "/health", "/ready"):
                continue
            for status, answer in op["responses"].items():
                schema = answer.get("content", {}).get("application/json", {}).get("schema")
                if schema is None:  # CSV, PDF: their media types document them
                    assert answer.get("content") or status == "204", f"{method} {path} {status} says nothing"
                    continue
                ref = schema.get("$ref", "")
                if status.startswith("2"):
                    assert ref.startswith("#/components/schemas/Envelope_"), f"{method} {path} {status}: {schema}"
                else:  # a refusal, or ingest's 422 answering every event's result
                    assert ref == "#/components/schemas/ErrorEnvelope" or ref.startswith(
                        "#/components/schemas/Envelope_"), f"{method} {path} {status}: {schema}"
