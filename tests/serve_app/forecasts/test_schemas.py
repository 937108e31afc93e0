"""Every forecasts route answers what its declared response model says: each answer validates
against the model, and the OpenAPI document shows that model as each success's `data`."""

import asyncio

from serve_app.app import create_api
from serve_app.forecasts.schemas import Accuracy, DistrictForecast, Forecast, Job
from serve_app.shared.envelope import Envelope, ErrorEnvelope
from tests.fixtures.app import client_of
from tests.serve_app.forecasts.test_endpoints import SENDURAI, app, store  # noqa: F401 - fixtures

ROUTES = {  # (method, path): the model of the success's data
    ("get", "/api/v1/predictions/forecast/{school_id}"): "Forecast",
    ("get", "/api/v1/predictions/forecast/blocks/{name}"): "Forecast",
    ("get", "/api/v1/predictions/forecast/districts/{name}"): "DistrictForecast",
    ("get", "/api/v1/predictions/accuracy"): "Accuracy",
    ("post", "/api/v1/predictions/retrain"): "Job",
    ("get", "/api/v1/predictions/retrain"): "Job",
    ("get", "/api/v1/predictions/retrain/{job_id}"): "Job",
}


async def test_every_answer_validates_against_its_declared_model(app):  # noqa: F811
    async with client_of(app) as c:
        Envelope[Accuracy].model_validate((await c.get("/api/v1/predictions/accuracy")).json())
        untrained = await c.get(f"/api/v1/predictions/forecast/{SENDURAI}")
        assert untrained.status_code == 503
        ErrorEnvelope.model_validate(untrained.json())
        assert Envelope[list[Job]].model_validate((await c.get("/api/v1/predictions/retrain")).json()).data == []

        started = await c.post("/api/v1/predictions/retrain")
        assert started.status_code == 202
        job = Envelope[Job].model_validate(started.json()).data
        async with asyncio.timeout(240):
            while job.status in ("queued", "running"):
                await asyncio.sleep(0.5)
                job = Envelope[Job].model_validate((await c.get(f"/api/v1/predictions/retrain/{job.id}")).json()).data
        assert job.status == "done", job.error
        assert job.result is not None and job.progress.fraction == 1.0
        jobs = Envelope[list[Job]].model_validate((await c.get("/api/v1/predictions/retrain")).json()).data
        assert [j.id for j in jobs] == [job.id]

        school = Envelope[Forecast].model_validate((await c.get(f"/api/v1/predictions/forecast/{SENDURAI}")).json())
        assert len(school.data.total) == 7 and school.data.model.version is not None
        block = await c.get("/api/v1/predictions/forecast/blocks/Sendurai", params={"district": "Ariyalur"})
        assert len(Envelope[Forecast].model_validate(block.json()).data.schools) == 2
        district = await c.get("/api/v1/predictions/forecast/districts/Ariyalur", params={"rain_mm": "0,0,9,9,9,0,0"})
        assert Envelope[DistrictForecast].model_validate(district.json()).data.rain_forecast_mm == [0, 0, 9, 9, 9, 0, 0]
        board = Envelope[Accuracy].model_validate((await c.get("/api/v1/predictions/accuracy")).json()).data
        assert board.forecaster.latest_backtest is not None and board.risk.latest_backtest is not None
        assert sum(v.served for v in board.forecaster.versions) == 1

        unknown = await c.get(f"/api/v1/predictions/retrain/{'0' * 32}")
        assert unknown.status_code == 404
        ErrorEnvelope.model_validate(unknown.json())


def test_the_openapi_document_shows_each_model_as_the_success_data():
    spec = create_api().openapi()
    schemas = spec["components"]["schemas"]
    for (method, path), model in ROUTES.items():
        responses = spec["paths"][path][method]["responses"]
        success = next(r for code, r in responses.items() if code in ("200", "201", "202"))
        ref = success["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        data = schemas[ref]["properties"]["data"]
        data = data.get("items", data)
        assert data["$ref"] == f"#/components/schemas/{model}", (method, path, data)
