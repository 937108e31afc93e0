"""A sample of the history store small enough to retrain on in minutes.

The sample is whole blocks drawn at random (seeded) until it holds the schools asked for: the risk
model's block features (the block's no-meal rate, its share of schools low on rice, ...) need every
school of a block, and drawing blocks from every district keeps the sample spread over the state.
The months are read one at a time and cut down to the sample at once, so the whole store never sits
in memory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ml import history_store
from ml.panel import Panel


@dataclass
class StoreSample:
    panel: Panel  # the sampled schools over the months read
    columns: np.ndarray  # their columns in the store
    store_schools: int
    blocks: int

    def describe(self, seed: int) -> dict:
        return {"schools": self.panel.n_schools, "of_schools": self.store_schools, "blocks": self.blocks,
                "method": f"whole blocks drawn at random (seed {seed}) until the school count is reached",
                "first_day": str(self.panel.dates[0]), "last_day": str(self.panel.dates[-1])}


def sample_block_columns(block: np.ndarray, n_schools: int, seed: int) -> tuple[np.ndarray, int]:
    """Sorted columns of whole blocks, drawn at random until at least `n_schools` are in; every
    column when the store holds no more than that. Also the number of blocks drawn."""
    blocks, of_block = np.unique(block, return_inverse=True)
    if n_schools >= block.size:
        return np.arange(block.size), int(blocks.size)
    order = np.random.default_rng(seed).permutation(blocks.size)
    sizes = np.bincount(of_block, minlength=blocks.size)[order]
    taken = int(np.searchsorted(np.cumsum(sizes), n_schools) + 1)
    chosen = np.isin(of_block, order[:taken])
    return np.flatnonzero(chosen), taken


def load_sample(root: Path | str, n_schools: int, seed: int, months: int | None = None,
                progress: Callable[[float], None] | None = None) -> StoreSample:
    """The last `months` stored months (None: all) of a block sample of about `n_schools` schools."""
    keys = history_store.months(root)
    if not keys:
        raise FileNotFoundError(f"no stored history in {history_store.history_dir(root)}")
    if months is not None:
        keys = keys[-months:]
    parts, columns, n_blocks, store_schools = [], None, 0, 0
    for i, key in enumerate(keys):
        start = np.datetime64(key, "M").astype("datetime64[D]")
        end = (np.datetime64(key, "M") + 1).astype("datetime64[D]")
        month = history_store.load_panel(root, start, end)
        if columns is None:
            store_schools = month.n_schools
            columns, n_blocks = sample_block_columns(month.block, n_schools, seed)
        parts.append(month.schools(columns))
        if progress is not None:
            progress((i + 1) / len(keys))
    return StoreSample(Panel.concat(parts), columns, store_schools, n_blocks)
