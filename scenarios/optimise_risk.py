"""Risk scores before and after a stock plan: the twin's own rule-based local score
(`twin.risk`, from `twin.school_features`) on the shard states as they are, and again with the
plan's transfers added to the schools' stock: what the twin would say once the plan is folded.
The neighbours' cascade is left out: it is the state actor's, over the whole graph."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from twin.directory import Directory
from twin.risk import LEVELS, RiskRules, factor_points, level_codes
from twin.school_features import school_features
from twin.state import ShardState


def rescored(states: list[ShardState], directory: Directory, schools: np.ndarray, change: np.ndarray,
             rules: RiskRules) -> dict[int, dict]:
    """For directory indices `schools` (int64 [k]) with stock changes `change` (float64 [k, 4]):
    {school: {"before": {"score", "level"}, "after": {...}}}. Only shards hosting them are read."""
    out: dict[int, dict] = {}
    schools = np.asarray(schools, np.int64)
    for s in states:
        local = s.school_local[schools] if schools.size else np.empty(0, np.int64)
        here = local >= 0
        if not here.any():
            continue
        stock = s.stock.copy()
        np.add.at(stock, local[here], change[here])
        before, after = (_scores(state, local[here], rules) for state in (s, replace(s, stock=stock)))
        for k, g in enumerate(schools[here].tolist()):
            out[g] = {"before": before[k], "after": after[k]}
    return out


def _scores(state: ShardState, rows: np.ndarray, rules: RiskRules) -> list[dict]:
    score = factor_points(school_features(state)[rows], rules).sum(axis=1)
    levels = level_codes(score, rules.levels)
    return [{"score": round(float(x), 2), "level": LEVELS[int(c)]} for x, c in zip(score, levels)]
