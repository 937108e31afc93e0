"""How often a shard's whole-state work runs: the roll-ups and risk features it pushes cost time in
proportion to its schools (~10 ms for a district of Tamil Nadu, ~1 s for 1.08 M schools on one
shard), so a fixed period that suits the state would spend most of a core at India scale and
starve the folding of events. The period stretches to keep that work within a share of a core."""

from __future__ import annotations

PUSH_CPU_SHARE = 0.1  # of one core, at most, for the pushes (the folding and the reads get the rest)
# of one core, at most, for the state actor's risk rounds: each scores, re-levels and reconciles the
# alerts of every school (O(schools): ~0.6 s of CPU at 1.08 M schools), so shards' news arriving
# back to back would keep a core busy
EVALUATE_CPU_SHARE = 0.15


def push_period(spent_s: float, floor_s: float, share: float = PUSH_CPU_SHARE) -> float:
    """Seconds between pushes after one that took `spent_s`: `floor_s`, or longer so that pushes
    take at most `share` of the time."""
    if not 0 < share <= 1:
        raise ValueError("share must be in (0, 1]")
    return max(floor_s, spent_s / share)
