"""Finance reads over a range of dates (`from`, `to`): released and utilised are what moved in the
range, folded from the log as the shards fold it (a correction replaces the report it corrects);
the levels add up; bad ranges are refused naming the field. On SQLite and PostgreSQL."""

import datetime as dt

import numpy as np
import pytest

from configs import Settings
from serve_app.finance.schemas import Financial, FinancialReport
from tests.fixtures.app import client_of, running_app
from tests.fixtures.builders import small_directory
from tests.serve_app.finance.test_endpoints import assert_answers

DIRECTORY, _ = small_directory()
IDS = [f"{int(s):011d}" for s in DIRECTORY.school_ids]
BLOCK_OF = {s: DIRECTORY.blocks.names[int(b)] for s, b in zip(IDS, DIRECTORY.school_block)}
S1, S2 = [s for s in IDS if BLOCK_OF[s] == "Sendurai"]
RATE_JULY_2025 = np.array([6.78, 10.17, 10.17])  # INR a meal by band (cost norm from 1 May 2025)
JULY = [dt.date(2025, 7, d) for d in (1, 2, 3, 4, 7, 8, 9, 10)]  # school days
MEALS = {S1: (20, 10, 5), S2: (12, 8, 0)}
CORRECTED = (18, 10, 5)  # S1's report of 3 July, corrected


@pytest.fixture
async def app(seeded_url):
    async with running_app(Settings(database_url=seeded_url)) as app:
        yield app


def _released(event_id: str, date: str, amount: float, **to) -> dict:
    return {"type": "funds_released", "event_id": event_id, "date": date, "amount_inr": amount, **to}


def _attendance(school: str, day: dt.date, meals: tuple[int, int, int], tag: str = "") -> dict:
    return {"type": "attendance_reported", "event_id": f"att-{school}-{day}{tag}", "date": day.isoformat(),
            "school_id": school, "present": sum(meals) + 3,
            "meals_served": dict(zip(("primary", "upper_primary", "secondary"), meals))}


EVENTS = [
    _released("r-d1", "2025-06-20", 400_000, district="Ariyalur"),
    _released("r-b1", "2025-06-21", 200_000, district="Ariyalur", block="Sendurai"),
    _released("r-s1a", "2025-06-25", 60_000, school_id=S1),
    _released("r-s2a", "2025-06-25", 30_000, school_id=S2),
    _released("r-b2", "2025-07-05", 50_000, district="Ariyalur", block="Sendurai"),
    _released("r-s1b", "2025-07-05", 20_000, school_id=S1),
    {"type": "funds_utilised", "event_id": "u-s2a", "date": "2025-07-02", "school_id": S2, "amount_inr": 700},
    {"type": "funds_utilised", "event_id": "u-s2b", "date": "2025-07-09", "school_id": S2, "amount_inr": 300},
    *[_attendance(s, d, m) for s, m in MEALS.items() for d in JULY],
    _attendance(S1, dt.date(2025, 7, 3), CORRECTED, "-fix"),  # logged after the report it replaces
]
RANGE = {"from": "2025-07-01", "to": "2025-07-04"}
IN_RANGE = [d for d in JULY if dt.date(2025, 7, 1) <= d <= dt.date(2025, 7, 4)]


def _meal_cost(school: str, days: list[dt.date]) -> float:
    cost = 0.0
    for d in days:
        meals = CORRECTED if (school, d) == (S1, dt.date(2025, 7, 3)) else MEALS[school]
        cost += float(np.array(meals) @ RATE_JULY_2025)
    return cost


async def _feed(client) -> None:
    r = await client.post("/api/v1/events", json={"events": EVENTS})
    assert r.status_code == 200 and r.json()["data"]["accepted"] + r.json()["data"]["corrections"] == len(EVENTS), \
        r.text[:500]


async def test_a_range_counts_only_what_moved_in_it_at_every_level(app):
    async with client_of(app) as client:
        await _feed(client)
        s1 = assert_answers(Financial, (await client.get(f"/api/v1/financial/schools/{S1}", params=RANGE)).json())
        assert s1["period"] == RANGE and s1["year"] == 2025
        assert s1["released_inr"] == 0  # S1's releases were on 25 June and 5 July
        assert s1["utilised"]["meal_cost_inr"] == pytest.approx(_meal_cost(S1, IN_RANGE), abs=0.01)
        assert s1["balance_inr"] == pytest.approx(-_meal_cost(S1, IN_RANGE), abs=0.01)

        s2 = assert_answers(Financial, (await client.get(f"/api/v1/financial/schools/{S2}", params=RANGE)).json())
        assert s2["utilised"]["other_utilised_inr"] == 700  # 9 July's 300 is after the range
        assert s2["utilised"]["meal_cost_inr"] == pytest.approx(_meal_cost(S2, IN_RANGE), abs=0.01)

        later = {"from": "2025-07-05", "to": "2025-07-31"}
        s1_later = assert_answers(Financial, (await client.get(f"/api/v1/financial/schools/{S1}",
                                                               params=later)).json())
        assert s1_later["released_inr"] == 20_000
        whole = assert_answers(Financial, (await client.get(f"/api/v1/financial/schools/{S1}")).json())
        assert whole["period"] is None
        june = {"from": "2025-06-01", "to": "2025-06-30"}
        s1_june = assert_answers(Financial, (await client.get(f"/api/v1/financial/schools/{S1}", params=june)).json())
        # the ranges split the running totals exactly
        for key in ("released_inr", "balance_inr"):
            assert s1_june[key] + s1[key] + s1_later[key] == pytest.approx(whole[key], abs=0.02)
        # the release rules read the running totals, not the range
        assert s1["release_rules"]["burn"] == whole["release_rules"]["burn"]

        block = assert_answers(Financial, (await client.get(
            "/api/v1/financial/blocks/Sendurai", params={"district": "Ariyalur", **later})).json())
        assert block["released_inr"] == 20_000
        assert block["office"] == {"received_inr": 50_000, "passed_down_inr": 20_000, "held_inr": 30_000}
        district = assert_answers(Financial, (await client.get(
            "/api/v1/financial/districts/Ariyalur", params=june)).json())
        assert district["office"]["received_inr"] == 400_000 and district["office"]["passed_down_inr"] == 200_000
        assert district["released_inr"] == 90_000
        state = assert_answers(Financial, (await client.get("/api/v1/financial/state", params=RANGE)).json())
        assert state["released_inr"] == 0 and state["office"]["passed_down_inr"] == 0
        assert state["utilised"]["total_inr"] == pytest.approx(
            _meal_cost(S1, IN_RANGE) + _meal_cost(S2, IN_RANGE) + 700, abs=0.02)

        report = assert_answers(FinancialReport, (await client.get(
            "/api/v1/financial/reports", params={"area": "district:Ariyalur", **june})).json())
        assert report["period"] == june and report["totals"]["released_inr"] == 90_000
        rows = {r["school_id"]: r for r in report["rows"] if r["level"] == "school"}
        assert rows[S1]["released_inr"] == 60_000 and rows[S1]["utilised_inr"] == 0
        csv = await client.get("/api/v1/financial/reports", params={"area": "district:Ariyalur", "format": "csv",
                                                                    **june})
        assert csv.status_code == 200 and "60000" in csv.text.replace(".00", "").replace(".0", "")


@pytest.mark.parametrize(("params", "field"), [
    ({"from": "2025-07-10", "to": "2025-07-01"}, "from"),
    ({"from": "2025-07-01"}, "to"),
    ({"to": "2025-07-01"}, "from"),
    ({"from": "2019-04-01", "to": "2019-04-30"}, "from"),
    ({"from": "2025-03-01", "to": "2025-04-30"}, "to"),
    ({"from": "2025-07-01", "to": "2025-07-31", "year": 2024}, "year"),
    ({"from": "2025-07-41", "to": "2025-07-31"}, "from"),
])
async def test_a_bad_range_is_refused_naming_the_field(app, params, field):
    async with client_of(app) as client:
        for path in (f"/api/v1/financial/schools/{S1}", "/api/v1/financial/state", "/api/v1/financial/reports"):
            r = await client.get(path, params=params)
            assert r.status_code == 422, (path, r.text[:300])
            fields = [f["field"] for f in r.json()["error"]["details"]["fields"]]
            assert any(f == field or f.endswith(f".{field}") for f in fields), (path, r.json()["error"])
