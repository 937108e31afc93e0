"""The synthetic school generator: coverage of the state's geography, valid codes, realistic mix."""

from __future__ import annotations

import numpy as np
import pytest

from simulation.synthetic_schools import generate_schools
from twin import geography
from twin.directory import BlockTable


@pytest.fixture(scope="module")
def schools():
    return generate_schools(2_000, seed=7)


def _same(a, b) -> bool:
    """Field-by-field equality of two tables (arrays compared by value)."""
    for f in a.__dataclass_fields__:
        x, y = getattr(a, f), getattr(b, f)
        if not (np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y):
            return False
    return True


def test_same_seed_same_table_and_different_seed_differs(schools):
    assert _same(schools, generate_schools(2_000, seed=7))
    other = generate_schools(2_000, seed=8)
    assert not np.array_equal(schools.enrolment, other.enrolment)
    assert not np.array_equal(schools.latitude, other.latitude)


def test_every_district_and_block_has_schools(schools):
    blocks = BlockTable.from_geography()
    assert len(schools) == 2_000
    assert set(np.unique(schools.district)) == set(range(len(geography.districts())))
    assert np.bincount(schools.block, minlength=len(blocks)).min() >= 1
    # A school's district is its block's district.
    assert np.array_equal(schools.district, blocks.district[schools.block])


def test_codes_are_unique_11_digit_state_codes_that_embed_district_and_block(schools):
    codes = [str(u) for u in schools.udise]
    assert all(len(c) == 11 and c.startswith("33") for c in codes)
    assert len(set(codes)) == len(codes)
    district_codes = np.array([geography.districts()[d].code for d in schools.district])
    assert np.array_equal(schools.udise // 10**7 % 100, district_codes)
    first_block = np.array([np.flatnonzero(BlockTable.from_geography().district == d)[0] for d in schools.district])
    assert np.array_equal(schools.udise // 10**5 % 100, schools.block - first_block + 1)


def test_rows_are_sorted_by_district_block_and_code(schools):
    order = np.lexsort((schools.udise, schools.block, schools.district))
    assert np.array_equal(order, np.arange(len(schools)))


def test_coordinates_inside_the_state_and_near_the_district(schools):
    assert schools.latitude.min() >= geography.LAT_RANGE[0] and schools.latitude.max() <= geography.LAT_RANGE[1]
    assert schools.longitude.min() >= geography.LON_RANGE[0] and schools.longitude.max() <= geography.LON_RANGE[1]
    hq = np.array([(d.hq_lat, d.hq_lon) for d in geography.districts()])[schools.district]
    km = np.hypot(schools.latitude - hq[:, 0], schools.longitude - hq[:, 1]) * 111
    assert np.median(km) < 40 and km.max() < 120


def test_class_bands_capacity_hostels_breakfast_and_depots(schools):
    e = schools.enrolment
    primary_only = (e[:, 0] > 0) & (e[:, 1] == 0) & (e[:, 2] == 0)
    assert 0.45 < primary_only.mean() < 0.65
    assert 0.12 < (e[:, 2] > 0).mean() < 0.28
    assert np.all(schools.capacity >= e.sum(axis=1))
    assert 0.01 < schools.has_hostel.mean() < 0.06
    assert np.all(e[schools.breakfast_scheme, 0] > 0)  # breakfast only where there are classes 1-5
    assert 0.78 < schools.breakfast_scheme.mean() < 0.92
    # One depot per block, named after district code and block number.
    pairs = set(zip(schools.block.tolist(), schools.depot_id))
    assert len(pairs) == len(set(schools.block.tolist())) == len(set(schools.depot_id))
    assert schools.depot_id[0] == "DEPOT-01-01"


def test_names_follow_the_class_bands(schools):
    for name, e in zip(schools.name, schools.enrolment):
        if "Primary School" in name:
            assert e[1] == e[2] == 0
        elif "High School" in name or "Higher Secondary" in name:
            assert e[1] + e[2] > 0 and e[0] >= 0


def test_enrolment_long_tailed_with_mean_near_100_and_chennai_share():
    big = generate_schools(20_000, seed=1)
    total = big.enrolment.sum(axis=1)
    assert 90 < total.mean() < 110
    assert total.min() >= 5 and total.max() > 1_000
    assert np.median(total) < total.mean()  # long tail
    chennai = big.district == geography.district_index("Chennai")
    assert 500 < chennai.sum() < 720  # ~1,300 at 43k


def test_too_few_schools_for_the_blocks_is_an_error():
    with pytest.raises(ValueError):
        generate_schools(100)


def test_india_scale_codes_stay_unique_and_tiles_keep_the_state_density_and_depot_size():
    huge = generate_schools(1_080_000, seed=0)
    assert len(huge) == 1_080_000
    assert np.unique(huge.udise).shape[0] == len(huge)
    assert huge.udise.min() >= 33 * 10**9 and huge.udise.max() < 34 * 10**9
    # 25 state-sized tiles over about India's extent, one of them the state's own box
    assert 8.0 <= huge.latitude.min() and huge.latitude.max() <= 37.0
    assert 68.0 <= huge.longitude.min() and huge.longitude.max() <= 90.0
    in_state = ((huge.latitude <= geography.LAT_RANGE[1]) & (huge.longitude >= geography.LON_RANGE[0])
                & (huge.longitude <= geography.LON_RANGE[1]))
    assert abs(in_state.mean() - 1 / 25) < 0.002
    # a depot per block and tile, serving about as many schools as a state-scale block depot
    depots, size = np.unique(np.array(huge.depot_id), return_counts=True)
    assert len(depots) == 25 * len(set(huge.block.tolist()))
    assert 90 <= np.median(size) <= 130
    first_block = huge.block == 0
    assert {d.rsplit("-", 1)[0] for d, b in zip(huge.depot_id, first_block) if b} == {"DEPOT-01-01"}
