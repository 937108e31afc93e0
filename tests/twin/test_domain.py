"""Geography, norms, calendar and placement."""

import datetime as dt

import numpy as np

from twin import calendar, geography, norms
from twin.placement import pack_districts, shard_of_district


def test_all_districts_and_blocks():
    districts = geography.districts()
    assert len(districts) == 38
    assert sum(len(d.blocks) for d in districts) == 388 + len(geography.CHENNAI_ZONES)
    for d in districts:
        assert geography.LAT_RANGE[0] <= d.hq_lat <= geography.LAT_RANGE[1]
        assert geography.LON_RANGE[0] <= d.hq_lon <= geography.LON_RANGE[1]
    assert geography.district_index("  chennai ") == geography.district_names().index("Chennai")


def test_cost_norms_follow_their_dates():
    assert norms.cost_per_meal(dt.date(2024, 11, 30)) == (5.45, 8.17, 8.17)
    assert norms.cost_per_meal(dt.date(2024, 12, 1))[0] == 6.19
    assert norms.cost_per_meal(dt.date(2025, 6, 1))[1] == 10.17
    legacy = norms.annual_allocation_inr(np.array([[50, 30, 0]]), dt.date(2025, 6, 1), rule="legacy")
    assert legacy[0] == 80 * 1496
    banded = norms.annual_allocation_inr(np.array([[50, 30, 0]]), dt.date(2025, 6, 1))
    assert banded[0] == (50 * 6.78 + 30 * 10.17) * 220


def test_calendar_has_the_tn_pattern():
    assert calendar.day_kind(dt.date(2025, 7, 1)) == calendar.DayKind.SCHOOL_DAY
    assert calendar.day_kind(dt.date(2025, 7, 6)) == calendar.DayKind.WEEKEND  # Sunday
    assert calendar.day_kind(dt.date(2025, 5, 10)) == calendar.DayKind.VACATION
    assert calendar.day_kind(dt.date(2026, 1, 15)) == calendar.DayKind.HOLIDAY  # Pongal
    assert calendar.day_kind(dt.date(2025, 12, 15)) == calendar.DayKind.EXAM_DAY
    school_days = sum(calendar.is_school_day(dt.date(2025, 6, 1) + dt.timedelta(days=k)) for k in range(365))
    assert 200 <= school_days <= 225  # TN: about 210-220 working days


def test_packing_balances_schools():
    rng = np.random.default_rng(0)
    district = rng.integers(0, 38, 40_000)
    placement = pack_districts(district, 38, 4)
    assert sorted(d for p in placement for d in p) == list(range(38))
    loads = [np.isin(district, p).sum() for p in placement]
    # greedy packing keeps every shard within one district's size of the others
    assert max(loads) - min(loads) <= np.bincount(district).max()
    assert list(shard_of_district(placement, 38)[placement[2]]) == [2] * len(placement[2])
    assert pack_districts(district, 38, 38) == [[d] for d in range(38)]
