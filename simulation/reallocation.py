"""Emergency reallocation of grain between the schools of a block, over arrays (numba)."""

from __future__ import annotations

import numpy as np
from numba import njit

from simulation.levers import Reallocation


def reallocate(stock: np.ndarray, need_per_day: np.ndarray, eligible: np.ndarray, block_starts: np.ndarray,
               block_row: np.ndarray, rule: Reallocation) -> np.ndarray:
    """Move grain within blocks by `rule`, in place; returns kg moved per item, float64 [3].

    `stock` float64 [n, 4] and `need_per_day` [n, 4] (only the first three items move: eggs do not
    keep), `block_row` int64 [n] each school's block position (0 .. len(block_starts) - 1); only
    `eligible` (open) schools give or take. Per item, a school holding fewer than `below_days` of
    its need asks for enough to reach `up_to_days`; one holding more than `above_days` offers what
    it holds above that. Where a block's offers cannot cover its asks, receivers get the same share
    of their ask; donors give the same share of their offer. What receivers gain donors lose, exactly."""
    moved = np.zeros(3)
    _reallocate(stock, need_per_day, np.asarray(eligible, np.bool_), np.asarray(block_row, np.int64),
                len(block_starts), float(rule.below_days), float(rule.above_days), float(rule.up_to_days), moved)
    return moved


@njit(cache=True, nogil=True)
def _ask_and_offer(held, need, below, above, up_to):
    """kg a school asks for (holding under `below` days of `need`) and offers (over `above` days)."""
    if need <= 0.0:
        return 0.0, 0.0
    if held < below * need:
        return max(up_to * need - held, 0.0), 0.0
    if held > above * need:
        return 0.0, held - above * need
    return 0.0, 0.0


@njit(cache=True, nogil=True)
def _reallocate(stock, need, eligible, block_row, nb, below, above, up_to, moved):
    n = stock.shape[0]
    want_b = np.zeros((nb, 3))
    spare_b = np.zeros((nb, 3))
    for i in range(n):
        if not eligible[i]:
            continue
        b = block_row[i]
        for item in range(3):
            ask, offer = _ask_and_offer(stock[i, item], need[i, item], below, above, up_to)
            want_b[b, item] += ask
            spare_b[b, item] += offer
    for b in range(nb):
        for item in range(3):
            m = min(want_b[b, item], spare_b[b, item])
            moved[item] += m
            want_b[b, item] = m / want_b[b, item] if want_b[b, item] > 0.0 else 0.0  # share of each ask met
            spare_b[b, item] = m / spare_b[b, item] if spare_b[b, item] > 0.0 else 0.0  # share of each offer taken
    for i in range(n):
        if not eligible[i]:
            continue
        b = block_row[i]
        for item in range(3):
            ask, offer = _ask_and_offer(stock[i, item], need[i, item], below, above, up_to)
            if ask > 0.0:
                stock[i, item] += ask * want_b[b, item]
            elif offer > 0.0:
                stock[i, item] -= offer * spare_b[b, item]
