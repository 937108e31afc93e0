"""An approval interrupted between its two writes (the recommendation marked approved, its events
not yet confirmed in the log) is finished by the sweep, on a read or on its own: with the events
fixed at the approval, so the twin gets the transfer exactly once wherever the interruption came.
On SQLite and PostgreSQL."""

import pytest

from serve_app.auth.principal import Permission, Principal, Role
from tests.fixtures.app import client_of
from tests.serve_app.optimization.test_endpoints import (
    DISTRICT_OFFICER,
    RICH,
    SHORT,
    feed,
    run_for_block,
    transfer_to_short,
    twin_rice,
)
from twin.area import Area

OFFICER = Principal("user:7", Role.DISTRICT_OFFICER, Area("Ariyalur"), frozenset(Permission))


class Crash(Exception):
    """The replica stopping at this point."""


async def _pending_transfer(app) -> tuple[dict, float, float]:
    async with client_of(app) as admin:
        await feed(admin)
        before = await twin_rice(admin, SHORT), await twin_rice(admin, RICH)
    return transfer_to_short((await run_for_block(app))["recs"]), *before


async def _status(app, rec_id: str) -> dict:
    return await app.state.services.optimisation._repo.get(rec_id)  # noqa: SLF001 - no sweep on this read


async def test_an_approval_interrupted_before_the_log_is_finished_by_the_sweep(app, monkeypatch):
    service = app.state.services.optimisation
    rec, short, rich = await _pending_transfer(app)
    moved = rec["action"]["items"]["rice_kg"]

    async def dies(body: bytes) -> dict:
        raise Crash
    monkeypatch.setattr(service, "_ingest", dies)
    with pytest.raises(Crash):
        await service.approve(rec["id"], OFFICER, None)
    monkeypatch.undo()
    stuck = await _status(app, rec["id"])
    assert stuck["status"] == "approved" and stuck["events"] == []
    async with client_of(app) as admin:
        assert await twin_rice(admin, SHORT) == pytest.approx(short, abs=0.01)  # nothing reached the log
    assert await service.recover_approved() == []  # within the grace an approval may still be under way
    assert await service.recover_approved(grace_s=0) == [rec["id"]]
    assert await service.recover_approved(grace_s=0) == []
    done = await _status(app, rec["id"])
    assert done["status"] == "applied" and done["events"] == [f"rec-{rec['id']}"]
    async with client_of(app) as admin:
        assert await twin_rice(admin, SHORT) == pytest.approx(short + moved, abs=0.01)
        assert await twin_rice(admin, RICH) == pytest.approx(rich - moved, abs=0.01)
        for action, actor in (("optimisation.approve", OFFICER.actor()), ("optimisation.apply_recovered",
                                                                           "system:recovery")):
            audit = (await admin.get("/api/v1/audit", params={"action": action})).json()["data"]
            entries = audit.get("entries", audit.get("items", []))
            assert [(e["target"], e["actor"]) for e in entries] == [(f"recommendation:{rec['id']}", actor)], action


async def test_an_approval_interrupted_after_the_log_is_applied_once_when_read(app, monkeypatch):
    service, repo = app.state.services.optimisation, app.state.services.optimisation._repo  # noqa: SLF001
    rec, short, rich = await _pending_transfer(app)
    moved = rec["action"]["items"]["rice_kg"]
    transition = repo.transition

    async def dies_before_applied(rec_id, version, from_status, to_status, **kw):  # noqa: ANN001, ANN003
        if to_status == "applied":
            raise Crash
        return await transition(rec_id, version, from_status, to_status, **kw)
    monkeypatch.setattr(repo, "transition", dies_before_applied)
    with pytest.raises(Crash):
        await service.approve(rec["id"], OFFICER, None)
    monkeypatch.undo()
    assert (await _status(app, rec["id"]))["status"] == "approved"
    async with client_of(app) as admin:
        assert await twin_rice(admin, SHORT) == pytest.approx(short + moved, abs=0.01)  # the log has it
    service._apply_grace_s = 0.0  # noqa: SLF001 - the setting, as if the grace had passed
    async with client_of(app, *DISTRICT_OFFICER) as officer:
        read = (await officer.get(f"/api/v1/optimization/recommendations/{rec['id']}")).json()["data"]
        assert read["status"] == "applied" and read["events"] == [f"rec-{rec['id']}"]
        again = await officer.post(f"/api/v1/optimization/approve/{rec['id']}")
        assert again.status_code == 409 and again.json()["error"]["details"]["status"] == "applied"
    async with client_of(app) as admin:
        # the sweep wrote the same event again: the log kept it once, so the rice moved once
        assert await twin_rice(admin, SHORT) == pytest.approx(short + moved, abs=0.01)
        assert await twin_rice(admin, RICH) == pytest.approx(rich - moved, abs=0.01)
        events = (await admin.get("/api/v1/events", params={"school_id": SHORT})).json()["data"]["events"]
        assert len([e for e in events if e["type"] == "stock_transferred"]) == 1
