"""The optimisation domain's shapes: a run's summary, a recommendation (its action, quantities,
cost, risk before and after, explanation, status and version), a page of them, decisions,
comments, and a simulated impact."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from serve_app.shared.page import Pagination

Status = Literal["pending", "approved", "rejected", "applied", "superseded"]
Kind = Literal["stock_transfer", "delivery", "fund_advance"]

_REC = {
    "id": "9b0c6f3ad3e34c51a7f1c0d2b9e8a411", "kind": "stock_transfer", "status": "pending", "version": 1,
    "run_id": "5f0c6f3ad3e34c51a7f1c0d2b9e8a411", "district": "Ariyalur", "block": "Andimadam",
    "school_id": "33010100101", "from_school_id": "33010100102", "from_depot": None, "quantity_kg": 42.5,
    "cost_inr": 63.8, "children_affected": 118, "twin_seq": 40211,
    "action": {"from": {"school_id": "33010100102", "depot": None}, "to": {"school_id": "33010100101"},
               "items": {"rice_kg": 40.0, "pulses_kg": 2.5}, "km": 3.0},
    "quantities": {"receiver": {"current": {"rice_kg": 31.2, "pulses_kg": 4.1, "oil_kg": 1.2, "eggs": 90},
                                "recommended": {"rice_kg": 71.2, "pulses_kg": 6.6, "oil_kg": 1.2, "eggs": 90}}},
    "risk": {"before": {"shortfall_child_days": 820.0, "days_of_grain": 2.6, "risk_score": 58.0, "risk_level": "high"},
             "after": {"shortfall_child_days": 0.0, "days_of_grain": 6.0, "risk_score": 31.5, "risk_level": "medium"},
             "source": {"before": {"score": 12.0, "level": "low"}, "after": {"score": 12.0, "level": "low"}}},
    "explanation": {"binding": [{"constraint": "donor", "item": "rice_kg", "dual_inr": -1.2,
                                 "meaning": "the giving school is down to its own buffer"}],
                    "summary": "the giving school is down to its own buffer"},
    "impact": None, "events": [], "created_by": "officer@example.org", "created_at": "2025-06-04T10:15:02.123Z",
    "decided_by": None, "decided_at": None, "reason": None}


class Items(BaseModel):
    rice_kg: float | None = None
    pulses_kg: float | None = None
    oil_kg: float | None = None
    eggs: float | None = None


class Recommendation(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_REC]})

    id: str = Field(pattern=r"^[0-9a-f]{32}$")
    kind: Kind
    status: Status
    version: int = Field(ge=1, description="changes with every decision or edit: send it back to decide (409 if stale)")
    run_id: str
    district: str
    block: str
    school_id: str = Field(description="the receiving school")
    from_school_id: str | None = Field(description="the giving school (none: the block's depot)")
    from_depot: str | None
    quantity_kg: float = Field(description="weight moved (eggs by their weight): what the approval limit measures")
    cost_inr: float = Field(description="a transfer's transport (kg x km x rate), or the money an advance moves")
    children_affected: int
    twin_seq: int = Field(description="the twin's log position it was computed on")
    action: dict
    quantities: dict = Field(description="current and recommended quantities at the receiver (and the source)")
    risk: dict = Field(description="the receiver's shortfall child-days, days of grain and the twin's risk score "
                       "(local, without the neighbours' cascade) before and after the run's plan; the giving "
                       "school's score as `source`")
    explanation: dict = Field(description="the binding constraints and their dual prices")
    impact: dict | None = Field(description="the latest simulated impact, when verified")
    events: list[str] = Field(description="ids of the events it became, once applied")
    created_by: str
    created_at: str
    decided_by: str | None
    decided_at: str | None
    reason: str | None


class RecommendationPage(BaseModel):
    recommendations: list[Recommendation]
    pagination: Pagination


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    district: str | None = Field(default=None, max_length=64, description="default: the caller's area")
    block: str | None = Field(default=None, max_length=64)
    models: list[Literal["stock", "deliveries", "funds"]] = Field(
        default=["stock", "deliveries", "funds"], min_length=1,
        description="what to solve: stock transfers (today's moves from depots and neighbours), deliveries (the "
                    "depots' visits of the next school days, planned on what the transfers leave) and funds "
                    "(advances within the blocks' balances)")


class RunSummary(BaseModel):
    run_id: str
    area: dict
    status: str = Field(description="solved, partial, nothing_to_do or failed (the stock LP's), or not_asked")
    message: str
    recommendations: int
    fund_advances: int = Field(description="of the recommendations, advances of money")
    deliveries: int = Field(description="of the recommendations, depot visits of the next school days (the "
                            "delivery schedule, planned on what the run's transfers leave)")
    assumptions: dict = Field(description="what the twin does not hold and the models assume: `depot_stock_days` "
                              "(a block depot with no consignment logged holds that many days of its block's "
                              "need), `vehicle_kg_per_day` (one vehicle a depot), and `depots_logged`: the "
                              "depots (District/Block) whose logged stock was used instead")
    superseded: int = Field(description="pending recommendations of the area this run replaced")
    schools: int
    variables: int
    build_s: float
    solve_s: float
    twin_seq: int
    shortfall_child_days_before: float
    shortfall_child_days_after: float
    transport_cost_inr: float


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int | None = Field(default=None, ge=1, description="the version read: 409 if it changed since")


class Rejection(Decision):
    reason: str = Field(min_length=1, max_length=1000)


class Edit(Decision):
    """New quantities: a transfer's or a delivery's items (units as the action's: kg, and eggs; an
    item left out moves nothing), or an advance's `amount_inr`."""

    rice_kg: float = Field(default=0.0, ge=0, le=1_000_000)
    pulses_kg: float = Field(default=0.0, ge=0, le=1_000_000)
    oil_kg: float = Field(default=0.0, ge=0, le=1_000_000)
    eggs: int = Field(default=0, ge=0, le=100_000)
    amount_inr: float | None = Field(default=None, gt=0, le=1_000_000_000, description="an advance's new amount "
                                     "(checked against the block's balance less its other live advances)")


class CommentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: str = Field(min_length=1, max_length=4000)
    parent_id: int | None = Field(default=None, ge=1, description="the comment this answers (none: a new thread)")


class Comment(BaseModel):
    id: int
    recommendation_id: str
    parent_id: int | None
    author: str
    body: str
    created_at: str


class Interval(BaseModel):
    mean: float
    low: float
    high: float


class SimulatedPlans(BaseModel):
    """What an impact answer holds whatever it is about: each plan's figures over the replications,
    with 95% intervals and paired differences to none, and their ratios."""

    replications: int
    horizon_days: int
    schools: int
    stress: bool
    area: dict
    plan_recommendations: int
    plans: dict[str, dict[str, float | Interval]]
    ratios: dict[str, Interval | None]


class Impact(SimulatedPlans):
    """Simulated from the live twin's state of the recommendation's block, with common random numbers:
    plans `none`, `greedy` (lowest stock first from the depot), `recommendation` and `plan` (the
    run's live recommendations in the block)."""

    recommendation_id: str
    version: int
    ratios: dict[str, Interval | None] = Field(description="ratios of mean no-meal child-days (recommendation and "
                                               "plan over none, plan over greedy), with 95% paired bootstrap intervals")


class RunImpact(SimulatedPlans):
    """A run's live recommendations together (`plan`: transfers and advances) against `none` and
    `greedy` (both greedy baselines), simulated from the live state of the smallest area holding them."""

    run_id: str


class ImpactJob(BaseModel):
    """A recommendation's (or a whole run's) impact computed in the background: poll it until
    `status` is done (the result) or failed (the error). Should the replica simulating it stop,
    another takes it over after two minutes of silence and starts it again (`attempts`), at most
    three times."""

    id: str = Field(pattern=r"^[0-9a-f]{32}$")
    recommendation_id: str | None = Field(description="the recommendation simulated (none: a run's job)")
    run_id: str | None = Field(description="the run whose plan is simulated (none: a recommendation's job)")
    status: Literal["queued", "running", "done", "failed"]
    request: dict = Field(description="horizon_days, replications, stress, seed and the asker's area")
    progress: dict = Field(description="stage (queued, simulating, done), replications and elapsed_s")
    attempts: int = Field(description="simulations of it begun, by any replicas")
    result: Impact | RunImpact | None = Field(description="the impact, once done (a recommendation's is also "
                                                           "stored with the recommendation)")
    error: str | None
    requested_by: str
    created_at: str
    started_at: str | None
    finished_at: str | None
