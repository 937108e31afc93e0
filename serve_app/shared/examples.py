"""Response examples for the OpenAPI document, in the envelope every endpoint answers with.

The twin examples are real answers of a small twin after three simulated school days, trimmed.
A route declares its success with `response_model=Envelope[Data]` (examples on `Data`) and its
refusals with `responses=errors(404, 422)`."""

from typing import Any

from serve_app.shared.envelope import ErrorEnvelope

TIMESTAMP = "2025-06-04T10:15:02.123Z"

SCHOOL_TWIN = {
    "district": "Ariyalur", "block": "Ariyalur", "school_id": "33010100101", "today": "2025-06-04",
    "enrolment": {"primary": 58, "upper_primary": 0, "secondary": 0}, "last_report_date": "2025-06-04",
    "stale": False, "days_since_report": 0, "closed": None,
    "stock_kg": {"rice": 159.2, "pulses": 31.84, "oil": 7.96}, "stock_eggs": 316, "stock_days": 32.3,
    "funds": {"released_inr": 21628.2, "meal_cost_inr": 1003.44, "other_utilised_inr": 0.0, "balance_inr": 20624.76},
    "last_inspection": None, "last_shortage": None,
    "recent_days": [{"date": "2025-06-04", "present": 47, "no_meal_reason": None,
                     "meals_served": {"primary": 46, "upper_primary": 0, "secondary": 0}}],
}
AREA_TWIN = {
    "district": "Ariyalur", "schools": 6, "enrolment": 430, "reported_today": 5, "stale": 1, "closed_today": 0,
    "present_today": 360, "meals_today": 348, "stock_kg": {"rice": 1290.1, "pulses": 258.0, "oil": 64.5},
    "stock_days": 32.8, "stock_eggs": 2494, "attendance_rate": 0.8372,
    "funds": {"released_to_schools_inr": 173025.6, "meal_cost_inr": 6908.82, "other_utilised_inr": 0.0,
              "school_balance_inr": 166116.78, "received_inr": 173025.6, "balance_inr": 0.0},
    "as_of_seq": 2920,
}
INGEST_RESULT = {
    "received": 3, "accepted": 1, "corrections": 1, "duplicates": 0, "rejected": 1, "applied": True,
    "results": [
        {"event_id": "att-33010100101-2025-06-04", "status": "accepted", "seq": 2918},
        {"event_id": "att-33010100102-2025-06-03", "status": "correction", "seq": 2919},
        {"event_id": "dl-778", "status": "rejected", "error": {
            "code": "VALIDATION_ERROR", "message": "rice_kg: Input should be greater than or equal to 0",
            "fields": [{"field": "stock_delivered.rice_kg", "message": "Input should be greater than or equal to 0"}]}},
    ],
}
READY = {"database": "ok", "shards": {"up": 2, "of": 2, "applied_seq_min": 2920}, "ready": True}

_ERRORS = {
    401: ("UNAUTHORIZED", "access token rejected: expired", {"reason": "expired"}),
    403: ("FORBIDDEN", "a school admin may not do this (scenarios:run)", {"needs": "scenarios:run"}),
    413: ("PAYLOAD_TOO_LARGE", "the request body is over 67108864 bytes: split it", {"limit_bytes": 67108864}),
    429: ("RATE_LIMITED", "over 60 requests a minute; try again in 12 s", {"retry_after_s": 12}),
    404: ("NOT_FOUND", "no school 33999999999", {"school_id": "33999999999"}),
    409: ("CONFLICT", "school 33010100101 already exists", {"id": "33010100101"}),
    422: ("VALIDATION_ERROR", "The request is not valid: school_id: String should match pattern '^\\d{11}$'",
          {"fields": [{"field": "school_id", "message": "String should match pattern '^\\d{11}$'"}]}),
    503: ("SERVICE_UNAVAILABLE", "the twin is still starting; try again shortly", {}),
}


def envelope(data: Any, *codes: int, status: int = 200, message: str = "OK") -> dict:
    """`responses=` for a route: its success `data` in the envelope, and the listed error statuses."""
    return {status: _example("OK", {"success": True, "data": data, "message": message, "timestamp": TIMESTAMP}),
            **errors(*codes)}


def errors(*codes: int) -> dict:
    """`responses=` for a route's refusals: each status with the error envelope's schema and an example."""
    responses: dict = {}
    for code in codes:
        name, text, details = _ERRORS[code]
        responses[code] = _example(name, {"success": False, "error": {"code": name, "message": text,
                                                                      "details": details}, "timestamp": TIMESTAMP})
        responses[code]["model"] = ErrorEnvelope
    return responses


def _example(description: str, body: dict) -> dict:
    return {"description": description, "content": {"application/json": {"example": body}}}
