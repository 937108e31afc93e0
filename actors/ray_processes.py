"""The processes of a Ray that this driver started itself, so that none outlive the twin.

`ray.shutdown()` stops the processes it started (GCS, raylet, dashboard, monitors), but not
always their children: Ray's dashboard and runtime-env agents notice that their raylet is gone,
start to exit, and then hang in the interpreter's shutdown, for good. And a forced stop must not
leave Ray's workers behind either. Only the local node this driver started is ever touched: a
driver attached to an existing cluster (`ray_address`) owns no process of it.
"""

from __future__ import annotations

import logging

import psutil
import ray

log = logging.getLogger(__name__)


def local_ray_processes() -> list[psutil.Process]:
    """Every live process of the Ray this driver started (the node's own processes and all their
    descendants: agents, workers, Serve's HAProxy), or none when it joined an existing cluster."""
    node = getattr(ray._private.worker, "_global_node", None)  # private, but the only record of them
    if node is None or not getattr(node, "head", False) or not ray.is_initialized():
        return []
    found: dict[int, psutil.Process] = {}
    for infos in list(node.all_processes.values()):
        for info in infos:
            try:
                root = psutil.Process(info.process.pid)
                for proc in (root, *root.children(recursive=True)):
                    found.setdefault(proc.pid, proc)
            except psutil.Error:
                continue  # exited already
    return list(found.values())


def reap(processes: list[psutil.Process], grace_s: float = 5.0) -> list[int]:
    """Wait up to `grace_s` for `processes` to exit, then terminate the rest, then kill what still
    runs. Returns the pids that had to be stopped. psutil checks each pid's start time, so a pid
    reused by someone else's process since is never signalled."""
    _, alive = psutil.wait_procs(processes, timeout=grace_s)
    stopped = [proc.pid for proc in alive]
    for proc in alive:
        _signal(proc, proc.terminate)
    _, alive = psutil.wait_procs(alive, timeout=3.0)
    for proc in alive:
        _signal(proc, proc.kill)
    psutil.wait_procs(alive, timeout=3.0)
    if stopped:
        log.info("stopped %d process(es) of Ray left after its shutdown: %s", len(stopped), stopped)
    return stopped


def kill_now(processes: list[psutil.Process]) -> None:
    """SIGKILL, for a forced stop: nothing is waited for."""
    for proc in processes:
        _signal(proc, proc.kill)


def _signal(proc: psutil.Process, send) -> None:  # noqa: ANN001
    try:
        send()
    except psutil.Error:
        pass  # gone meanwhile
