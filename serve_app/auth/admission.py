"""Admission control: how much a replica takes on at once."""

from __future__ import annotations


class InFlight:
    """Admission control: how many requests this replica is serving, reads and ingest counted
    apart. Past its budget a request is refused at once (503, Retry-After) instead of queueing
    behind the rest until everyone times out; ingest has a budget of its own, so a storm of
    reads cannot keep the live feed's batches out. One event loop: plain counters suffice."""

    def __init__(self, max_reads: int, max_ingest: int) -> None:
        self.max_reads, self.max_ingest = max_reads, max_ingest
        self.reads = self.ingest = 0

    def enter(self, ingest: bool) -> bool:
        if ingest:
            if self.ingest >= self.max_ingest:
                return False
            self.ingest += 1
        else:
            if self.reads >= self.max_reads:
                return False
            self.reads += 1
        return True

    def leave(self, ingest: bool) -> None:
        if ingest:
            self.ingest -= 1
        else:
            self.reads -= 1
