"""Refusals at the API's edge and by access control; the envelope maps each to its HTTP status."""

from __future__ import annotations

from twin.errors import TwinError


class Unauthenticated(TwinError):
    """No valid credentials: missing, expired, forged or revoked (401)."""

    code = "UNAUTHORIZED"


class Forbidden(TwinError):
    """The caller's role or key does not allow this action anywhere (403)."""

    code = "FORBIDDEN"


class TooManyRequests(TwinError):
    code = "RATE_LIMITED"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message, {"retry_after_s": retry_after_s})
        self.retry_after_s = retry_after_s


class PayloadTooLarge(TwinError):
    code = "PAYLOAD_TOO_LARGE"
