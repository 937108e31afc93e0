"""The reports' request shapes and the columns of each CSV, with the examples the API's documentation
shows. The answers are files (CSV, PDF), not JSON: their routes declare the media types."""

from enum import StrEnum

from twin.norms import BANDS
from twin.risk import FACTORS, NEIGHBOURS


class CsvKind(StrEnum):
    """What a CSV export holds."""

    schools = "schools"  # every school of the area with its live figures (one school: metric,value rows)
    attendance = "attendance"  # each school's day from `from` to `to`, from the event log
    alerts = "alerts"  # the alerts open at some time in the period
    risk = "risk"  # each school's rule-based score, level and factors


class PdfLevel(StrEnum):
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

CSV_EXAMPLE = (
    ",".join(SCHOOL_COLUMNS) + "\n"
    "33010100101,PUMS Ariyalur East,Ariyalur,Ariyalur,114,98,95,0.8596,6.2,42.5,false,false,18.5,low,false,"
    "100000.0,3721.35,96278.65,412345.6,247407.36,164938.24,2025,2025-07-07\n"
)
SHEET_EXAMPLE = "metric,value\nschool_id,33010100101\nname,PUMS Ariyalur East\nenrolment,114\n"
