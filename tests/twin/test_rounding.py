"""Rounding a column at once says what Python's round says of each value, ties and near-ties
included; and the risk desk's scores and levels taken as columns are those of its answers."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from twin.risk import FACTORS
from twin.risk_answers import RiskColumns, risk_answers, scores_and_levels
from twin.rounding import round_like_python


@given(st.lists(st.floats(min_value=-1e7, max_value=1e7, allow_nan=False), max_size=50),
       st.integers(min_value=0, max_value=4))
def test_rounds_as_python_does(values, digits):
    assert round_like_python(np.array(values), digits).tolist() == [round(v, digits) for v in values]


def test_values_at_and_next_to_a_half_round_as_python_does():
    halves = np.arange(-2000, 2000) / 100 + 0.005  # 2.675 and its kind: np.round and round disagree on some
    values = np.concatenate([halves, np.nextafter(halves, np.inf), np.nextafter(halves, -np.inf),
                             [0.125, 0.375, 2.5, -0.0, 1e-300]])
    for digits in (1, 2, 3):
        assert round_like_python(values, digits).tolist() == [round(v, digits) for v in values.tolist()]
    assert (np.round(halves, 2) != [round(v, 2) for v in halves.tolist()]).any()  # the case this exists for


def test_scores_and_levels_are_the_answers():
    rng = np.random.default_rng(3)
    k = 5_000
    points = rng.uniform(0, 25, (k, len(FACTORS)))
    points[::3] = np.round(points[::3], 3)
    points[::7] = np.arange(len(FACTORS)) * 0.005 + 1.125  # near-ties in every factor
    columns = RiskColumns(
        asked=k + 3, slot=np.arange(k) + 3, school_id=np.arange(k, dtype=np.int64) + 33_010_100_000,
        points=points, neighbour=rng.uniform(0, 10, k), local=rng.uniform(0, 90, k), pressure=rng.uniform(0, 1, k),
        flagged=rng.uniform(size=k) < 0.2, open_causes=np.zeros((k, 1), bool), causes=("stock_low",),
        weights=tuple(1.0 for _ in FACTORS), neighbour_weight=1.0, levels=(25.0, 50.0, 75.0))
    answers = risk_answers(columns)[3:]
    scores, levels = scores_and_levels(columns)
    assert scores == [a["score"] for a in answers]
    assert [("low", "medium", "high", "critical")[lv] for lv in levels] == [a["level"] for a in answers]
