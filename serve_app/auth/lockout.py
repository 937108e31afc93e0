"""Slowing down and locking out password guessing on one account.

The first failures are free (people mistype); after that each attempt waits longer, and past a
threshold the account is locked for a while. The caller counts failures and resets the count on a
successful login.
"""

from __future__ import annotations

FREE_FAILURES = 2
MAX_DELAY_S = 8.0


def login_delay_s(failed_attempts: int) -> float:
    """Seconds to wait before answering a login after `failed_attempts` consecutive failures:
    0 for the first two, then 1, 2, 4, 8, and 8 from then on."""
    if failed_attempts < 0:
        raise ValueError("failed_attempts cannot be negative")
    if failed_attempts <= FREE_FAILURES:
        return 0.0
    # Capping the exponent first keeps a huge count from overflowing the float.
    return min(2.0 ** min(failed_attempts - FREE_FAILURES - 1, 16), MAX_DELAY_S)


def locked_until(failed_attempts: int, now: float, threshold: int = 5, lock_s: int = 900) -> float | None:
    """When the account unlocks, if `failed_attempts` consecutive failures (the latest at `now`)
    reach `threshold`; None while below it."""
    if failed_attempts < threshold:
        return None
    return now + lock_s
