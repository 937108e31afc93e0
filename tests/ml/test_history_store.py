"""The history store: round trip, range and district loads, idempotent appends."""

from __future__ import annotations

import numpy as np
import pytest

from ml import history_store as store
from ml.panel import SCHOOL_DAY_FIELDS, Panel


@pytest.fixture(scope="module")
def panel() -> Panel:
    return Panel.synthetic(60, 75, seed=5)  # 2023-06-01 .. 2023-08-14: three months, the last partial


def _write(root, panel: Panel) -> None:
    store.write_schools(root, panel, {"seed": 5})
    for key in sorted({store.month_key(d) for d in panel.dates}):
        lo = np.datetime64(key, "M").astype("datetime64[D]")
        store.write_month(root, panel.days(lo, (np.datetime64(key, "M") + 1).astype("datetime64[D]")))


def _assert_same(a: Panel, b: Panel) -> None:
    for name in ("dates", "school_id", "district", "block", "day_kind", "rainfall_mm", *SCHOOL_DAY_FIELDS):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
        assert getattr(a, name).dtype == getattr(b, name).dtype, name


def test_round_trip_keeps_every_field(tmp_path, panel):
    _write(tmp_path, panel)
    assert store.months(tmp_path) == ["2023-06", "2023-07", "2023-08"]
    _assert_same(store.load_panel(tmp_path), panel)
    info = store.describe(tmp_path)
    assert info["rows"] == panel.n_days * panel.n_schools and info["schools"] == 60
    assert (info["first_day"], info["last_day"]) == ("2023-06-01", "2023-08-14")
    assert info["meta"] == {"seed": 5}


def test_loads_a_date_range_and_districts(tmp_path, panel):
    _write(tmp_path, panel)
    part = store.load_panel(tmp_path, np.datetime64("2023-06-20"), np.datetime64("2023-07-10"), districts=[0, 5])
    cols = np.flatnonzero(np.isin(panel.district, [0, 5]))
    assert cols.size > 0
    _assert_same(part, panel.days("2023-06-20", "2023-07-10").schools(cols))


def test_append_replaces_days_and_is_idempotent(tmp_path, panel):
    _write(tmp_path, panel.days("2023-06-01", "2023-07-20"))
    tail = panel.days("2023-07-15", "2023-08-15")  # overlaps five stored days
    store.append_days(tmp_path, tail)
    once = {p.name: p.read_bytes() for p in (tmp_path / "history").glob("*.npz")}
    _assert_same(store.load_panel(tmp_path), panel)
    store.append_days(tmp_path, tail)
    assert {p.name: p.read_bytes() for p in (tmp_path / "history").glob("*.npz")} == once
    _assert_same(store.load_panel(tmp_path), panel)


def test_refuses_a_different_set_of_schools(tmp_path, panel):
    _write(tmp_path, panel.days("2023-06-01", "2023-07-01"))
    with pytest.raises(ValueError, match="schools"):
        store.append_days(tmp_path, panel.days("2023-07-01", "2023-07-05").schools(np.arange(10)))
