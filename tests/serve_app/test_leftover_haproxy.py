"""A Serve HAProxy left behind on the API's port is stopped; one serving another port is not."""

import os
import subprocess
import sys
import time

from serve_app.deployment import stop_leftover_haproxy


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
