"""`ScenarioSpec`: a what-if scenario as planners write it (YAML or JSON), validated.

A scenario forks the twin at a start (`live`, or a past date), runs it `horizon_days` over a scope
(the state, or named districts and blocks) under interventions (what happens to us), and compares
plans (what we choose to do) against the baseline, which changes nothing. Places are checked against
the state's districts, blocks and depots; dates against the horizon once the start is known.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from scenarios import places
from simulation.kpi import HEADLINE_KPIS
from twin.errors import InvalidInput

BASELINE = "baseline"
DEFAULT_STOPPING_KPIS = ("meals_served", "children_without_meal", "cost_inr")


class ScenarioError(InvalidInput):
    """A scenario that cannot run as written (a date outside the horizon of a live start...)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class _Places(_Model):
    """Where: named districts, blocks ("Block" or "District/Block") and depots; none = the whole scope."""

    districts: list[str] = []
    blocks: list[str] = []
    depots: list[str] = []

    @field_validator("districts")
    @classmethod
    def _districts(cls, v: list[str]) -> list[str]:
        return [places.check_district(d) for d in v]

    @field_validator("blocks")
    @classmethod
    def _blocks(cls, v: list[str]) -> list[str]:
        for b in v:
            places.check_block(b)
        return v

    @field_validator("depots")
    @classmethod
    def _depots(cls, v: list[str]) -> list[str]:
        for d in v:
            places.check_depot(d)
        return v

    def mask(self):  # noqa: ANN201 - bool [nb]
        return places.block_mask(self.districts, self.blocks, self.depots)


class _Intervention(_Places):
    """Common to every intervention: where, and from/to dates (inclusive; default the whole horizon)."""

    date_from: dt.date | None = Field(default=None, alias="from")
    date_to: dt.date | None = Field(default=None, alias="to")

    @model_validator(mode="after")
    def _ordered(self):  # noqa: ANN202
        if self.date_from and self.date_to and self.date_to < self.date_from:
            raise ValueError(f"'to' ({self.date_to}) is before 'from' ({self.date_from})")
        return self


class DeliveryDelay(_Intervention):
    """Grain deliveries planned in the window come `delay_days` late."""

    kind: Literal["delivery_delay"]
    delay_days: int = Field(gt=0, le=180)


class DeliveryCancel(_Intervention):
    """Grain deliveries planned in the window do not come."""

    kind: Literal["delivery_cancel"]


class ClosureIntervention(_Intervention):
    """A monsoon, cyclone or flood: schools and/or roads closed on the window's days."""

    kind: Literal["closure"]
    reason: Literal["monsoon", "cyclone", "flood", "strike", "other"] = "cyclone"
    schools_closed: bool = True
    roads_closed: bool = True

    @model_validator(mode="after")
    def _something_closes(self):  # noqa: ANN202
        if not (self.schools_closed or self.roads_closed):
            raise ValueError("a closure must close schools, roads or both")
        return self


class FundDelay(_Intervention):
    """Quarterly fund releases due in the window reach schools `delay_days` late."""

    kind: Literal["fund_delay"]
    delay_days: int = Field(gt=0, le=365)


class EnrolmentChange(_Intervention):
    """Enrolment changes by `percent` (for the whole run; dates are ignored)."""

    kind: Literal["enrolment_change"]
    percent: float = Field(ge=-100, le=200)


class CookVacancy(_Intervention):
    """A `share` of kitchens lose their cook and wait for one shared with other centres."""

    kind: Literal["cook_vacancy"]
    share: float = Field(ge=0, le=1)


class PriceShock(_Intervention):
    """Material cost per meal changes by `percent` on the window's days."""

    kind: Literal["price_shock"]
    percent: float = Field(gt=-100, le=500)


class EggShortfall(_Intervention):
    """A `share` of weekly egg drops in the window are missed."""

    kind: Literal["egg_shortfall"]
    share: float = Field(ge=0, le=1)


Intervention = Annotated[
    Union[DeliveryDelay, DeliveryCancel, ClosureIntervention, FundDelay, EnrolmentChange, CookVacancy, PriceShock, EggShortfall],
    Field(discriminator="kind"),
]


class ReallocationRule(_Model):
    """A school below `below_days` of grain receives from block peers above `above_days`, up to
    `up_to_days` (default: the lower of twice `below_days` and `above_days`)."""

    below_days: float = Field(gt=0, le=90)
    above_days: float = Field(gt=0, le=180)
    up_to_days: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _ordered(self):  # noqa: ANN202
        if self.above_days <= self.below_days:
            raise ValueError(f"above_days ({self.above_days}) must exceed below_days ({self.below_days})")
        if self.up_to_days is None:
            self.up_to_days = min(2 * self.below_days, self.above_days)
        if not self.below_days < self.up_to_days <= self.above_days:
            raise ValueError("up_to_days must lie above below_days and at most above_days")
        return self


class Plan(_Model):
    """A plan to compare with the baseline. Unset levers stay as the baseline has them."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\- ]+$")
    description: str = ""
    buffer_days: float | None = Field(default=None, ge=1, le=120, description="grain buffer deliveries top up to")
    delivery_interval_days: int | None = Field(default=None, ge=5, le=120, description="days between deliveries")
    top_up_at_start: bool = Field(default=False, description="an extra delivery to the buffer on the first day")
    reallocation: ReallocationRule | None = None
    fund_advance_months: float = Field(default=0.0, ge=0, le=12, description="months of meal cost advanced")

    @field_validator("name")
    @classmethod
    def _not_baseline(cls, v: str) -> str:
        if v.strip().lower() == BASELINE:
            raise ValueError("'baseline' is the plan that changes nothing; it is always included")
        return v


class Scope(_Model):
    """What is simulated: the whole state, or the schools of named districts and blocks."""

    state: bool = False
    districts: list[str] = []
    blocks: list[str] = []

    @field_validator("districts")
    @classmethod
    def _districts(cls, v: list[str]) -> list[str]:
        return [places.check_district(d) for d in v]

    @field_validator("blocks")
    @classmethod
    def _blocks(cls, v: list[str]) -> list[str]:
        for b in v:
            places.check_block(b)
        return v

    @model_validator(mode="after")
    def _one_kind(self):  # noqa: ANN202
        if self.state and (self.districts or self.blocks):
            raise ValueError("scope: either state: true or districts/blocks, not both")
        if not (self.districts or self.blocks):
            self.state = True
        return self

    def mask(self):  # noqa: ANN201 - bool [nb]
        return places.block_mask([] if self.state else self.districts, [] if self.state else self.blocks)


class Stopping(_Model):
    """The sequential rule: at least `reps_min` replications, then rounds until each KPI in `kpis`
    has a 95% interval half-width within `relative_half_width` of its mean, or `reps_max`."""

    reps_min: int = Field(default=20, ge=2, le=10_000)
    reps_max: int = Field(default=200, ge=2, le=10_000)
    relative_half_width: float = Field(default=0.05, gt=0, le=1)
    kpis: list[str] = list(DEFAULT_STOPPING_KPIS)

    @model_validator(mode="after")
    def _check(self):  # noqa: ANN202
        if self.reps_max < self.reps_min:
            raise ValueError(f"reps_max ({self.reps_max}) is below reps_min ({self.reps_min})")
        unknown = [k for k in self.kpis if k not in HEADLINE_KPIS]
        if unknown:
            raise ValueError(f"unknown KPI(s) {unknown}; choose from {list(HEADLINE_KPIS)}")
        return self


class ScenarioSpec(_Model):
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    start: Literal["live"] | dt.date = "live"
    horizon_days: int = Field(ge=1, le=366)
    scope: Scope = Scope(state=True)
    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    weather: bool = Field(default=True, description="the live world's own random monsoon closures on top")
    interventions: list[Intervention] = []
    plans: list[Plan] = Field(default=[], max_length=8)
    stopping: Stopping = Stopping()

    @model_validator(mode="after")
    def _consistent(self):  # noqa: ANN202
        names = [p.name for p in self.plans]
        if len(set(names)) != len(names):
            raise ValueError(f"plan names must be unique: {names}")
        scope = self.scope.mask()
        for k, iv in enumerate(self.interventions):
            if (iv.districts or iv.blocks or iv.depots) and not scope[iv.mask()].all():
                raise ValueError(f"interventions[{k}] ({iv.kind}) names places outside the scope")
        if isinstance(self.start, dt.date):
            self.check_dates(self.start, error=ValueError)
        return self

    def check_dates(self, start: dt.date, error: type[Exception] = ScenarioError) -> None:
        """Every intervention window within [start, start + horizon_days)."""
        end = start + dt.timedelta(days=self.horizon_days - 1)
        for k, iv in enumerate(self.interventions):
            for label, d in (("from", iv.date_from), ("to", iv.date_to)):
                if d is not None and not start <= d <= end:
                    msg = f"interventions[{k}] ({iv.kind}): '{label}' {d} is outside the horizon {start}..{end}"
                    raise error(msg) if error is ValueError else error(msg, {"index": k, "field": label})

    def start_date(self, live_day: dt.date) -> dt.date:
        """The first simulated day: the given live day for `live`, else the spec's date."""
        return live_day if self.start == "live" else self.start

    @classmethod
    def from_yaml(cls, source: str | Path) -> ScenarioSpec:
        """Load from a YAML file path or YAML text."""
        text = Path(source).read_text() if isinstance(source, Path) or "\n" not in str(source) else str(source)
        return cls.model_validate(yaml.safe_load(text))
