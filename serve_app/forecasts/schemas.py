"""The forecasts domain's response shapes: 7-day meal forecasts with their P10-P90 bands, the
accuracy board of the learned models, and retraining jobs. Each model carries the example the API's
documentation shows."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from serve_app.shared.fields import UdiseCode

_DAY = {"date": "2025-07-02", "p10": 61.0, "p50": 68.5, "p90": 74.0}
_NOTE = ("P10-P90 of each school; the total's band is the sum of the schools' bands (a planning range, wider "
         "than a calibrated interval of the sum)")
_FORECAST = {"origin": "2025-07-01", "model": {"version": "v3", "kind": "lstm"}, "rain_forecast_mm": None,
             "schools": [{"school_id": "33010100101", "days": [_DAY]}], "total": [_DAY], "note": _NOTE,
             "source": "nightly"}
_JOB = {"id": "9f1c0e2a7b6d4c3e8a5f1b2c3d4e5f60", "kind": "retrain", "status": "running", "requested_by": "user:1",
        "progress": {"stage": "forecaster: backtest", "fraction": 0.4}, "result": None, "error": None,
        "created_at": "2026-11-29T02:00:00.000000Z", "started_at": "2026-11-29T02:00:01.000000Z",
        "finished_at": None}


class ForecastDay(BaseModel):
    """Meals forecast for one school day: the median and the 10th and 90th percentiles."""

    model_config = ConfigDict(json_schema_extra={"examples": [_DAY]})

    date: dt.date
    p10: float = Field(ge=0, description="meals, 10th percentile")
    p50: float = Field(ge=0, description="meals, median")
    p90: float = Field(ge=0, description="meals, 90th percentile")


class SchoolForecast(BaseModel):
    school_id: UdiseCode
    days: list[ForecastDay] = Field(description="the next 7 school days, in order")


class ServedModel(BaseModel):
    """The forecaster version that answered (the backtest's winner, served from the registry)."""

    version: str | None = Field(examples=["v3"])
    kind: str | None = Field(description="the model family", examples=["lstm"])


class Forecast(BaseModel):
    """Meals of a set of schools for the next 7 school days after `origin`: each school, and the sum."""

    model_config = ConfigDict(json_schema_extra={"examples": [_FORECAST]})

    origin: dt.date = Field(description="the twin's last reported day, which the forecast starts after")
    model: ServedModel
    rain_forecast_mm: list[float] | None = Field(
        description="the caller's rain forecast, one value per day ahead (None: each district's recent mean)")
    schools: list[SchoolForecast]
    total: list[ForecastDay] = Field(description="the schools' sum per day")
    note: str
    source: Literal["nightly", "computed"] = Field(
        description="nightly: read from the nightly job's forecasts of every school (the twin's day, the served "
                    "forecaster, no rain given); computed: from the live twin's recent days on this request")


class DistrictForecast(Forecast):
    model_config = ConfigDict(json_schema_extra={"examples": [{"district": "Ariyalur", **_FORECAST}]})

    district: str = Field(examples=["Ariyalur"])


# ---- accuracy board -------------------------------------------------------------------------------

class ModelVersion(BaseModel):
    """One registered version of a model. Its metrics, training window and data description are
    what the training recorded: they differ between the forecaster and the risk model and grow as
    the models do, so they are open objects."""

    version: str = Field(examples=["v3"])
    model: str | None = Field(examples=["lstm"])
    served: bool
    metrics: dict[str, Any] = Field(examples=[{"wape": 0.081, "mase": 0.62, "bias": -0.004}])
    training_window: dict[str, Any] = Field(examples=[{"first_day": "2024-03-01", "last_day": "2025-06-30"}])
    data: dict[str, Any]
    data_hash: str | None
    code_version: str | None
    created_at: str | None


class ForecasterScores(BaseModel):
    """A candidate forecaster's backtest, by rolling origin."""

    wape: float
    mase: float
    bias: float
    coverage_p10_p90: float | None = None
    block_wape: float
    district_wape: float
    fit_seconds: float | None = None


class ForecasterBacktest(BaseModel):
    version: str
    table: dict[str, ForecasterScores] = Field(description="by candidate model")
    winner: str
    origins: list[str] | None = Field(description="first and last backtest origin")
    statement: str


class RiskBacktest(BaseModel):
    version: str
    table: dict[str, dict[str, float | None]] = Field(
        description="by candidate: ROC-AUC, PR-AUC, Brier and its skill... (as the backtest measured them)")
    winner: str
    split: dict[str, str] = Field(description="the train, validation and test windows")
    rows: dict[str, int] = Field(description="rows of each window", examples=[{"train": 20000, "valid": 5000,
                                                                                "test": 8000}])
    statement: str


class ForecasterBoard(BaseModel):
    served: str | None = Field(description="the served version")
    versions: list[ModelVersion]
    latest_backtest: ForecasterBacktest | None


class RiskBoard(BaseModel):
    served: str | None = Field(description="the served version")
    versions: list[ModelVersion]
    latest_backtest: RiskBacktest | None


class Accuracy(BaseModel):
    """Every version of both learned models (the served one marked) and the latest backtest of each."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "forecaster": {"served": None, "versions": [], "latest_backtest": None},
        "risk": {"served": None, "versions": [], "latest_backtest": None}}]})

    forecaster: ForecasterBoard
    risk: RiskBoard


# ---- retraining jobs ------------------------------------------------------------------------------

class JobProgress(BaseModel):
    stage: str = Field(examples=["forecaster: backtest"])
    fraction: float = Field(ge=0, le=1)


class RetrainResult(BaseModel):
    """What a finished retraining did. Each model's own report (versions, metrics, windows, why it
    was or was not served) is as the training pipeline wrote it: an open object."""

    forecaster: dict[str, Any]
    risk: dict[str, Any]
    sample: dict[str, Any] = Field(description="the schools and days sampled from the history store (as the "
                                               "pipeline describes them)")
    seconds: dict[str, float]
    statement: str


class Job(BaseModel):
    """A retraining job, stored beside the model registry."""

    model_config = ConfigDict(json_schema_extra={"examples": [_JOB]})

    id: str = Field(pattern=r"^[0-9a-f]{32}$")
    kind: str = Field(examples=["retrain"])
    status: Literal["queued", "running", "done", "failed"]
    requested_by: str
    progress: JobProgress
    result: RetrainResult | None
    error: str | None
    created_at: str = Field(description="ISO 8601 in UTC")
    started_at: str | None
    finished_at: str | None
