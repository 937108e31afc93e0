"""The backoff: doubling from the base, capped, jittered within the upper half, reproducible."""

import random

import pytest

from serve_app.alerts.delivery.retry import RetryPolicy


def test_delays_double_within_jitter_and_stop_at_the_cap():
    policy = RetryPolicy(attempts=8, base_delay_s=1.0, max_delay_s=10.0)
    rng = random.Random(0)
    for failures, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (6, 10.0), (200, 10.0)]:
        for _ in range(50):
            assert ceiling / 2 <= policy.delay_s(failures, rng) <= ceiling


def test_the_jitter_spreads_retries_and_replays_with_the_same_seed():
    policy = RetryPolicy(attempts=3, base_delay_s=1.0, max_delay_s=10.0)
    first = [policy.delay_s(3, random.Random(7)) for _ in range(3)]
    assert first == [policy.delay_s(3, random.Random(7)) for _ in range(3)]
    rng = random.Random(7)
    assert len({policy.delay_s(3, rng) for _ in range(20)}) > 1


@pytest.mark.parametrize("bad", [{"attempts": 0}, {"base_delay_s": -1}, {"max_delay_s": -1}])
def test_a_policy_without_attempts_or_with_negative_delays_is_refused(bad):
    with pytest.raises(ValueError):
        RetryPolicy(**({"attempts": 3, "base_delay_s": 1.0, "max_delay_s": 5.0} | bad))
