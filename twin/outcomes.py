"""What folding an event did, as `twin.kernels.apply_events` reports it per event (int8).

Apart from the kernels so that the API, which only reads these codes, does not load numba."""

SKIPPED = 0  # not for this shard, or already folded in (seq at or below the district's watermark)
APPLIED = 1
CORRECTION = 2  # an attendance report for a (school, date) already reported: replaces it
TOO_OLD = 3  # an attendance report older than the kept history: logged, cannot be folded in
