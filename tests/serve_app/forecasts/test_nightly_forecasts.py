"""The API answers forecasts from the nightly job's files when they are of the twin's day and the
served forecaster, with the figures computing would give, and says so; otherwise it computes them
from the recent days as before."""

from __future__ import annotations

import numpy as np
import pytest

from ml.forecast_files import NightlyForecasts, latest_forecasts
from ml.forecaster import DemandForecaster
from ml.registry import Registry
from serve_app.forecasts.service import ModelService, RecentDays
from serve_app.forecasts.upkeep import FORECAST_KIND, forecast_every_school_served
from tests.ml.forecast_fixtures import build_panel
from twin.directory import BlockTable, Directory
from twin.norms import day_number

SCHOOLS = np.array([0, 3, 17, 39])


@pytest.fixture(scope="module")
def panel():
    return build_panel(n_schools=40, n_days=90)


def _serve(root, panel, kind: str = "seasonal_naive", wape: float = 0.1) -> str:
    registry = Registry(root)
    version = registry.register(FORECAST_KIND, DemandForecaster(kind).fit(panel).to_bytes(),
                                {"model": kind, "metrics": {"wape": wape}})
    assert registry.promote_if_better(FORECAST_KIND, version, "wape", higher_is_better=False)
    return version


def _service(root, panel, today: int, may_compute: bool) -> ModelService:
    """The service on `panel`'s schools, the twin on day `today`; building the recent days (to
    compute) fails the test unless `may_compute`."""
    directory = Directory(panel.school_id, panel.district, panel.block, BlockTable.from_geography())

    async def no_states() -> list:
        raise AssertionError("the live states were read")

    async def twin_day() -> int:
        return today

    service = ModelService(root, directory, no_states, twin_day)

    async def recent_days(_schools: np.ndarray) -> RecentDays:
        assert may_compute, "the recent days were built: the nightly files were not used"
        return RecentDays(panel, np.arange(panel.n_schools), frozenset(np.unique(panel.district).tolist()), "days",
                          today, 0.0)

    service._recent_days = recent_days
    return service


def _origin_day(panel) -> int:
    return day_number(panel.dates[-1].astype(object))


async def test_fresh_nightly_files_answer_with_the_computed_figures(tmp_path, panel) -> None:
    _serve(tmp_path, panel)
    assert forecast_every_school_served(tmp_path, panel)["model_version"] is not None

    nightly = await _service(tmp_path, panel, _origin_day(panel), may_compute=False).forecast(SCHOOLS, None)
    computing = _service(tmp_path, panel, _origin_day(panel), may_compute=True)
    with_rain = await computing.forecast(SCHOOLS, [5.0] * 7)  # the files assume no rain forecast
    computing._nightly_files = NightlyForecasts(tmp_path / "elsewhere")
    computed = await computing.forecast(SCHOOLS, None)

    assert nightly["source"] == "nightly" and computed["source"] == with_rain["source"] == "computed"
    assert nightly["origin"] == computed["origin"] and nightly["model"] == computed["model"]
    assert [s["school_id"] for s in nightly["schools"]] == [f"{int(panel.school_id[i]):011d}" for i in SCHOOLS]
    assert nightly["schools"] == computed["schools"] and nightly["total"] == computed["total"]


async def test_files_of_another_day_or_model_are_not_used(tmp_path, panel) -> None:
    _serve(tmp_path, panel)
    forecast_every_school_served(tmp_path, panel)

    next_day = _service(tmp_path, panel, _origin_day(panel) + 1, may_compute=True)
    assert (await next_day.forecast(SCHOOLS, None))["source"] == "computed"

    _serve(tmp_path, panel, "gbm", wape=0.05)  # a better forecaster served since the night
    same_day = _service(tmp_path, panel, _origin_day(panel), may_compute=True)
    assert (await same_day.forecast(SCHOOLS, None))["source"] == "computed"


async def test_without_nightly_files_forecasts_are_computed(tmp_path, panel) -> None:
    _serve(tmp_path, panel)
    service = _service(tmp_path, panel, _origin_day(panel), may_compute=True)
    assert latest_forecasts(tmp_path) is None
    assert (await service.forecast(SCHOOLS, None))["source"] == "computed"


def test_the_reader_takes_the_parts_holding_the_schools_in_the_order_asked(tmp_path, panel) -> None:
    from ml.forecast_all import forecast_every_school

    forecaster = DemandForecaster("seasonal_naive").fit(panel)
    forecast_every_school(forecaster, panel.schools, panel.n_schools, tmp_path, chunk_schools=7, model_version="v9")
    whole = forecaster.forecast(panel)
    asked = np.array([39, 2, 15, 8, 2])
    reader = NightlyForecasts(tmp_path, parts_kept=2)

    found = reader.of(asked, panel.school_id[asked], str(panel.dates[-1]), "v9")

    assert np.array_equal(found["school_id"], panel.school_id[asked])
    np.testing.assert_allclose(found["p50"], whole.p50[asked], rtol=1e-6)
    assert reader.of(asked, panel.school_id[asked], str(panel.dates[-1]), "v8") is None
    assert reader.of(asked, panel.school_id[asked][::-1], str(panel.dates[-1]), "v9") is None  # another order of schools
    assert reader.of(np.array([40]), panel.school_id[:1], str(panel.dates[-1]), "v9") is None  # beyond the files
