"""Serialise one district's twin columns to bytes and back: numpy's .npz, zlib level 1 (about
half the CPU of `savez_compressed` for a snapshot a fifth larger; shards snapshot while ingesting)."""

from __future__ import annotations

import io
import zlib

import numpy as np


def dumps(part: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **part)
    return zlib.compress(buffer.getvalue(), 1)


def loads(data: bytes) -> dict[str, np.ndarray]:
    if not data.startswith(b"PK"):  # snapshots written before this format are plain compressed .npz
        data = zlib.decompress(data)
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}
