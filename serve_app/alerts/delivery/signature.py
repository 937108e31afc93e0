"""Webhook signatures: how a receiver knows a delivery came from mealtwin and is fresh.

Each delivery carries two headers:

- `X-Mealtwin-Timestamp`: the Unix time (seconds) at which the request was signed;
- `X-Mealtwin-Signature`: `sha256=<hex>`, the HMAC-SHA256 with the subscription's secret of the
  timestamp, a dot, and the exact body bytes: `f"{timestamp}.".encode() + body`.

Signing the timestamp with the body stops replays: a receiver that checks the signature and that
the timestamp is recent (`verify_signature`, five minutes by default) refuses an old request sent
again. Every retry is signed afresh, so a retry hours later is still accepted. Receivers should
verify against the raw body bytes, before parsing the JSON.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Mealtwin-Signature"
TIMESTAMP_HEADER = "X-Mealtwin-Timestamp"
DEFAULT_TOLERANCE_S = 300.0
_PREFIX = "sha256="


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Mealtwin-Signature` value for `body` sent at `timestamp` (Unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return _PREFIX + mac.hexdigest()


def verify_signature(secret: str, body: bytes, timestamp: str | None, signature: str | None, *,
                     tolerance_s: float = DEFAULT_TOLERANCE_S, now: float | None = None) -> bool:
    """True if `signature` (the `X-Mealtwin-Signature` header) signs `body` and `timestamp` (the
    `X-Mealtwin-Timestamp` header) with `secret`, and the timestamp lies within `tolerance_s` of
    `now` (default: the current time) either way. Missing or malformed headers verify as False."""
    if not timestamp or not signature or not signature.startswith(_PREFIX):
        return False
    try:
        signed_at = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - signed_at) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, signed_at, body), signature)
