"""What the twin's processes cost while a benchmark runs: CPU seconds and memory, by process name.

The twin's processes are this one (the Ray driver) and every process under it, less the ones a
benchmark starts to load it (its clients) and their children.
"""

from __future__ import annotations

from collections.abc import Iterable

import psutil


def twin_processes(exclude: Iterable[int] = ()) -> list[psutil.Process]:
    """This process and every process under it but `exclude` and their children."""
    me = psutil.Process()
    skip = set(exclude)
    for pid in list(skip):
        try:
            skip |= {c.pid for c in psutil.Process(pid).children(recursive=True)}
        except psutil.Error:
            pass
    return [p for p in [me, *me.children(recursive=True)] if p.pid not in skip]


def process_name(p: psutil.Process) -> str:
    """A Ray worker's name without `ray::` and its method (`ShardHost`, `ServeReplica:...`)."""
    return p.name().removeprefix("ray::").split(".")[0]


def cpu_seconds(exclude: Iterable[int] = ()) -> dict[int, tuple[str, float]]:
    """CPU seconds used so far by the twin's processes, by pid."""
    out = {}
    for p in twin_processes(exclude):
        try:
            t = p.cpu_times()
            out[p.pid] = (process_name(p), t.user + t.system)
        except psutil.Error:
            pass
    return out


def cpu_spent(before: dict, after: dict) -> dict[str, float]:
    """CPU seconds spent between two `cpu_seconds` readings, summed by process name (largest
    first; a process started between them counts from zero)."""
    spent: dict[str, float] = {}
    for pid, (name, t) in after.items():
        spent[name] = spent.get(name, 0.0) + t - before.get(pid, (name, 0.0))[1]
    return {k: round(v, 2) for k, v in sorted(spent.items(), key=lambda kv: -kv[1]) if v >= 0.05}


def memory_mib(exclude: Iterable[int] = ()) -> tuple[dict[str, float], float]:
    """MiB resident in the twin's processes, summed by process name (largest first), and their
    proportional set size in all: RSS counts a shared library's pages once in every process that
    maps them (Ray's and numpy's in each of a dozen), PSS shares them out, so its sum is the memory
    the twin holds."""
    by_name: dict[str, float] = {}
    pss = 0.0
    for p in twin_processes(exclude):
        try:
            memory = p.memory_full_info()
            name = process_name(p)
            by_name[name] = by_name.get(name, 0.0) + memory.rss / 2**20
            pss += memory.pss / 2**20
        except psutil.Error:
            pass
    return dict(sorted(by_name.items(), key=lambda kv: -kv[1])), pss
