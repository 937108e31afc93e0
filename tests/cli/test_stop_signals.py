"""The first SIGTERM or SIGINT asks for an orderly stop; a second forces the exit at once."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

# a stand-in for `mealtwin up` whose orderly stop hangs (a shard that never answers, say)
_HANGING_STOP = """
import asyncio
from cli.stop_signals import StopSignals

async def main():
    StopSignals(lambda message: print(message, flush=True)).install(asyncio.current_task())
    print("running", flush=True)
    try:
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        print("orderly stop", flush=True)
        await asyncio.sleep(60)

asyncio.run(main())
"""


def _wait_for_line(proc: subprocess.Popen, text: str) -> None:
    for line in proc.stdout:
        if text in line:
            return
    raise AssertionError(f"{text!r} never printed")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_second_signal_forces_the_exit(sig):
    proc = subprocess.Popen([sys.executable, "-c", _HANGING_STOP], stdout=subprocess.PIPE, text=True)
    try:
        _wait_for_line(proc, "running")
        proc.send_signal(sig)
        _wait_for_line(proc, "orderly stop")
        started = time.monotonic()
        proc.send_signal(sig)
        assert proc.wait(timeout=20) == 128 + sig
        assert time.monotonic() - started < 20
    finally:
        proc.kill()
        proc.wait()
