"""Every risk route answers what its declared model says: each JSON answer of a small in-process
twin validates as `Envelope[Model]`, a cascade path's steps (schools, depots, and steps hidden
outside the reader's area) validate as the path's step models, and the OpenAPI document names the
model as each operation's `data`."""

import datetime as dt

import numpy as np
import pytest

from configs import Settings
from serve_app.risk.schemas import (
    BlockCascade, DepotStep, DistrictCascade, HiddenStep, RiskFactors, SchoolRisk, SchoolStep,
)
from serve_app.risk.service import RiskService
from serve_app.shared.envelope import Envelope
from tests.fixtures.app import client_of, running_app
from tests.fixtures.builders import small_directory
from twin.area import STATE, Area
from twin.risk import FEATURES
from tests.fixtures.schemas import schema_models

DIRECTORY, _ = small_directory()
SCHOOLS = [f"{int(x):011d}" for x in DIRECTORY.school_ids]
DAY = dt.date(2025, 7, 1)

DECLARED = {
    ("get", "/api/v1/predictions/risk/{school_id}"): SchoolRisk,
    ("get", "/api/v1/predictions/risk-factors/{school_id}"): RiskFactors,
    ("get", "/api/v1/predictions/cascade/blocks/{name}"): BlockCascade,
    ("get", "/api/v1/predictions/cascade/districts/{name}"): DistrictCascade,
}


@pytest.fixture
async def app(seeded_url):
    async with running_app(Settings(database_url=seeded_url)) as app:
        yield app


def report(school: str, day: int, meals: int | None) -> dict:
    date = (DAY + dt.timedelta(days=day)).isoformat()
    event = {"type": "attendance_reported", "event_id": f"att-{school}-{date}", "date": date, "school_id": school,
             "present": 50}
    return event | ({"no_meal_reason": "food_grains_not_available"} if meals is None else
                    {"meals_served": {"primary": meals}})


async def test_every_risk_answer_is_its_declared_model(app):
    sick = SCHOOLS[0]
    block = DIRECTORY.blocks.names[int(DIRECTORY.school_block[0])]
    async with client_of(app) as c:
        seen = set()

        async def call(route: str, path: dict, **kwargs) -> dict:  # noqa: ANN003
            response = await c.get(route.format(**path), **kwargs)
            assert response.status_code == 200, (route, response.text)
            Envelope[DECLARED["get", route]].model_validate(response.json())
            seen.add(("get", route))
            return response.json()["data"]

        events = [report(s, d, None if s == sick else 40) for d in range(4) for s in SCHOOLS[:4]]
        assert (await c.post("/api/v1/events", json={"events": events})).status_code == 200
        risk = await call("/api/v1/predictions/risk/{school_id}", {"school_id": sick})
        assert risk["open_alerts"] and risk["history"] and risk["learned"] is None  # no learned model served here
        factors = await call("/api/v1/predictions/risk-factors/{school_id}", {"school_id": sick})
        assert set(factors) == set(RiskFactors.model_fields)
        view = await call("/api/v1/predictions/cascade/blocks/{name}", {"name": block}, params={"district": "Ariyalur"})
        assert view["block"] == block and view["shown"] == len(view["flagged"])
        district = await call("/api/v1/predictions/cascade/districts/{name}", {"name": "Ariyalur"})
        assert sum(district["by_level"].values()) == district["schools"]
        assert seen == set(DECLARED)


def test_the_features_model_has_every_feature_the_rules_score():
    from serve_app.risk.schemas import Features

    assert tuple(Features.model_fields) == FEATURES


SENDURAI, THIRUMANUR, CHENNAI = "33010500100", "33010100100", "33031400100"


class _Desk:
    """A desk whose school sits on a cascade path through schools and depots inside and outside
    Ariyalur (the small twin's own cascade has no such path)."""

    async def risk(self, school: int) -> dict:
        factors = [{"factor": "stock", "points": 10.0, "weight": 30.0}, {"factor": "neighbours", "points": 50.0,
                                                                         "weight": 1.0}]
        return {"school_id": SENDURAI, "score": 60.0, "level": "high", "local_score": 10.0, "factors": factors,
                "features": dict.fromkeys(FEATURES), "open_alerts": ["risk_high"],
                "history": [{"date": "2025-07-01", "score": 60.0}],
                "cascade": {"flagged": True, "pressure": 60.0, "path": [
                    {"depot_of_block": "Sendurai", "local_risk": 70.0, "pressure": 65.0},
                    {"school_id": THIRUMANUR, "local_risk": 80.0, "pressure": 70.0},
                    {"depot_of_block": "Chennai North", "local_risk": 90.0, "pressure": 75.0},
                    {"school_id": CHENNAI, "local_risk": 95.0, "pressure": 90.0}]}}

    async def cascade_view(self, schools: np.ndarray) -> dict:
        return {"schools": len(schools), "by_level": {"low": 1, "medium": 0, "high": 1, "critical": 0},
                "cascade_flagged": 1, "shown": 1, "flagged": [
                    {"school_id": SENDURAI, "score": 60.0, "level": "high", "local_score": 10.0,
                     "neighbour_points": 50.0, "sources": [{"school_id": CHENNAI, "local_risk": 95.0, "pressure": 90.0}]}]}


async def test_every_kind_of_path_step_is_a_step_model():
    service = RiskService(DIRECTORY, _Desk())
    whole = SchoolRisk.model_validate(await service.risk(SENDURAI, STATE))
    assert [type(s) for s in whole.cascade.path] == [DepotStep, SchoolStep, DepotStep, SchoolStep]
    ariyalur = SchoolRisk.model_validate(await service.risk(SENDURAI, Area("Ariyalur")))
    assert [type(s) for s in ariyalur.cascade.path] == [DepotStep, SchoolStep, HiddenStep, HiddenStep]
    b = DIRECTORY.blocks.index(0, "Sendurai")
    view = BlockCascade.model_validate(await service.cascade_of_block(b, Area("Ariyalur")))
    assert [type(s) for s in view.flagged[0].sources] == [HiddenStep]


async def test_a_twin_without_a_risk_desk_answers_503():
    class _Empty:
        async def cascade_view(self, schools: np.ndarray) -> None:
            return None

    from twin.errors import Unavailable

    with pytest.raises(Unavailable):
        await RiskService(DIRECTORY, _Empty()).cascade_of_district("Ariyalur")


async def test_the_openapi_document_shows_each_answers_model(app):
    spec = app.openapi()  # the document /api/openapi.json serves
    operations = {(m, p) for p, ops in spec["paths"].items() for m in ops
                  if p.startswith(("/api/v1/predictions/risk", "/api/v1/predictions/cascade"))}
    assert operations == set(DECLARED)
    for (method, path), model in DECLARED.items():
        envelope = spec["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
        envelope_schema = spec["components"]["schemas"][envelope["$ref"].rsplit("/", 1)[1]]
        assert set(envelope_schema["properties"]) == {"success", "data", "message", "timestamp"}
        assert schema_models(spec, envelope_schema["properties"]["data"]) == [(model.__name__, set(model.model_fields))]
