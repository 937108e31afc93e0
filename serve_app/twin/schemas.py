"""The twin domain's response shapes: what ingest answers, a school's logged events, the live twin of
a school, block, district and the state (or as it was at `as_of`), and a school's daily history.

The examples are real answers of a small twin after a few simulated school days, trimmed."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from serve_app.shared.fields import Timestamp, UdiseCode
from twin.calendar import DayKind
from twin.events import ClosureReason, NoMealReason, ShortageItem

RiskLevel = Literal["low", "medium", "high", "critical"]


def _examples(*examples: dict) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)})


# -- parts ----------------------------------------------------------------------------------------

class ByBand(BaseModel):
    """Children (or meals) per school band."""

    primary: int = Field(description="classes 1-5")
    upper_primary: int = Field(description="classes 6-8")
    secondary: int = Field(description="classes 9-10")


class StockKg(BaseModel):
    """Stock in kg (never below zero: see `stock_book_balance` for the book figure)."""

    rice: float
    pulses: float
    oil: float


class StockBookBalance(BaseModel):
    """Stock as the books have it: deliveries minus what the meals served used, so it can go below zero."""

    rice_kg: float
    pulses_kg: float
    oil_kg: float
    eggs: float


class SchoolFunds(BaseModel):
    released_inr: float = Field(description="released to the school")
    meal_cost_inr: float = Field(description="the cost of the meals it served")
    other_utilised_inr: float
    balance_inr: float = Field(description="released minus meal cost minus other utilisation")


class SchoolClosure(BaseModel):
    """The school's latest closure."""

    from_: dt.date = Field(alias="from")
    to: dt.date
    reason: ClosureReason | None
    closed_today: bool


class Inspection(BaseModel):
    date: dt.date
    score: float
    issues_found: bool


class Shortage(BaseModel):
    date: dt.date
    item: ShortageItem


class ReportedDay(BaseModel):
    """A day the school reported attendance (the last few weeks the shard keeps)."""

    date: dt.date
    present: int
    meals_served: ByBand
    no_meal_reason: NoMealReason | None


class AsOf(BaseModel):
    """Present when the answer is the twin as it was at a past moment (`?as_of=`)."""

    as_of: dt.datetime | None = Field(None, description="the moment asked for, in UTC")
    as_of_seq: int | None = Field(None, description="the last log position received by then (the live "
                                                    "block and district twins give their shard's applied seq)")


# -- a school's twin ------------------------------------------------------------------------------

_SCHOOL_TWIN = {
    "district": "Ariyalur", "block": "Ariyalur", "school_id": "33010100101", "today": "2025-06-04",
    "enrolment": {"primary": 58, "upper_primary": 0, "secondary": 0}, "last_report_date": "2025-06-04",
    "stale": False, "days_since_report": 0,
    "closed": {"from": "2025-05-28", "to": "2025-05-29", "reason": "flood", "closed_today": False},
    "stock_kg": {"rice": 159.2, "pulses": 31.84, "oil": 7.96}, "stock_eggs": 316,
    "stock_book_balance": {"rice_kg": 159.2, "pulses_kg": 31.84, "oil_kg": 7.96, "eggs": 316.0}, "stock_days": 32.3,
    "funds": {"released_inr": 21628.2, "meal_cost_inr": 1003.44, "other_utilised_inr": 0.0, "balance_inr": 20624.76},
    "last_inspection": {"date": "2025-06-02", "score": 7.5, "issues_found": False}, "last_shortage": None,
    "recent_days": [{"date": "2025-06-04", "present": 47, "no_meal_reason": None,
                     "meals_served": {"primary": 46, "upper_primary": 0, "secondary": 0}}],
}


class SchoolTwin(AsOf):
    """Everything the twin knows about one school."""

    model_config = _examples(_SCHOOL_TWIN)

    district: str
    block: str
    school_id: UdiseCode
    today: dt.date | None = Field(description="the twin's current day (its latest report day); null before any")
    enrolment: ByBand
    last_report_date: dt.date | None
    stale: bool = Field(description="no report today, and not closed")
    days_since_report: int | None = Field(description="calendar days since last_report_date (the risk "
                                                      "features' staleness counts school days); null if none")
    closed: SchoolClosure | None
    stock_kg: StockKg
    stock_eggs: int
    stock_book_balance: StockBookBalance
    stock_days: float | None = Field(description="days the rice lasts at the recent rate of meals; null if unknown")
    funds: SchoolFunds
    last_inspection: Inspection | None
    last_shortage: Shortage | None
    recent_days: list[ReportedDay] = Field(description="newest first")


# -- roll-ups: block, district, state -------------------------------------------------------------

class AreaFunds(BaseModel):
    released_to_schools_inr: float
    meal_cost_inr: float
    other_utilised_inr: float
    school_balance_inr: float = Field(description="the schools' balances summed")


class BlockFunds(AreaFunds):
    received_inr: float = Field(description="released to the block office")
    balance_inr: float = Field(description="what the block office holds: received minus passed on to its schools")


class DistrictFunds(BlockFunds):
    released_to_blocks_inr: float


class AreaTotals(BaseModel):
    """The roll-up of an area's schools."""

    schools: int
    enrolment: int
    reported_today: int
    stale: int
    closed_today: int
    present_today: int
    meals_today: int
    stock_kg: StockKg
    stock_days: float | None
    stock_eggs: int
    attendance_rate: float | None = Field(description="present today over enrolment; null with no enrolment")
    funds: AreaFunds


class AreaTwin(AsOf, AreaTotals):
    """A block's or district's twin."""

    district: str
    as_of_seq: int = Field(description="the log position the answer reflects")


_AREA = {
    "district": "Ariyalur", "schools": 6, "enrolment": 430, "reported_today": 5, "stale": 1, "closed_today": 0,
    "present_today": 360, "meals_today": 348, "stock_kg": {"rice": 1290.1, "pulses": 258.0, "oil": 64.5},
    "stock_days": 32.8, "stock_eggs": 2494, "attendance_rate": 0.8372, "as_of_seq": 2920,
}
_AREA_FUNDS = {"released_to_schools_inr": 173025.6, "meal_cost_inr": 6908.82, "other_utilised_inr": 0.0,
               "school_balance_inr": 166116.78}


class BlockTwin(AreaTwin):
    model_config = _examples({**_AREA, "name": "Sendurai", "funds": {
        **_AREA_FUNDS, "received_inr": 173025.6, "balance_inr": 0.0}})

    name: str
    funds: BlockFunds
    depot_stock: dict[str, float] | None = Field(
        default=None, description="the block depot's logged stock (rice_kg, pulses_kg, oil_kg, eggs): consignments "
                                  "received (depot_stock_received) less its deliveries and transfers; none while "
                                  "no consignment is logged")


class DistrictTwin(AreaTwin):
    model_config = _examples({**_AREA, "funds": {
        **_AREA_FUNDS, "received_inr": 180000.0, "released_to_blocks_inr": 173025.6, "balance_inr": 6974.4}})

    funds: DistrictFunds


class DistrictHeadline(BaseModel):
    district: str
    schools: int
    meals_today: int
    stale: int
    stock_days: float | None


class RiskByLevel(BaseModel):
    low: int
    medium: int
    high: int
    critical: int


class RiskSummary(BaseModel):
    by_level: RiskByLevel = Field(description="active schools by risk level")
    cascade_flagged: int
    open_alerts: int


class StateTwin(AsOf, AreaTotals):
    """Tamil Nadu: totals over every district, and each district's headline figures."""

    model_config = _examples({**{k: v for k, v in _AREA.items() if k not in ("district", "as_of_seq")},
                              "funds": _AREA_FUNDS, "today": "2025-06-04", "districts_reporting": 1,
                              "applied_seq_min": 2920,
                              "districts": [{"district": "Ariyalur", "schools": 6, "meals_today": 348, "stale": 1,
                                             "stock_days": 32.8}],
                              "risk": {"by_level": {"low": 4, "medium": 2, "high": 0, "critical": 0},
                                       "cascade_flagged": 0, "open_alerts": 1}})

    today: dt.date | None
    districts_reporting: int
    applied_seq_min: int = Field(description="the lowest log position every shard has applied")
    districts: list[DistrictHeadline]
    risk: RiskSummary | None = Field(None, description="the live risk summary (absent from a past view)")


# -- ingest ---------------------------------------------------------------------------------------

class FieldError(BaseModel):
    field: str
    message: str


class EventError(BaseModel):
    code: Literal["VALIDATION_ERROR", "UNKNOWN_REFERENCE", "TOO_OLD"]
    message: str
    fields: list[FieldError] | None = Field(None, description="with VALIDATION_ERROR: what was wrong where")


class EventResult(BaseModel):
    event_id: JsonValue = Field(description="the event's `event_id` as sent (a rejected event's may be missing "
                                            "or not a string)", examples=["att-33010100101-2025-06-04"])
    status: Literal["accepted", "correction", "duplicate", "rejected"]
    seq: int | None = Field(None, description="its position in the log (not for duplicates and events refused "
                                              "before the log)")
    error: EventError | None = Field(None, description="why it was rejected")
    index: int | None = Field(None, description="its place in the batch (with `results=problems`)")


class IngestResult(BaseModel):
    model_config = _examples({
        "received": 3, "accepted": 1, "corrections": 1, "duplicates": 0, "rejected": 1, "applied": True,
        "results": [
            {"event_id": "att-33010100101-2025-06-04", "status": "accepted", "seq": 2918},
            {"event_id": "att-33010100102-2025-06-03", "status": "correction", "seq": 2919},
            {"event_id": "dl-778", "status": "rejected", "error": {
                "code": "VALIDATION_ERROR", "message": "rice_kg: Input should be greater than or equal to 0",
                "fields": [{"field": "stock_delivered.rice_kg",
                            "message": "Input should be greater than or equal to 0"}]}},
        ],
    })

    received: int
    accepted: int
    corrections: int
    duplicates: int
    rejected: int
    applied: bool = Field(description="whether the shards confirmed in time (false: durable, applied shortly)")
    results: list[EventResult] = Field(description="one per event in the batch's order (with "
                                                   "`results=problems`, only those not plainly accepted)")


EVENTS_BODY_EXAMPLE = {
    "events": [
        {"type": "attendance_reported", "event_id": "cg-33010100101-2025-07-01", "date": "2025-07-01",
         "school_id": "33010100101", "present": 84, "meals_served": {"primary": 60, "upper_primary": 22}},
        {"type": "stock_delivered", "event_id": "dl-778", "date": "2025-07-01", "school_id": "33010100101",
         "rice_kg": 250, "pulses_kg": 50, "oil_kg": 12, "eggs": 600},
    ]
}


# -- a school's logged events ---------------------------------------------------------------------

class LoggedEvent(BaseModel):
    """An event as it was received, with its log position. The rest of its fields depend on its
    type (the `Event` schema): the shape is open, so other fields are allowed."""

    model_config = ConfigDict(extra="allow")

    seq: int
    received_at: Timestamp
    type: str = Field(examples=["attendance_reported"])
    event_id: str
    date: dt.date
    school_id: UdiseCode | None = None


class EventsPage(BaseModel):
    model_config = _examples({"events": [{"seq": 2918, "received_at": "2025-07-01T10:15:02.123Z",
                                          **EVENTS_BODY_EXAMPLE["events"][0]}], "next_before_seq": None})

    events: list[LoggedEvent] = Field(description="newest first")
    next_before_seq: int | None = Field(description="pass as `before_seq` for the next page; null on the last")


# -- a school's daily history ---------------------------------------------------------------------

class HistoryDay(BaseModel):
    date: dt.date
    day_kind: DayKind
    reported: bool
    present: int | None
    meals_served: ByBand | None
    no_meal_reason: NoMealReason | None
    stock_kg: StockKg = Field(description="at the end of the day")
    stock_eggs: int
    stock_book_balance: StockBookBalance
    funds_balance_inr: float


class SchoolHistory(BaseModel):
    model_config = _examples({
        "school_id": "33010100101", "district": "Ariyalur", "block": "Andimadam", "from": "2025-07-01",
        "to": "2025-07-01", "days": [{
            "date": "2025-07-01", "day_kind": "school_day", "reported": True, "present": 84,
            "meals_served": {"primary": 60, "upper_primary": 22, "secondary": 0}, "no_meal_reason": None,
            "stock_kg": {"rice": 241.7, "pulses": 48.14, "oil": 11.54}, "stock_eggs": 518,
            "stock_book_balance": {"rice_kg": 241.7, "pulses_kg": 48.14, "oil_kg": 11.54, "eggs": 518},
            "funds_balance_inr": -630.54}]})

    school_id: UdiseCode
    district: str
    block: str
    from_: dt.date = Field(alias="from")
    to: dt.date
    days: list[HistoryDay]
