"""The world behind the feed: its events validate and follow the calendar, stock, funds and weather."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import numpy as np
import pytest

from simulation.synthetic_schools import generate_schools
from simulation.world import COASTAL_DISTRICTS, World
from twin import calendar, geography
from twin.directory import BlockTable
from twin.events import parse_event

WEATHER = {"cyclone", "flood", "monsoon"}


@pytest.fixture(scope="module")
def schools():
    return generate_schools(2_000, seed=3)


def _run(world: World, days: int) -> list[dict]:
    events = []
    for _ in range(days):
        events += world.step_day()
    return events


@pytest.fixture(scope="module")
def june(schools):
    """The opening and the first five weeks of the school year."""
    world = World(schools, seed=1)
    return world, world.opening_events() + _run(world, 35)


@pytest.fixture(scope="module")
def autumn(schools):
    """September exams and break into the north-east monsoon."""
    world = World(schools, seed=2, start=dt.date(2025, 9, 1))
    return world, _run(world, 120)


def test_every_event_validates_and_ids_are_unique(june, autumn):
    for _, events in (june, autumn):
        for e in events:
            parse_event(e)
        ids = [e["event_id"] for e in events]
        assert len(ids) == len(set(ids))


def test_same_seed_same_events_and_different_seed_differs(schools):
    a, b, c = World(schools, seed=5), World(schools, seed=5), World(schools, seed=6)
    assert a.opening_events() == b.opening_events()
    ea, eb, ec = _run(a, 10), _run(b, 10), _run(c, 10)
    assert ea == eb
    assert ea != ec


def test_opening_stocks_every_school_and_releases_a_quarter_down_the_chain(june, schools):
    world, events = june
    opening = [e for e in events if e["date"] == "2025-06-01"]
    delivered = {e["school_id"] for e in opening if e["type"] == "stock_delivered"}
    assert len(delivered) == len(schools)
    released = [e for e in opening if e["type"] == "funds_released"]
    to_districts = sum(e["amount_inr"] for e in released if "block" not in e and "school_id" not in e)
    to_blocks = sum(e["amount_inr"] for e in released if "block" in e)
    to_schools = sum(e["amount_inr"] for e in released if "school_id" in e)
    assert len([e for e in released if "school_id" in e]) == len(schools)
    assert to_districts == pytest.approx(to_blocks) == pytest.approx(to_schools)


def test_attendance_only_on_school_days_and_meals_within_present(june, autumn, schools):
    enrolled = dict(zip((str(u) for u in schools.udise), schools.enrolment.sum(axis=1)))
    seen = 0
    for _, events in (june, autumn):
        for e in events:
            if e["type"] != "attendance_reported":
                continue
            seen += 1
            assert calendar.is_school_day(dt.date.fromisoformat(e["date"]))
            meals = sum(e["meals_served"].values())
            assert meals <= e["present"] <= enrolled[e["school_id"]] + 5  # corrections add a few
            if "no_meal_reason" in e:
                assert meals == 0
    assert seen > 20_000


def test_reporting_is_patchy_with_some_late_reports_and_corrections(june, schools):
    _, events = june
    reports = [e for e in events if e["type"] == "attendance_reported"]
    per_day = Counter(e["date"] for e in reports if "-att-" in e["event_id"])
    assert all(0.6 * len(schools) < k < len(schools) for k in per_day.values())
    late = [e for e in reports if "-late-" in e["event_id"]]
    fixed = [e for e in reports if "-fix-" in e["event_id"]]
    assert late and fixed
    originals = {(e["school_id"], e["date"]): e for e in reports if "-att-" in e["event_id"]}
    for e in fixed:
        assert e["present"] != originals[(e["school_id"], e["date"])]["present"]


def test_deliveries_come_from_the_school_s_depot(june, schools):
    _, events = june
    depot = dict(zip((str(u) for u in schools.udise), schools.depot_id))
    later = [e for e in events if e["type"] == "stock_delivered" and e["date"] > "2025-06-01"]
    assert any(e["rice_kg"] > 0 for e in later) and any(e["eggs"] > 0 for e in later)
    assert all(e["depot_id"] == depot[e["school_id"]] for e in later)


def test_weather_closures_only_in_coastal_districts_during_the_monsoon(june, autumn):
    weather = [e for _, ev in (june, autumn) for e in ev if e["type"] == "school_closed" and e["reason"] in WEATHER]
    assert weather, "a monsoon season should close something"
    for e in weather:
        assert e["district"] in COASTAL_DISTRICTS
        assert dt.date.fromisoformat(e["date"]).month in (10, 11, 12)
        assert 1 <= (dt.date.fromisoformat(e["date_to"]) - dt.date.fromisoformat(e["date"])).days + 1 <= 6


def test_closed_schools_do_not_report(autumn, schools):
    _, events = autumn
    districts = np.array(geography.district_names())
    blocks = np.array(BlockTable.from_geography().names)
    ids = [str(u) for u in schools.udise]
    place = dict(zip(ids, zip(districts[schools.district], blocks[schools.block])))
    closures = [e for e in events if e["type"] == "school_closed"]
    reports = [e for e in events if e["type"] == "attendance_reported"]
    assert closures
    for c in closures:
        for r in reports:
            if not c["date"] <= r["date"] <= c["date_to"]:
                continue
            district, block = place[r["school_id"]]
            assert r["school_id"] != c.get("school_id")
            assert not (district == c.get("district") and c.get("block") in (None, block))


def test_schools_out_of_rice_report_no_meal_for_lack_of_grain(schools):
    world = World(schools, seed=4)
    day = world.today
    assert calendar.is_school_day(day)
    world.stock[:, 0] = 0.0
    events = world.step_day()
    resupplied = {e["school_id"] for e in events if e["type"] == "stock_delivered" and e["rice_kg"] > 0}
    reports = [e for e in events if e["type"] == "attendance_reported" and e["date"] == day.isoformat()]
    checked = [e for e in reports if e["school_id"] not in resupplied and e["present"] > 0]
    assert len(checked) > 1_000
    assert all(e.get("no_meal_reason") == "food_grains_not_available" for e in checked)
    assert any(e["type"] == "shortage_reported" and e["item"] == "rice" for e in events)


def test_quarterly_funds_flow_down_in_order(autumn, schools):
    _, events = autumn
    released = [e for e in events if e["type"] == "funds_released"]
    first = {}
    for e in released:
        level = "school" if "school_id" in e else "block" if "block" in e else "district"
        first.setdefault(level, e["date"])
    assert "2025-10-01" <= first["district"] <= first["block"] <= first["school"]
    assert len({e["school_id"] for e in released if "school_id" in e}) > 0.8 * len(schools)


def test_weekends_are_quiet_and_school_days_draw_stock(schools):
    world = World(schools, seed=9, start=dt.date(2025, 6, 7))  # a Saturday
    saturday, sunday = world.step_day(), world.step_day()
    assert not [e for e in saturday + sunday if e["type"] in ("attendance_reported", "inspection_done")]
    before = world.stock.copy()
    monday = world.step_day()
    delivered = {e["school_id"] for e in monday if e["type"] == "stock_delivered" and e["rice_kg"] > 0}
    undelivered = np.array([str(u) not in delivered for u in schools.udise])
    assert (world.stock[undelivered, 0] < before[undelivered, 0]).mean() > 0.95
