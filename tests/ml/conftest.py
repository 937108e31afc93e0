"""Small simulated histories shared by the ml tests (a few hundred schools, months not years)."""

from __future__ import annotations

import datetime as dt

import pytest

from ml.history import generate_history, synthetic_schools
from ml.panel import Panel


@pytest.fixture(scope="session")
def school_year_panel() -> Panel:
    """400 schools from June 2024 to May 2025: a school year with a whole north-east monsoon."""
    table = synthetic_schools(400, seed=11)
    return Panel.concat(list(generate_history(table, dt.date(2024, 6, 1), dt.date(2025, 6, 1), seed=11)))
