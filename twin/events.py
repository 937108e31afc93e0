"""Typed, validated events: the only way twin state changes.

Every event carries a client-chosen `event_id` (a repeated id is applied once) and the business
`date` it is about. Models are strict about shape and ranges; whether a school exists is checked
by the directory when events are encoded for the kernels.
"""

from __future__ import annotations

import datetime as dt
from enum import IntEnum, StrEnum
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

UdiseCode = Annotated[str, Field(pattern=r"^\d{11}$", description="11-digit UDISE code", examples=["33010100101"])]
EVENT_ID_CHARS, EVENT_ID_MAX = r"[A-Za-z0-9._:\-]", 64
MAX_COUNT = 100_000  # children or meals in one report
EventId = Annotated[str, Field(min_length=1, max_length=EVENT_ID_MAX, pattern=f"^{EVENT_ID_CHARS}+$")]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Kg = Annotated[float, Field(ge=0, le=1_000_000)]
SignedKg = Annotated[float, Field(ge=-1_000_000, le=1_000_000)]
Inr = Annotated[float, Field(gt=0, le=1e10)]


class EventKind(IntEnum):
    """Numeric codes of event types as the kernels see them."""

    ATTENDANCE_REPORTED = 1
    STOCK_DELIVERED = 2
    STOCK_ADJUSTED = 3
    FUNDS_RELEASED = 4
    FUNDS_UTILISED = 5
    INSPECTION_DONE = 6
    SHORTAGE_REPORTED = 7
    SCHOOL_CLOSED = 8
    ENROLMENT_UPDATED = 9
    STOCK_TRANSFERRED = 10
    FUNDS_ALLOCATED = 11
    DEPOT_STOCK_RECEIVED = 12


class NoMealReason(StrEnum):
    """The reasons PM POSHAN's Automated Monitoring System accepts for a day without a meal."""

    MEALS_NOT_SERVED = "meals_not_served"
    FOOD_GRAINS_NOT_AVAILABLE = "food_grains_not_available"
    FUNDS_NOT_AVAILABLE = "funds_not_available"
    COOK_NOT_AVAILABLE = "cook_not_available"
    HOLIDAY = "holiday"


NO_MEAL_REASON_CODES = {r: i for i, r in enumerate(NoMealReason, start=1)}


class StockAdjustmentReason(StrEnum):
    SPOILAGE = "spoilage"
    LOSS = "loss"
    AUDIT = "audit"


class ClosureReason(StrEnum):
    MONSOON = "monsoon"
    CYCLONE = "cyclone"
    FLOOD = "flood"
    STRIKE = "strike"
    LOCAL_HOLIDAY = "local_holiday"
    OTHER = "other"


class ShortageItem(StrEnum):
    RICE = "rice"
    PULSES = "pulses"
    OIL = "oil"
    EGGS = "eggs"
    VEGETABLES = "vegetables"
    FUEL = "fuel"
    COOK = "cook"
    FUNDS = "funds"


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    event_id: EventId
    date: dt.date


class MealsByBand(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    primary: Count = 0
    upper_primary: Count = 0
    secondary: Count = 0

    @property
    def total(self) -> int:
        return self.primary + self.upper_primary + self.secondary


class AttendanceReported(_Event):
    """A school's daily report: children present and meals served by class band, or why no meal."""

    type: Literal["attendance_reported"] = "attendance_reported"
    school_id: UdiseCode
    present: Count
    meals_served: MealsByBand = MealsByBand()
    no_meal_reason: NoMealReason | None = None

    @model_validator(mode="after")
    def _consistent(self) -> AttendanceReported:
        if self.no_meal_reason is not None and self.meals_served.total > 0:
            raise ValueError("no_meal_reason is given but meals_served is not zero")
        if self.meals_served.total > self.present:
            raise ValueError("meals_served exceeds the children present")
        return self


class _StockChange(_Event):
    school_id: UdiseCode


class StockDelivered(_StockChange):
    """Stock delivered to a school. Naming its depot (`depot_id`) says it came from the school's
    block depot, whose stock goes down by as much; without it, from elsewhere (a supplier)."""

    type: Literal["stock_delivered"] = "stock_delivered"
    depot_id: str | None = Field(default=None, max_length=64)
    rice_kg: Kg = 0
    pulses_kg: Kg = 0
    oil_kg: Kg = 0
    eggs: Count = 0

    @model_validator(mode="after")
    def _something(self) -> StockDelivered:
        if self.rice_kg == self.pulses_kg == self.oil_kg == self.eggs == 0:
            raise ValueError("a delivery must carry at least one item")
        return self


class StockAdjusted(_StockChange):
    """Stock lost, spoiled or corrected by an audit; negative quantities remove stock."""

    type: Literal["stock_adjusted"] = "stock_adjusted"
    reason: StockAdjustmentReason
    rice_kg: SignedKg = 0
    pulses_kg: SignedKg = 0
    oil_kg: SignedKg = 0
    eggs: Annotated[int, Field(ge=-100_000, le=100_000)] = 0


class StockTransferred(_StockChange):
    """Stock moved to `school_id` from another school of the same district (`from_school_id`: its
    stock goes down by as much) or from its block's depot (`from_depot`: the depot's stock goes
    down by as much). An approved stock recommendation becomes these."""

    type: Literal["stock_transferred"] = "stock_transferred"
    from_school_id: UdiseCode | None = None
    from_depot: str | None = Field(default=None, max_length=64)
    recommendation_id: str | None = Field(default=None, max_length=64)
    rice_kg: Kg = 0
    pulses_kg: Kg = 0
    oil_kg: Kg = 0
    eggs: Count = 0

    @model_validator(mode="after")
    def _one_source(self) -> StockTransferred:
        if (self.from_school_id is None) == (self.from_depot is None):
            raise ValueError("name one source: from_school_id or from_depot")
        if self.from_school_id == self.school_id:
            raise ValueError("a school cannot transfer stock to itself")
        if self.rice_kg == self.pulses_kg == self.oil_kg == self.eggs == 0:
            raise ValueError("a transfer must carry at least one item")
        return self


class DepotStockReceived(_Event):
    """A consignment received at a block's depot (from the state's godowns): the depot's stock goes
    up by as much. Its deliveries to schools (`stock_delivered` naming a depot) and transfers from
    it (`stock_transferred` from_depot) draw it down. A depot with no consignment logged has no
    known stock: the optimiser then assumes one (`optimisation.depot_stock_days`)."""

    type: Literal["depot_stock_received"] = "depot_stock_received"
    district: str = Field(max_length=64)
    block: str = Field(max_length=64)
    rice_kg: Kg = 0
    pulses_kg: Kg = 0
    oil_kg: Kg = 0
    eggs: Count = 0

    @model_validator(mode="after")
    def _something(self) -> DepotStockReceived:
        if self.rice_kg == self.pulses_kg == self.oil_kg == self.eggs == 0:
            raise ValueError("a consignment must carry at least one item")
        return self


class FundsReleased(_Event):
    """Money released down the chain: to a district (from the state), a block (from its district) or
    a school (from its block). The recipient is the most specific place named."""

    type: Literal["funds_released"] = "funds_released"
    amount_inr: Inr
    district: str | None = Field(default=None, max_length=64)
    block: str | None = Field(default=None, max_length=64)
    school_id: UdiseCode | None = None

    @model_validator(mode="after")
    def _recipient(self) -> FundsReleased:
        if self.school_id is None and self.district is None:
            raise ValueError("name the recipient: school_id, or district (with block for a block)")
        if self.block is not None and self.district is None and self.school_id is None:
            raise ValueError("a block is named within its district: give district too")
        return self


class FundsUtilised(_Event):
    """Spending by a school beyond the meal cost the twin accrues itself (fuel, utensils, repairs)."""

    type: Literal["funds_utilised"] = "funds_utilised"
    school_id: UdiseCode
    amount_inr: Inr
    purpose: str | None = Field(default=None, max_length=200)


class InspectionDone(_Event):
    type: Literal["inspection_done"] = "inspection_done"
    school_id: UdiseCode
    score: Annotated[float, Field(ge=0, le=100)] = 100
    issues_found: bool = False


class ShortageReported(_Event):
    type: Literal["shortage_reported"] = "shortage_reported"
    school_id: UdiseCode
    item: ShortageItem
    note: str | None = Field(default=None, max_length=500)


class SchoolClosed(_Event):
    """A closure of one school, a block or a whole district from `date` to `date_to` inclusive."""

    type: Literal["school_closed"] = "school_closed"
    date_to: dt.date
    reason: ClosureReason
    school_id: UdiseCode | None = None
    district: str | None = Field(default=None, max_length=64)
    block: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _scope(self) -> SchoolClosed:
        if self.date_to < self.date:
            raise ValueError("date_to is before date")
        if (self.date_to - self.date).days > 366:
            raise ValueError("a closure longer than a year is not a closure")
        if self.school_id is None and self.district is None:
            raise ValueError("name what closed: school_id, district, or district and block")
        if self.block is not None and self.district is None:
            raise ValueError("a block is named within its district: give district too")
        return self


class EnrolmentUpdated(_Event):
    type: Literal["enrolment_updated"] = "enrolment_updated"
    school_id: UdiseCode
    primary: Count
    upper_primary: Count
    secondary: Count


class FundsAllocated(_Event):
    """A school's allocation for a financial year (named by the calendar year it starts in), by
    payer. Not money moved: the ceiling releases are measured against. One allocation per school and
    year: a later one for the same school and year replaces it (a correction), never adds to it."""

    type: Literal["funds_allocated"] = "funds_allocated"
    school_id: UdiseCode
    year: Annotated[int, Field(ge=2000, le=2999, description="financial year, 2025 for 2025-26")]
    centre_inr: Annotated[float, Field(ge=0, le=1e10)]
    state_inr: Annotated[float, Field(ge=0, le=1e10)]
    policy: Literal["norms", "legacy_flat"] = "norms"
    norms_version: str | None = Field(default=None, max_length=32)

    @property
    def amount_inr(self) -> float:
        return self.centre_inr + self.state_inr

    @model_validator(mode="after")
    def _something(self) -> FundsAllocated:
        if self.centre_inr + self.state_inr <= 0:
            raise ValueError("an allocation must be a positive amount")
        return self


Event = Annotated[
    Union[
        AttendanceReported,
        StockDelivered,
        StockAdjusted,
        StockTransferred,
        FundsReleased,
        FundsUtilised,
        InspectionDone,
        ShortageReported,
        SchoolClosed,
        EnrolmentUpdated,
        FundsAllocated,
        DepotStockReceived,
    ],
    Field(discriminator="type"),
]

EVENT_KINDS: dict[str, EventKind] = {
    "attendance_reported": EventKind.ATTENDANCE_REPORTED,
    "stock_delivered": EventKind.STOCK_DELIVERED,
    "stock_adjusted": EventKind.STOCK_ADJUSTED,
    "funds_released": EventKind.FUNDS_RELEASED,
    "funds_utilised": EventKind.FUNDS_UTILISED,
    "inspection_done": EventKind.INSPECTION_DONE,
    "shortage_reported": EventKind.SHORTAGE_REPORTED,
    "school_closed": EventKind.SCHOOL_CLOSED,
    "enrolment_updated": EventKind.ENROLMENT_UPDATED,
    "funds_allocated": EventKind.FUNDS_ALLOCATED,
    "stock_transferred": EventKind.STOCK_TRANSFERRED,
    "depot_stock_received": EventKind.DEPOT_STOCK_RECEIVED,
}

event_adapter: TypeAdapter[Event] = TypeAdapter(Event)
event_list_adapter: TypeAdapter[list[Event]] = TypeAdapter(list[Event])


def parse_event(data: dict | bytes | str) -> Event:
    """Validate one event from a dict or JSON text; raises pydantic's ValidationError."""
    if isinstance(data, dict):
        return event_adapter.validate_python(data)
    return event_adapter.validate_json(data)
