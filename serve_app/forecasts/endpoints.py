"""Routes of the learned models: 7-day meal forecasts of a school, a block and a district; the
accuracy board; retraining jobs.

No `from __future__ import annotations`: this module defines routes (see `serve_app.app`)."""

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Depends, Path, Query, Request

from serve_app.shared.access import allowed, block_in_area, district_in_area, school_in_area
from serve_app.shared.app_services import services_of
from serve_app.auth.guard import authenticated
from serve_app.auth.principal import Permission
from serve_app.shared.envelope import Envelope, JSONResponse, ok
from serve_app.shared.examples import errors
from serve_app.forecasts.schemas import Accuracy, DistrictForecast, Forecast, Job
from serve_app.forecasts.service import ModelService, parse_rain
from serve_app.shared.paths import API
from twin import geography

_Rain = Annotated[str | None, Query(
    description="a rain forecast for the place's district: 7 comma-separated millimetres, one per school day "
                "ahead (default: each district's mean of the last four weeks)", examples=["0,0,45,80,20,0,0"])]


def _models(request: Request) -> ModelService:
    return services_of(request).models


def forecasts_router() -> APIRouter:
    r = APIRouter(prefix=f"{API}/predictions", tags=["forecasts"], dependencies=[Depends(authenticated)])

    @r.get("/forecast/{school_id}", summary="A school's meals for the next 7 school days, with P10-P90",
           description="From the live twin's recent days by the served forecaster (the backtest's winner).",
           response_model=Envelope[Forecast], responses=errors(404, 422, 503))
    async def forecast_school(request: Request, school_id: Annotated[str, Path(examples=["33010100101"])],
                              rain_mm: _Rain = None) -> JSONResponse:
        school_in_area(request, school_id)
        i = services_of(request).directory.index(school_id)
        return ok(await _models(request).forecast(np.array([i]), parse_rain(rain_mm)))

    @r.get("/forecast/blocks/{name}", summary="A block's meals for the next 7 school days: each school and the sum",
           response_model=Envelope[Forecast], responses=errors(404, 422, 503))
    async def forecast_block(request: Request, name: Annotated[str, Path(examples=["Sendurai"])],
                             district: Annotated[str | None, Query(description="needed when the name is not unique")] = None,
                             rain_mm: _Rain = None) -> JSONResponse:
        _, b = block_in_area(request, name, district)
        schools = np.flatnonzero(services_of(request).directory.school_block == b)
        return ok(await _models(request).forecast(schools, parse_rain(rain_mm)))

    @r.get("/forecast/districts/{name}", summary="A district's meals for the next 7 school days",
           response_model=Envelope[DistrictForecast], responses=errors(404, 422, 503))
    async def forecast_district(request: Request, name: Annotated[str, Path(examples=["Ariyalur"])],
                                rain_mm: _Rain = None) -> JSONResponse:
        d = district_in_area(allowed(request).area, name)
        schools = np.flatnonzero(services_of(request).directory.school_district == d)
        data = await _models(request).forecast(schools, parse_rain(rain_mm))
        return ok({"district": geography.district_names()[d], **data})

    @r.get("/accuracy", summary="Backtest figures of every model version, the served one marked",
           description="Forecasters (WAPE, MASE, bias on school days, by rolling origin) and risk models (ROC-AUC, "
                       "PR-AUC, Brier and its skill) against their baselines, with training windows and data and "
                       "code versions. Tables by district are cut to the caller's area.",
           response_model=Envelope[Accuracy], responses=errors())
    async def model_accuracy(request: Request) -> JSONResponse:
        return ok(await _models(request).accuracy(allowed(request).area))

    @r.post("/retrain", status_code=202, summary="Retrain the models now (a background job)",
            description="Backtests and trains the risk model and the forecaster on the history store, and serves "
                        "each only if it beats the served version. Follow it with GET /predictions/retrain/{id}. "
                        "It also runs daily at the configured time.",
            response_model=Envelope[Job], responses=errors(403, 409))
    async def start_retrain(request: Request) -> JSONResponse:
        principal = allowed(request, Permission.MODELS_MANAGE)
        return ok(await _models(request).retrain(principal.subject), "started", status_code=202)

    @r.get("/retrain", summary="Retraining jobs, newest first", response_model=Envelope[list[Job]],
           responses=errors(403))
    async def list_retrains(request: Request) -> JSONResponse:
        allowed(request, Permission.MODELS_MANAGE)
        return ok(_models(request).jobs())

    @r.get("/retrain/{job_id}", summary="A retraining job: status, progress, outcome", response_model=Envelope[Job],
           responses=errors(403, 404, 422))
    async def get_retrain(request: Request,
                          job_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]) -> JSONResponse:
        allowed(request, Permission.MODELS_MANAGE)
        return ok(_models(request).job(job_id))

    return r
