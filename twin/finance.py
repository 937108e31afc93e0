"""Money math of the noon-meal programme: the versioned cost-norm table, the financial year, each
school's entitlement over a span of days, and the roll-up of school funds into blocks and districts.

The norms are data (`twin/data/finance_norms.yaml`), one complete entry per revision with the date
it takes effect. Bands follow `twin.norms.BANDS` (primary, upper_primary, secondary); every amount
is in rupees (INR), every array float64 unless stated. The release rules live in `twin.release_rules`.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

from twin import calendar
from twin.errors import InvalidInput
from twin.norms import BANDS

POLICIES = ("norms", "legacy_flat")  # "norms" is the default; "legacy_flat" the original backend's rule
FUNDS_COLUMNS = ("released_inr", "utilised_inr", "balance_inr")
_PERIOD_KEYS = ("effective_from", "material_inr_per_child_day", "grain_g_per_child_day", "shared_bands",
                "state_only_bands", "centre_share", "state_share", "cook_honorarium_inr_per_month",
                "cook_paid_months_per_year", "cook_staffing", "mme_share_of_components")
_STAFFING_KEYS = ("one_cook_up_to", "two_cooks_up_to", "children_per_further_cook")


@dataclass(frozen=True)
class FinanceNorms:
    """The cost-norm table: k revisions in ascending date order, bands in `BANDS` order."""

    version: str
    effective_from: tuple[dt.date, ...]  # [k], strictly ascending
    material_inr_per_child_day: np.ndarray  # [k, 3]
    grain_g_per_child_day: np.ndarray  # [k, 3]
    shared_band: np.ndarray  # bool [k, 3]: Centre and State share it; False = the State's alone
    centre_share: np.ndarray  # [k]: the Centre's share of the shared bands' costs (0.6)
    honorarium_inr_per_cook_year: np.ndarray  # [k]: monthly honorarium x paid months
    staffing: np.ndarray  # [k, 3]: one cook up to, two cooks up to, children per further cook
    mme_share: np.ndarray  # [k]: MME as a share of the costed components (0.03)
    legacy_inr_per_child_year: float

    def __len__(self) -> int:
        return len(self.effective_from)

    @property
    def effective_day(self) -> np.ndarray:
        """datetime64[D] [k]: the effective-from dates."""
        return np.array(self.effective_from, dtype="datetime64[D]")

    @property
    def centre_share_by_band(self) -> np.ndarray:
        """[k, 3]: the Centre's share of each band's cost (0 for State-only bands)."""
        return self.shared_band * self.centre_share[:, None]

    def period_index(self, d: dt.date) -> int:
        """Row of the table in force on `d`; InvalidInput before the first entry."""
        if d < self.effective_from[0]:
            raise InvalidInput(f"no cost norm in force on {d.isoformat()}: the table starts on "
                               f"{self.effective_from[0].isoformat()}", {"date": d.isoformat()})
        return sum(1 for start in self.effective_from if start <= d) - 1


def _bad(message: str, **details: object) -> InvalidInput:
    return InvalidInput(f"finance norms: {message}", dict(details))


def _by_band(entry: dict, key: str, i: int) -> list[float]:
    table = entry[key]
    if not isinstance(table, dict) or set(table) != set(BANDS):
        raise _bad(f"entry {i}: {key} must give exactly the bands {list(BANDS)}", entry=i, field=key)
    values = [float(table[b]) for b in BANDS]
    if not all(math.isfinite(v) and v > 0 for v in values):
        raise _bad(f"entry {i}: {key} must be positive", entry=i, field=key)
    return values


def parse_finance_norms(raw: dict) -> FinanceNorms:
    """Validate a parsed norms document (the YAML's structure) and build the table. Raises
    InvalidInput naming the entry and field for: missing keys, dates not strictly increasing,
    Centre and State shares not summing to 1, rates not positive, bands not split exactly once
    between shared and State-only."""
    if not isinstance(raw, dict) or not isinstance(raw.get("periods"), list) or not raw["periods"]:
        raise _bad("needs a non-empty list `periods`")
    if tuple(raw.get("bands", ())) != BANDS:
        raise _bad(f"bands must be {list(BANDS)}", field="bands")
    dates, material, grain, shared, centre, honorarium, staffing, mme = [], [], [], [], [], [], [], []
    for i, e in enumerate(raw["periods"]):
        missing = [k for k in _PERIOD_KEYS if k not in e]
        if missing:
            raise _bad(f"entry {i} lacks {missing}", entry=i, field=missing[0])
        d = e["effective_from"]
        d = dt.date.fromisoformat(d) if isinstance(d, str) else d
        if not isinstance(d, dt.date) or isinstance(d, dt.datetime):
            raise _bad(f"entry {i}: effective_from must be a date", entry=i, field="effective_from")
        if dates and d <= dates[-1]:
            raise _bad(f"entry {i}: effective_from {d} is not after {dates[-1]}", entry=i, field="effective_from")
        dates.append(d)
        material.append(_by_band(e, "material_inr_per_child_day", i))
        grain.append(_by_band(e, "grain_g_per_child_day", i))
        s, o = list(e["shared_bands"]), list(e["state_only_bands"])
        if sorted(s + o) != sorted(BANDS) or len(set(s + o)) != len(BANDS):
            raise _bad(f"entry {i}: every band must be shared or State-only, once", entry=i, field="shared_bands")
        shared.append([b in s for b in BANDS])
        c, st = float(e["centre_share"]), float(e["state_share"])
        if not (0 <= c <= 1 and 0 <= st <= 1 and abs(c + st - 1) < 1e-9):
            raise _bad(f"entry {i}: centre_share and state_share must be in [0, 1] and sum to 1",
                       entry=i, field="centre_share")
        centre.append(c)
        monthly, months = float(e["cook_honorarium_inr_per_month"]), float(e["cook_paid_months_per_year"])
        if not (monthly > 0 and 0 < months <= 12):
            raise _bad(f"entry {i}: cook honorarium must be positive, for 1-12 months", entry=i,
                       field="cook_honorarium_inr_per_month")
        honorarium.append(monthly * months)
        rule = [float(e["cook_staffing"][k]) for k in _STAFFING_KEYS]
        if not (0 < rule[0] < rule[1] and rule[2] > 0):
            raise _bad(f"entry {i}: cook_staffing needs 0 < one_cook_up_to < two_cooks_up_to and a "
                       "positive children_per_further_cook", entry=i, field="cook_staffing")
        staffing.append(rule)
        m = float(e["mme_share_of_components"])
        if not 0 <= m < 1:
            raise _bad(f"entry {i}: mme_share_of_components must be in [0, 1)", entry=i,
                       field="mme_share_of_components")
        mme.append(m)
    legacy = float(raw.get("legacy_flat", {}).get("inr_per_enrolled_child_year", 0))
    if not legacy > 0:
        raise _bad("legacy_flat.inr_per_enrolled_child_year must be positive", field="legacy_flat")
    return FinanceNorms(
        version=str(raw.get("version", dates[-1].isoformat())), effective_from=tuple(dates),
        material_inr_per_child_day=np.array(material), grain_g_per_child_day=np.array(grain),
        shared_band=np.array(shared, bool), centre_share=np.array(centre),
        honorarium_inr_per_cook_year=np.array(honorarium), staffing=np.array(staffing),
        mme_share=np.array(mme), legacy_inr_per_child_year=legacy,
    )


def load_finance_norms(path: str | Path | None = None) -> FinanceNorms:
    """The norms table from `path`, or the one shipped in `twin/data/finance_norms.yaml`
    (read once, then cached). Raises InvalidInput if the table is not valid."""
    if path is None:
        return _shipped_norms()
    return parse_finance_norms(yaml.safe_load(Path(path).read_text()))


@cache
def _shipped_norms() -> FinanceNorms:
    return parse_finance_norms(yaml.safe_load(resources.files("twin").joinpath("data/finance_norms.yaml").read_text()))


# -- the financial year (1 April to 31 March), named by the calendar year it starts in ------------
def financial_year(d: dt.date) -> int:
    """The financial year `d` falls in, named by its starting year (2024 for 2024-25)."""
    return d.year if d.month >= 4 else d.year - 1


def financial_year_bounds(fy: int) -> tuple[dt.date, dt.date]:
    """First and last day (inclusive) of financial year `fy`: 1 April fy to 31 March fy + 1."""
    return dt.date(fy, 4, 1), dt.date(fy + 1, 3, 31)


def school_days(first: dt.date, last: dt.date) -> np.ndarray:
    """bool [d]: whether each day from `first` to `last` (inclusive) is a school day (twin.calendar)."""
    n = (last - first).days + 1
    return np.array([calendar.is_school_day(first + dt.timedelta(days=i)) for i in range(max(n, 0))], bool)


def _fy_length_days(days: np.ndarray) -> np.ndarray:
    """int [d]: length in days (365 or 366) of the financial year of each datetime64[D] day."""
    fy = (days.astype("datetime64[M]").astype(np.int64) - 3) // 12 + 1970  # April = month 3 from January
    end_year = fy + 1  # the year whose February the financial year holds
    return 365 + ((end_year % 4 == 0) & ((end_year % 100 != 0) | (end_year % 400 == 0)))


def cook_helpers(children: np.ndarray, one_cook_up_to: float = 25, two_cooks_up_to: float = 100,
                 children_per_further_cook: float = 100) -> np.ndarray:
    """Cook-cum-helpers a centre is entitled to for `children` (any shape): none for no child, 1
    up to 25, 2 up to 100, and one more per further 100 or part of it. Same shape, float64."""
    c = np.asarray(children, np.float64)
    further = np.ceil((c - two_cooks_up_to) / children_per_further_cook)
    return np.where(c <= 0, 0.0, np.where(c <= one_cook_up_to, 1.0, np.where(c <= two_cooks_up_to, 2.0, 2.0 + further)))


@dataclass(frozen=True)
class Entitlement:
    """What each of n schools is entitled to over a span of days, in INR."""

    material_inr: np.ndarray  # [n, 3] material (cooking) cost by band
    honorarium_inr: np.ndarray  # [n] cook-cum-helper honorarium
    mme_inr: np.ndarray  # [n] management, monitoring and evaluation
    total_inr: np.ndarray  # [n] material (all bands) + honorarium + MME
    centre_inr: np.ndarray  # [n] the Centre's share of the total
    state_inr: np.ndarray  # [n] the State's share; centre_inr + state_inr = total_inr
    grain_kg: np.ndarray  # [n, 3] food grain by band, supplied in kind (not in the rupee figures)


def entitlement(enrolment_by_band: np.ndarray, first_day: dt.date, school_day: np.ndarray, *,
                policy: str = "norms", norms: FinanceNorms | None = None) -> Entitlement:
    """Entitlement of n schools over the d days from `first_day`.

    enrolment_by_band: [n, 3] children by band (any real dtype, non-negative; constant over the span).
    school_day: bool [d], whether `first_day + i` is a school day.
    Material cost and grain accrue per child per school day at the rate in force that day, so a
    span across a revision is split at it. The honorarium (cooks by the staffing rule x monthly
    honorarium x paid months a year) and the legacy flat allowance accrue evenly over the calendar
    days of each financial year, so a whole year gets exactly the yearly figure; every figure is
    additive over a split of the span. Cooks for the shared bands' children are shared Centre:State,
    further cooks needed for classes 9-10 are the State's. MME is `mme_share` of material plus
    honorarium, split as they are. policy "legacy_flat": the flat yearly allowance per enrolled
    child (every band) as material cost, split by band as the norms split it, no honorarium or MME.
    """
    enrol = np.asarray(enrolment_by_band)
    if enrol.ndim != 2 or enrol.shape[1] != len(BANDS) or not np.issubdtype(enrol.dtype, np.number):
        raise InvalidInput(f"enrolment_by_band must be numeric [n, {len(BANDS)}]", {"shape": list(enrol.shape)})
    enrol = enrol.astype(np.float64)
    if not np.all(np.isfinite(enrol)) or np.any(enrol < 0):
        raise InvalidInput("enrolment_by_band must be finite and non-negative")
    school_day = np.asarray(school_day)
    if school_day.ndim != 1 or school_day.dtype != np.bool_:
        raise InvalidInput("school_day must be a 1-D bool array, one entry per day")
    if policy not in POLICIES:
        raise InvalidInput(f"unknown policy {policy!r}; one of {list(POLICIES)}", {"policy": policy})
    norms = norms or load_finance_norms()
    norms.period_index(first_day)  # refuses a span starting before the table
    k = len(norms)
    days = np.datetime64(first_day, "D") + np.arange(school_day.shape[0])
    row = np.searchsorted(norms.effective_day, days, side="right") - 1  # norm in force, day by day
    school_days_k = np.bincount(row[school_day], minlength=k).astype(np.float64)  # [k]
    year_share_k = np.bincount(row, weights=1.0 / _fy_length_days(days), minlength=k)  # [k] years
    centre_band = norms.centre_share_by_band  # [k, 3]
    grain_kg = enrol * (school_days_k @ norms.grain_g_per_child_day / 1000.0)
    if policy == "legacy_flat":
        per_child = year_share_k * norms.legacy_inr_per_child_year  # [k]
        material = enrol * per_child.sum()
        centre = enrol @ (per_child @ centre_band)
        total = material.sum(axis=1)
        zero = np.zeros(enrol.shape[0])
        return Entitlement(material, zero, zero.copy(), total, centre, total - centre, grain_kg)
    per_child = school_days_k[:, None] * norms.material_inr_per_child_day  # [k, 3] INR a child
    material = enrol * per_child.sum(axis=0)
    mme_k = norms.mme_share[:, None]
    centre_material = enrol @ (per_child * centre_band).sum(axis=0)
    mme_material = enrol @ (per_child * mme_k).sum(axis=0)
    mme_centre_material = enrol @ (per_child * centre_band * mme_k).sum(axis=0)
    rule = norms.staffing.T[:, None, :]  # three [1, k] columns of the staffing rule
    cooks_shared = cook_helpers(enrol @ norms.shared_band.T.astype(np.float64), *rule)  # [n, k]
    cooks_all = cook_helpers(enrol.sum(axis=1)[:, None], *rule)  # [n, k]
    honorarium_k = year_share_k * norms.honorarium_inr_per_cook_year  # [k] INR a cook
    honorarium = cooks_all @ honorarium_k
    honorarium_centre = cooks_shared @ (honorarium_k * norms.centre_share)
    mme = mme_material + cooks_all @ (honorarium_k * norms.mme_share)
    mme_centre = mme_centre_material + cooks_shared @ (honorarium_k * norms.centre_share * norms.mme_share)
    total = material.sum(axis=1) + honorarium + mme
    centre = centre_material + honorarium_centre + mme_centre
    return Entitlement(material, honorarium, mme, total, centre, total - centre, grain_kg)


def financial_year_entitlement(enrolment_by_band: np.ndarray, fy: int, school_day: np.ndarray | None = None, *,
                               policy: str = "norms", norms: FinanceNorms | None = None) -> Entitlement:
    """`entitlement` over financial year `fy` (1 April fy to 31 March fy + 1). school_day: bool
    [365 or 366] for the year's days; by default the school days of `twin.calendar`."""
    first, last = financial_year_bounds(fy)
    if school_day is None:
        school_day = school_days(first, last)
    n_days = (last - first).days + 1
    if np.shape(school_day) != (n_days,):
        raise InvalidInput(f"school_day must have one entry per day of {fy}-{(fy + 1) % 100:02d} ({n_days})")
    return entitlement(enrolment_by_band, first, school_day, policy=policy, norms=norms)


@dataclass(frozen=True)
class FundsRollup:
    """School funds summed to blocks and districts; columns `FUNDS_COLUMNS` (INR)."""

    block_inr: np.ndarray  # [nb, 3] released, utilised, balance = released - utilised
    district_inr: np.ndarray  # [nd, 3]


def rollup_funds(school_block: np.ndarray, block_district: np.ndarray, released_inr: np.ndarray,
                 utilised_inr: np.ndarray, n_districts: int | None = None) -> FundsRollup:
    """Roll school funds up to blocks and districts.

    school_block: int [n] block index of each school, in [0, nb); block_district: int [nb]
    district index of each block, in [0, n_districts) (default: its max + 1); released_inr,
    utilised_inr: [n]. Every block and district gets a row, zero if it has no school. The balance
    of each row is its released minus its utilised, so the identity holds at every level."""
    from twin.kernels import rollup  # numba: loaded where money is rolled up, not in every API replica

    school_block, block_district = np.asarray(school_block), np.asarray(block_district)
    released_inr, utilised_inr = np.asarray(released_inr, np.float64), np.asarray(utilised_inr, np.float64)
    if school_block.ndim != 1 or block_district.ndim != 1 or not \
            school_block.shape == released_inr.shape == utilised_inr.shape:
        raise InvalidInput("school_block, released_inr and utilised_inr must be [n]; block_district [nb]")
    if not (np.issubdtype(school_block.dtype, np.integer) and np.issubdtype(block_district.dtype, np.integer)):
        raise InvalidInput("school_block and block_district must be integer indices")
    nb = block_district.shape[0]
    nd = (int(block_district.max()) + 1 if nb else 0) if n_districts is None else int(n_districts)
    if (school_block.size and (school_block.min() < 0 or school_block.max() >= nb)) or \
            (nb and (block_district.min() < 0 or block_district.max() >= nd)):
        raise InvalidInput("a school's block or a block's district is out of range")
    values = np.stack([released_inr, utilised_inr], axis=1)
    if not np.all(np.isfinite(values)):
        raise InvalidInput("released_inr and utilised_inr must be finite")
    blocks = rollup(school_block, values, nb)
    districts = rollup(block_district, blocks, nd)
    return FundsRollup(_with_balance(blocks), _with_balance(districts))


def _with_balance(released_utilised: np.ndarray) -> np.ndarray:
    return np.column_stack([released_utilised, released_utilised[:, 0] - released_utilised[:, 1]])
