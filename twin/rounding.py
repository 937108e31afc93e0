"""Python's `round(x, digits)` over arrays, value for value.

`np.round` scales, rounds and scales back, so where `x * 10**digits` lands within a rounding error
of a half it may round the other way from Python's correctly rounded `round`; elsewhere the two
agree exactly (the nearest whole number is the same, and one IEEE division gives the double nearest
the decimal). So the array is rounded by numpy and only the few values that close to a half are
rounded by Python. Reports that must say what a per-school answer says use this to round a whole
column at once."""

from __future__ import annotations

import numpy as np

_NEAR_HALF = 1e-6  # far wider than the scaling's error for any figure a report rounds


def round_like_python(x: np.ndarray, digits: int) -> np.ndarray:
    """float64 array of `round(v, digits)` for each v of `x` (any shape; NaN and inf stay)."""
    x = np.asarray(x, np.float64)
    scaled = x * 10.0**digits
    out = np.round(x, digits)
    near = np.abs(scaled - np.floor(scaled) - 0.5) < _NEAR_HALF
    if near.any():
        out[near] = [round(v, digits) for v in x[near].tolist()]
    return out
