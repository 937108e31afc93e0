"""A shard's pushes keep to a share of a core: the period stretches with what a push costs."""

import pytest

from actors.pacing import PUSH_CPU_SHARE, push_period


def test_a_cheap_push_keeps_the_shortest_period():
    assert push_period(0.01, floor_s=1.0) == 1.0  # a district of Tamil Nadu


def test_a_costly_push_is_spaced_to_stay_within_its_share():
    spent = 1.2  # ~1.08 M schools on one shard
    period = push_period(spent, floor_s=1.0)
    assert period == pytest.approx(spent / PUSH_CPU_SHARE)
    assert spent / period <= PUSH_CPU_SHARE + 1e-12
    assert push_period(spent, floor_s=1.0, share=0.5) == pytest.approx(2.4)


@pytest.mark.parametrize("share", [0.0, -0.1, 1.5])
def test_a_share_outside_zero_to_one_is_refused(share):
    with pytest.raises(ValueError, match="share"):
        push_period(1.0, floor_s=1.0, share=share)
