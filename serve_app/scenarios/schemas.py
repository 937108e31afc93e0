"""The scenarios domain's shapes. The request body is the scenario itself (`scenarios.spec.ScenarioSpec`);
the answers are runs (a summary in lists, with the result when read alone), a page of runs, and
the comparison of finished runs. A run's result is `scenarios.result.ScenarioResult`, as the runner
stores it. Each model carries the example the API's documentation shows."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from scenarios.result import Estimate, ScenarioResult
from serve_app.shared.fields import Timestamp
from serve_app.shared.page import Pagination

SPEC_EXAMPLE = {
    "name": "Cuddalore monsoon week", "start": "live", "horizon_days": 30,
    "scope": {"districts": ["Cuddalore"]}, "seed": 1,
    "interventions": [{"kind": "closure", "districts": ["Cuddalore"], "from": "2025-11-03", "to": "2025-11-09",
                       "reason": "monsoon", "roads_closed": True}],
    "plans": [{"name": "buffer-45", "buffer_days": 45}],
}
_RUN = {"id": "5f0c6f3ad3e34c51a7f1c0d2b9e8a411", "name": "Cuddalore monsoon week", "status": "running",
        "districts": ["Cuddalore"], "spec": SPEC_EXAMPLE,
        "progress": {"done": 20, "planned": 40, "rounds": 1, "converged": False, "estimates": {
            "baseline": {"meals_served": {"mean": 1052331.0, "half_width": 2104.6, "low": 1050226.4,
                                          "high": 1054435.6}}}},
        "error": None, "cancel_requested": False, "created_at": "2025-06-04T10:15:02.123Z",
        "started_at": "2025-06-04T10:15:02.301Z", "heartbeat_at": "2025-06-04T10:16:02.310Z", "finished_at": None,
        "owner": "user:2", "area": {"district": "Cuddalore", "block": None}}
_ESTIMATE = {"mean": 1052331.0, "half_width": 2104.6, "low": 1050226.4, "high": 1054435.6}
_DIFFERENCE = {"mean": 3120.5, "half_width": 410.2, "low": 2710.3, "high": 3530.7}

Status = Literal["queued", "running", "done", "failed", "cancelled"]


class RunProgress(BaseModel):
    """Replications done so far and the running estimates of the headline KPIs, by plan."""

    done: int = Field(ge=0, description="replications finished")
    planned: int = Field(ge=0, description="replications planned so far (rounds add more until the KPIs converge)")
    rounds: int = Field(ge=0)
    converged: bool | None = Field(default=None, description="absent before the first round")
    estimates: dict[str, dict[str, Estimate]] = Field(default_factory=dict, description="plan -> KPI -> estimate")


class RunArea(BaseModel):
    """The smallest area holding everything the scenario covers (None: the whole state, or the district)."""

    district: str | None
    block: str | None


class RunSummary(BaseModel):
    """A run as lists show it: everything but its result."""

    model_config = ConfigDict(json_schema_extra={"examples": [_RUN]})

    id: str = Field(pattern=r"^[0-9a-f]{32}$")
    name: str
    status: Status
    districts: list[str]
    spec: dict[str, Any] = Field(description="the scenario as validated and stored (`scenarios.spec.ScenarioSpec` "
                                             "with its defaults filled in, by field name: `date_from`, not `from`)")
    progress: RunProgress
    error: str | None = Field(description="why a failed run failed")
    cancel_requested: bool
    created_at: Timestamp
    started_at: Timestamp | None
    heartbeat_at: Timestamp | None = Field(description="the runner's last sign of life")
    finished_at: Timestamp | None
    owner: str | None = Field(description="who started it")
    area: RunArea


class Run(RunSummary):
    """A run read alone: with its result once done (or cancelled, with what was done until then)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{**_RUN, "result": None}]})

    result: ScenarioResult | None


class RunPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "runs": [_RUN], "pagination": {"page": 1, "page_size": 50, "total": 1, "pages": 1}}]})

    runs: list[RunSummary] = Field(description="newest first")
    pagination: Pagination


class ComparedPlan(BaseModel):
    name: str
    kpis: dict[str, Estimate] = Field(description="headline KPIs: mean over replications with its 95% interval")
    vs_baseline: dict[str, Estimate] | None = Field(
        description="plan - baseline, paired by replication (None for the baseline itself)")


class ComparedRun(BaseModel):
    id: str
    name: str
    replications: int
    start_date: dt.date
    horizon_days: int
    plans: list[ComparedPlan] = Field(description="baseline first")


class Comparison(BaseModel):
    """Finished runs side by side: every plan's headline KPIs and its difference against its run's baseline."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "kpis": ["meals_served"],
        "runs": [{"id": "5f0c6f3ad3e34c51a7f1c0d2b9e8a411", "name": "Cuddalore monsoon week", "replications": 40,
                  "start_date": "2025-11-01", "horizon_days": 30,
                  "plans": [{"name": "baseline", "kpis": {"meals_served": _ESTIMATE}, "vs_baseline": None},
                            {"name": "buffer-45", "kpis": {"meals_served": _ESTIMATE},
                             "vs_baseline": {"meals_served": _DIFFERENCE}}]}]}]})

    kpis: list[str] = Field(description="the headline KPIs, in the order the plans give them")
    runs: list[ComparedRun]
