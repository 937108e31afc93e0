"""Chromium for the dashboard's tests: Debian's package, driven by Playwright (no browser download).
Without it the tests skip, except in CI (CI=true), where a missing browser fails them: `.ci/run`
installs it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("MEALTWIN_TEST_CHROMIUM", "/usr/bin/chromium"))


def require_chromium() -> None:
    problem = None
    if not CHROMIUM.exists():
        problem = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    else:
        try:
            import playwright  # noqa: F401
        except ImportError:
            problem = "Playwright for Python is not installed (pip install -e '.[test]')"
    if problem is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser tests need Chromium: {problem}", pytrace=False)
    pytest.skip(problem)


def launch(playwright):  # noqa: ANN001, ANN201 - a Playwright Browser
    # --no-sandbox: CI runs as root in a container, where Chromium's sandbox cannot start
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
