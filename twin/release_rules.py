"""Release rules for an area's funds, over arrays of n areas (schools, blocks or districts).

A year's allocation is released in instalments of at most 25% of it; a further instalment only
once at least 75% of the earlier releases is utilised; the State's share goes with the Centre's,
in the proportion of the allocation. `check_release` says, area by area, whether a proposed
instalment keeps these rules and which it breaks; `project_balance` says, from the recent burn,
when an area will have spent enough to qualify for its next instalment and when it runs dry.
Amounts are INR (float64); school-day indices count from the next school day (1) onwards.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import IntFlag

import numpy as np

from twin import calendar
from twin.errors import InvalidInput

MAX_INSTALMENT_SHARE = 0.25  # of the year's allocation, per instalment
MIN_UTILISED_SHARE = 0.75  # of the earlier releases, before the next instalment
BURN_WINDOW_SCHOOL_DAYS = 20
NEVER = -1  # a day index that never comes at the current burn


class Refusal(IntFlag):
    """Why a proposed release is refused; an area may break several rules at once."""

    NOT_POSITIVE = 1  # nothing proposed, or a negative part
    OVER_INSTALMENT_CAP = 2  # more than MAX_INSTALMENT_SHARE of the year's allocation
    OVER_ALLOCATION = 4  # releases would pass the year's allocation
    EARLIER_UNDERUSED = 8  # less than MIN_UTILISED_SHARE of the earlier releases utilised
    SHARES_APART = 16  # the State's part is not released with the Centre's, in proportion


REFUSAL_TEXT = {
    Refusal.NOT_POSITIVE: "the proposed release is not a positive amount",
    Refusal.OVER_INSTALMENT_CAP: "an instalment may be at most 25% of the year's allocation",
    Refusal.OVER_ALLOCATION: "the releases would exceed the year's allocation",
    Refusal.EARLIER_UNDERUSED: "less than 75% of the earlier releases is utilised",
    Refusal.SHARES_APART: "the State's share must be released with the Centre's, in proportion",
}


def _columns(names: tuple[str, ...], *arrays: object) -> list[np.ndarray]:
    """The arrays as float64 [n], checked to be 1-D, of one length and finite."""
    out = [np.atleast_1d(np.asarray(a, np.float64)) for a in arrays]
    n = out[0].shape[0]
    for name, a in zip(names, out):
        if a.ndim != 1 or a.shape[0] != n:
            raise InvalidInput(f"{name} must be [n] like {names[0]}", {"field": name})
        if not np.all(np.isfinite(a)):
            raise InvalidInput(f"{name} must be finite", {"field": name})
    return out


@dataclass(frozen=True)
class ReleaseCheck:
    allowed: np.ndarray  # bool [n]
    refusals: np.ndarray  # uint8 [n]: the Refusal flags each area breaks, 0 where allowed

    def reasons(self, i: int) -> list[str]:
        """Why area `i`'s release is refused, in words (empty if allowed)."""
        return [text for flag, text in REFUSAL_TEXT.items() if int(self.refusals[i]) & flag]


def check_release(allocation_centre_inr: np.ndarray, allocation_state_inr: np.ndarray,
                  released_inr: np.ndarray, utilised_inr: np.ndarray, proposed_centre_inr: np.ndarray,
                  proposed_state_inr: np.ndarray, *, max_instalment_share: float = MAX_INSTALMENT_SHARE,
                  min_utilised_share: float = MIN_UTILISED_SHARE, tolerance_inr: float = 1.0) -> ReleaseCheck:
    """Whether each of n areas may receive the proposed instalment, and why not.

    All arguments [n] INR: the year's allocation by payer, the year's releases so far (both
    payers), what of them is utilised, and the proposed instalment by payer. `tolerance_inr`
    absorbs rounding of instalments to whole rupees. The first instalment of a year has no
    earlier releases to have utilised."""
    names = ("allocation_centre_inr", "allocation_state_inr", "released_inr", "utilised_inr",
             "proposed_centre_inr", "proposed_state_inr")
    alloc_c, alloc_s, released, utilised, prop_c, prop_s = _columns(
        names, allocation_centre_inr, allocation_state_inr, released_inr, utilised_inr,
        proposed_centre_inr, proposed_state_inr)
    if np.any(alloc_c < 0) or np.any(alloc_s < 0) or np.any(released < 0):
        raise InvalidInput("allocations and releases must be non-negative")
    allocation = alloc_c + alloc_s
    proposed = prop_c + prop_s
    state_fraction = np.divide(alloc_s, allocation, out=np.zeros_like(allocation), where=allocation > 0)
    refusals = np.zeros(allocation.shape[0], np.uint8)
    tests = (
        (Refusal.NOT_POSITIVE, (prop_c < 0) | (prop_s < 0) | (proposed <= 0)),
        (Refusal.OVER_INSTALMENT_CAP, proposed > max_instalment_share * allocation + tolerance_inr),
        (Refusal.OVER_ALLOCATION, released + proposed > allocation + tolerance_inr),
        (Refusal.EARLIER_UNDERUSED, (released > 0) & (utilised < min_utilised_share * released - tolerance_inr)),
        (Refusal.SHARES_APART, np.abs(prop_s - proposed * state_fraction) > tolerance_inr),
    )
    for flag, broken in tests:
        refusals[broken] |= np.uint8(flag)
    return ReleaseCheck(refusals == 0, refusals)


@dataclass(frozen=True)
class BalanceProjection:
    balance_inr: np.ndarray  # [n] released - utilised
    days_to_utilisation_rule: np.ndarray  # int64 [n] school days until utilised >= 75% of released; 0 already
    days_to_exhaustion: np.ndarray  # int64 [n] school days until the balance is spent; 0 already
    misses_utilisation_rule: np.ndarray  # bool [n]: 75% is not reached within the horizon
    exhausts_balance: np.ndarray  # bool [n]: the balance is spent within the horizon
    flag_day: np.ndarray  # int64 [n]: the day the first flag fires (NEVER if none): see project_balance


def _days_to_reach(utilised: np.ndarray, target: np.ndarray, burn: np.ndarray) -> np.ndarray:
    """int64 [n]: least d >= 0 with utilised + burn * d >= target; NEVER if no d reaches it."""
    reached = utilised >= target
    moving = ~reached & (burn > 0)
    gap = np.where(moving, target - utilised, 0.0) / np.where(moving, burn, 1.0)
    d = np.ceil(gap)
    d = np.where(moving & (utilised + burn * (d - 1) >= target), d - 1, d)  # exact at the boundary
    d = np.where(moving & (utilised + burn * d < target), d + 1, d)
    return np.where(reached, 0, np.where(moving, d, NEVER)).astype(np.int64)


def project_balance(released_inr: np.ndarray, utilised_inr: np.ndarray, burn_inr_per_school_day: np.ndarray,
                    horizon_school_days: int | np.ndarray, *,
                    min_utilised_share: float = MIN_UTILISED_SHARE) -> BalanceProjection:
    """Project each of n areas' funds at its current burn, over the school days to a deadline.

    released_inr, utilised_inr, burn_inr_per_school_day: [n] INR (burn from
    `burn_rate_inr_per_school_day`); horizon_school_days: int or int [n], the school days left to
    the deadline (the next instalment's review, or the end of the financial year). Day d is the
    d-th school day from now; utilisation after it is utilised + burn x d. An area is flagged if it
    will not have utilised `min_utilised_share` of its releases by the deadline (it cannot claim
    the next instalment: `flag_day` is the deadline), or if its balance runs out by then (`flag_day`
    is that day, or 0 when it already has). Areas that never reach a mark show NEVER."""
    released, utilised, burn = _columns(("released_inr", "utilised_inr", "burn_inr_per_school_day"),
                                        released_inr, utilised_inr, burn_inr_per_school_day)
    horizon = np.broadcast_to(np.asarray(horizon_school_days), released.shape)
    if not np.issubdtype(horizon.dtype, np.integer) or np.any(horizon < 0):
        raise InvalidInput("horizon_school_days must be non-negative integers")
    if np.any(released < 0) or np.any(burn < 0):
        raise InvalidInput("released_inr and burn_inr_per_school_day must be non-negative")
    to_rule = _days_to_reach(utilised, min_utilised_share * released, burn)
    to_exhaustion = _days_to_reach(utilised, released, burn)
    misses = (to_rule == NEVER) | (to_rule > horizon)
    exhausts = (to_exhaustion != NEVER) & (to_exhaustion <= horizon)
    flag_day = np.where(exhausts, to_exhaustion, np.where(misses, horizon, NEVER)).astype(np.int64)
    return BalanceProjection(released - utilised, to_rule, to_exhaustion, misses, exhausts, flag_day)


def burn_rate_inr_per_school_day(utilised_by_day_inr: np.ndarray, school_day: np.ndarray,
                                 window_school_days: int = BURN_WINDOW_SCHOOL_DAYS) -> np.ndarray:
    """[n] INR per school day: what each area utilised from the start of the last
    `window_school_days` school days to the end (every day's spending, school day or not),
    divided by the school days in that stretch (fewer if the record holds fewer; 0 if none).

    utilised_by_day_inr: [n, d] INR utilised on each day, oldest first; school_day: bool [d]."""
    spent = np.asarray(utilised_by_day_inr, np.float64)
    school_day = np.asarray(school_day)
    if spent.ndim != 2 or school_day.ndim != 1 or school_day.dtype != np.bool_ or spent.shape[1] != school_day.shape[0]:
        raise InvalidInput("utilised_by_day_inr must be [n, d] and school_day bool [d]")
    if window_school_days < 1:
        raise InvalidInput("window_school_days must be at least 1")
    days = np.flatnonzero(school_day)
    if days.size == 0:
        return np.zeros(spent.shape[0])
    window = days[-window_school_days:]
    return spent[:, window[0]:].sum(axis=1) / window.size


def day_index_dates(day_index: np.ndarray, today: dt.date) -> np.ndarray:
    """datetime64[D] [n]: the date of each school-day index counted from `today` (twin.calendar):
    0 is today, d the d-th school day after it, NEVER gives NaT."""
    day_index = np.asarray(day_index, np.int64)
    last = int(day_index.max(initial=0))
    dates = [today]
    for _ in range(last):
        dates.append(calendar.next_school_day(dates[-1]))
    table = np.array(dates, dtype="datetime64[D]")
    return np.where(day_index >= 0, table[np.clip(day_index, 0, last)], np.datetime64("NaT", "D"))
