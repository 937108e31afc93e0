"""The finance domain's request and response shapes: an area's money for a financial year (allocated,
released, utilised, balance, and the release rules' flags), the allocation dry run's table, and the
recording of utilisation. Amounts are INR; the examples the API's documentation shows are the
models' own."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from serve_app.shared.fields import UdiseCode
from serve_app.shared.page import Pagination

Policy = Literal["norms", "legacy_flat"]
Level = Literal["school", "block", "district", "state"]


def _examples(*examples: dict) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)})


# -- parts ----------------------------------------------------------------------------------------

class InrByBand(BaseModel):
    primary: float = Field(examples=[41_000.0])
    upper_primary: float = Field(examples=[30_500.0])
    secondary: float = Field(examples=[12_200.0])


class KgByBand(BaseModel):
    primary: float = Field(examples=[605.0])
    upper_primary: float = Field(examples=[450.0])
    secondary: float = Field(examples=[180.0])


class ChildrenByBand(BaseModel):
    primary: int = Field(examples=[29])
    upper_primary: int = Field(examples=[14])
    secondary: int = Field(examples=[6])


class Components(BaseModel):
    """The allocation by component: material (cooking) cost by band, the cook-cum-helpers'
    honorarium, and MME (management, monitoring and evaluation)."""

    material_inr: InrByBand
    material_total_inr: float = Field(examples=[83_700.0])
    honorarium_inr: float = Field(examples=[20_000.0])
    mme_inr: float = Field(examples=[3_111.0])


class Allocated(BaseModel):
    """The year's allocation as recorded in the event log (`funds_allocated`, one per school and
    year), summed over the area's schools; zero until one is committed."""

    total_inr: float = Field(examples=[213_622.0])
    centre_inr: float = Field(examples=[116_202.4])
    state_inr: float = Field(examples=[97_419.6])
    schools_allocated: int = Field(description="schools with an allocation recorded for the year", examples=[2])


class Entitlement(BaseModel):
    """The year's entitlement by the cost norms (`twin.finance`): each school's enrolment by band
    over the year's school days, summed over the area's schools. Computed, not recorded."""

    policy: Policy = Field(examples=["norms"])
    norms_version: str = Field(examples=["2025-05-01"])
    school_days: int = Field(description="school days of the financial year by the school calendar", examples=[210])
    total_inr: float = Field(examples=[106_811.0])
    centre_inr: float = Field(description="the Centre's share (60% of the shared bands)", examples=[58_101.2])
    state_inr: float = Field(description="the State's share (40% of the shared bands, all of classes 9-10)",
                             examples=[48_709.8])
    by_component: Components
    grain_kg: KgByBand = Field(description="food grain by band, supplied in kind (not in the rupee figures)")


class Utilised(BaseModel):
    meal_cost_inr: float = Field(description="meal cost the twin accrues from attendance reports by the norms",
                                 examples=[21_480.5])
    other_utilised_inr: float = Field(description="spending recorded as `funds_utilised` events", examples=[1_200.0])
    total_inr: float = Field(examples=[22_680.5])


class Office(BaseModel):
    """An area office's own account (a block's, a district's, the state's): what it received from the
    level above and passed down to the level below. The state has no level above."""

    received_inr: float | None = Field(description="received from the level above (null for the state)",
                                       examples=[40_000.0])
    passed_down_inr: float = Field(description="released to the level below (schools, blocks or districts)",
                                   examples=[30_000.0])
    held_inr: float | None = Field(description="received and not yet passed down (null for the state)",
                                   examples=[10_000.0])


class Burn(BaseModel):
    inr_per_school_day: float = Field(examples=[1_074.0])
    window_school_days: int = Field(description="the recent school days the burn is taken over", examples=[20])
    school_days_counted: int = Field(description="school days of the window the twin's record holds", examples=[20])
    method: str = Field(description="how the burn was estimated")


class Projection(BaseModel):
    """`twin.release_rules.project_balance` at the burn, over the school days left in the year. Day 0
    is the twin's current day, day d the d-th school day after it."""

    horizon_school_days: int = Field(description="school days left in the financial year after the twin's day",
                                     examples=[150])
    days_to_utilisation_rule: int | None = Field(description="school days until 75% of the releases is utilised "
                                                             "(0: already; null: never at this burn)", examples=[3])
    utilisation_rule_date: dt.date | None = Field(examples=["2025-07-18"])
    days_to_exhaustion: int | None = Field(description="school days until the balance is spent (null: never)",
                                           examples=[17])
    exhaustion_date: dt.date | None = Field(examples=["2025-08-07"])
    misses_utilisation_rule: bool = Field(description="75% of the releases is not utilised within the year",
                                          examples=[False])
    exhausts_balance: bool = Field(description="the balance runs out within the year", examples=[True])
    flag_date: dt.date | None = Field(description="when the first flag fires (null: none)", examples=["2025-08-07"])


class NextInstalment(BaseModel):
    """`twin.release_rules.check_release` on the next standard instalment: 25% of the year's
    allocation, the Centre's and the State's parts in proportion."""

    centre_inr: float = Field(examples=[14_525.3])
    state_inr: float = Field(examples=[12_177.5])
    total_inr: float = Field(examples=[26_702.8])
    allowed: bool = Field(examples=[False])
    reasons: list[str] = Field(examples=[["less than 75% of the earlier releases is utilised"]])


class ReleaseRules(BaseModel):
    burn: Burn
    projection: Projection
    next_instalment: NextInstalment


class Part(BaseModel):
    """One part of an area (a block's school, a district's block, the state's district)."""

    name: str = Field(description="the school's UDISE code, or the block's or district's name", examples=["Sendurai"])
    schools: int = Field(examples=[2])
    allocated_inr: float = Field(description="recorded allocation", examples=[106_811.0])
    entitlement_inr: float = Field(description="by the cost norms", examples=[106_811.0])
    released_inr: float = Field(examples=[30_000.0])
    utilised_inr: float = Field(examples=[22_680.5])
    balance_inr: float = Field(examples=[7_319.5])


_FINANCIAL = {
    "level": "block", "district": "Ariyalur", "block": "Sendurai", "school_id": None,
    "year": 2025, "year_label": "2025-26", "as_of": "2025-07-18", "schools": 2, "enrolment": 98,
    "allocated": {"total_inr": 213_622.0, "centre_inr": 116_202.4, "state_inr": 97_419.6, "schools_allocated": 2},
    "entitlement": {"policy": "norms", "norms_version": "2025-05-01", "school_days": 210, "total_inr": 213_622.0,
                  "centre_inr": 116_202.4, "state_inr": 97_419.6,
                  "by_component": {"material_inr": {"primary": 82_000.0, "upper_primary": 61_000.0,
                                                    "secondary": 24_400.0},
                                   "material_total_inr": 167_400.0, "honorarium_inr": 40_000.0, "mme_inr": 6_222.0},
                  "grain_kg": {"primary": 1_210.0, "upper_primary": 900.0, "secondary": 360.0}},
    "released_inr": 60_000.0,
    "utilised": {"meal_cost_inr": 42_961.0, "other_utilised_inr": 2_400.0, "total_inr": 45_361.0},
    "balance_inr": 14_639.0, "released_share_of_allocation": 0.2809, "utilisation_efficiency": 0.756,
    "office": {"received_inr": 80_000.0, "passed_down_inr": 60_000.0, "held_inr": 20_000.0},
    "release_rules": {
        "burn": {"inr_per_school_day": 2_148.0, "window_school_days": 20, "school_days_counted": 20,
                 "method": "meal cost of the last 20 school days in the twin's daily report record"},
        "projection": {"horizon_school_days": 150, "days_to_utilisation_rule": 0, "utilisation_rule_date": "2025-07-18",
                       "days_to_exhaustion": 7, "exhaustion_date": "2025-07-28", "misses_utilisation_rule": False,
                       "exhausts_balance": True, "flag_date": "2025-07-28"},
        "next_instalment": {"centre_inr": 29_050.6, "state_inr": 24_354.9, "total_inr": 53_405.5, "allowed": True,
                            "reasons": []}},
    "parts": [{"name": "33010500100", "schools": 1, "allocated_inr": 106_811.0, "entitlement_inr": 106_811.0,
               "released_inr": 30_000.0,
               "utilised_inr": 22_680.5, "balance_inr": 7_319.5}],
    "basis": "released and utilised are the twin's running totals",
}


class Period(BaseModel):
    """A range of dates asked for, both ends inclusive."""

    model_config = ConfigDict(populate_by_name=True)

    from_: dt.date = Field(alias="from", examples=["2025-06-01"])
    to: dt.date = Field(examples=["2025-06-30"])


class Financial(BaseModel):
    """A school's or an area's money for a financial year. `released_inr`, `utilised` and `balance_inr`
    are the area's schools' (what reached them, what they spent, what they hold); `office` is the area's
    own account above them. Every figure comes from the twin's state and the cost norms."""

    model_config = _examples(_FINANCIAL)

    level: Level = Field(examples=["block"])
    district: str | None = Field(description="null for the state", examples=["Ariyalur"])
    block: str | None = Field(examples=["Sendurai"])
    school_id: UdiseCode | None = None
    year: int = Field(description="the financial year, by the calendar year it starts in", examples=[2025])
    year_label: str = Field(examples=["2025-26"])
    as_of: dt.date = Field(description="the twin's current day (today's date before any report)",
                           examples=["2025-07-18"])
    schools: int = Field(examples=[2])
    enrolment: int = Field(examples=[98])
    allocated: Allocated
    entitlement: Entitlement
    released_inr: float = Field(description="released to the area's schools", examples=[60_000.0])
    utilised: Utilised
    balance_inr: float = Field(description="released - utilised", examples=[14_639.0])
    released_share_of_allocation: float | None = Field(description="released / recorded allocation (null without one)",
                                                       examples=[0.2809])
    utilisation_efficiency: float | None = Field(description="utilised / released (null before any release)",
                                                 examples=[0.756])
    office: Office | None = Field(description="the area office's own account (null for a school)")
    release_rules: ReleaseRules
    parts: list[Part] = Field(description="a block's schools, a district's blocks, the state's districts "
                                          "(empty for a school)")
    period: Period | None = Field(default=None, description="the range of dates asked for (null: the running totals)")
    basis: str = Field(description="what period the released and utilised figures cover")


# -- the allocation dry run -----------------------------------------------------------------------

class AreaRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    district: str | None = Field(default=None, max_length=64, description="omit for the whole state",
                                 examples=["Ariyalur"])
    block: str | None = Field(default=None, max_length=64, description="within `district`", examples=["Sendurai"])


class AllocationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"year": 2025, "area": {"district": "Ariyalur"}, "policy": "norms"}]})

    year: int = Field(ge=1900, le=2999, description="the financial year, by the calendar year it starts in",
                      examples=[2025])
    area: AreaRef = Field(default_factory=AreaRef)
    policy: Policy = "norms"
    commit: bool = Field(default=False, description="record the allocation as `funds_allocated` events, one per "
                                                    "school and year (a repeated commit records nothing new)")
    first_instalment: bool = Field(default=False, description="with `commit`: also release the year's first "
                                                              "instalment (25% of each school's allocation) down the "
                                                              "chain as `funds_released` events")


class InstalmentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"year": 2025, "instalment": 2, "area": {"district": "Ariyalur"}}]})

    year: int = Field(ge=1900, le=2999, description="the financial year, by the calendar year it starts in",
                      examples=[2025])
    instalment: int = Field(ge=2, le=4, description="which instalment: the first goes with the allocation's commit; "
                                                    "four of 25% make the year's allocation", examples=[2])
    area: AreaRef = Field(default_factory=AreaRef)


class RuleBroken(BaseModel):
    rule: str = Field(examples=["earlier_underused"])
    message: str = Field(examples=["less than 75% of the earlier releases is utilised"])


class InstalmentCheck(BaseModel):
    """The release rules on the area as one, on the financial year's money."""

    allocated_centre_inr: float
    allocated_state_inr: float
    released_inr: float = Field(description="released to the area's schools within the financial year")
    utilised_inr: float = Field(description="utilised by them within the financial year")
    utilised_share: float | None = Field(description="utilised / released (null before any release)")
    needed_utilised_share: float = Field(examples=[0.75])
    proposed_centre_inr: float
    proposed_state_inr: float
    allowed: bool
    refusals: list[RuleBroken]


class InstalmentRelease(BaseModel):
    """A later instalment released down the chain (or found already released)."""

    year: int = Field(examples=[2025])
    year_label: str = Field(examples=["2025-26"])
    instalment: int = Field(examples=[2])
    area: AreaRef
    schools: int = Field(description="the area's schools with an allocation", examples=[12])
    decided_before: bool = Field(description="the instalment was already released (a repeat records only what "
                                             "is missing, without checking the rules again)")
    check: InstalmentCheck | None = Field(description="the rules as checked now (null when decided before)")
    recorded: Recorded


class AllocationRow(BaseModel):
    school_id: UdiseCode
    district: str = Field(examples=["Ariyalur"])
    block: str = Field(examples=["Sendurai"])
    enrolment: ChildrenByBand
    material_inr: InrByBand
    honorarium_inr: float = Field(examples=[20_000.0])
    mme_inr: float = Field(examples=[3_111.0])
    total_inr: float = Field(examples=[106_811.0])
    centre_inr: float = Field(examples=[58_101.2])
    state_inr: float = Field(examples=[48_709.8])
    grain_kg: KgByBand


class AllocationTotals(BaseModel):
    schools: int = Field(examples=[2])
    enrolment: ChildrenByBand
    total_inr: float = Field(examples=[213_622.0])
    centre_inr: float = Field(examples=[116_202.4])
    state_inr: float = Field(examples=[97_419.6])
    by_component: Components
    grain_kg: KgByBand


_ROW = {"school_id": "33010500100", "district": "Ariyalur", "block": "Sendurai",
        "enrolment": {"primary": 29, "upper_primary": 14, "secondary": 6},
        "material_inr": {"primary": 41_000.0, "upper_primary": 30_500.0, "secondary": 12_200.0},
        "honorarium_inr": 20_000.0, "mme_inr": 3_111.0, "total_inr": 106_811.0, "centre_inr": 58_101.2,
        "state_inr": 48_709.8, "grain_kg": {"primary": 605.0, "upper_primary": 450.0, "secondary": 180.0}}


class Recorded(BaseModel):
    """What the ingest path made of one kind of the commit's events."""

    events: int = Field(examples=[2])
    accepted: int = Field(examples=[2])
    corrections: int = Field(description="allocations that replaced an earlier one of the school and year",
                             examples=[0])
    duplicates: int = Field(description="already recorded by an earlier commit", examples=[0])
    rejected: int = Field(examples=[0])
    applied: bool = Field(description="whether the shards confirmed in time (false: durable, applied shortly)")
    amount_inr: float = Field(description="the sum of the accepted and corrected events", examples=[213_622.0])
    errors: list[dict] = Field(description="the rejected events' reasons (the first 100)")


class Commit(BaseModel):
    allocations: Recorded
    first_instalment: Recorded | None = Field(description="null unless asked for")


class AllocationPlan(BaseModel):
    """The year's allocation: the entitlement of every school of the area (a page of them) and the
    totals over all of them; recorded as events when committed (`recorded`), else a dry run."""

    model_config = _examples({
        "year": 2025, "year_label": "2025-26", "policy": "norms", "norms_version": "2025-05-01",
        "area": {"district": "Ariyalur", "block": "Sendurai"}, "school_days": 210, "dry_run": True, "recorded": None,
        "totals": {"schools": 1, "enrolment": {"primary": 29, "upper_primary": 14, "secondary": 6},
                   "total_inr": 106_811.0, "centre_inr": 58_101.2, "state_inr": 48_709.8,
                   "by_component": {"material_inr": _ROW["material_inr"], "material_total_inr": 83_700.0,
                                    "honorarium_inr": 20_000.0, "mme_inr": 3_111.0},
                   "grain_kg": _ROW["grain_kg"]},
        "rows": [_ROW], "pagination": {"page": 1, "page_size": 100, "total": 1, "pages": 1}})

    year: int = Field(examples=[2025])
    year_label: str = Field(examples=["2025-26"])
    policy: Policy
    norms_version: str = Field(examples=["2025-05-01"])
    area: AreaRef
    school_days: int = Field(examples=[210])
    dry_run: bool = Field(description="false when committed", examples=[True])
    totals: AllocationTotals = Field(description="over every school of the area, not only this page")
    rows: list[AllocationRow] = Field(description="this page's schools, by UDISE code")
    pagination: Pagination
    recorded: Commit | None = Field(description="what the commit recorded (null for a dry run)")


# -- recording utilisation ------------------------------------------------------------------------
# Item fields are passed to the ingest path as they come, so that one bad item is rejected there
# with its reason while the others are recorded; the schema below documents what each must be.

_Loose = Any


class UtilisationItem(BaseModel):
    """One spending by a school, beyond the meal cost the twin accrues itself (fuel, utensils,
    repairs): recorded as a `funds_utilised` event."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"school_id": "33010100101", "amount_inr": 1200, "date": "2025-07-18", "purpose": "fuel",
         "event_id": "util-33010100101-2025-07-18-fuel"}]})

    school_id: Annotated[_Loose, Field(json_schema_extra={"type": "string", "pattern": r"^\d{11}$"},
                                       description="UDISE code")]
    amount_inr: Annotated[_Loose, Field(json_schema_extra={"type": "number", "exclusiveMinimum": 0,
                                                           "maximum": 1e10}, description="INR, positive")]
    date: Annotated[_Loose, Field(json_schema_extra={"type": "string", "format": "date"},
                                  description="the day of the spending; default the twin's current day")] = None
    purpose: Annotated[_Loose, Field(json_schema_extra={"type": "string", "maxLength": 200})] = None
    event_id: Annotated[_Loose, Field(json_schema_extra={"type": "string", "maxLength": 64},
                                      description="the client's id: a repeated id is recorded once. Without it one is "
                                                  "made up, and a retry would record the spending twice")] = None


class UtilisationBatch(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"items": [{"school_id": "33010100101", "amount_inr": 1200, "purpose": "fuel", "event_id": "u-1"},
                   {"school_id": "33010100102", "amount_inr": 450.5, "purpose": "utensils", "event_id": "u-2"}]}]})

    items: list[UtilisationItem] = Field(min_length=1)


class UtilisationOutcome(BaseModel):
    index: int = Field(description="the item's place in the request", examples=[0])
    school_id: str | None = Field(examples=["33010100101"])
    event_id: str | None = Field(examples=["u-1"])
    status: Literal["accepted", "correction", "duplicate", "rejected"] = Field(examples=["accepted"])
    seq: int | None = Field(default=None, description="the event's place in the log", examples=[2918])
    error: dict | None = Field(default=None, description="why an item was rejected: code, message, fields")
    warning: str | None = Field(default=None, description="an accepted item that spends more than the school's "
                                                          "balance: recorded all the same, and flagged")


class UtilisationResult(BaseModel):
    """What the ingest path made of the items: each item's outcome, in the request's order."""

    model_config = _examples({
        "received": 2, "accepted": 1, "duplicates": 0, "rejected": 1, "applied": True, "recorded_inr": 1200.0,
        "overspent": 0,
        "results": [
            {"index": 0, "school_id": "33010100101", "event_id": "u-1", "status": "accepted", "seq": 2918},
            {"index": 1, "school_id": "33010100102", "event_id": "u-2", "status": "rejected", "error": {
                "code": "VALIDATION_ERROR", "message": "amount_inr: Input should be greater than 0",
                "fields": [{"field": "funds_utilised.amount_inr", "message": "Input should be greater than 0"}]}}]})

    received: int
    accepted: int
    duplicates: int
    rejected: int
    applied: bool = Field(description="whether the shards confirmed in time (false: durable, applied shortly)")
    recorded_inr: float = Field(description="the sum of the accepted items' amounts")
    overspent: int = Field(default=0, description="accepted items that spent more than their school's balance")
    results: list[UtilisationOutcome]


# -- the year's report ----------------------------------------------------------------------------

class ReportRow(BaseModel):
    """One place's figures for the year (`serve_app.finance.report`). A district's and a block's
    office figures are its own account; null for a school."""

    level: Literal["district", "block", "school"] = Field(examples=["block"])
    district: str = Field(examples=["Ariyalur"])
    block: str | None = Field(examples=["Sendurai"])
    school_id: UdiseCode | None = None
    schools: int = Field(examples=[2])
    enrolment: int = Field(examples=[98])
    allocated_inr: float = Field(description="recorded (`funds_allocated`)", examples=[213_622.0])
    allocated_centre_inr: float = Field(examples=[116_202.4])
    allocated_state_inr: float = Field(examples=[97_419.6])
    entitlement_inr: float = Field(description="by the cost norms", examples=[213_622.0])
    released_inr: float = Field(description="released to the place's schools", examples=[60_000.0])
    meal_cost_inr: float = Field(examples=[42_961.0])
    other_utilised_inr: float = Field(examples=[2_400.0])
    utilised_inr: float = Field(examples=[45_361.0])
    balance_inr: float = Field(examples=[14_639.0])
    released_share_of_allocation: float | None = Field(examples=[0.2809])
    utilisation_efficiency: float | None = Field(examples=[0.756])
    office_received_inr: float | None = Field(examples=[80_000.0])
    office_passed_down_inr: float | None = Field(examples=[60_000.0])


class ReportTotals(BaseModel):
    schools: int = Field(examples=[2])
    enrolment: int = Field(examples=[98])
    allocated_inr: float = Field(examples=[213_622.0])
    allocated_centre_inr: float = Field(examples=[116_202.4])
    allocated_state_inr: float = Field(examples=[97_419.6])
    entitlement_inr: float = Field(examples=[213_622.0])
    released_inr: float = Field(examples=[60_000.0])
    meal_cost_inr: float = Field(examples=[42_961.0])
    other_utilised_inr: float = Field(examples=[2_400.0])
    utilised_inr: float = Field(examples=[45_361.0])
    balance_inr: float = Field(examples=[14_639.0])


_REPORT_ROW = {"level": "block", "district": "Ariyalur", "block": "Sendurai", "school_id": None, "schools": 2,
               "enrolment": 98, "allocated_inr": 213_622.0, "allocated_centre_inr": 116_202.4,
               "allocated_state_inr": 97_419.6, "entitlement_inr": 213_622.0, "released_inr": 60_000.0,
               "meal_cost_inr": 42_961.0, "other_utilised_inr": 2_400.0, "utilised_inr": 45_361.0,
               "balance_inr": 14_639.0, "released_share_of_allocation": 0.2809, "utilisation_efficiency": 0.756,
               "office_received_inr": 80_000.0, "office_passed_down_inr": 60_000.0}


class FinancialReport(BaseModel):
    """The year's summary of an area: its districts, then its blocks, then its schools, each level
    adding up to the totals."""

    model_config = _examples({
        "year": 2025, "year_label": "2025-26", "as_of": "2025-07-18", "area": {"district": "Ariyalur",
                                                                            "block": "Sendurai"},
        "totals": {k: v for k, v in _REPORT_ROW.items() if k in ReportTotals.model_fields},
        "rows": [_REPORT_ROW], "basis": "released and utilised are the twin's running totals"})

    year: int = Field(examples=[2025])
    year_label: str = Field(examples=["2025-26"])
    as_of: dt.date = Field(examples=["2025-07-18"])
    area: AreaRef
    totals: ReportTotals
    rows: list[ReportRow] = Field(description="districts, then blocks, then schools, each sorted by name")
    period: Period | None = Field(default=None, description="the range of dates asked for (null: the running totals)")
    basis: str


# -- the budget forecast --------------------------------------------------------------------------

class Quantiles(BaseModel):
    p10: float = Field(examples=[1_150_000.0])
    p50: float = Field(examples=[1_260_000.0])
    p90: float = Field(examples=[1_370_000.0])


class QuarterForecast(BaseModel):
    quarter: str = Field(examples=["2026-27 Q1"])
    first_day: dt.date = Field(examples=["2026-04-01"])
    last_day: dt.date = Field(examples=["2026-06-30"])
    school_days: int = Field(description="by the school calendar", examples=[48])
    seasonal_ratio: float | None = Field(description="last year's quarter against the week after the same date "
                                                     "(null: no history for it, 1 used)", examples=[0.93])
    meals: Quantiles
    material_inr: Quantiles
    material_by_band_inr: InrByBand = Field(description="at P50")
    honorarium_inr: float = Field(examples=[250_000.0])
    mme_inr: Quantiles
    total_inr: Quantiles
    centre_inr: Quantiles
    state_inr: Quantiles


class ForecastBacktest(BaseModel):
    quarter: str = Field(examples=["2025-26 Q2"])
    first_day: dt.date
    last_day: dt.date
    origin: dt.date = Field(description="the day the held-out quarter was forecast from")
    groups: Literal["blocks", "districts"] = Field(description="what the WAPE is taken over")
    wape: float = Field(description="sum |forecast - actual| / sum actual", examples=[0.041])
    naive_wape: float = Field(description="the same for 'the same quarter last year'", examples=[0.087])
    p10_p90_coverage: float = Field(description="share of groups whose actual fell within P10-P90", examples=[0.8])
    actual_inr: float
    forecast_inr: float
    naive_inr: float


_QUANTILES = {"p10": 1_150_000.0, "p50": 1_260_000.0, "p90": 1_370_000.0}


class BudgetForecast(BaseModel):
    """The next quarters' cost of an area by component and payer, with P10-P90, and the backtest."""

    model_config = _examples({
        "origin": "2026-02-10", "area": {"district": "Ariyalur", "block": None},
        "level_meals_per_school_day": {"p10": 24_000.0, "p50": 25_500.0, "p90": 27_000.0},
        "model": {"version": "v3", "kind": "gbm"},
        "quarters": [{"quarter": "2026-27 Q1", "first_day": "2026-04-01", "last_day": "2026-06-30", "school_days": 48,
                      "seasonal_ratio": 0.93, "meals": _QUANTILES, "material_inr": _QUANTILES,
                      "material_by_band_inr": {"primary": 700_000.0, "upper_primary": 400_000.0,
                                               "secondary": 160_000.0},
                      "honorarium_inr": 250_000.0, "mme_inr": _QUANTILES, "total_inr": _QUANTILES,
                      "centre_inr": _QUANTILES, "state_inr": _QUANTILES}],
        "backtest": {"quarter": "2025-26 Q2", "first_day": "2025-07-01", "last_day": "2025-09-30",
                     "origin": "2025-06-30", "groups": "blocks", "wape": 0.041, "naive_wape": 0.087,
                     "p10_p90_coverage": 0.8, "actual_inr": 1.0e7, "forecast_inr": 1.02e7, "naive_inr": 1.08e7},
        "method": "the forecaster's week ahead x last year's seasonal ratio, costed by the norms"})

    origin: dt.date = Field(description="the twin's day the forecast is made from")
    area: AreaRef
    level_meals_per_school_day: Quantiles = Field(description="the served forecaster's next 7 school days, mean")
    model: dict | None = Field(description="the served forecaster's version and kind")
    quarters: list[QuarterForecast]
    backtest: ForecastBacktest | None = Field(description="null without a served forecaster or a year of history")
    method: str
