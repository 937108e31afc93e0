"""The funds alerts: a balance that lasts fewer school days than the setting, and the 75% release
rule that will fail by the year's end at the recent burn; the feature checked against
`twin.release_rules.project_balance`, the rules against hand-built features, and the alerts raised
through the risk desk into the real alert store (SQLite and PostgreSQL)."""

import datetime as dt

import numpy as np
import pytest

from actors.risk_desk import RiskDesk
from configs.settings import AlertRules, RiskRules
from db.alert_repository import AlertRepository
from db.engine import create_engine
from tests.fixtures.builders import small_directory
from twin import finance
from twin.alert_rules import CAUSES, MEDIUM, NONE, school_severities
from twin.batch import EventBatch
from twin.events import EventKind
from twin.kernels import apply_events
from twin.norms import cost_per_meal, day_number
from twin.ports import DeskPorts
from twin.release_rules import project_balance
from twin.risk import FEATURES, F
from twin.school_features import school_features
from twin.state import ShardState

DIRECTORY, ENROLMENT = small_directory()


def features(**values: float) -> np.ndarray:
    x = np.full((1, len(FEATURES)), np.nan)
    x[0, F["closed_today"]] = 0
    for name, v in values.items():
        x[0, F[name]] = v
    return x


def wanted(rules: AlertRules = AlertRules(), **values: float) -> dict[str, int]:
    row = school_severities(features(**values), np.zeros(1, np.int8), rules, 180)[0]
    return {CAUSES[c]: int(s) for c, s in enumerate(row) if s != NONE}


def test_funds_running_out_within_the_setting_raise_an_alert():
    assert wanted(funds_days=5) == {"funds_low": MEDIUM}
    assert wanted(funds_days=12) == {}
    assert wanted(AlertRules(funds_days_below=4), funds_days=5) == {}
    assert wanted(AlertRules(funds_days_below=30), funds_days=12) == {"funds_low": MEDIUM}
    assert set(wanted(funds_days=0.5)) == {"funds_exhausted"}  # exhausted is its own, higher alert


def test_the_release_rule_about_to_fail_raises_an_alert():
    assert wanted(utilisation_rule_days=3) == {"utilisation_rule_at_risk": MEDIUM}
    assert wanted(utilisation_rule_days=0) == {}
    assert wanted(utilisation_rule_days=-40) == {}
    assert wanted() == {}  # nothing released: unknown, no alert


def _state_with(released: float, days: list[dt.date], meals: int) -> ShardState:
    """One school (the first) given `released` and `meals` primary meals on each of `days`."""
    state = ShardState.for_districts(DIRECTORY, ENROLMENT, [0, 1, 2])
    n = 1 + len(days)
    batch = EventBatch.empty(n)
    batch.seq[:] = np.arange(1, n + 1)
    batch.school[:], batch.block[:], batch.district[:] = 0, DIRECTORY.school_block[0], DIRECTORY.school_district[0]
    batch.kind[0], batch.day[0], batch.values[0, 0] = EventKind.FUNDS_RELEASED, day_number(days[0]), released
    for k, d in enumerate(days, start=1):
        batch.kind[k], batch.day[k] = EventKind.ATTENDANCE_REPORTED, day_number(d)
        batch.values[k, :5] = (meals, meals, 0, 0, 0)
    batch.day_end[:] = batch.day
    apply_events(state, batch)
    return state


@pytest.mark.parametrize("released", [2_000.0, 20_000.0, 200_000.0])
def test_the_rule_feature_agrees_with_the_projection(released):
    days = [dt.date(2025, 7, d) for d in (1, 2, 3, 4, 7, 8)]
    state = _state_with(released, days, 100)
    x = school_features(state)[int(state.school_local[0])]
    burn = 100 * cost_per_meal(days[-1])[0]
    utilised = burn * len(days)
    first, last = finance.financial_year_bounds(2025)
    horizon = int(finance.school_days(days[-1] + dt.timedelta(days=1), last).sum())
    p = project_balance(np.array([released]), np.array([utilised]), np.array([burn]), horizon)
    assert x[F["utilisation_rule_days"]] == p.days_to_utilisation_rule[0] - horizon
    assert bool(x[F["utilisation_rule_days"]] > 0) == bool(p.misses_utilisation_rule[0])
    assert x[F["funds_days"]] == pytest.approx(max(released - utilised, 0) / burn)
    others = np.delete(school_features(state), int(state.school_local[0]), axis=0)
    assert np.isnan(others[:, F["utilisation_rule_days"]]).all()  # nothing released to them


@pytest.fixture
async def store(database_url):
    engine = create_engine(database_url)
    yield AlertRepository(engine)
    await engine.dispose()


async def test_the_alerts_go_through_the_desk_into_the_store(store):
    n = len(DIRECTORY)
    desk = RiskDesk(DeskPorts(DIRECTORY, np.linspace(9, 12, n), np.linspace(77, 79, n), store=store),
                    RiskRules(), AlertRules(funds_days_below=10))
    await desk.start()
    x = np.repeat(features(funds_days=60, utilisation_rule_days=-20, stock_days=20, days_since_report=0,
                           no_meal_streak=0, no_meal_days_30=0, meal_share=0.9), n, axis=0)
    desk.ingest(np.arange(n), x)
    await desk.evaluate()
    assert not [a for a in await store.open_alerts() if a[1] in ("funds_low", "utilisation_rule_at_risk")]
    x[0, F["funds_days"]], x[1, F["utilisation_rule_days"]] = 6, 12
    desk.ingest(np.array([0, 1]), x[:2])
    assert await desk.evaluate() == 2
    ids = [f"school:{int(s):011d}" for s in DIRECTORY.school_ids[:2]]
    opened = {(s, c): sev for s, c, sev in await store.open_alerts()}
    assert opened[(ids[0], "funds_low")] == "medium" and opened[(ids[1], "utilisation_rule_at_risk")] == "medium"
    x[0, F["funds_days"]] = 40  # a release came in: the alert resolves itself
    desk.ingest(np.array([0]), x[:1])
    await desk.evaluate()
    assert (ids[0], "funds_low") not in {(s, c) for s, c, _ in await store.open_alerts()}
