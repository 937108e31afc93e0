"""A report of a district, block or school copies only its district's rows from the shard that
hosts it, not the shard's every district (at India scale one shard may host 1.08 M schools)."""

import numpy as np
import pytest

from configs import Settings
from tests.fixtures.app import client_of
from tests.fixtures.report_world import DIRECTORY, report_app
from twin import geography

API = "/api/v1/reports"
DISTRICT = 1  # hosted with district 2 on the second of the test app's two shards


@pytest.fixture
async def app(database_url):
    async with report_app(Settings(database_url=database_url)) as app:
        yield app


def _recording(app) -> list:
    shard = app.state.services.router.shard_of(DISTRICT)
    copies, copy_of = [], shard.state_copy

    async def recorded(districts=None):
        state = await copy_of(districts)
        copies.append(state)
        return state
    shard.state_copy = recorded
    return copies


@pytest.mark.parametrize("path, params", [
    ("/export/pdf", {"level": "district"}),
    ("/export/csv", {"kind": "schools"}),
    ("/export/csv", {"kind": "finance"}),
    ("/performance", {}),
])
async def test_a_district_report_copies_only_the_districts_rows(app, path, params):
    name = geography.district_names()[DISTRICT]
    copies = _recording(app)
    place = {"name": name} if path == "/export/pdf" else {"district": name}
    async with client_of(app) as admin:
        r = await admin.get(f"{API}{path}", params=params | place)
    assert r.status_code in (200, 422), r.text[:300]  # 422: the performance period the small twin lacks
    assert copies, "the report read no state"
    inside = set(DIRECTORY.school_ids[DIRECTORY.school_district == DISTRICT].tolist())
    hosted = set(DIRECTORY.school_ids[np.isin(DIRECTORY.school_district, [1, 2])].tolist())
    assert len(hosted) > len(inside)  # the shard hosts more than the district
    for state in copies:
        assert state.district_global.tolist() == [DISTRICT]
        assert set(state.school_ids.tolist()) == inside


async def test_a_district_report_reads_as_before(app):
    """The cut copy gives the district's figures the twin's own view of the district gives."""
    name = geography.district_names()[DISTRICT]
    async with client_of(app) as admin:
        rows = (await admin.get(f"{API}/export/csv", params={"kind": "schools", "district": name})).text.splitlines()
        view = (await admin.get(f"/api/v1/twin/districts/{name}")).json()["data"]
    assert len(rows) - 1 == view["schools"] == int((DIRECTORY.school_district == DISTRICT).sum())
