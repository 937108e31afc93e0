"""Money is conserved, whatever arrives: random sequences of releases down the chain, spending,
attendance with corrections, allocations (a later one replacing the earlier), committed
allocations with their first instalment, repeated events and refused ones, sent through the ingest
path on SQLite and PostgreSQL. After each sequence, at every level: what an office received is what
it passed down plus what it holds, what a block passed down is what reached its schools, a school's
balance is released minus utilised, districts add up from their blocks and blocks from their
schools, and every school's figures equal a plain ledger kept beside the twin from the accepted
events alone."""

import datetime as dt
import itertools
from collections import defaultdict

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from configs import Settings
from tests.fixtures.app import client_of, running_app
from tests.fixtures.builders import small_directory
from twin import geography
from twin.norms import cost_per_meal

DIRECTORY, ENROLMENT = small_directory()
IDS = [f"{int(s):011d}" for s in DIRECTORY.school_ids]
DISTRICTS = geography.district_names()
BLOCK_OF = [int(b) for b in DIRECTORY.school_block]
DISTRICT_OF_BLOCK = {int(b): int(DIRECTORY.blocks.district[b]) for b in set(BLOCK_OF)}
BLOCKS = sorted(DISTRICT_OF_BLOCK)
DAYS = [dt.date(2025, 7, 1) + dt.timedelta(days=k) for k in range(20)]
COUNTER = itertools.count()

amounts = st.floats(1, 5e5).map(lambda x: round(x, 2))
op = st.one_of(
    st.tuples(st.just("to_district"), st.sampled_from(sorted(set(DISTRICT_OF_BLOCK.values()))), amounts),
    st.tuples(st.just("to_block"), st.sampled_from(BLOCKS), amounts),
    st.tuples(st.just("to_school"), st.integers(0, len(IDS) - 1), amounts),
    st.tuples(st.just("utilise"), st.integers(0, len(IDS) - 1), amounts),
    st.tuples(st.just("attend"), st.integers(0, len(IDS) - 1), st.sampled_from(DAYS), st.integers(0, 120)),
    st.tuples(st.just("allocate"), st.integers(0, len(IDS) - 1), st.sampled_from([2025, 2026]), amounts, amounts),
    st.tuples(st.just("bad"), st.integers(0, len(IDS) - 1), st.sampled_from([-5, 0, "lots", None])),
    st.tuples(st.just("repeat"), st.integers(0, 1000)),
    st.tuples(st.just("commit"), st.sampled_from(BLOCKS)),
)


class Ledger:
    """The money a plain reading of the accepted events gives, by place."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.district_in = defaultdict(float)
        self.block_in = defaultdict(float)
        self.school_in = defaultdict(float)
        self.other = defaultdict(float)
        self.meals: dict[tuple[int, dt.date], int] = {}
        self.allocated: dict[tuple[int, int], float] = {}

    def event(self, e: dict) -> None:
        if e["event_id"] in self.seen:
            return  # a repeated id is applied once
        self.seen.add(e["event_id"])
        if e["type"] == "funds_released":
            if "school_id" in e:
                self.school_in[IDS.index(e["school_id"])] += e["amount_inr"]
            elif "block" in e:
                self.block_in[DIRECTORY.blocks.index(DISTRICTS.index(e["district"]), e["block"])] += e["amount_inr"]
            else:
                self.district_in[DISTRICTS.index(e["district"])] += e["amount_inr"]
        elif e["type"] == "funds_utilised":
            self.other[IDS.index(e["school_id"])] += e["amount_inr"]
        elif e["type"] == "attendance_reported":  # a second report of a school and day replaces the first
            self.meals[(IDS.index(e["school_id"]), dt.date.fromisoformat(e["date"]))] = e["meals_served"]["primary"]
        elif e["type"] == "funds_allocated":
            self.allocated[(IDS.index(e["school_id"]), e["year"])] = e["centre_inr"] + e["state_inr"]

    def meal_cost(self, s: int) -> float:
        return sum(m * cost_per_meal(d)[0] for (school, d), m in self.meals.items() if school == s)


def _event(o: tuple, sent: list[dict]) -> dict | None:
    n = next(COUNTER)
    kind = o[0]
    if kind == "to_district":
        return {"type": "funds_released", "event_id": f"p{n}", "date": "2025-07-01", "amount_inr": o[2],
                "district": DISTRICTS[o[1]]}
    if kind == "to_block":
        return {"type": "funds_released", "event_id": f"p{n}", "date": "2025-07-01", "amount_inr": o[2],
                "district": DISTRICTS[DISTRICT_OF_BLOCK[o[1]]], "block": DIRECTORY.blocks.names[o[1]]}
    if kind == "to_school":
        return {"type": "funds_released", "event_id": f"p{n}", "date": "2025-07-01", "amount_inr": o[2],
                "school_id": IDS[o[1]]}
    if kind == "utilise":
        return {"type": "funds_utilised", "event_id": f"p{n}", "date": "2025-07-02", "amount_inr": o[2],
                "school_id": IDS[o[1]]}
    if kind == "attend":
        return {"type": "attendance_reported", "event_id": f"p{n}", "date": o[2].isoformat(), "school_id": IDS[o[1]],
                "present": o[3], "meals_served": {"primary": o[3]}}
    if kind == "allocate":
        return {"type": "funds_allocated", "event_id": f"p{n}", "date": "2025-07-01", "school_id": IDS[o[1]],
                "year": o[2], "centre_inr": o[3], "state_inr": o[4]}
    if kind == "bad":
        return {"type": "funds_utilised", "event_id": f"p{n}", "date": "2025-07-02", "amount_inr": o[2],
                "school_id": IDS[o[1]]}
    if kind == "repeat" and sent:
        return sent[o[1] % len(sent)]
    return None


@pytest.fixture
async def app(seeded_url):
    async with running_app(Settings(database_url=seeded_url)) as app:
        app.state.ledger = Ledger()
        yield app


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(ops=st.lists(op, min_size=1, max_size=40), cuts=st.lists(st.integers(1, 39), max_size=3))
async def test_money_is_conserved_at_every_level(app, ops, cuts):
    ledger: Ledger = app.state.ledger
    async with client_of(app) as admin:
        sent: list[dict] = []
        bounds = [0, *sorted(c for c in set(cuts) if c < len(ops)), len(ops)]
        for lo, hi in itertools.pairwise(bounds):  # the sequence in one or more batches
            batch = []
            for o in ops[lo:hi]:
                if o[0] == "commit":
                    b = o[1]
                    body = {"year": 2025, "commit": True, "first_instalment": True,
                            "area": {"district": DISTRICTS[DISTRICT_OF_BLOCK[b]], "block": DIRECTORY.blocks.names[b]}}
                    r = await admin.post("/api/v1/financial/allocate", json=body)
                    assert r.status_code == 200, r.text[:300]
                    await _commit_into(ledger, admin, b)
                    continue
                e = _event(o, sent)
                if e is not None:
                    batch.append(e)
            if not batch:
                continue
            r = await admin.post("/api/v1/events", json={"events": batch})
            results = r.json()["data"]["results"]
            for e, result in zip(batch, results):
                if result["status"] in ("accepted", "correction"):
                    ledger.event(e)
                    sent.append(e)
                else:
                    assert result["status"] == "duplicate" or e["amount_inr"] in (-5, 0, "lots", None), result
        await _check(admin, ledger)


async def _commit_into(ledger: Ledger, admin, b: int) -> None:
    """A commit's events into the ledger: each school's, as the log holds them; the block's and its
    district's instalments (which name no school) are the sum of the schools' first instalments,
    recorded once, as the commit records them once."""
    instalments = 0.0
    for s in [i for i, block in enumerate(BLOCK_OF) if block == b]:
        logged = (await admin.get("/api/v1/events", params={"school_id": IDS[s], "limit": 1000})).json()["data"]
        for e in logged["events"]:
            if e["event_id"].startswith(("alloc:", "rel:")):
                ledger.event({k: v for k, v in e.items() if k not in ("seq", "received_at")})
                instalments += e["amount_inr"] if e["type"] == "funds_released" else 0.0
    d = DISTRICT_OF_BLOCK[b]
    if f"rel:2025:1:b{b}" not in ledger.seen:
        ledger.seen.update({f"rel:2025:1:b{b}", f"rel:2025:1:d{d}:b{b}"})
        ledger.block_in[b] += instalments
        ledger.district_in[d] += instalments


async def _check(admin, ledger: Ledger) -> None:
    report = (await admin.get("/api/v1/financial/reports", params={"year": 2025})).json()["data"]
    rows = report["rows"]
    schools = {r["school_id"]: r for r in rows if r["level"] == "school"}
    blocks = {(r["district"], r["block"]): r for r in rows if r["level"] == "block"}
    districts = {r["district"]: r for r in rows if r["level"] == "district"}
    for s, school in enumerate(IDS):
        row = schools[school]
        utilised = ledger.meal_cost(s) + ledger.other[s]
        assert row["released_inr"] == pytest.approx(ledger.school_in[s], abs=0.02), school
        assert row["utilised_inr"] == pytest.approx(utilised, abs=0.02), school
        assert row["balance_inr"] == pytest.approx(row["released_inr"] - row["utilised_inr"], abs=0.02)
        assert row["allocated_inr"] == pytest.approx(ledger.allocated.get((s, 2025), 0.0), abs=0.02), school
    for (district, block), row in blocks.items():
        mine = [schools[IDS[s]] for s in range(len(IDS)) if DIRECTORY.blocks.names[BLOCK_OF[s]] == block and
                DISTRICTS[DISTRICT_OF_BLOCK[BLOCK_OF[s]]] == district]
        b = DIRECTORY.blocks.index(DISTRICTS.index(district), block)
        assert row["office_received_inr"] == pytest.approx(ledger.block_in[b], abs=0.05), block
        # what a block office passed down is exactly what reached its schools
        assert row["office_passed_down_inr"] == pytest.approx(sum(r["released_inr"] for r in mine), abs=0.05)
        for key in ("released_inr", "utilised_inr", "balance_inr", "allocated_inr"):
            assert row[key] == pytest.approx(sum(r[key] for r in mine), abs=0.05), (block, key)
    for district, row in districts.items():
        mine = [r for (d, _), r in blocks.items() if d == district]
        assert row["office_received_inr"] == pytest.approx(ledger.district_in[DISTRICTS.index(district)], abs=0.05)
        assert row["office_passed_down_inr"] == pytest.approx(sum(r["office_received_inr"] for r in mine), abs=0.05)
        for key in ("released_inr", "utilised_inr", "balance_inr", "allocated_inr"):
            assert row[key] == pytest.approx(sum(r[key] for r in mine), abs=0.05), (district, key)
    state = (await admin.get("/api/v1/financial/state", params={"year": 2025})).json()["data"]
    assert state["office"]["passed_down_inr"] == pytest.approx(
        sum(r["office_received_inr"] for r in districts.values()), abs=0.05)
    assert state["released_inr"] == pytest.approx(sum(r["released_inr"] for r in districts.values()), abs=0.05)
    for district, row in districts.items():  # received = passed down + held, from the district's own read
        read = (await admin.get(f"/api/v1/financial/districts/{district}", params={"year": 2025})).json()["data"]
        office = read["office"]
        assert office["received_inr"] == pytest.approx(office["passed_down_inr"] + office["held_inr"], abs=0.02)
        assert office["received_inr"] == pytest.approx(row["office_received_inr"], abs=0.02)
    assert np.isfinite(report["totals"]["balance_inr"])
