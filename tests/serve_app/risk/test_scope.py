"""A cascade path may run through schools outside the reader's area: those steps keep their place
but say nothing about the place (the walk's small twin has no such path, so it is built here)."""

import numpy as np

from serve_app.risk.service import RiskService
from tests.fixtures.builders import small_directory
from twin.area import STATE, Area

DIRECTORY, _ = small_directory()
SENDURAI, THIRUMANUR, CHENNAI = "33010500100", "33010100100", "33031400100"


class _Desk:
    async def risk(self, school: int) -> dict:
        return {"school_id": SENDURAI, "score": 60.0, "cascade": {"flagged": True, "path": [
            {"school_id": SENDURAI, "local_risk": 10.0, "pressure": 60.0},
            {"depot_of_block": "Sendurai", "local_risk": 70.0, "pressure": 65.0},
            {"school_id": THIRUMANUR, "local_risk": 80.0, "pressure": 70.0},
            {"depot_of_block": "Chennai North", "local_risk": 90.0, "pressure": 75.0},
            {"school_id": CHENNAI, "local_risk": 95.0, "pressure": 90.0}]}}

    async def cascade_view(self, schools: np.ndarray) -> dict:
        return {"flagged": [{"school_id": SENDURAI, "sources": [{"school_id": CHENNAI, "local_risk": 95.0,
                                                                 "pressure": 90.0}]}]}


def _path(risk: dict) -> list:
    return [step.get("school_id") or step.get("depot_of_block") or "hidden" for step in risk["cascade"]["path"]]


async def test_steps_outside_the_area_are_hidden_in_place():
    service = RiskService(DIRECTORY, _Desk())
    assert _path(await service.risk(SENDURAI, STATE)) == [SENDURAI, "Sendurai", THIRUMANUR, "Chennai North", CHENNAI]
    assert _path(await service.risk(SENDURAI, Area("Ariyalur"))) == [SENDURAI, "Sendurai", THIRUMANUR, "hidden", "hidden"]
    assert _path(await service.risk(SENDURAI, Area("Ariyalur", "Sendurai"))) == [SENDURAI, "Sendurai", "hidden",
                                                                                 "hidden", "hidden"]
    hidden = (await service.risk(SENDURAI, Area("Ariyalur", "Sendurai", SENDURAI)))["cascade"]["path"]
    assert hidden[2:] == [{"outside_your_area": True}] * 3 and "local_risk" not in str(hidden[2:])
    b = DIRECTORY.blocks.index(0, "Sendurai")
    view = await service.cascade_of_block(b, Area("Ariyalur"))
    assert view["flagged"][0]["sources"] == [{"outside_your_area": True}]


async def test_many_schools_risk_in_one_read_agrees_with_each_schools_own(seeded_url):
    from configs import Settings
    from tests.fixtures.app import running_app
    from twin.area import Area

    from tests.fixtures.app import client_of
    from tests.fixtures.report_world import events

    async with running_app(Settings(database_url=seeded_url)) as app:
        async with client_of(app) as admin:  # reports, releases, stock and no-meal days: scores that differ
            assert (await admin.post("/api/v1/events", json={"events": events()})).status_code == 200
        risk = app.state.services.risk
        directory = app.state.services.directory
        ids = [f"{int(s):011d}" for s in directory.school_ids]
        many = await risk.risks(ids + ["33999999999"])
        assert set(many) == set(ids)  # an unknown id is left out, not an error
        assert len({many[s]["score"] for s in ids}) >= 3
        for sid in ids:
            one = await risk.risk(sid)
            assert {k: one[k] for k in ("score", "level", "local_score", "factors", "open_alerts")} == \
                {k: many[sid][k] for k in ("score", "level", "local_score", "factors", "open_alerts")}
            assert one["cascade"]["flagged"] == many[sid]["cascade"]["flagged"]
            assert one["cascade"]["pressure"] == many[sid]["cascade"]["pressure"]
        inside = await risk.risks(ids, Area("Ariyalur"))
        assert inside and all(directory.school_district[directory.index(s)] == 0 for s in inside)
