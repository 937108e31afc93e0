"""A Serve HAProxy left behind on the API's port is stopped; one serving another port is not, nor, at
start, one whose manager actor still runs."""

import os
import subprocess
import sys
import time

import psutil

from startup.deployment import stop_leftover_haproxy


def _fake_haproxy(tmp_path, name: str, port: int) -> subprocess.Popen:
    """A process whose command line looks like Serve's HAProxy: `.../haproxy ... -f <config>`."""
    binary = tmp_path / name / "haproxy"
    binary.parent.mkdir()
    os.symlink(sys.executable, binary)
    config = tmp_path / name / "haproxy.cfg"
    config.write_text(f"frontend http_frontend\n    bind 127.0.0.1:{port}\n")
    return subprocess.Popen([str(binary), "-c", "import time; time.sleep(60)", "-f", str(config)])


def test_only_the_haproxy_on_our_port_is_stopped(tmp_path):
    ours = _fake_haproxy(tmp_path, "ours", 18123)
    other = _fake_haproxy(tmp_path, "other", 18124)
    try:
        time.sleep(0.3)  # let both exec
        stop_leftover_haproxy(18123)
        assert ours.wait(timeout=10) != 0
        assert other.poll() is None
    finally:
        for proc in (ours, other):
            proc.kill()
            proc.wait()


def test_at_start_only_an_orphaned_haproxy_is_stopped(tmp_path):
    orphan = _fake_haproxy(tmp_path, "orphan", 18125)  # its parent, this test, is no HAProxy manager
    binary = tmp_path / "managed" / "haproxy"
    binary.parent.mkdir()
    os.symlink(sys.executable, binary)
    config = tmp_path / "managed" / "haproxy.cfg"
    config.write_text("frontend http_frontend\n    bind 127.0.0.1:18125\n")
    spawn = ("import subprocess, sys, time; subprocess.Popen([sys.argv[1], '-c', 'import time; time.sleep(60)', "
             "'-f', sys.argv[2]]); time.sleep(60)")
    manager = subprocess.Popen([sys.executable, "-c", spawn, str(binary), str(config), "HAProxyManager"])
    try:
        deadline = time.monotonic() + 10
        while not (children := psutil.Process(manager.pid).children()) and time.monotonic() < deadline:
            time.sleep(0.05)
        (managed,) = children
        time.sleep(0.3)  # let both exec
        stop_leftover_haproxy(18125, orphans_only=True)
        assert orphan.wait(timeout=10) != 0
        assert managed.is_running() and managed.status() != psutil.STATUS_ZOMBIE  # a running twin's proxy
    finally:
        for proc in (orphan, manager, *psutil.Process(manager.pid).children()):
            proc.kill()
        orphan.wait()
        manager.wait()
