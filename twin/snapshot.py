"""Serialise one district's twin columns to bytes and back (numpy's .npz, compressed)."""

from __future__ import annotations

import io

import numpy as np


def dumps(part: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **part)
    return buffer.getvalue()


def loads(data: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}
