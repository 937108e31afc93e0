"""Committing an allocation: `funds_allocated` events in the log, folded by the shards so that the
reads' `allocated` comes from the log; a second commit records nothing; the first instalment goes
down the chain as `funds_released` and money is conserved at every level."""

import pytest

from configs import Settings
from serve_app.finance.schemas import AllocationPlan, Financial
from tests.fixtures.app import client_of, running_app
from tests.fixtures.builders import small_directory
from tests.serve_app.finance.test_endpoints import assert_answers
from twin import finance
from twin.area import Area

DIRECTORY, ENROLMENT = small_directory()
IDS = [f"{int(s):011d}" for s in DIRECTORY.school_ids]
ARIYALUR = [s for s, d in zip(IDS, DIRECTORY.school_district) if d == 0]
Y2025 = {"year": 2025}  # the twin has no report yet, so its year would be today's
ARIYALUR_BLOCKS = sorted({DIRECTORY.blocks.names[int(b)] for b, d in zip(DIRECTORY.school_block,
                                                                         DIRECTORY.school_district) if d == 0})


@pytest.fixture
async def app(sqlite_seeded):
    async with running_app(Settings(database_url=sqlite_seeded)) as app:
        yield app


def _expected(schools: list[str], year: int = 2025) -> finance.Entitlement:
    return finance.financial_year_entitlement(ENROLMENT[[IDS.index(s) for s in schools]], year)


async def test_a_commit_records_each_school_once_and_the_reads_show_it(app):
    body = {"year": 2025, "area": {"district": "Ariyalur"}, "commit": True}
    async with client_of(app, "district_officer", Area("Ariyalur")) as officer:
        plan = assert_answers(AllocationPlan, (await officer.post("/api/v1/financial/allocate", json=body)).json())
        assert plan["dry_run"] is False
        done = plan["recorded"]["allocations"]
        entitled = [s for s, total in zip(sorted(ARIYALUR), _expected(sorted(ARIYALUR)).total_inr) if total > 0]
        assert done["accepted"] == done["events"] == len(entitled) and done["duplicates"] == 0
        assert plan["recorded"]["first_instalment"] is None
        assert done["amount_inr"] == pytest.approx(plan["totals"]["total_inr"], abs=0.05 * len(entitled))

        again = assert_answers(AllocationPlan, (await officer.post("/api/v1/financial/allocate", json=body)).json())
        assert again["recorded"]["allocations"]["duplicates"] == len(entitled)
        assert again["recorded"]["allocations"]["accepted"] == 0

        read = await officer.get("/api/v1/financial/districts/Ariyalur", params=Y2025)
        district = assert_answers(Financial, read.json())
        expected = _expected(sorted(ARIYALUR))
        assert district["allocated"]["total_inr"] == pytest.approx(float(expected.total_inr.sum()), abs=0.05)
        assert district["allocated"]["centre_inr"] == pytest.approx(float(expected.centre_inr.sum()), abs=0.05)
        assert district["allocated"]["schools_allocated"] == len(entitled)
        assert district["released_share_of_allocation"] == 0  # nothing released yet
        for name in ARIYALUR_BLOCKS:
            params = {"district": "Ariyalur", **Y2025}
            block = (await officer.get(f"/api/v1/financial/blocks/{name}", params=params)).json()
            part = next(p for p in district["parts"] if p["name"] == name)
            assert part["allocated_inr"] == pytest.approx(block["data"]["allocated"]["total_inr"], abs=0.02)
        # other years, and a district not committed, have no allocation
        other_year = (await officer.get("/api/v1/financial/districts/Ariyalur", params={"year": 2026})).json()
        assert other_year["data"]["allocated"]["total_inr"] == 0
        # the log has the events
        logged = (await officer.get("/api/v1/events", params={"school_id": entitled[0]})).json()["data"]["events"]
        assert [(e["type"], e["year"], e["event_id"]) for e in logged] == [
            ("funds_allocated", 2025, f"alloc:2025:{entitled[0]}")]
    async with client_of(app) as admin:  # the commit is in the audit log, once (the repeat moved nothing)
        audit = (await admin.get("/api/v1/audit", params={"action": "funds.events"})).json()["data"]
        allocated = [e for e in audit["entries"]
                     if any(x["type"] == "funds_allocated" for x in e["after"]["events"])]
        assert len(allocated) == 1 and allocated[0]["after"]["count"] == len(entitled)


async def test_the_first_instalment_goes_down_the_chain_and_money_is_conserved(app):
    body = {"year": 2025, "area": {"district": "Ariyalur", "block": ARIYALUR_BLOCKS[0]}, "commit": True,
            "first_instalment": True}
    async with client_of(app) as admin:
        plan = assert_answers(AllocationPlan, (await admin.post("/api/v1/financial/allocate", json=body)).json())
        released = plan["recorded"]["first_instalment"]
        assert released["rejected"] == 0 and released["accepted"] == released["events"] > 0
        # then the whole district: its first block's events are already there
        whole = {**body, "area": {"district": "Ariyalur"}}
        plan = assert_answers(AllocationPlan, (await admin.post("/api/v1/financial/allocate", json=whole)).json())
        assert plan["recorded"]["first_instalment"]["duplicates"] == released["events"]

        district = (await admin.get("/api/v1/financial/districts/Ariyalur", params=Y2025)).json()["data"]
        state = (await admin.get("/api/v1/financial/state", params=Y2025)).json()["data"]
        allocated = district["allocated"]["total_inr"]
        # 25% of the allocation reached the schools, and every office passed on all it received
        assert district["released_inr"] == pytest.approx(0.25 * allocated, abs=0.01 * len(ARIYALUR))
        assert district["released_share_of_allocation"] == pytest.approx(0.25, abs=1e-3)
        assert district["office"]["received_inr"] == pytest.approx(district["released_inr"], abs=0.01)
        assert district["office"]["held_inr"] == pytest.approx(0, abs=0.01)
        assert state["office"]["passed_down_inr"] == pytest.approx(district["office"]["received_inr"], abs=0.01)
        for name in ARIYALUR_BLOCKS:
            params = {"district": "Ariyalur", **Y2025}
            block = (await admin.get(f"/api/v1/financial/blocks/{name}", params=params)).json()
            office = block["data"]["office"]
            assert office["received_inr"] == pytest.approx(office["passed_down_inr"], abs=0.01)
            assert office["passed_down_inr"] == pytest.approx(block["data"]["released_inr"], abs=0.01)
        # the next instalment waits for 75% of this one to be spent
        nxt = district["release_rules"]["next_instalment"]
        assert not nxt["allowed"] and "less than 75% of the earlier releases is utilised" in nxt["reasons"]


async def test_only_state_admins_and_district_officers_commit_within_their_area(app):
    async with client_of(app, "block_officer", Area("Ariyalur", ARIYALUR_BLOCKS[0])) as officer:
        r = await officer.post("/api/v1/financial/allocate", json={
            "year": 2025, "area": {"district": "Ariyalur", "block": ARIYALUR_BLOCKS[0]}, "commit": True})
        assert r.status_code == 403
    async with client_of(app, "district_officer", Area("Ariyalur")) as officer:
        r = await officer.post("/api/v1/financial/allocate", json={"year": 2025, "commit": True})
        assert r.status_code == 403
        r = await officer.post("/api/v1/financial/allocate",
                               json={"year": 2025, "area": {"district": "Chennai"}, "commit": True})
        assert r.status_code == 404
    async with client_of(app) as admin:
        state = (await admin.get("/api/v1/financial/state", params=Y2025)).json()["data"]
        assert state["allocated"]["total_inr"] == 0  # nothing was recorded by the refused commits
