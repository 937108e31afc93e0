"""A forecast or a learned risk reads the recent days of only the districts of the schools asked:
the shards copy only those districts' state, the panel holds only their schools, and the answers
are those of the whole twin's panel. Panels are kept by district, refreshed as before, and bounded
in schools."""

from __future__ import annotations

import pickle
from collections.abc import Sequence

import numpy as np
import pytest

from ml.forecaster import DemandForecaster
from ml.registry import Registry
from ml.risk_model import RISK_KIND, RuleScoreModel
from serve_app.forecasts.service import FORECAST_KIND, ModelService
from tests.fixtures.builders import random_batch, small_directory
from tests.ml.forecast_fixtures import build_panel
from twin import risk as rule_risk
from twin.directory import Directory
from twin.district_copy import districts_copy
from twin.kernels import apply_events
from twin.state import ShardState

DIRECTORY, ENROLMENT = small_directory(districts=(0, 1, 2))
PLACEMENT = ([0], [1, 2])  # districts of each shard


@pytest.fixture(scope="module")
def states() -> list[ShardState]:
    """Two shards filled by the real kernel; the second has no report of the twin's newest day yet."""
    shards = [ShardState.for_districts(DIRECTORY, ENROLMENT, districts) for districts in PLACEMENT]
    batch = random_batch(DIRECTORY, 4_000, seed=3, days=60)
    apply_events(shards[0], batch)
    apply_events(shards[1], batch.take(np.flatnonzero(batch.day < batch.day.max())))
    assert shards[1].today[0] < shards[0].today[0]
    return shards


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A registry serving a seasonal naive forecaster and a calibrated rule score as the risk model."""
    root = tmp_path_factory.mktemp("models")
    registry = Registry(root)
    forecaster = DemandForecaster("seasonal_naive").fit(build_panel(n_schools=40, n_days=90))
    version = registry.register(FORECAST_KIND, forecaster.to_bytes(), {"model": "seasonal_naive",
                                                                       "metrics": {"wape": 0.1}})
    assert registry.promote_if_better(FORECAST_KIND, version, "wape", higher_is_better=False)
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 20, (500, len(rule_risk.FACTORS)))
    risk = RuleScoreModel.fit(points, points.sum(axis=1) + rng.normal(0, 20, 500) > 100)
    version = registry.register(RISK_KIND, pickle.dumps(risk), {"model": risk.name, "metrics": {"roc_auc": 0.7}})
    assert registry.promote_if_better(RISK_KIND, version, "roc_auc", higher_is_better=True)
    return root


class Shards:
    """The shards' copies as the router gives them, recording the districts asked of each call."""

    def __init__(self, states: list[ShardState]) -> None:
        self.states = states
        self.asked: list[list[int] | None] = []

    async def copies(self, districts: Sequence[int] | None = None) -> list[ShardState]:
        self.asked.append(None if districts is None else list(districts))
        if districts is None:
            return self.states
        hosting = [(s, [d for d in districts if d in hosted]) for s, hosted in zip(self.states, PLACEMENT)]
        return [districts_copy(s, ds) for s, ds in hosting if ds]

    async def twin_day(self) -> int:
        return max(int(s.today[0]) for s in self.states)


def _service(root, shards: Shards, recent_schools: int = 100_000) -> ModelService:
    return ModelService(root, DIRECTORY, shards.copies, shards.twin_day, recent_schools=recent_schools)


def _of(district: int) -> np.ndarray:
    return np.flatnonzero(DIRECTORY.school_district == district)


async def test_a_district_forecast_reads_and_keeps_only_that_district(root, states) -> None:
    shards = Shards(states)
    service = _service(root, shards)
    district = await service.forecast(_of(1), None)

    assert shards.asked == [[1]]
    [kept] = service._recent.values()
    assert kept.panel.n_schools == len(_of(1)) < len(DIRECTORY)
    assert set(kept.panel.district.tolist()) == {1}
    # the whole twin's answer: the same schools read from a panel of every district
    whole = _service(root, Shards(states))
    await whole.forecast(np.arange(len(DIRECTORY)), None)
    assert (await whole.forecast(_of(1), None)) == district
    assert district["origin"] == str(np.datetime64(whole._recent[frozenset({0, 1, 2})].panel.dates[-1]))


async def test_a_block_and_a_school_of_a_kept_district_read_no_state_again(root, states) -> None:
    shards = Shards(states)
    service = _service(root, shards)
    await service.forecast(_of(2), None)
    block = np.flatnonzero(DIRECTORY.school_block == DIRECTORY.school_block[_of(2)[3]])
    answer = await service.forecast(block, None)
    assert [s["school_id"] for s in answer["schools"]] == [f"{int(i):011d}" for i in DIRECTORY.school_ids[block]]
    await service.forecast(_of(2)[-1:], None)
    assert shards.asked == [[2]]


async def test_the_learned_risk_of_a_school_is_that_of_the_whole_twin(root, states) -> None:
    school = int(_of(2)[5])
    shards = Shards(states)
    district = _service(root, shards)
    whole = _service(root, Shards(states))
    await whole.forecast(np.arange(len(DIRECTORY)), None)

    assert await district.learned_risk(school) == await whole.learned_risk(school)
    assert shards.asked == [[2]]


async def test_kept_districts_are_bounded_in_schools_least_recently_used_out_first(root, states) -> None:
    shards = Shards(states)
    service = _service(root, shards, recent_schools=len(_of(0)) + len(_of(1)))
    for d in (0, 1, 0, 2):
        await service.forecast(_of(d), None)
    assert list(service._recent) == [frozenset({0}), frozenset({2})]  # 1, least recently used, is out
    await service.forecast(np.arange(len(DIRECTORY)), None)
    assert list(service._recent) == [frozenset({0, 1, 2})]  # the newest is kept, even over the bound
    assert shards.asked == [[0], [1], [2], [0, 1, 2]]


async def test_a_school_registered_since_or_a_new_twin_day_rebuilds(root, states) -> None:
    shards = Shards(states)
    directory, _ = small_directory(districts=(0, 1, 2))
    service = ModelService(root, directory, shards.copies, shards.twin_day)
    await service.forecast(_of(1), None)
    block = directory.school_block[_of(1)[0]]
    later = Directory(np.append(directory.school_ids, directory.school_ids.max() + 1),
                      np.append(directory.school_district, 1).astype(np.int16),
                      np.append(directory.school_block, block).astype(np.int32), directory.blocks)
    assert directory.extend(later)
    await service.forecast(_of(1)[:1], None)
    assert shards.asked == [[1]]  # the kept days hold every school asked
    answer = await service.forecast(np.array([len(directory) - 1]), None)
    assert shards.asked == [[1], [1]]
    assert answer["schools"][0]["school_id"] == f"{int(directory.school_ids[-1]):011d}"

    async def next_day() -> int:
        return max(int(s.today[0]) for s in states) + 1

    service._twin_day = next_day
    await service.forecast(_of(1)[:1], None)
    assert shards.asked == [[1], [1], [1]]
    assert service._recent[frozenset({1})].day == await next_day()
