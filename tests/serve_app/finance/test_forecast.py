"""GET /financial/forecast: the next quarters' cost of an area from the served forecaster, the
history store's seasonality, the calendar and the norms; with the backtest of a held-out quarter
against the naive forecast; 503 until a forecaster is served."""

import asyncio
import datetime as dt

import numpy as np
import pytest

from configs import Settings
from configs.settings import Models
from ml.forecaster import DemandForecaster
from ml.history_store import load_panel
from ml.registry import Registry
from serve_app.finance.schemas import BudgetForecast
from tests.fixtures.app import client_of, running_app
from tests.fixtures.model_store import small_store
from tests.serve_app.finance.test_endpoints import assert_answers
from tests.serve_app.forecasts.test_endpoints import _days
from twin.area import Area


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return small_store(tmp_path_factory.mktemp("model-store"), schools=120, seed=3, first=dt.date(2023, 9, 1),
                       end=dt.date(2025, 7, 1))


def _serve_a_forecaster(root) -> None:
    panel = load_panel(root, dt.date(2025, 1, 1), dt.date(2025, 7, 1))
    forecaster = DemandForecaster("seasonal_naive", max_pairs=3000).fit(panel)
    registry = Registry(root)
    version = registry.register("forecaster", forecaster.to_bytes(), {"model": "seasonal_naive",
                                                                      "metrics": {"wape": 0.2}})
    assert registry.promote_if_better("forecaster", version, "wape", higher_is_better=False)


@pytest.fixture
async def app(sqlite_seeded, store):
    settings = Settings(database_url=sqlite_seeded, models=Models(root=str(store), cache_s=3600, bootstrap=False))
    async with running_app(settings) as app:
        async with client_of(app) as admin:
            assert (await admin.post("/api/v1/events", json={"events": _days(42)})).status_code == 200
        yield app


async def test_the_forecast_costs_the_next_quarters_and_reports_its_backtest(app, store):
    async with client_of(app) as admin:
        r = await admin.get("/api/v1/financial/forecast", params={"area": "district:Ariyalur"})
        assert r.status_code == 503 and r.json()["success"] is False  # no forecaster served yet
        await asyncio.to_thread(_serve_a_forecaster, store)
        r = await admin.get("/api/v1/financial/forecast", params={"area": "district:Ariyalur", "quarters": 3})
        assert r.status_code == 200, r.text[:500]
        out = assert_answers(BudgetForecast, r.json())
        assert out["origin"] == "2025-07-11" and [q["quarter"] for q in out["quarters"]] == [
            "2025-26 Q3", "2025-26 Q4", "2026-27 Q1"]
        level = out["level_meals_per_school_day"]
        assert 0 < level["p10"] <= level["p50"] <= level["p90"]
        for q in out["quarters"]:
            assert q["total_inr"]["p10"] <= q["total_inr"]["p50"] <= q["total_inr"]["p90"]
            for k in ("p10", "p50", "p90"):
                assert q["total_inr"][k] == pytest.approx(q["material_inr"][k] + q["honorarium_inr"] + q["mme_inr"][k],
                                                          abs=0.05)
                assert q["centre_inr"][k] + q["state_inr"][k] == pytest.approx(q["total_inr"][k], abs=0.05)
            assert q["meals"]["p50"] == pytest.approx(level["p50"] * (q["seasonal_ratio"] or 1) * q["school_days"],
                                                      rel=1e-3)
            assert sum(q["material_by_band_inr"].values()) == pytest.approx(q["material_inr"]["p50"], abs=0.05)
        assert out["quarters"][0]["seasonal_ratio"] is not None  # Oct-Dec 2024 is in the store
        backtest = out["backtest"]
        assert backtest is not None and backtest["groups"] == "blocks"
        assert backtest["quarter"] == "2025-26 Q1" and backtest["origin"] == "2025-03-31"
        assert np.isfinite(backtest["wape"]) and np.isfinite(backtest["naive_wape"])
        assert backtest["actual_inr"] > 0

        state = assert_answers(BudgetForecast, (await admin.get("/api/v1/financial/forecast",
                                                                params={"quarters": 1})).json())
        assert state["backtest"]["groups"] == "districts"
        assert state["quarters"][0]["total_inr"]["p50"] > out["quarters"][0]["total_inr"]["p50"]
        r = await admin.get("/api/v1/financial/forecast", params={"quarters": 9})
        assert r.status_code == 422 and r.json()["error"]["details"]["fields"][0]["field"] == "quarters"
    async with client_of(app, "block_officer", Area("Ariyalur", "Sendurai")) as officer:
        assert (await officer.get("/api/v1/financial/forecast")).status_code == 200
        assert (await officer.get("/api/v1/financial/forecast", params={"area": "district:Ariyalur"})).status_code \
            == 404


def test_the_history_is_read_as_daily_meals_by_block(store):
    from serve_app.finance.forecast import block_daily_meals

    n_blocks = 400
    daily = block_daily_meals(store, n_blocks)
    panel = load_panel(store, dt.date(2024, 1, 1), dt.date(2024, 3, 1))
    rows = (daily.dates >= np.datetime64("2024-01-01")) & (daily.dates < np.datetime64("2024-03-01"))
    expected = np.zeros((panel.n_days, n_blocks))
    for s in range(panel.n_schools):
        expected[:, panel.block[s]] += np.nan_to_num(panel.meals[:, s], nan=0.0)
    np.testing.assert_allclose(daily.meals[rows], expected, rtol=1e-9)
    assert daily.dates[0] == np.datetime64("2023-09-01") and np.all(np.diff(daily.dates.astype(np.int64)) == 1)
