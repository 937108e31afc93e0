"""`RetryPolicy`: how often and how long apart a failed delivery is tried again."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int  # tries per delivery, the first included
    base_delay_s: float  # wait after the first failure; doubled after each further one
    max_delay_s: float  # ... up to this

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.base_delay_s < 0 or self.max_delay_s < 0:
            raise ValueError("a retry policy needs at least one attempt and non-negative delays")

    def delay_s(self, failures: int, rng: random.Random) -> float:
        """The wait after the `failures`-th failed attempt (1-based): `base * 2**(failures - 1)`,
        capped at `max_delay_s`, then drawn uniformly from its upper half. The jitter spreads the
        retries of the many deliveries an outage fails at once; keeping the lower half out keeps
        the backoff growing."""
        doublings = min(failures - 1, 64)  # far past any cap, and short of a float overflow
        ceiling = min(self.max_delay_s, self.base_delay_s * 2.0**doublings)
        return rng.uniform(ceiling / 2, ceiling)
