"""The reports' request shapes, the columns of each CSV with the examples the API's documentation
shows (files: their routes declare the media types), and the JSON answers (programme performance,
report jobs, schedules)."""

import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from serve_app.shared.page import Pagination

from twin.norms import BANDS
from twin.risk import FACTORS, NEIGHBOURS


class CsvKind(StrEnum):
    """What a CSV export holds."""

    schools = "schools"  # every school of the area with its live figures (one school: metric,value rows)
    attendance = "attendance"  # each school's day from `from` to `to`, from the event log
    alerts = "alerts"  # the alerts open at some time in the period
    risk = "risk"  # each school's rule-based score, level and factors
    finance = "finance"  # each school's entitlement by the norms, releases, utilisation, shares and percentages
    forecasts = "forecasts"  # each school's meals forecast for the coming school days (P10, median, P90)


class PdfLevel(StrEnum):
    state = "state"
    district = "district"
    block = "block"
    school = "school"


SCHOOL_COLUMNS = (
    "school_id", "name", "district", "block", "enrolment", "present_today", "meals_today", "attendance_rate",
    "stock_days", "rice_kg", "stale", "closed_today", "risk_score", "risk_level", "cascade_flagged",
    "funds_released_inr", "funds_utilised_inr", "funds_balance_inr", "allocated_inr", "allocated_centre_inr",
    "allocated_state_inr", "allocated_financial_year", "as_of",
)
ATTENDANCE_COLUMNS = (
    "date", "school_id", "district", "block", "day_kind", "reported", "present",
    *(f"meals_{band}" for band in BANDS), "meals_total", "no_meal_reason", "rice_kg_end_of_day",
    "funds_balance_inr_end_of_day", "enrolment_now",
)
ALERT_COLUMNS = (
    "id", "created_at", "updated_at", "resolved_at", "status", "severity", "category", "alert_type", "district",
    "block", "school_id", "title", "message", "is_read",
)
RISK_COLUMNS = (
    "school_id", "name", "district", "block", "score", "level", "local_score", "cascade_flagged", "cascade_pressure",
    *(f"points_{factor}" for factor in (*FACTORS, NEIGHBOURS)), "open_alert_causes",
)
FINANCE_COLUMNS = (
    "school_id", "name", "district", "block", "enrolment", "financial_year", "entitlement_inr",
    "entitlement_centre_inr", "entitlement_state_inr", "centre_share", "state_share", "released_inr", "meal_cost_inr",
    "other_utilised_inr", "utilised_inr", "balance_inr", "released_pct_of_entitlement", "utilised_pct_of_released",
    "utilised_pct_of_entitlement", "as_of",
)
FORECAST_COLUMNS = ("school_id", "name", "district", "block", "date", "meals_p10", "meals_p50", "meals_p90", "origin",
                    "model_version")

CSV_EXAMPLE = (
    ",".join(SCHOOL_COLUMNS) + "\n"
    "33010100101,PUMS Ariyalur East,Ariyalur,Ariyalur,114,98,95,0.8596,6.2,42.5,false,false,18.5,low,false,"
    "100000.0,3721.35,96278.65,412345.6,247407.36,164938.24,2025,2025-07-07\n"
)
SHEET_EXAMPLE = "metric,value\nschool_id,33010100101\nname,PUMS Ariyalur East\nenrolment,114\n"


# -- programme performance (JSON) -----------------------------------------------------------------

class Trend(BaseModel):
    """Change from the previous period of the same length (this period's figure minus that one's)."""

    meal_coverage: float | None = Field(examples=[0.012])
    reporting_compliance: float | None = Field(examples=[-0.03])
    no_meal_school_days: float | None = Field(examples=[-2])
    stock_out_school_days: float | None = Field(examples=[1])


class PerformanceFigures(BaseModel):
    schools: int = Field(examples=[820])
    school_days: int = Field(description="school days in the period (the calendar's school and exam days)",
                             examples=[10])
    meals: int = Field(examples=[612_400])
    enrolled_school_days: int = Field(description="children enrolled (now) times school days", examples=[760_000])
    meal_coverage: float | None = Field(description="meals over enrolled school-days", examples=[0.806])
    reports_expected: int = Field(examples=[8200])
    reports_received: int = Field(examples=[8011])
    reporting_compliance: float | None = Field(description="school-days reported over school-days", examples=[0.977])
    no_meal_school_days: int = Field(examples=[14])
    no_meal_reasons: dict[str, int] = Field(description="no-meal school-days by the monitoring system's reason",
                                            examples=[{"food_grains_not_available": 6, "cook_not_available": 8}])
    stock_out_school_days: int = Field(description="no-meal school-days for want of food grains", examples=[6])
    monitoring_exceptions: int = Field(description="the monitoring system's exceptions raised or open in the period "
                                                   "(no meal 3 school days running, more than 5 no-meal days in a "
                                                   "month, meals below a share of enrolment)", examples=[3])
    funds_released_inr: float = Field(description="released to the schools, as the twin holds it now",
                                      examples=[8_450_000.0])
    funds_utilised_inr: float = Field(examples=[6_120_000.0])
    fund_utilisation: float | None = Field(description="utilised over released", examples=[0.7243])
    trend: Trend | None = Field(description="null when the twin no longer holds the previous period")


class PerformancePart(PerformanceFigures):
    name: str = Field(description="the district, block or school (UDISE code)", examples=["Sendurai"])


class PerformanceDay(BaseModel):
    date: dt.date
    reporting_share: float | None = Field(examples=[0.98])
    meals: int = Field(examples=[61_240])
    meal_coverage: float | None = Field(examples=[0.81])


class PerformanceArea(BaseModel):
    level: Literal["state", "district", "block", "school"]
    district: str | None = None
    block: str | None = None
    school_id: str | None = None


class PerformancePeriod(BaseModel):
    from_: dt.date = Field(alias="from")
    to: dt.date


class PreviousPeriod(PerformancePeriod):
    held: bool = Field(description="whether the twin's daily record still holds it")


class Performance(BaseModel):
    area: PerformanceArea
    period: PerformancePeriod
    previous_period: PreviousPeriod
    parts_are: Literal["districts", "blocks", "schools"]
    total: PerformanceFigures
    parts: list[PerformancePart]
    daily: list[PerformanceDay]
    note: str | None


# -- report jobs ----------------------------------------------------------------------------------

class JobRequest(BaseModel):
    """A report to build in the background: a CSV of `kind` or a PDF of `level`, of the caller's area
    or a part of it."""

    format: Literal["csv", "pdf"]
    kind: CsvKind | None = Field(None, description="the CSV's kind (format csv)")
    level: PdfLevel | None = Field(None, description="the PDF's level (format pdf)")
    name: str | None = Field(None, max_length=100, description="the PDF's district or block name, or UDISE code")
    district: str | None = Field(None, max_length=100)
    block: str | None = Field(None, max_length=100)
    school_id: str | None = Field(None, pattern=r"^\d{11}$")
    from_: dt.date | None = Field(None, alias="from")
    to: dt.date | None = None
    generated_at: dt.datetime | None = Field(None, description="the generation time printed (PDF); default now")


class JobProgress(BaseModel):
    stage: str = Field(examples=["laying out the PDF"])
    done: int = Field(examples=[1])
    total: int | None = Field(examples=[2])


class ReportJob(BaseModel):
    id: str = Field(examples=["9f2c41d07a6b3e15"])
    status: Literal["queued", "running", "done", "failed"]
    progress: JobProgress
    request: dict = Field(examples=[{"format": "pdf", "what": "state", "area": {"district": None, "block": None,
                                                                                "school_id": None},
                                     "from": "2025-06-08", "to": "2025-07-07"}])
    error: str | None = None
    media_type: str | None = None
    filename: str | None = None
    size_bytes: int | None = None
    created_at: str
    started_at: str | None = Field(None, description="when its latest build began")
    finished_at: str | None = None
    attempts: int = Field(0, description="builds begun: more than one when a replica building it stopped and "
                                         "another took it over (at most 3, then the job fails)", examples=[1])
    download: str | None = Field(description="the file's address once done", examples=[
        "/api/v1/reports/jobs/9f2c41d07a6b3e15/download"])


class ReportJobPage(BaseModel):
    jobs: list[ReportJob]
    pagination: Pagination


# -- scheduled reports ----------------------------------------------------------------------------

EMAIL_PATTERN = r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$"


class ScheduleRequest(BaseModel):
    """A report sent by email on a schedule: a CSV of `kind` or a PDF of `level`, of the caller's
    area or a part of it; daily, weekly (on `weekday`) or monthly (on `day_of_month`) at `at_time`
    India time. Each delivery covers the day, 7 days or 30 days ending on the twin's day."""

    name: str = Field(min_length=1, max_length=200, examples=["Ariyalur weekly"])
    format: Literal["csv", "pdf"]
    kind: CsvKind | None = Field(None, description="the CSV's kind (format csv)")
    level: PdfLevel | None = Field(None, description="the PDF's level (format pdf)")
    place: str | None = Field(None, max_length=100, description="the PDF's district or block name, or UDISE code; "
                                                                "default your own area at that level")
    district: str | None = Field(None, max_length=100)
    block: str | None = Field(None, max_length=100)
    school_id: str | None = Field(None, pattern=r"^\d{11}$")
    frequency: Literal["daily", "weekly", "monthly"]
    at_time: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM, Asia/Kolkata", examples=["07:30"])
    weekday: int | None = Field(None, ge=0, le=6, description="weekly: 0 Monday .. 6 Sunday")
    day_of_month: int | None = Field(None, ge=1, le=28, description="monthly: 1..28")
    recipients: list[Annotated[str, Field(max_length=254, pattern=EMAIL_PATTERN)]] = Field(
        min_length=1, max_length=20, examples=[["deo.ariyalur@example.org"]])


class ScheduleArea(BaseModel):
    district: str | None
    block: str | None
    school_id: str | None


class Schedule(BaseModel):
    id: int = Field(examples=[3])
    name: str
    report: dict = Field(examples=[{"format": "pdf", "what": "district"}])
    area: ScheduleArea
    frequency: Literal["daily", "weekly", "monthly"]
    at_time: str
    weekday: int | None
    day_of_month: int | None
    recipients: list[str]
    paused: bool
    paused_reason: str | None = Field(None, description="why the twin paused it: its owner's account, as it is at "
                                      "send time, may no longer read the schedule's area (deactivated, moved to "
                                      "another area, a role without reading). Resuming clears it; the next send "
                                      "checks again.", examples=[None])
    created_at: str
    updated_at: str


class SchedulePage(BaseModel):
    schedules: list[Schedule]
    pagination: Pagination


class ScheduleDelivery(BaseModel):
    id: int
    schedule_id: int
    period: str = Field(description="the due time's date in India time", examples=["2026-12-07"])
    status: Literal["claimed", "retrying", "sent", "failed"]
    attempts: int
    last_error: str | None
    recipients: list[str] | None
    size_bytes: int | None
    created_at: str
    sent_at: str | None
    next_try_at: str | None


class ScheduleDeliveryPage(BaseModel):
    deliveries: list[ScheduleDelivery]
    pagination: Pagination


# -- a role's landing page ------------------------------------------------------------------------

DashboardRole = Literal["state_admin", "district_officer", "block_officer", "school_admin"]


class DashboardWeek(BaseModel):
    meal_coverage: float | None
    reporting_compliance: float | None
    no_meal_school_days: int
    stock_out_school_days: int
    monitoring_exceptions: int
    fund_utilisation: float | None


class DashboardAlerts(BaseModel):
    total: int = Field(examples=[12])
    by_severity: dict[str, int] = Field(examples=[{"low": 0, "medium": 5, "high": 6, "critical": 1}])


class DashboardAttention(BaseModel):
    name: str = Field(description="a district, block or school (UDISE code)", examples=["Sendurai"])
    high_or_critical: int = Field(examples=[3])


class DashboardData(BaseModel):
    role: DashboardRole
    area: PerformanceArea
    as_of: str | None = Field(description="the twin's day", examples=["2025-07-07"])
    figures: dict = Field(description="the twin's headline figures of the area: schools, enrolment, present and "
                                      "meals on the twin's day, attendance rate, rice stock days, schools not "
                                      "reporting, funds", examples=[{"schools": 820, "enrolment": 81_234}])
    risk_by_level: dict[str, int] | None = Field(examples=[{"low": 700, "medium": 90, "high": 25, "critical": 5}])
    open_alerts: DashboardAlerts
    last_week: DashboardWeek | None = Field(description="programme performance over the 7 days ending on the "
                                                        "twin's day; null before the twin holds them")
    attention: list[DashboardAttention] = Field(description="the parts with most schools at high or critical risk "
                                                            "(at most 5)")
