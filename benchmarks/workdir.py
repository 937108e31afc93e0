"""Where a benchmark keeps its twin's database, data and scratch files while it runs.

Removed when the benchmark's process ends: an India-scale run leaves gigabytes, and a machine
that runs benchmarks often would fill its disk. Set MEALTWIN_BENCH_KEEP=1 to keep them for a
look afterwards (the path is in the benchmark's progress lines).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile


def bench_workdir(prefix: str) -> str:
    """A fresh directory named `prefix...` in the system's temporary folder."""
    path = tempfile.mkdtemp(prefix=prefix)
    if not os.environ.get("MEALTWIN_BENCH_KEEP"):
        atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path
