"""Bad input to the finance routes answers in the envelope's error format, naming the field:
unknown places, a year before the norms table, amounts that are negative, zero or not numbers, a
malformed body; and spending more than the balance is recorded with a warning, never refused."""

import pytest

from configs import Settings
from serve_app.finance.schemas import UtilisationResult
from serve_app.finance.service import OVERSPENT
from tests.fixtures.app import client_of, running_app
from tests.serve_app.finance.test_endpoints import S1, S2, _feed, assert_answers


@pytest.fixture
async def app(sqlite_seeded):
    async with running_app(Settings(database_url=sqlite_seeded)) as app:
        yield app


def _error(r, status: int) -> dict:
    body = r.json()
    assert r.status_code == status and body["success"] is False, (r.status_code, r.text[:300])
    assert set(body["error"]) >= {"code", "message", "details"} and body["timestamp"].endswith("Z")
    return body["error"]


async def test_unknown_places_and_years_outside_the_norms(app):
    async with client_of(app) as client:
        for path, params in (("/api/v1/financial/schools/33999999999", None),
                             ("/api/v1/financial/blocks/Nowhere", {"district": "Ariyalur"}),
                             ("/api/v1/financial/districts/Nowhere", None),
                             ("/api/v1/financial/reports", {"area": "block:Ariyalur/Nowhere"}),
                             ("/api/v1/financial/forecast", {"area": "district:Nowhere"})):
            assert _error(await client.get(path, params=params), 404)["code"] == "NOT_FOUND", path
        for path in ("/api/v1/financial/state", "/api/v1/financial/reports", f"/api/v1/financial/schools/{S1}"):
            error = _error(await client.get(path, params={"year": 2019}), 422)
            assert error["details"]["fields"][0]["field"] == "year" and "norms" in error["message"], path
        error = _error(await client.post("/api/v1/financial/allocate", json={"year": 2019, "commit": True}), 422)
        assert error["details"]["fields"][0]["field"] == "year"
        error = _error(await client.post("/api/v1/financial/allocate", json={"year": "next"}), 422)
        assert error["code"] == "VALIDATION_ERROR" and "year" in str(error["details"])
        error = _error(await client.post("/api/v1/financial/allocate", json={"year": 2025, "policy": "generous"}), 422)
        assert "policy" in str(error["details"])
        error = _error(await client.post("/api/v1/financial/allocate",
                                         json={"year": 2025, "area": {"block": "Sendurai"}}), 422)
        assert error["details"]["fields"][0]["field"] == "area.district"
        assert (await client.get("/api/v1/financial/state", params={"year": 2019})).json()["success"] is False


async def test_bad_amounts_are_refused_item_by_item(app):
    async with client_of(app) as client:
        await _feed(client)
        items = [{"school_id": S1, "amount_inr": amount, "event_id": f"bad-{k}"}
                 for k, amount in enumerate([-1, 0, "lots", None, float("1e11")])]
        r = await client.put("/api/v1/financial/update-utilization", json={"items": items})
        out = r.json()
        assert r.status_code == 422 and out["data"]["rejected"] == len(items) and out["data"]["accepted"] == 0
        for result in out["data"]["results"]:
            assert result["status"] == "rejected" and result["error"]["code"] == "VALIDATION_ERROR"
            assert any(f["field"].endswith("amount_inr") for f in result["error"]["fields"]), result
        error = _error(await client.put("/api/v1/financial/update-utilization", json={"items": "all of it"}), 422)
        assert error["code"] == "VALIDATION_ERROR"
        error = _error(await client.put("/api/v1/financial/update-utilization", json={"items": []}), 422)
        assert "items" in str(error["details"])


async def test_spending_beyond_the_balance_is_recorded_and_flagged(app):
    async with client_of(app) as client:
        await _feed(client)
        before = (await client.get(f"/api/v1/financial/schools/{S2}")).json()["data"]["balance_inr"]
        assert before > 1_000
        # the first fits the balance, the second (in the same batch) no longer does
        items = [{"school_id": S2, "amount_inr": round(before - 500, 2), "event_id": "within"},
                 {"school_id": S2, "amount_inr": 800, "event_id": "beyond"}]
        r = await client.put("/api/v1/financial/update-utilization", json={"items": items})
        out = assert_answers(UtilisationResult, r.json())
        assert r.status_code == 200 and out["accepted"] == 2 and out["overspent"] == 1
        assert out["results"][0]["warning"] is None and out["results"][1]["warning"].startswith(OVERSPENT)
        assert "over the balance" in r.json()["message"]
        after = (await client.get(f"/api/v1/financial/schools/{S2}")).json()["data"]
        assert after["balance_inr"] == pytest.approx(-300, abs=0.01)  # the overspend shows, nothing hidden
