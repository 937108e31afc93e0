"""Depot visits as decisions: the delivery schedule's visits stored as recommendations of kind
delivery, verified by simulation, edited within the schedule's constraints, and approved into a
`stock_delivered` event in the log. On SQLite and PostgreSQL."""

import pytest

from tests.fixtures.app import client_of
from tests.serve_app.optimization.test_endpoints import (
    DISTRICT_OFFICER,
    SHORT,
    feed,
    twin_rice,
)
from twin.area import Area


async def plan_visits(app) -> tuple[dict, list[dict]]:
    app.state.services.optimisation.depot_days = 40.0  # a depot stocked for a full visit
    async with client_of(app) as admin:
        await feed(admin)
    async with client_of(app, *DISTRICT_OFFICER) as officer:
        response = await officer.post("/api/v1/optimization/run", json={"block": "Ariyalur", "models": ["deliveries"]})
        assert response.status_code == 200, response.text
        run = response.json()["data"]
        listed = (await officer.get("/api/v1/optimization/recommendations",
                                    params={"run_id": run["run_id"], "kind": "delivery"})).json()["data"]
    return run, listed["recommendations"]


async def test_a_depot_visit_is_proposed_verified_edited_and_delivered(app):
    run, visits = await plan_visits(app)
    assert run["deliveries"] == len(visits) >= 1 and run["fund_advances"] == 0 and run["status"] == "not_asked"
    assert run["assumptions"] == {"depot_stock_days": 40.0, "vehicle_kg_per_day": 3000.0, "depots_logged": []}
    [visit] = [v for v in visits if v["school_id"] == SHORT]
    assert visit["kind"] == "delivery" and visit["from_depot"] == "Ariyalur/Ariyalur" and visit["from_school_id"] is None
    assert set(visit["action"]["items"]) <= {"rice_kg", "pulses_kg", "oil_kg"} and visit["action"]["items"]["rice_kg"] > 0
    assert 0 <= visit["action"]["school_day"] < 6 and visit["cost_inr"] >= 0
    assert visit["risk"]["after"]["days_of_grain"] > visit["risk"]["before"]["days_of_grain"]
    assert visit["risk"]["before"]["risk_score"] >= visit["risk"]["after"]["risk_score"]
    assert "hold 40 days of its block's need" in visit["explanation"]["depot_stock"]  # the assumption, said
    path = f"/api/v1/optimization/recommendations/{visit['id']}"
    async with client_of(app, *DISTRICT_OFFICER) as officer:
        impact = (await officer.get(f"/api/v1/optimization/impact/{visit['id']}",
                                    params={"horizon_days": 10, "replications": 4})).json()["data"]
        none, mine = impact["plans"]["none"], impact["plans"]["recommendation"]
        assert none["no_meal_child_days"]["mean"] > mine["no_meal_child_days"]["mean"]
        eggs = await officer.patch(path, json={"eggs": 50})
        assert eggs.status_code == 422 and eggs.json()["error"]["details"]["constraint"] == "grain_only"
        overfull = await officer.patch(path, json={"rice_kg": 100_000})
        assert overfull.status_code == 422 and overfull.json()["error"]["details"]["constraint"] == "store"
        rice = round(visit["action"]["items"]["rice_kg"] / 2, 3)
        edited = await officer.patch(path, json={"rice_kg": rice, "version": 1})
        assert edited.status_code == 200, edited.text
        assert edited.json()["data"]["action"]["items"] == {"rice_kg": rice} and edited.json()["data"]["version"] == 2
        approved = await officer.post(f"/api/v1/optimization/approve/{visit['id']}", json={"version": 2})
        assert approved.status_code == 200 and approved.json()["data"]["status"] == "applied"
    async with client_of(app) as admin:
        events = (await admin.get("/api/v1/events", params={"school_id": SHORT})).json()["data"]["events"]
        [delivered] = [e for e in events if e["type"] == "stock_delivered" and e["event_id"] == f"rec-{visit['id']}"]
        assert delivered["rice_kg"] == pytest.approx(rice) and delivered["depot_id"] == "Ariyalur/Ariyalur"
        assert await twin_rice(admin, SHORT) == pytest.approx(visit["quantities"]["receiver"]["current"]["rice_kg"] + rice,
                                                             abs=0.01)


async def test_a_visit_is_simulated_on_its_school_day_not_before_the_first(app):
    """The same visit replayed on the first school day and on the fourth: the later one leaves the
    short school its first days without grain, and helps less (common random numbers)."""
    _, visits = await plan_visits(app)
    [visit] = [v for v in visits if v["school_id"] == SHORT]
    service = app.state.services.optimisation
    states = await service._live_states()
    lat, lon = await service._coordinates()
    block = Area(visit["district"], visit["block"])

    def simulated(day: int) -> dict:
        moved = {**visit, "action": {**visit["action"], "school_day": day}}
        return service._verification.recommendation(states, block, lat, lon, moved, [moved], 10, 4, False, 1, None)

    first, fourth = simulated(0), simulated(3)
    assert first["plans"]["none"] == fourth["plans"]["none"]
    missed = {day: out["plans"]["recommendation"]["no_meal_child_days"]["mean"] for day, out in ((0, first), (3, fourth))}
    assert missed[0] < missed[3] <= first["plans"]["none"]["no_meal_child_days"]["mean"]
