"""Many schools' risk answers built from the risk desk's columns: a bulk read (a report of the
whole state) crosses from the state actor as a few arrays rather than a dict a school, and the
dicts are built where they are read. Each answer is what the desk's own `risk(i, brief=True)`
gives: points rounded with Python's `round` and added in the same order, so the two agree."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twin.risk import FACTORS, LEVELS, NEIGHBOURS, level_codes
from twin.rounding import round_like_python


@dataclass(frozen=True)
class RiskColumns:
    """The desk's figures of the schools asked (`slot`: their places in the asked list)."""

    asked: int
    slot: np.ndarray  # int64 [k]
    school_id: np.ndarray  # int64 [k]
    points: np.ndarray  # float64 [k, len(FACTORS)]
    neighbour: np.ndarray  # float64 [k]
    local: np.ndarray  # float64 [k]
    pressure: np.ndarray  # float64 [k] cascade pressure, 0..1
    flagged: np.ndarray  # bool [k]
    open_causes: np.ndarray  # bool [k, len(causes)]
    causes: tuple[str, ...]
    weights: tuple[float, ...]  # of FACTORS
    neighbour_weight: float
    levels: tuple[float, float, float]


def scores_and_levels(c: RiskColumns) -> tuple[list[float], list[int]]:
    """Each scored school's score and level code (into `LEVELS`), in the columns' order: what its
    answer says, without building the answer (a report of the state needs only these). The same
    sums as `risk_answers` makes, a factor at a time over all the schools: Python's `sum` of a
    row starts at 0 and adds the rounded points in order, and so does this."""
    points = round_like_python(c.points, 2)
    total = np.zeros(len(points))
    for j in range(points.shape[1]):
        total = total + points[:, j]
    scores = round_like_python(total + round_like_python(c.neighbour, 2), 2)
    return scores.tolist(), level_codes(scores, c.levels).tolist()


def _rounded(c: RiskColumns) -> tuple[list[list[float]], list[float], list[float], list[int]]:
    points = [[round(p, 2) for p in row] for row in c.points.tolist()]
    neighbour = [round(q, 2) for q in c.neighbour.tolist()]
    scores = [round(sum(p) + q, 2) for p, q in zip(points, neighbour)]  # as `risk` adds them, in order
    levels = level_codes(np.array(scores, np.float64), c.levels).tolist() if scores else []
    return points, neighbour, scores, levels


def risk_answers(c: RiskColumns) -> list[dict | None]:
    """One answer a school asked, None where the desk scores none (unknown or inactive)."""
    points, neighbour, scores, levels = _rounded(c)
    pressure = [round(100 * x, 2) for x in c.pressure.tolist()]
    local = [round(x, 2) for x in c.local.tolist()]
    out: list[dict | None] = [None] * c.asked
    for k, (slot, school) in enumerate(zip(c.slot.tolist(), c.school_id.tolist())):
        factors = [{"factor": name, "points": p, "weight": w} for name, p, w in zip(FACTORS, points[k], c.weights)]
        factors.append({"factor": NEIGHBOURS, "points": neighbour[k], "weight": c.neighbour_weight})
        out[slot] = {"school_id": f"{school:011d}", "score": scores[k], "level": LEVELS[int(levels[k])],
                     "local_score": local[k], "factors": factors,
                     "cascade": {"flagged": bool(c.flagged[k]), "pressure": pressure[k]},
                     "open_alerts": [c.causes[j] for j in np.flatnonzero(c.open_causes[k]).tolist()]}
    return out
