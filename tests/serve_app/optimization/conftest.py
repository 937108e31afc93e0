"""The API app the optimisation tests share: in-process shards, no depot stock."""

import pytest

from configs import Settings
from tests.fixtures.app import running_app


@pytest.fixture
async def app(seeded_url):
    async with running_app(Settings(database_url=seeded_url)) as app:
        app.state.services.optimisation.depot_days = 0.0  # no depot stock: what moves comes from a school
        yield app
