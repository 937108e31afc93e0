"""The finance routes on a small in-process twin: releases and attendance go in through
/api/v1/events, and the financial reads, the allocation's dry run and recorded utilisation answer
from the twin's state and the cost norms; every answer validates against its declared model."""

import datetime as dt

import numpy as np
import pytest
from pydantic import BaseModel

from configs import Settings
from serve_app.app import create_api
from serve_app.finance.schemas import (
    AllocationPlan,
    BudgetForecast,
    Financial,
    FinancialReport,
    UtilisationResult,
)
from serve_app.finance.service import NO_ALLOCATION
from serve_app.shared.envelope import Envelope
from tests.fixtures.app import client_of, running_app
from tests.fixtures.builders import small_directory
from tests.fixtures.schemas import assert_declared
from twin import finance
from twin.area import Area

DIRECTORY, ENROLMENT = small_directory()
ARIYALUR = 0  # district index
IDS = [f"{int(s):011d}" for s in DIRECTORY.school_ids]
BLOCK_OF = {s: DIRECTORY.blocks.names[int(b)] for s, b in zip(IDS, DIRECTORY.school_block)}
S1, S2 = [s for s in IDS if BLOCK_OF[s] == "Sendurai"]
OTHER = next(s for s in IDS if BLOCK_OF[s] == "Thirumanur")
ARIYALUR_BLOCKS = sorted({BLOCK_OF[s] for s, d in zip(IDS, DIRECTORY.school_district) if d == ARIYALUR})
DAYS = [dt.date(2025, 7, d) for d in (1, 2, 3, 4, 7)]  # school days
RATE_JULY_2025 = np.array([6.78, 10.17, 10.17])  # INR a meal by band (cost norm from 1 May 2025)


@pytest.fixture
async def app(sqlite_seeded):
    async with running_app(Settings(database_url=sqlite_seeded)) as app:
        yield app


def _released(event_id: str, amount: float, **to) -> dict:
    return {"type": "funds_released", "event_id": event_id, "date": "2025-07-01", "amount_inr": amount, **to}


def _attendance(school: str, day: dt.date, meals: tuple[int, int, int]) -> dict:
    return {"type": "attendance_reported", "event_id": f"att-{school}-{day}", "date": day.isoformat(),
            "school_id": school, "present": sum(meals) + 3,
            "meals_served": dict(zip(("primary", "upper_primary", "secondary"), meals))}


MEALS = {S1: (20, 10, 5), S2: (12, 8, 0), OTHER: (30, 0, 0)}
EVENTS = [
    _released("r-d", 500_000, district="Ariyalur"),
    _released("r-b", 200_000, district="Ariyalur", block="Sendurai"),
    _released("r-s1", 100_000, school_id=S1),
    _released("r-s2", 50_000, school_id=S2),
    _released("r-o", 3_000, school_id=OTHER),
    {"type": "funds_utilised", "event_id": "u-s2", "date": "2025-07-02", "school_id": S2, "amount_inr": 700,
     "purpose": "fuel"},
    *[_attendance(s, d, m) for s, m in MEALS.items() for d in DAYS],
]


async def _feed(client) -> None:
    r = await client.post("/api/v1/events", json={"events": EVENTS})
    assert r.status_code == 200 and r.json()["data"]["accepted"] == len(EVENTS), r.text[:500]


def assert_answers(model: type[BaseModel], body: dict) -> dict:
    """`body` validates as `Envelope[model]`, with no field the models leave out; its data."""
    envelope = Envelope[model].model_validate(body)
    assert_declared(envelope.data, body["data"], model.__name__)
    return body["data"]


def _enrolment(schools: list[str]) -> np.ndarray:
    return ENROLMENT[[IDS.index(s) for s in schools]]


def _utilised(f: dict) -> float:
    return f["utilised"]["total_inr"]


async def test_reads_come_from_the_twin_and_the_norms_and_add_up(app):
    async with client_of(app) as client:
        await _feed(client)
        s1 = assert_answers(Financial, (await client.get(f"/api/v1/financial/schools/{S1}")).json())
        assert s1["year"] == 2025 and s1["year_label"] == "2025-26" and s1["as_of"] == "2025-07-07"
        assert s1["released_inr"] == 100_000
        meal_cost = float(np.array(MEALS[S1]) @ RATE_JULY_2025) * len(DAYS)  # the norms, by hand
        assert s1["utilised"] == {"meal_cost_inr": pytest.approx(meal_cost, abs=0.01), "other_utilised_inr": 0.0,
                                  "total_inr": pytest.approx(meal_cost, abs=0.01)}
        assert s1["balance_inr"] == pytest.approx(100_000 - meal_cost, abs=0.01)
        assert s1["utilisation_efficiency"] == pytest.approx(meal_cost / 100_000, abs=1e-4)
        expected = finance.financial_year_entitlement(_enrolment([S1]), 2025)
        assert s1["entitlement"]["total_inr"] == pytest.approx(float(expected.total_inr[0]), abs=0.01)
        assert s1["entitlement"]["centre_inr"] + s1["entitlement"]["state_inr"] == pytest.approx(
            s1["entitlement"]["total_inr"], abs=0.02)
        assert s1["allocated"] == {"total_inr": 0.0, "centre_inr": 0.0, "state_inr": 0.0, "schools_allocated": 0}
        assert s1["released_share_of_allocation"] is None  # nothing allocated yet
        burn = s1["release_rules"]["burn"]
        assert burn["school_days_counted"] == 20 and burn["inr_per_school_day"] == pytest.approx(
            float(np.array(MEALS[S1]) @ RATE_JULY_2025) * len(DAYS) / 20, abs=0.01)
        assert s1["office"] is None and s1["parts"] == []

        s2 = assert_answers(Financial, (await client.get(f"/api/v1/financial/schools/{S2}?year=2025")).json())
        assert s2["utilised"]["other_utilised_inr"] == 700
        assert s2["balance_inr"] == pytest.approx(s2["released_inr"] - _utilised(s2), abs=0.01)

        blocks = {}
        for name in ARIYALUR_BLOCKS:
            r = await client.get(f"/api/v1/financial/blocks/{name}", params={"district": "Ariyalur"})
            blocks[name] = assert_answers(Financial, r.json())
        sendurai = blocks["Sendurai"]
        assert sendurai["released_inr"] == 150_000 and sendurai["office"] == {
            "received_inr": 200_000, "passed_down_inr": 150_000, "held_inr": 50_000}
        assert _utilised(sendurai) == pytest.approx(_utilised(s1) + _utilised(s2), abs=0.01)
        assert {p["name"] for p in sendurai["parts"]} == {S1, S2}
        # a school is read from its view, an area from its shard's state: the burns agree
        assert sendurai["release_rules"]["burn"]["inr_per_school_day"] == pytest.approx(
            s1["release_rules"]["burn"]["inr_per_school_day"] + s2["release_rules"]["burn"]["inr_per_school_day"],
            abs=0.02)
        assert sendurai["entitlement"]["total_inr"] == pytest.approx(
            s1["entitlement"]["total_inr"] + s2["entitlement"]["total_inr"], abs=0.02)

        district = assert_answers(Financial, (await client.get("/api/v1/financial/districts/Ariyalur")).json())
        assert district["office"]["received_inr"] == 500_000 and district["released_inr"] == 153_000
        for key in ("released_inr", "balance_inr"):
            assert district[key] == pytest.approx(sum(b[key] for b in blocks.values()), abs=0.05)
        assert _utilised(district) == pytest.approx(sum(_utilised(b) for b in blocks.values()), abs=0.05)
        assert district["entitlement"]["total_inr"] == pytest.approx(
            sum(b["entitlement"]["total_inr"] for b in blocks.values()), abs=0.1)
        assert district["schools"] == sum(b["schools"] for b in blocks.values())
        by_part = {p["name"]: p for p in district["parts"]}
        assert set(by_part) == set(ARIYALUR_BLOCKS)
        assert by_part["Sendurai"]["balance_inr"] == pytest.approx(sendurai["balance_inr"], abs=0.01)
        schools_of_district = [s for s, d in zip(IDS, DIRECTORY.school_district) if d == ARIYALUR]
        assert district["entitlement"]["total_inr"] == pytest.approx(
            float(finance.financial_year_entitlement(_enrolment(schools_of_district), 2025).total_inr.sum()), abs=0.1)

        state = assert_answers(Financial, (await client.get("/api/v1/financial/state")).json())
        assert state["released_inr"] == 153_000 and state["office"]["passed_down_inr"] == 500_000
        assert state["schools"] == len(IDS) and len(state["parts"]) == 3

        earlier = assert_answers(Financial, (await client.get("/api/v1/financial/districts/Ariyalur?year=2024")).json())
        assert earlier["year_label"] == "2024-25" and earlier["released_inr"] == district["released_inr"]
        assert earlier["entitlement"]["total_inr"] != district["entitlement"]["total_inr"]  # other rates, other days
        assert earlier["release_rules"]["projection"]["horizon_school_days"] == 0  # the year is over


async def test_the_release_rules_flag_an_area_that_will_run_dry(app):
    async with client_of(app) as client:
        await _feed(client)
        other = (await client.get(f"/api/v1/financial/schools/{OTHER}")).json()["data"]
        rules = other["release_rules"]
        burn = rules["burn"]["inr_per_school_day"]
        assert burn == pytest.approx(30 * 6.78 * len(DAYS) / 20, abs=0.01)
        projection = rules["projection"]
        days_left = int(np.ceil((3_000 - _utilised(other)) / burn))
        assert projection["exhausts_balance"] and projection["days_to_exhaustion"] in (days_left - 1, days_left)
        assert projection["flag_date"] == projection["exhaustion_date"] > "2025-07-07"
        assert rules["next_instalment"]["reasons"] == [NO_ALLOCATION] and not rules["next_instalment"]["allowed"]
        r = await client.post("/api/v1/financial/allocate",
                              json={"year": 2025, "area": {"district": "Ariyalur", "block": "Thirumanur"},
                                    "commit": True})
        assert r.status_code == 200, r.text[:300]
        other = (await client.get(f"/api/v1/financial/schools/{OTHER}")).json()["data"]
        # 3,000 released, less than 75% of it utilised so far: the next instalment is refused for that
        nxt = other["release_rules"]["next_instalment"]
        assert not nxt["allowed"] and "less than 75% of the earlier releases is utilised" in nxt["reasons"]
        assert nxt["total_inr"] == pytest.approx(0.25 * other["allocated"]["total_inr"], abs=0.02)
        assert other["allocated"]["total_inr"] == pytest.approx(other["entitlement"]["total_inr"], abs=0.02)


async def test_the_allocation_dry_run_adds_up_and_matches_the_norms(app):
    ariyalur = [s for s, d in zip(IDS, DIRECTORY.school_district) if d == ARIYALUR]
    async with client_of(app) as client:
        for policy in ("norms", "legacy_flat"):
            r = await client.post("/api/v1/financial/allocate?page_size=1000",
                                  json={"year": 2025, "area": {"district": "Ariyalur"}, "policy": policy})
            plan = assert_answers(AllocationPlan, r.json())
            rows, totals = plan["rows"], plan["totals"]
            assert [row["school_id"] for row in rows] == sorted(ariyalur) and totals["schools"] == len(ariyalur)
            for key in ("total_inr", "centre_inr", "state_inr", "honorarium_inr", "mme_inr"):
                got = totals[key] if key in totals else totals["by_component"][key]
                assert got == pytest.approx(sum(row[key] for row in rows), abs=0.05), key
            expected = finance.financial_year_entitlement(_enrolment(sorted(ariyalur)), 2025, policy=policy)
            assert totals["total_inr"] == pytest.approx(float(expected.total_inr.sum()), abs=0.01)
            assert totals["centre_inr"] == pytest.approx(float(expected.centre_inr.sum()), abs=0.01)
            assert [row["total_inr"] for row in rows] == pytest.approx(expected.total_inr.tolist(), abs=0.01)
            assert totals["by_component"]["material_total_inr"] == pytest.approx(
                float(expected.material_inr.sum()), abs=0.01)
        assert totals["by_component"]["honorarium_inr"] == 0  # legacy_flat: the flat allowance only
        assert totals["total_inr"] == pytest.approx(1496 * _enrolment(ariyalur).sum(), abs=0.5)

        page = (await client.post("/api/v1/financial/allocate?page=2&page_size=5",
                                  json={"year": 2025, "area": {"district": "Ariyalur", "block": "Sendurai"}})).json()
        assert page["data"]["rows"] == [] and page["data"]["pagination"]["total"] == 2
        state = assert_answers(AllocationPlan, (await client.post("/api/v1/financial/allocate",
                                                                  json={"year": 2025})).json())
        assert state["totals"]["schools"] == len(IDS) and len(state["rows"]) == min(100, len(IDS))

        r = await client.post("/api/v1/financial/allocate", json={"year": 2025, "first_instalment": True})
        assert r.status_code == 422 and r.json()["error"]["details"]["fields"][0]["field"] == "first_instalment"
        r = await client.post("/api/v1/financial/allocate", json={"year": 2019})
        assert r.status_code == 422 and r.json()["error"]["details"]["fields"][0]["field"] == "year"
        r = await client.post("/api/v1/financial/allocate", json={"year": 2025, "area": {"district": "Nowhere"}})
        assert r.status_code == 404 and r.json()["success"] is False


async def test_role_scoping(app):
    sendurai = Area("Ariyalur", "Sendurai")
    async with client_of(app, "block_officer", sendurai) as block_officer:
        assert (await block_officer.get("/api/v1/financial/blocks/Sendurai")).status_code == 200
        assert (await block_officer.get(f"/api/v1/financial/schools/{S1}")).status_code == 200
        for path in ("/api/v1/financial/blocks/Thirumanur", f"/api/v1/financial/schools/{OTHER}",
                     "/api/v1/financial/districts/Ariyalur"):
            r = await block_officer.get(path, params={"district": "Ariyalur"} if "blocks" in path else None)
            assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND", path
        assert (await block_officer.get("/api/v1/financial/state")).status_code == 403
        r = await block_officer.post("/api/v1/financial/allocate",
                                     json={"year": 2025, "area": {"district": "Ariyalur", "block": "Sendurai"}})
        assert r.status_code == 403
    async with client_of(app, "district_officer", Area("Ariyalur")) as officer:
        assert (await officer.get("/api/v1/financial/districts/Ariyalur")).status_code == 200
        assert (await officer.get("/api/v1/financial/districts/Chennai")).status_code == 404
        assert (await officer.get("/api/v1/financial/state")).status_code == 403
        ok = await officer.post("/api/v1/financial/allocate",
                                json={"year": 2025, "area": {"district": "Ariyalur", "block": "Sendurai"}})
        assert ok.status_code == 200 and ok.json()["data"]["totals"]["schools"] == 2
        assert (await officer.post("/api/v1/financial/allocate",
                                   json={"year": 2025, "area": {"district": "Chennai"}})).status_code == 404
        assert (await officer.post("/api/v1/financial/allocate", json={"year": 2025})).status_code == 403
    async with client_of(app, "school_admin", Area("Ariyalur", "Sendurai", S1)) as admin:
        assert (await admin.get(f"/api/v1/financial/schools/{S1}")).status_code == 200
        assert (await admin.get(f"/api/v1/financial/schools/{S2}")).status_code == 404


async def test_bad_input_answers_in_the_envelope(app):
    async with client_of(app) as client:
        for path in ("/api/v1/financial/schools/33999999999", "/api/v1/financial/schools/nope",
                     "/api/v1/financial/blocks/Nowhere", "/api/v1/financial/districts/Nowhere"):
            r = await client.get(path)
            assert r.status_code == 404 and r.json()["success"] is False and r.json()["error"]["code"] == "NOT_FOUND"
        r = await client.get(f"/api/v1/financial/schools/{S1}", params={"year": 2019})
        assert r.status_code == 422 and r.json()["error"]["details"]["fields"][0]["field"] == "year"
        r = await client.get("/api/v1/financial/districts/Ariyalur", params={"year": "soon"})
        assert r.status_code == 422 and r.json()["error"]["details"]["fields"][0]["field"] == "year"


async def test_update_utilization_goes_through_ingest(app):
    async with client_of(app) as client:
        await _feed(client)
        before = (await client.get(f"/api/v1/financial/schools/{S1}")).json()["data"]
        items = [
            {"school_id": S1, "amount_inr": 1200, "purpose": "fuel", "event_id": "util-1"},
            {"school_id": S1, "amount_inr": -5, "event_id": "util-2"},
            {"school_id": S1, "amount_inr": "lots", "event_id": "util-3"},
            {"school_id": "33999999999", "amount_inr": 10, "event_id": "util-4"},
            {"school_id": S1, "amount_inr": 300.5, "date": "2025-07-04"},
        ]
        r = await client.put("/api/v1/financial/update-utilization", json={"items": items})
        assert r.status_code == 200, r.text[:500]
        out = assert_answers(UtilisationResult, r.json())
        assert [x["status"] for x in out["results"]] == ["accepted", "rejected", "rejected", "rejected", "accepted"]
        assert out["accepted"] == 2 and out["rejected"] == 3 and out["recorded_inr"] == 1500.5
        assert out["results"][1]["error"]["code"] == "VALIDATION_ERROR"
        assert "amount_inr" in str(out["results"][1]["error"]) and "amount_inr" in str(out["results"][2]["error"])
        assert out["results"][4]["event_id"].startswith("util-")
        after = (await client.get(f"/api/v1/financial/schools/{S1}")).json()["data"]
        assert after["utilised"]["other_utilised_inr"] == pytest.approx(
            before["utilised"]["other_utilised_inr"] + 1500.5, abs=0.01)
        assert after["balance_inr"] == pytest.approx(before["balance_inr"] - 1500.5, abs=0.01)

        again = await client.put("/api/v1/financial/update-utilization",
                                 json={"school_id": S1, "amount_inr": 1200, "event_id": "util-1"})
        assert again.status_code == 200 and assert_answers(UtilisationResult, again.json())["duplicates"] == 1
        assert (await client.get(f"/api/v1/financial/schools/{S1}")).json()["data"]["utilised"] == after["utilised"]
        bad = await client.put("/api/v1/financial/update-utilization",
                               json={"school_id": S1, "amount_inr": 0, "event_id": "util-5"})
        assert bad.status_code == 422 and bad.json()["data"]["rejected"] == 1

    async with client_of(app, "block_officer", Area("Ariyalur", "Sendurai")) as officer:
        r = await officer.put("/api/v1/financial/update-utilization",
                              json={"items": [{"school_id": S2, "amount_inr": 50, "event_id": "util-6"},
                                              {"school_id": OTHER, "amount_inr": 50, "event_id": "util-7"}]})
        assert [x["status"] for x in r.json()["data"]["results"]] == ["accepted", "rejected"]


def test_every_route_declares_its_model():
    document = create_api().openapi()
    expected = {("get", "/api/v1/financial/schools/{school_id}"): "Financial",
                ("get", "/api/v1/financial/blocks/{name}"): "Financial",
                ("get", "/api/v1/financial/districts/{name}"): "Financial",
                ("get", "/api/v1/financial/state"): "Financial",
                ("post", "/api/v1/financial/allocate"): "AllocationPlan",
                ("put", "/api/v1/financial/update-utilization"): "UtilisationResult",
                ("get", "/api/v1/financial/reports"): "FinancialReport",
                ("get", "/api/v1/financial/forecast"): "BudgetForecast"}
    for (method, path), model in expected.items():
        schema = document["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema["$ref"].endswith(f"Envelope_{model}_"), (path, schema)


@pytest.mark.parametrize("model", [Financial, AllocationPlan, UtilisationResult, FinancialReport, BudgetForecast])
def test_the_documented_examples_are_valid_answers(model):
    for example in model.model_config["json_schema_extra"]["examples"]:
        model.model_validate(example)
