"""The reports' forecasts once a forecaster is served: the forecasts CSV is the served model's
forecast of each school, and a PDF's forecast of the coming week is drawn from it."""

import asyncio
import csv
import io

from pypdf import PdfReader

from ml.pipeline import retrain
from tests.fixtures.app import client_of
from tests.serve_app.forecasts.test_endpoints import SMALL, app, store  # noqa: F401 - fixtures

SENDURAI = {"district": "Ariyalur", "block": "Sendurai"}


async def test_forecasts_csv_and_the_pdf_forecast_once_a_model_is_served(app, store):  # noqa: F811
    await asyncio.to_thread(retrain, store, **SMALL)
    async with client_of(app) as admin:
        served = (await admin.get("/api/v1/predictions/forecast/blocks/Sendurai",
                                  params={"district": "Ariyalur"})).json()["data"]
        r = await admin.get("/api/v1/reports/export/csv", params={"kind": "forecasts", **SENDURAI})
        assert r.status_code == 200, r.text[:300]
        rows = list(csv.DictReader(io.StringIO(r.text)))
        pdf = await admin.get("/api/v1/reports/export/pdf", params={"level": "block", "name": "Sendurai",
                                                                    "district": "Ariyalur"})
    expected = {(s["school_id"], d["date"]): d["p50"] for s in served["schools"] for d in s["days"]}
    assert len(rows) == len(expected) > 0
    assert {(row["school_id"], row["date"]): float(row["meals_p50"]) for row in rows} == expected
    assert all(float(row["meals_p10"]) <= float(row["meals_p50"]) <= float(row["meals_p90"]) for row in rows)
    assert {row["origin"] for row in rows} == {served["origin"]}
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Forecast of the coming week" in text and "No forecast:" not in text
    assert all(day["date"] in text for day in served["total"])  # the week's table under the chart
