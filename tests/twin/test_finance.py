"""Finance: the norms table, entitlement, the funds roll-up and the release rules, checked against
hand-worked figures and the slow references in tests/naive.py."""

import copy
import datetime as dt
from importlib import resources

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.naive import (
    naive_burn_rate,
    naive_cook_helpers,
    naive_days_to_reach,
    naive_entitlement,
    naive_funds_rollup,
    naive_release_refusals,
)
from twin import calendar
from twin.errors import InvalidInput
from twin.finance import (
    POLICIES,
    cook_helpers,
    entitlement,
    financial_year,
    financial_year_bounds,
    financial_year_entitlement,
    load_finance_norms,
    parse_finance_norms,
    rollup_funds,
    school_days,
)
from twin.norms import COST_NORMS, LEGACY_ALLOCATION_INR_PER_CHILD_YEAR
from twin.release_rules import (
    NEVER,
    Refusal,
    burn_rate_inr_per_school_day,
    check_release,
    day_index_dates,
    project_balance,
)

NORMS = load_finance_norms()
RAW = yaml.safe_load(resources.files("twin").joinpath("data/finance_norms.yaml").read_text())
D = dt.date


# -- the norms table ------------------------------------------------------------------------------
def test_the_shipped_table_holds_the_published_norms():
    assert NORMS.effective_from[1:] == (D(2024, 12, 1), D(2025, 5, 1))
    np.testing.assert_array_equal(NORMS.material_inr_per_child_day[:, :2], [[5.45, 8.17], [6.19, 9.29], [6.78, 10.17]])
    # classes 9-10 are costed at the upper-primary rate and paid by the State alone
    np.testing.assert_array_equal(NORMS.material_inr_per_child_day[:, 2], NORMS.material_inr_per_child_day[:, 1])
    np.testing.assert_array_equal(NORMS.shared_band, [[True, True, False]] * 3)
    np.testing.assert_array_equal(NORMS.centre_share_by_band, [[0.6, 0.6, 0.0]] * 3)
    np.testing.assert_array_equal(NORMS.grain_g_per_child_day[:, :2], [[100, 150]] * 3)
    np.testing.assert_array_equal(NORMS.honorarium_inr_per_cook_year, [10_000] * 3)
    np.testing.assert_array_equal(NORMS.staffing, [[25, 100, 100]] * 3)
    np.testing.assert_array_equal(NORMS.mme_share, [0.03] * 3)
    assert NORMS.legacy_inr_per_child_year == 1496 == LEGACY_ALLOCATION_INR_PER_CHILD_YEAR
    assert POLICIES[0] == "norms"


def test_the_table_agrees_with_the_kernels_cost_table():
    assert NORMS.effective_from == tuple(d for d, _ in COST_NORMS)
    np.testing.assert_array_equal(NORMS.material_inr_per_child_day, [r for _, r in COST_NORMS])


def test_a_table_loads_from_a_file(tmp_path):
    path = tmp_path / "norms.yaml"
    path.write_text(yaml.safe_dump(RAW))
    assert load_finance_norms(path).effective_from == NORMS.effective_from


def _broken(change):
    raw = copy.deepcopy(RAW)
    change(raw)
    return raw


@pytest.mark.parametrize("change", [
    lambda r: r["periods"][2].update(effective_from=D(2024, 12, 1)),  # not after the one before
    lambda r: r["periods"][1].update(effective_from=D(2019, 1, 1)),  # goes backwards
    lambda r: r["periods"][0].update(state_share=0.5),  # 0.6 + 0.5
    lambda r: r["periods"][0]["material_inr_per_child_day"].update(primary=-1),
    lambda r: r["periods"][1]["material_inr_per_child_day"].update(secondary=0),
    lambda r: r["periods"][0]["grain_g_per_child_day"].pop("primary"),
    lambda r: r["periods"][0].pop("mme_share_of_components"),
    lambda r: r["periods"][0].update(state_only_bands=["secondary", "primary"]),
    lambda r: r["periods"][0].update(cook_honorarium_inr_per_month=0),
    lambda r: r["periods"][0]["cook_staffing"].update(two_cooks_up_to=20),
    lambda r: r.pop("legacy_flat"),
    lambda r: r.update(periods=[]),
    lambda r: r.update(bands=["primary", "upper_primary"]),
], ids=["same-date", "backwards", "shares", "negative-rate", "zero-rate", "missing-band", "missing-key",
        "band-twice", "no-honorarium", "staffing", "no-legacy", "empty", "bands"])
def test_an_invalid_table_is_refused_with_a_clear_error(change):
    with pytest.raises(InvalidInput, match="finance norms"):
        parse_finance_norms(_broken(change))


def test_a_date_before_the_table_is_refused():
    assert NORMS.period_index(D(2024, 11, 30)) == 0
    assert NORMS.period_index(D(2024, 12, 1)) == 1
    assert NORMS.period_index(D(2031, 1, 1)) == 2
    with pytest.raises(InvalidInput, match="no cost norm in force on 2020-03-31"):
        NORMS.period_index(D(2020, 3, 31))
    with pytest.raises(InvalidInput):
        entitlement(np.ones((1, 3)), D(2020, 3, 31), np.ones(5, bool))
    with pytest.raises(InvalidInput):
        financial_year_entitlement(np.ones((1, 3)), 2019)


# -- the financial year and the staffing rule ---------------------------------------------------
def test_financial_year():
    assert financial_year(D(2025, 3, 31)) == 2024
    assert financial_year(D(2025, 4, 1)) == 2025
    assert financial_year_bounds(2024) == (D(2024, 4, 1), D(2025, 3, 31))
    days = school_days(*financial_year_bounds(2024))
    assert days.shape == (365,) and days.dtype == bool
    assert days.sum() == sum(calendar.is_school_day(D(2024, 4, 1) + dt.timedelta(days=i)) for i in range(365))


def test_cook_helpers_follow_the_staffing_rule():
    children = np.arange(0, 1001)
    expected = [naive_cook_helpers(c) for c in children]
    np.testing.assert_array_equal(cook_helpers(children), expected)
    assert [naive_cook_helpers(c) for c in (0, 1, 25, 26, 100, 101, 200, 201)] == [0, 1, 1, 2, 2, 3, 3, 4]


# -- entitlement ----------------------------------------------------------------------------------
def test_one_school_day_by_hand():
    # 100 primary, 10 upper primary, 0 secondary on 1 May 2025 (the day the 2025 rates start)
    e = entitlement(np.array([[100, 10, 0]]), D(2025, 5, 1), np.array([True]))
    np.testing.assert_allclose(e.material_inr, [[678.0, 101.7, 0.0]])
    honorarium = 3 * 10_000 / 365  # 110 children: 3 cooks, one day of a 365-day year
    np.testing.assert_allclose(e.honorarium_inr, [honorarium])
    np.testing.assert_allclose(e.mme_inr, [0.03 * (779.7 + honorarium)])
    np.testing.assert_allclose(e.total_inr, [1.03 * (779.7 + honorarium)])
    np.testing.assert_allclose(e.centre_inr, 0.6 * e.total_inr)
    np.testing.assert_allclose(e.grain_kg, [[10.0, 1.5, 0.0]])


def test_a_whole_year_pays_ten_months_of_honorarium_and_the_state_pays_classes_9_10():
    no_school = np.zeros(366, bool)  # FY 2023-24 holds 29 Feb 2024
    e = financial_year_entitlement(np.array([[20, 0, 0], [0, 0, 40], [20, 0, 20]]), 2023, no_school)
    np.testing.assert_allclose(e.material_inr, 0)
    np.testing.assert_allclose(e.honorarium_inr, [10_000, 20_000, 20_000])
    np.testing.assert_allclose(e.mme_inr, [300, 600, 600])
    # the third centre needs 2 cooks for 40 children but 1 for its 20 primary: the second is the State's
    np.testing.assert_allclose(e.centre_inr, [6_180, 0, 6_180])
    np.testing.assert_allclose(e.state_inr, [4_120, 20_600, 14_420])


def test_a_year_spanning_a_revision_uses_the_rate_in_force_each_day():
    first, last = financial_year_bounds(2024)
    days = school_days(first, last)
    before = days[: (D(2024, 12, 1) - first).days].sum()
    after = days.sum() - before
    e = financial_year_entitlement(np.array([[1, 1, 1]]), 2024)
    np.testing.assert_allclose(e.material_inr, [[5.45 * before + 6.19 * after, 8.17 * before + 9.29 * after,
                                                 8.17 * before + 9.29 * after]])


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("fy", [2024, 2025])
def test_entitlement_matches_the_naive_reference(policy, fy):
    rng = np.random.default_rng(fy)
    enrolment = rng.integers(0, 400, size=(6, 3))
    enrolment[0] = 0
    enrolment[1, :2] = 0  # classes 9-10 only
    school_day = rng.random(365) < 0.6
    e = financial_year_entitlement(enrolment, fy, school_day, policy=policy)
    expected = naive_entitlement(enrolment, financial_year_bounds(fy)[0], school_day, NORMS, policy)
    for key, value in expected.items():
        np.testing.assert_allclose(getattr(e, key), value, rtol=1e-10, atol=1e-6, err_msg=key)


def test_legacy_flat_is_the_flat_allowance_and_never_the_default():
    enrolment = np.array([[100, 50, 30]])
    legacy = financial_year_entitlement(enrolment, 2025, policy="legacy_flat")
    np.testing.assert_allclose(legacy.total_inr, [1496 * 180])
    np.testing.assert_allclose(legacy.honorarium_inr + legacy.mme_inr, 0)
    default = financial_year_entitlement(enrolment, 2025)
    assert not np.allclose(default.total_inr, legacy.total_inr)
    with pytest.raises(InvalidInput, match="unknown policy"):
        financial_year_entitlement(enrolment, 2025, policy="flat")


@pytest.mark.parametrize("bad", [np.ones((2, 2)), np.ones(3), -np.ones((1, 3)), np.full((1, 3), np.nan)])
def test_entitlement_refuses_bad_enrolment(bad):
    with pytest.raises(InvalidInput):
        financial_year_entitlement(bad, 2025)


def test_entitlement_refuses_a_calendar_of_the_wrong_length():
    with pytest.raises(InvalidInput):
        financial_year_entitlement(np.ones((1, 3)), 2025, np.ones(366, bool))
    with pytest.raises(InvalidInput):
        entitlement(np.ones((1, 3)), D(2025, 4, 1), np.ones(10))  # not bool


@settings(max_examples=60, deadline=None)
@given(
    enrolment=st.lists(st.tuples(*[st.integers(0, 500)] * 3), min_size=1, max_size=5),
    start=st.integers(0, 3 * 365),
    length=st.integers(1, 500),
    cut=st.floats(0, 1),
    policy=st.sampled_from(POLICIES),
    seed=st.integers(0, 2**16),
)
def test_entitlement_of_a_span_is_the_sum_of_its_parts(enrolment, start, length, cut, policy, seed):
    """Split anywhere (across a revision or a financial year's end), the parts add up to the whole."""
    first = D(2023, 1, 1) + dt.timedelta(days=start)
    school_day = np.random.default_rng(seed).random(length) < 0.6
    k = int(cut * length)
    enrolment = np.array(enrolment)
    whole = entitlement(enrolment, first, school_day, policy=policy)
    a = entitlement(enrolment, first, school_day[:k], policy=policy)
    b = entitlement(enrolment, first + dt.timedelta(days=k), school_day[k:], policy=policy)
    for key in ("material_inr", "honorarium_inr", "mme_inr", "total_inr", "centre_inr", "state_inr", "grain_kg"):
        np.testing.assert_allclose(getattr(a, key) + getattr(b, key), getattr(whole, key), rtol=1e-9, atol=1e-6,
                                   err_msg=key)
    np.testing.assert_allclose(whole.centre_inr + whole.state_inr, whole.total_inr, rtol=1e-12)
    assert np.all(whole.centre_inr >= -1e-9) and np.all(whole.state_inr >= -1e-9)


def test_a_year_split_at_the_revision_equals_its_parts():
    first, last = financial_year_bounds(2025)
    days = school_days(first, last)
    enrolment = np.array([[120, 80, 60], [10, 0, 5]])
    cut = (D(2025, 5, 1) - first).days
    whole = financial_year_entitlement(enrolment, 2025)
    a = entitlement(enrolment, first, days[:cut])
    b = entitlement(enrolment, D(2025, 5, 1), days[cut:])
    np.testing.assert_allclose(a.total_inr + b.total_inr, whole.total_inr, rtol=1e-12)
    np.testing.assert_allclose(b.material_inr[:, 0], 6.78 * days[cut:].sum() * enrolment[:, 0])


# -- the funds roll-up ----------------------------------------------------------------------------
def _areas(seed, n=300, nb=12, nd=4):
    rng = np.random.default_rng(seed)
    block_district = rng.integers(0, nd, nb)
    school_block = rng.integers(0, nb - 1, n)  # the last block has no school
    released = rng.integers(0, 100_000, n).astype(float)
    utilised = released * rng.random(n) * 1.1
    return school_block, block_district, released, utilised, nd


@pytest.mark.parametrize("seed", range(3))
def test_rollup_matches_the_naive_reference(seed):
    school_block, block_district, released, utilised, nd = _areas(seed)
    got = rollup_funds(school_block, block_district, released, utilised, n_districts=nd)
    blocks, districts = naive_funds_rollup(school_block, block_district, released, utilised, nd)
    np.testing.assert_allclose(got.block_inr, blocks, atol=1e-6)
    np.testing.assert_allclose(got.district_inr, districts, atol=1e-6)
    np.testing.assert_array_equal(got.block_inr[-1], 0)


@settings(max_examples=50, deadline=None)
@given(
    rows=st.lists(st.tuples(st.integers(0, 7), st.integers(0, 10**7), st.integers(0, 10**7)), max_size=60),
    block_district=st.lists(st.integers(0, 2), min_size=8, max_size=8),
)
def test_rollup_conserves_money(rows, block_district):
    school_block = np.array([r[0] for r in rows], np.int64)
    released = np.array([r[1] for r in rows], float)
    utilised = np.array([r[2] for r in rows], float)
    got = rollup_funds(school_block, np.array(block_district), released, utilised, n_districts=3)
    for level in (got.block_inr, got.district_inr):
        np.testing.assert_array_equal(level.sum(axis=0)[:2], [released.sum(), utilised.sum()])
        np.testing.assert_array_equal(level[:, 2], level[:, 0] - level[:, 1])
    np.testing.assert_array_equal(got.district_inr.sum(axis=0), got.block_inr.sum(axis=0))


def test_rollup_refuses_an_index_out_of_range():
    with pytest.raises(InvalidInput):
        rollup_funds(np.array([0, 3]), np.array([0, 0, 1]), np.ones(2), np.ones(2))
    with pytest.raises(InvalidInput):
        rollup_funds(np.array([0, 1]), np.array([0, 2]), np.ones(2), np.ones(2), n_districts=2)
    with pytest.raises(InvalidInput):
        rollup_funds(np.array([0, 1]), np.array([0, 1]), np.ones(2), np.ones(3))


# -- release rules --------------------------------------------------------------------------------
def test_release_rules_by_hand():
    # allocation 1,000 (600 Centre + 400 State): instalments of up to 250, split 150:100
    ones = np.ones(6)
    check = check_release(
        600 * ones, 400 * ones,
        released_inr=np.array([0, 250, 250, 250, 750, 0]),
        utilised_inr=np.array([0, 190, 180, 190, 600, 0]),
        proposed_centre_inr=np.array([150, 150, 150, 150, 180, 250]),
        proposed_state_inr=np.array([100, 100, 100, 0, 120, 0]),
    )
    np.testing.assert_array_equal(check.allowed, [True, True, False, False, False, False])
    assert check.reasons(0) == []
    assert check.refusals[2] == Refusal.EARLIER_UNDERUSED  # 180 < 187.5
    assert check.refusals[3] == Refusal.SHARES_APART  # the Centre's part alone
    assert check.refusals[4] == Refusal.OVER_INSTALMENT_CAP | Refusal.OVER_ALLOCATION
    assert check.refusals[5] == Refusal.SHARES_APART
    assert check.reasons(2) == ["less than 75% of the earlier releases is utilised"]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(*[st.integers(0, 2_000)] * 4, st.integers(-50, 600), st.integers(-50, 400)),
                min_size=1, max_size=20))
def test_release_rules_match_the_naive_reference(rows):
    cols = [np.array(c, float) for c in zip(*rows)]
    check = check_release(*cols)
    expected = naive_release_refusals(*[c.tolist() for c in cols])
    for i, broken in enumerate(expected):
        assert {f.name for f in Refusal if check.refusals[i] & f} == broken
        assert check.allowed[i] == (not broken)


def test_projection_by_hand():
    p = project_balance(np.array([1000.0, 1000, 1000, 0, 1000]), np.array([0.0, 700, 100, 0, 800]),
                        np.array([10.0, 100, 0, 0, 1]), 30)
    np.testing.assert_array_equal(p.balance_inr, [1000, 300, 900, 0, 200])
    np.testing.assert_array_equal(p.days_to_utilisation_rule, [75, 1, NEVER, 0, 0])
    np.testing.assert_array_equal(p.days_to_exhaustion, [100, 3, NEVER, 0, 200])
    np.testing.assert_array_equal(p.misses_utilisation_rule, [True, False, True, False, False])
    np.testing.assert_array_equal(p.exhausts_balance, [False, True, False, True, False])
    np.testing.assert_array_equal(p.flag_day, [30, 3, 30, 0, NEVER])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 12_000), st.integers(0, 500), st.integers(0, 60)),
                min_size=1, max_size=20))
def test_projection_matches_counting_day_by_day(rows):
    released, utilised, burn, horizon = (np.array(c) for c in zip(*rows))
    p = project_balance(released.astype(float), utilised.astype(float), burn.astype(float), horizon)
    for i in range(len(rows)):
        to_rule = naive_days_to_reach(utilised[i], 0.75 * released[i], burn[i])
        to_end = naive_days_to_reach(utilised[i], released[i], burn[i])
        assert p.days_to_utilisation_rule[i] == to_rule
        assert p.days_to_exhaustion[i] == to_end
        exhausts = 0 <= to_end <= horizon[i]
        misses = to_rule < 0 or to_rule > horizon[i]
        assert p.exhausts_balance[i] == exhausts and p.misses_utilisation_rule[i] == misses
        assert p.flag_day[i] == (to_end if exhausts else horizon[i] if misses else NEVER)


def test_burn_rate_matches_the_naive_reference():
    rng = np.random.default_rng(4)
    spent = rng.integers(0, 5_000, size=(5, 40)).astype(float)
    school_day = rng.random(40) < 0.7
    for window in (1, 20, 100):
        np.testing.assert_allclose(burn_rate_inr_per_school_day(spent, school_day, window),
                                   naive_burn_rate(spent, school_day, window))
    np.testing.assert_array_equal(burn_rate_inr_per_school_day(spent, np.zeros(40, bool)), 0)


def test_day_indices_become_school_dates():
    today = D(2025, 7, 4)  # a Friday
    dates = day_index_dates(np.array([0, 1, 2, NEVER]), today)
    assert dates[0] == np.datetime64("2025-07-04") and np.isnat(dates[3])
    assert dates[1] == np.datetime64(calendar.next_school_day(today))
    assert dates[2] == np.datetime64(calendar.next_school_day(calendar.next_school_day(today)))
    assert dates[1].astype(object).weekday() < 5
