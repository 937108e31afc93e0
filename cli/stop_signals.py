"""How `mealtwin up` answers SIGTERM and SIGINT: the first stops the twin in order, a second forces it.

A service manager stops a service with SIGTERM, a terminal with SIGINT (Ctrl-C, sent to the
whole foreground process group; Ray's own processes block SIGINT, so only this driver acts on
it). Both cancel the run, whose `finally` stops the twin in order and exits with status 0. An
orderly stop can take a while (final snapshots, Serve's shutdown), and an operator who has seen
enough sends the signal again: then every process of the local Ray is killed at once and the
command exits with 128 + the signal's number, as a shell reports a process killed by it.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopSignals:
    def __init__(self, say: Callable[[str], None]) -> None:
        self._say = say
        self.received: list[int] = []

    def install(self, run: asyncio.Task) -> None:
        """Route both signals to this object, on the running loop (the handler then runs on the loop
        between callbacks, never inside Ray's client code)."""
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, self._received, sig, run)

    def _received(self, sig: int, run: asyncio.Task) -> None:
        self.received.append(sig)
        name = signal.Signals(sig).name
        if len(self.received) == 1:
            self._say(f"{name}: stopping in order (send it again to force)")
            run.cancel()
            return
        self._say(f"{name} again: forcing the stop")
        force_stop()
        os._exit(128 + sig)


def force_stop() -> None:
    """Kill every process of the local Ray this command started, without waiting for anything."""
    from actors.ray_processes import kill_now, local_ray_processes

    kill_now(local_ray_processes())
