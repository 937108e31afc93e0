"""A balance that a trickle of spending would take centuries to use: the reads still answer, the
projection counting the school days to each mark without dating those past about ten years."""

import pytest

from configs import Settings
from serve_app.finance.schemas import Financial
from serve_app.finance.service import MAX_DATED_SCHOOL_DAYS
from tests.fixtures.app import client_of, running_app
from tests.fixtures.builders import small_directory
from tests.serve_app.finance.test_endpoints import assert_answers

DIRECTORY, _ = small_directory()
SCHOOL = f"{int(DIRECTORY.school_ids[0]):011d}"


@pytest.fixture
async def app(seeded_url):
    async with running_app(Settings(database_url=seeded_url)) as app:
        yield app


async def test_a_mark_centuries_away_is_counted_not_dated(app):
    events = [{"type": "funds_released", "event_id": "r", "date": "2025-07-01", "amount_inr": 9_000_000_000,
               "school_id": SCHOOL},
              {"type": "attendance_reported", "event_id": "a", "date": "2025-07-01", "school_id": SCHOOL,
               "present": 1, "meals_served": {"primary": 1, "upper_primary": 0, "secondary": 0}}]
    async with client_of(app) as client:
        assert (await client.post("/api/v1/events", json={"events": events})).status_code == 200
        for path in (f"/api/v1/financial/schools/{SCHOOL}", "/api/v1/financial/state"):
            read = assert_answers(Financial, (await client.get(path)).json())
            projection = read["release_rules"]["projection"]
            assert projection["days_to_exhaustion"] > MAX_DATED_SCHOOL_DAYS
            assert projection["exhaustion_date"] is None
            assert projection["days_to_utilisation_rule"] > MAX_DATED_SCHOOL_DAYS
            assert projection["utilisation_rule_date"] is None
