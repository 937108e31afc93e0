"""`ScenarioResult`: every plan's KPIs with 95% intervals, paired differences against the baseline,
daily trajectories and district and block figures. Plain JSON (`model_dump(mode="json")`) for storage."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, computed_field


class Estimate(BaseModel):
    """A mean over replications with its 95% Student-t interval (None: a ratio, no interval)."""

    mean: float
    half_width: float | None = None

    @computed_field
    @property
    def low(self) -> float | None:
        return None if self.half_width is None else self.mean - self.half_width

    @computed_field
    @property
    def high(self) -> float | None:
        return None if self.half_width is None else self.mean + self.half_width


class Band(BaseModel):
    """A daily trajectory: mean and 95% interval of the mean, one value per day of the horizon."""

    mean: list[float]
    low: list[float]
    high: list[float]


class PlanResult(BaseModel):
    name: str
    kpis: dict[str, Estimate]  # headline KPIs
    vs_baseline: dict[str, Estimate] | None = None  # plan - baseline, paired by replication
    daily: dict[str, Band]  # state (or scope) totals per day, and days of stock
    districts: dict[str, dict[str, Estimate]]  # horizon totals per district
    district_daily: dict[str, dict[str, list[float]]]  # mean per day per district (flows and days of stock)
    blocks: dict[str, dict[str, float]]  # mean horizon totals per "District/Block"


class ScenarioResult(BaseModel):
    name: str
    spec: dict
    start_date: dt.date
    horizon_days: int
    dates: list[dt.date]
    schools: int
    replications: int
    stop_reason: Literal["converged", "max_replications", "cancelled"]
    stopping_kpis: list[str]
    relative_half_width: float
    headline_kpis: list[str]
    elapsed_s: float
    simulate_s: float  # engine time summed over workers
    simulate_cpu_s: float  # the workers' CPU time meanwhile
    simpy_events: int
    plans: list[PlanResult]  # baseline first

    def plan(self, name: str) -> PlanResult:
        for p in self.plans:
            if p.name == name:
                return p
        raise KeyError(name)

    def to_json(self) -> str:
        return self.model_dump_json()
