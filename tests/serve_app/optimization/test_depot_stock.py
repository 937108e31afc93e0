"""Depot stock as a logged quantity: a consignment received at a block's depot is an event
(`depot_stock_received`), validated at the edge and scoped like any event about a block; the twin
folds it, less the depot's deliveries and transfers; the optimiser takes a depot's logged stock in
place of the assumed one, and says which it used. On SQLite and PostgreSQL."""

from tests.fixtures.app import client_of
from tests.serve_app.optimization.test_endpoints import (
    BLOCK_OFFICER,
    DAY,
    DISTRICT_OFFICER,
    OUTSIDER,
    SHORT,
    feed,
)

DEPOT = "Ariyalur/Ariyalur"


def _consignment(event_id: str, **items) -> dict:
    return {"type": "depot_stock_received", "event_id": event_id, "date": DAY.isoformat(), "district": "Ariyalur",
            "block": "Ariyalur", **items}


async def _post(client, *events: dict) -> list[dict]:
    response = await client.post("/api/v1/events", json={"events": list(events)})
    assert response.status_code in (200, 422), response.text  # 422: every one refused, each saying why
    return response.json()["data"]["results"]


async def _visits(app) -> tuple[dict, list[dict]]:
    async with client_of(app, *DISTRICT_OFFICER) as officer:
        run = await officer.post("/api/v1/optimization/run", json={"block": "Ariyalur", "models": ["deliveries"]})
        assert run.status_code == 200, run.text
        listed = await officer.get("/api/v1/optimization/recommendations",
                                   params={"run_id": run.json()["data"]["run_id"], "kind": "delivery"})
    return run.json()["data"], listed.json()["data"]["recommendations"]


async def test_a_consignment_is_validated_and_scoped_at_the_edge(app):
    async with client_of(app) as admin:
        no_block = {k: v for k, v in _consignment("c-0", rice_kg=10).items() if k != "block"}
        [missing] = await _post(admin, no_block)
        assert missing["status"] == "rejected" and "block" in str(missing["error"])
        [empty] = await _post(admin, _consignment("c-1"))
        assert empty["status"] == "rejected" and "at least one item" in empty["error"]["message"]
        [nowhere] = await _post(admin, {**_consignment("c-2", rice_kg=10), "block": "Atlantis"})
        assert nowhere["status"] == "rejected" and "unknown block" in nowhere["error"]["message"]
    async with client_of(app, *OUTSIDER) as outsider:  # another block's officer
        [outside] = await _post(outsider, _consignment("c-3", rice_kg=10))
        assert outside["status"] == "rejected"
    async with client_of(app, *BLOCK_OFFICER) as officer:  # the depot's own block officer
        before = await officer.get("/api/v1/twin/blocks/Ariyalur", params={"district": "Ariyalur"})
        assert before.json()["data"]["depot_stock"] is None  # nothing logged yet: not known
        [accepted] = await _post(officer, _consignment("c-4", rice_kg=10, eggs=300))
        assert accepted["status"] == "accepted", accepted
        block = (await officer.get("/api/v1/twin/blocks/Ariyalur", params={"district": "Ariyalur"})).json()["data"]
        assert block["depot_stock"] == {"rice_kg": 10.0, "pulses_kg": 0.0, "oil_kg": 0.0, "eggs": 300}


async def test_the_optimiser_takes_a_depots_logged_stock_in_place_of_the_assumed(app):
    app.state.services.optimisation.depot_days = 40.0  # assumed, a depot would hold a full visit
    async with client_of(app) as admin:
        await feed(admin)
    run, visits = await _visits(app)
    assert run["assumptions"]["depots_logged"] == []
    [assumed] = [v for v in visits if v["school_id"] == SHORT]
    assert assumed["explanation"]["depot_stock"].startswith("assumed")
    need = assumed["action"]["items"]["rice_kg"]
    async with client_of(app) as admin:
        # a consignment with too little rice for the visit, then a visit from the depot drawing some of it
        await _post(admin, _consignment("c-small", rice_kg=need / 2 + 1, pulses_kg=1_000, oil_kg=1_000))
        [delivered] = await _post(admin, {"type": "stock_delivered", "event_id": "d-depot", "date": DAY.isoformat(),
                                          "school_id": "33010000101", "depot_id": DEPOT, "rice_kg": 1})
        assert delivered["status"] == "accepted"
    run, visits = await _visits(app)
    assert run["assumptions"]["depots_logged"] == [DEPOT]
    assert [v for v in visits if v["school_id"] == SHORT] == []  # the depot holds too little rice for it
    async with client_of(app) as admin:
        await _post(admin, _consignment("c-big", rice_kg=need * 2))
    run, visits = await _visits(app)
    [logged] = [v for v in visits if v["school_id"] == SHORT]
    assert logged["explanation"]["depot_stock"].startswith("logged")
    assert logged["action"]["items"]["rice_kg"] <= need / 2 + 1 - 1 + need * 2 + 1e-6
