"""Every scenarios route answers what its declared response model says: each answer validates
against the model, and the OpenAPI document shows that model as each success's `data`."""

from scenarios.spec import ScenarioSpec
from serve_app.app import create_api
from serve_app.scenarios.schemas import SPEC_EXAMPLE, Comparison, Run, RunPage
from serve_app.shared.envelope import Envelope, ErrorEnvelope
from tests.fixtures.app import client_of
from tests.serve_app.scenarios.test_endpoints import app, feed, finished, spec  # noqa: F401 - app is a fixture

ROUTES = {  # (method, path): the model of the success's data
    ("post", "/api/v1/scenarios"): "Run",
    ("get", "/api/v1/scenarios"): "RunPage",
    ("get", "/api/v1/scenarios/compare"): "Comparison",
    ("get", "/api/v1/scenarios/{run_id}"): "Run",
    ("post", "/api/v1/scenarios/{run_id}/cancel"): "Run",
}


async def test_every_answer_validates_against_its_declared_model(app):  # noqa: F811
    async with client_of(app) as client:
        await feed(client)
        started = await client.post("/api/v1/scenarios", json=spec())
        assert started.status_code == 202
        run = Envelope[Run].model_validate(started.json()).data
        assert run.status in ("queued", "running") and run.result is None
        Run.model_validate(await finished(client, run.id))
        done = Envelope[Run].model_validate((await client.get(f"/api/v1/scenarios/{run.id}")).json()).data
        assert done.status == "done" and done.result is not None and done.result.plans[0].name == "baseline"
        assert done.progress.estimates and done.progress.converged is not None

        long = spec(stopping={"reps_min": 2, "reps_max": 2000, "relative_half_width": 0.0001})
        other = Envelope[Run].model_validate((await client.post("/api/v1/scenarios", json=long)).json()).data
        cancelled = await client.post(f"/api/v1/scenarios/{other.id}/cancel")
        assert Envelope[Run].model_validate(cancelled.json()).data.cancel_requested
        Run.model_validate(await finished(client, other.id))

        page = Envelope[RunPage].model_validate((await client.get("/api/v1/scenarios", params={"page_size": 1})).json())
        assert page.data.pagination.total == 2 and page.data.pagination.pages == 2 and len(page.data.runs) == 1
        assert "result" not in page.model_dump()["data"]["runs"][0]
        compared = await client.get("/api/v1/scenarios/compare", params={"ids": run.id})
        comparison = Envelope[Comparison].model_validate(compared.json()).data
        assert comparison.runs[0].plans[1].vs_baseline is not None and "meals_served" in comparison.kpis

        for refused in (await client.get(f"/api/v1/scenarios/{'0' * 32}"),
                        await client.post(f"/api/v1/scenarios/{run.id}/cancel"),
                        await client.post("/api/v1/scenarios", json=spec(horizon_days=0))):
            assert refused.status_code in (404, 409, 422)
            ErrorEnvelope.model_validate(refused.json())


def test_the_documented_spec_example_is_a_valid_scenario():
    assert ScenarioSpec.model_validate(SPEC_EXAMPLE).name == SPEC_EXAMPLE["name"]


def test_the_openapi_document_shows_each_model_as_the_success_data():
    spec_ = create_api().openapi()
    schemas = spec_["components"]["schemas"]
    for (method, path), model in ROUTES.items():
        responses = spec_["paths"][path][method]["responses"]
        success = next(r for code, r in responses.items() if code in ("200", "201", "202"))
        ref = success["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        assert schemas[ref]["properties"]["data"]["$ref"] == f"#/components/schemas/{model}", (method, path)
