"""Response examples for the OpenAPI document, in the envelope every endpoint answers with.

A route declares its success with `response_model=Envelope[Data]` (examples on `Data`) and its
refusals with `responses=errors(404, 422)`."""

from typing import Any

from serve_app.shared.envelope import ErrorEnvelope

TIMESTAMP = "2025-06-04T10:15:02.123Z"

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
