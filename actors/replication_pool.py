"""Scenario replications as Ray tasks: `RayReplicationPool` is the `map_replications(fn, args_list)`
the Monte Carlo runner takes (`scenarios.montecarlo`), so the runner itself never imports Ray.

Each batch of replications is one task (`num_cpus=1`) and tasks run in parallel up to the cluster's
CPUs. Large arguments (the start state, the scenario inputs) are put in the object store once per
pool and passed by reference, however many tasks and rounds use them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ray

_SMALL = (int, float, str, bool, type(None))


class RayReplicationPool:
    """Runs batches as Ray tasks; Ray must be started (`actors.remote.start_ray`)."""

    def __init__(self) -> None:
        if not ray.is_initialized():
            raise RuntimeError("start Ray first (actors.remote.start_ray)")
        self._remote: dict[Callable, Any] = {}
        self._refs: dict[int, tuple[Any, ray.ObjectRef]] = {}  # id(obj) -> (obj kept alive, its ref)

    @property
    def workers(self) -> int:
        """CPUs in the cluster: how many batches run at once."""
        return max(1, int(ray.cluster_resources().get("CPU", 1)))

    def __call__(self, fn: Callable, args_list: list[tuple]) -> list:
        task = self._remote.get(fn)
        if task is None:
            task = self._remote[fn] = ray.remote(num_cpus=1, max_retries=2)(fn)
        refs = [task.remote(*(self._shared(a) for a in args)) for args in args_list]
        return ray.get(refs)

    def _shared(self, value: Any) -> Any:
        """Scalars and lists of scalars go inline; anything else is put once and passed by reference."""
        if isinstance(value, _SMALL) or (isinstance(value, list | tuple) and all(isinstance(v, _SMALL) for v in value)):
            return value
        held = self._refs.get(id(value))
        if held is None or held[0] is not value:
            held = self._refs[id(value)] = (value, ray.put(value))
        return held[1]

    def close(self) -> None:
        """Drop the pool's references, so the object store can free what it put."""
        self._refs.clear()


def serial_map(fn: Callable, args_list: list[tuple]) -> list:
    """The fallback without Ray: every batch in this process, in order."""
    return [fn(*args) for args in args_list]
