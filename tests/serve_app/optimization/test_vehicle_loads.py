"""A block's one vehicle shared by the day's transfers and depot visits: the delivery schedule gets
what the day's applied and approved transfers leave of it, and an edited transfer or visit may not
load it past what the day's other loads leave (422 vehicle_kg). On SQLite and PostgreSQL."""

import uuid

from sqlalchemy import update

from db.recommendation_repository import APPROVED, PENDING, RecommendationRepository
from db.tables import recommendations
from serve_app.optimization import service as optimisation_service
from tests.fixtures.app import client_of
from tests.serve_app.optimization.test_endpoints import (
    DISTRICT_OFFICER,
    SHORT,
    feed,
    run_for_block,
    transfer_to_short,
)

TRUCK_KG = 3000.0


async def _today(app) -> str:
    return optimisation_service._today(await app.state.services.optimisation._twin_day())


async def _loaded(app, kg: float, on: str, status: str = "applied") -> str:
    """A transfer to SHORT's block moving `kg`: applied with its events dated `on`, or left `status`."""
    repo = RecommendationRepository(app.state.services.engine)
    rec_id = uuid.uuid4().hex
    await repo.create_many([{
        "id": rec_id, "kind": "stock_transfer", "run_id": uuid.uuid4().hex, "district": "Ariyalur",
        "block": "Ariyalur", "school_id": SHORT, "from_school_id": None, "from_depot": "Ariyalur/Ariyalur",
        "quantity_kg": kg, "cost_inr": 1.0, "children_affected": 1, "twin_seq": 1, "body": {
            "action": {"from": {"school_id": None, "depot": "Ariyalur/Ariyalur"}, "to": {"school_id": SHORT},
                       "items": {"rice_kg": kg}, "km": 1.0},
            "quantities": {}, "risk": {}, "explanation": {"binding": [], "summary": ""}}}], "user:0")
    if status == "applied":
        event = {"type": "stock_transferred", "event_id": f"rec-{rec_id}", "date": on, "school_id": SHORT,
                 "rice_kg": kg, "from_depot": "Ariyalur/Ariyalur"}
        assert await repo.transition(rec_id, 1, PENDING, APPROVED, decided_by="user:0", apply_events=[event])
        assert await repo.transition(rec_id, 2, APPROVED, "applied", events=[event["event_id"]])
    elif status != PENDING:
        assert await repo.transition(rec_id, 1, PENDING, status, decided_by="user:0", reason="test")
    return rec_id


async def _visits(app) -> list[dict]:
    async with client_of(app, *DISTRICT_OFFICER) as officer:
        run = await officer.post("/api/v1/optimization/run", json={"block": "Ariyalur", "models": ["deliveries"]})
        assert run.status_code == 200, run.text
        listed = await officer.get("/api/v1/optimization/recommendations",
                                   params={"run_id": run.json()["data"]["run_id"], "kind": "delivery"})
    return listed.json()["data"]["recommendations"]


def _day_kg(visits: list[dict], day: int) -> float:
    return sum(v["quantity_kg"] for v in visits if v["action"]["school_day"] == day)


async def test_the_schedule_gets_what_the_days_transfers_leave_of_the_vehicle(app):
    app.state.services.optimisation.depot_days = 40.0  # a depot stocked for a full visit
    async with client_of(app) as admin:
        await feed(admin)
    alone = await _visits(app)  # nothing else on the vehicle: SHORT is visited today
    [first] = [v for v in alone if v["school_id"] == SHORT]
    assert first["action"]["school_day"] == 0
    visit_kg = first["quantity_kg"]
    today = await _today(app)
    # today's transfers leave less than the visit on today's vehicle; yesterday's, a rejected one
    # and a superseded pending one load nothing today
    load = TRUCK_KG - visit_kg / 2
    await _loaded(app, load, today)
    await _loaded(app, TRUCK_KG, "2025-06-30")
    await _loaded(app, TRUCK_KG, today, status="rejected")
    await _loaded(app, TRUCK_KG, today, status=PENDING)
    shared = await _visits(app)
    assert _day_kg(shared, 0) + load <= TRUCK_KG + 1e-6
    [later] = [v for v in shared if v["school_id"] == SHORT]
    assert later["action"]["school_day"] >= 1  # the visit waits for a day with room
    # without today's load (its events dated no day) the visit is back on day 0: the others weighed nothing
    async with app.state.services.engine.begin() as conn:
        await conn.execute(update(recommendations).where(recommendations.c.quantity_kg == load)
                           .values(apply_events=None))
    [again] = [v for v in await _visits(app) if v["school_id"] == SHORT]
    assert again["action"]["school_day"] == 0


async def test_an_edit_may_not_load_the_vehicle_past_what_the_days_other_loads_leave(app):
    async with client_of(app) as admin:
        await feed(admin)
    rec = transfer_to_short((await run_for_block(app))["recs"])
    moved = rec["action"]["items"]["rice_kg"]
    assert moved > 10
    today = await _today(app)
    await _loaded(app, TRUCK_KG - moved / 2, today)  # approved and applied today: half the transfer's room left
    path = f"/api/v1/optimization/recommendations/{rec['id']}"
    async with client_of(app, *DISTRICT_OFFICER) as officer:
        full = await officer.patch(path, json={"rice_kg": moved})
        assert full.status_code == 422, full.text
        error = full.json()["error"]
        assert error["details"]["constraint"] == "vehicle_kg", error
        assert "taken by the day's other" in error["message"]
        assert abs(error["details"]["limit"] - moved / 2) < 1e-6
        half = await officer.patch(path, json={"rice_kg": round(moved / 4, 3)})
        assert half.status_code == 200, half.text


async def test_an_edit_back_to_the_quantity_shown_is_accepted(app):
    """Quantities are shown to the gram: the shown one, a hair above the exact bound it was
    computed at, is still within it."""
    async with client_of(app) as admin:
        await feed(admin)
    rec = transfer_to_short((await run_for_block(app))["recs"])
    async with client_of(app, *DISTRICT_OFFICER) as officer:
        same = await officer.patch(f"/api/v1/optimization/recommendations/{rec['id']}",
                                   json=rec["action"]["items"] | {"version": rec["version"]})
        assert same.status_code == 200, same.text
