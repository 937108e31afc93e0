"""Every school's forecast in chunks: the same figures as all at once, written whole or not at all."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ml.forecast_all import DONE_FILE, forecast_every_school, latest_forecasts, read_forecasts
from ml.forecaster import DemandForecaster
from tests.ml.forecast_fixtures import build_panel


@pytest.fixture(scope="module")
def panel():  # noqa: ANN201
    return build_panel(n_schools=60, n_days=120)


@pytest.mark.parametrize("kind", ["gbm", "seasonal_naive"])
def test_chunks_give_the_figures_of_all_schools_at_once(panel, tmp_path, kind) -> None:  # noqa: ANN001
    forecaster = DemandForecaster(kind).fit(panel)
    whole = forecaster.forecast(panel)

    made = forecast_every_school(forecaster, panel.schools, panel.n_schools, tmp_path, chunk_schools=25)

    assert made["chunks"] == 3 and made["schools"] == 60  # 25 + 25 + 10
    written = read_forecasts(latest_forecasts(tmp_path))
    assert np.array_equal(written["school_id"], panel.school_id)
    assert np.array_equal(written["dates"], whole.dates)
    for q in ("p10", "p50", "p90"):
        np.testing.assert_allclose(written[q], getattr(whole, q), rtol=1e-6)
    assert json.loads((latest_forecasts(tmp_path) / DONE_FILE).read_text())["origin"] == str(panel.dates[-1])


def test_an_origin_without_its_done_file_is_not_read(panel, tmp_path) -> None:  # noqa: ANN001
    forecaster = DemandForecaster("seasonal_naive").fit(panel)
    forecast_every_school(forecaster, panel.schools, panel.n_schools, tmp_path, chunk_schools=30)
    first = latest_forecasts(tmp_path)
    later = first.parent / "9999-12-31"
    later.mkdir()
    (later / "part-00000.npz").write_bytes(b"half written")

    assert latest_forecasts(tmp_path) == first


def test_only_the_latest_origins_are_kept(panel, tmp_path) -> None:  # noqa: ANN001
    forecaster = DemandForecaster("seasonal_naive").fit(panel)
    for last in (90, 100, 110):
        upto = panel.days(panel.dates[0], panel.dates[last])
        forecast_every_school(forecaster, upto.schools, upto.n_schools, tmp_path, chunk_schools=30, keep=2)

    kept = sorted(p.name for p in (tmp_path / "forecasts").iterdir())
    assert kept == [str(panel.dates[99]), str(panel.dates[109])]


def test_chunks_must_end_on_the_same_day(panel, tmp_path) -> None:  # noqa: ANN001
    forecaster = DemandForecaster("seasonal_naive").fit(panel)

    def panel_of(columns: np.ndarray):  # noqa: ANN202 - the second chunk a day short
        part = panel.schools(columns)
        return part if columns[0] == 0 else part.days(part.dates[0], part.dates[-1])

    with pytest.raises(ValueError, match="must share their days"):
        forecast_every_school(forecaster, panel_of, panel.n_schools, tmp_path, chunk_schools=30)


def test_no_schools_is_an_error(panel, tmp_path) -> None:  # noqa: ANN001
    forecaster = DemandForecaster("seasonal_naive").fit(panel)
    with pytest.raises(ValueError, match="no schools"):
        forecast_every_school(forecaster, panel.schools, 0, tmp_path)
