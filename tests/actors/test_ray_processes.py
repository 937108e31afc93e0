"""Leftover processes are stopped after a grace period: politely first, then by force; processes
that exit by themselves within it are never signalled."""

from __future__ import annotations

import subprocess
import sys

import psutil

from actors.ray_processes import reap

_IGNORES_SIGTERM = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"


def test_a_process_that_ignores_sigterm_is_killed_and_one_that_exits_is_left_alone():
    stubborn = subprocess.Popen([sys.executable, "-c", _IGNORES_SIGTERM], stdout=subprocess.PIPE, text=True)
    leaving = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.2)"])
    try:
        stubborn.stdout.readline()  # its handler is in place
        processes = [psutil.Process(stubborn.pid), psutil.Process(leaving.pid)]
        assert reap(processes, grace_s=2.0) == [stubborn.pid]
        assert not any(proc.is_running() for proc in processes)
    finally:
        stubborn.kill()
        stubborn.wait()
