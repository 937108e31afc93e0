"""How a long-lived process of the twin (an API replica, a shard) tunes Python's cyclic garbage
collector once it has started."""

from __future__ import annotations

import gc

# A batch of 5,000 events allocates some 40,000 tracked objects (dicts, models, lists) that
# reference counting frees without help. At the default threshold (700) the collector ran ~60
# young passes a batch over them, and every object alive in the process was scanned again by
# the older generations: with the collector off, validating a batch cost 3.1 µs an event
# against 7.4 µs with it on. Cycles still get collected, 50,000 allocations apart.
YOUNG_THRESHOLD = 50_000


def settle_heap() -> None:
    """Call once start-up is done: what exists now (imports, the directory, recovered state)
    lives as long as the process, so collect once and move it out of the collector's reach
    (`gc.freeze`), then let the young generation grow to `YOUNG_THRESHOLD` between passes."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
