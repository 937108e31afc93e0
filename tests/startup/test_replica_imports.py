"""What an API replica and the driver load at start: numba (with llvmlite and scipy) belongs to the
processes that run kernels. Loading it in each replica and in the driver cost ~60 MiB apiece
(`mealtwin bench ingest`, `rss_mib_total`)."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize("modules", [
    "serve_app.app, startup.services, startup.deployment",  # an API replica
    "startup.runtime, cli.main",  # the driver `mealtwin up` runs in
])
def test_replicas_and_the_driver_start_without_numba_or_scipy(modules):
    code = f"import sys, {modules}; print(sorted(m for m in ('numba', 'scipy', 'torch', 'sklearn') if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"


def test_the_environment_holds_no_pyarrow():
    """Ray's serialisation imports pyarrow in every worker process when it is installed (~50 MiB
    resident in each of the twin's ten): a dependency that brings it back must be caught here."""
    import importlib.util

    assert importlib.util.find_spec("pyarrow") is None
