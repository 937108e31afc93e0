"""Slow, obvious reference versions of the kernels, for tests to check the fast ones against.

`naive_fold` recomputes a shard's state from the whole event list in plain Python: stock is
deliveries plus adjustments minus the ration of every report's final figures, rather than the
kernel's running balance with correction deltas.
"""

from __future__ import annotations


import numpy as np

from twin import calendar
from twin.events import EventKind
from twin.norms import RATION_PER_MEAL, cost_table, day_date
from twin.state import HISTORY_DAYS


def _rate(day: int) -> np.ndarray:
    days, rates = cost_table()
    k = 0
    for j, start in enumerate(days):
        if day >= start:
            k = j
    return rates[k]


def naive_fold(state, batch) -> dict:  # noqa: ANN001
    """Expected end state of folding `batch` into a fresh `state` (global indices in the batch)."""
    n = state.n_schools
    stock = np.zeros((n, 4))
    funds = np.zeros((n, 3))
    last = np.full(n, -1)
    reports: dict[tuple[int, int], np.ndarray] = {}
    enrolment = state.enrolment.copy()
    closed = {}
    inspection = {}
    block_funds = np.zeros((len(state.block_global), 2))
    depot_stock = np.zeros((len(state.block_global), 4))
    depot_logged = np.zeros(len(state.block_global), np.int8)
    district_funds = np.zeros((len(state.district_global), 2))
    hosted_school_district = state.block_district[state.school_block]
    for e in range(len(batch)):
        d = state.district_local[batch.district[e]]
        if d < 0:
            continue
        s = state.school_local[batch.school[e]] if batch.school[e] >= 0 else -1
        b = state.block_local[batch.block[e]] if batch.block[e] >= 0 else -1
        k, day, v = int(batch.kind[e]), int(batch.day[e]), batch.values[e]
        if k == EventKind.ATTENDANCE_REPORTED:
            if day <= last[s] - HISTORY_DAYS:
                continue  # too old to correct
            reports[(s, day)] = v[1:4].copy()
            last[s] = max(last[s], day)
        elif k in (EventKind.STOCK_DELIVERED, EventKind.STOCK_ADJUSTED):
            stock[s] += v[:4]
            if k == EventKind.STOCK_DELIVERED and v[4] > 0:
                depot_stock[state.school_block[s]] -= v[:4]
        elif k == EventKind.STOCK_TRANSFERRED:
            stock[s] += v[:4]
            if v[4] >= 0:
                stock[state.school_local[int(v[4])]] -= v[:4]
            else:
                depot_stock[state.school_block[s]] -= v[:4]
        elif k == EventKind.DEPOT_STOCK_RECEIVED:
            depot_stock[b] += v[:4]
            depot_logged[b] = 1
        elif k == EventKind.FUNDS_RELEASED:
            if s >= 0:
                funds[s, 0] += v[0]
                block_funds[state.school_block[s], 1] += v[0]
            elif b >= 0:
                block_funds[b, 0] += v[0]
                district_funds[d, 1] += v[0]
            else:
                district_funds[d, 0] += v[0]
        elif k == EventKind.FUNDS_UTILISED:
            funds[s, 2] += v[0]
        elif k == EventKind.INSPECTION_DONE:
            if day >= inspection.get(s, (-1,))[0]:
                inspection[s] = (day, v[0])
        elif k == EventKind.SCHOOL_CLOSED:
            for i in range(n):
                if (s >= 0 and i == s) or (s < 0 and b >= 0 and state.school_block[i] == b) or (
                        s < 0 and b < 0 and hosted_school_district[i] == d):
                    closed[i] = (day, int(batch.day_end[e]))
        elif k == EventKind.ENROLMENT_UPDATED:
            enrolment[s] = v[:3]
    for (s, day), meals in reports.items():
        for band in range(3):
            stock[s] -= meals[band] * RATION_PER_MEAL[:, band]
            funds[s, 1] += meals[band] * _rate(day)[band]
    return {"stock": stock, "funds": funds, "last_report_day": last, "reports": reports, "enrolment": enrolment,
            "closed": closed, "inspection": inspection, "block_funds": block_funds, "district_funds": district_funds,
            "depot_stock": depot_stock, "depot_logged": depot_logged}


def naive_rollup(group, values, n_groups) -> np.ndarray:  # noqa: ANN001
    out = np.zeros((n_groups, values.shape[1]))
    for i in range(len(group)):
        out[group[i]] += values[i]
    return out


def naive_rice_need(hist_meals, enrolment) -> np.ndarray:  # noqa: ANN001
    """Mean rice over days with any meal, school by school; the enrolment at the norm if none."""
    rice = RATION_PER_MEAL[0]
    out = []
    for meals, enrolled in zip(hist_meals.tolist(), enrolment.tolist()):
        days = [sum(m * r for m, r in zip(day, rice)) for day in meals if sum(day) > 0]
        out.append(sum(days) / len(days) if days else sum(e * r for e, r in zip(enrolled, rice)))
    return np.array(out)


def naive_school_history(events, first, last) -> list[dict]:  # noqa: ANN001
    """Day by day from `first` to `last` (dates), from one school's event payloads (dicts, in log
    order): each day's last report, and stock and funds balance from every event dated that day or
    earlier, recomputed from scratch for each day. Ignores the too-old rule (reports more than
    `HISTORY_DAYS` late), which the callers' events never reach."""
    import datetime as dt

    from twin.norms import BANDS, day_number

    items = ("rice_kg", "pulses_kg", "oil_kg", "eggs")
    out = []
    day = first
    while day <= last:
        upto = [e for e in events if dt.date.fromisoformat(e["date"]) <= day]
        reports = {e["date"]: e for e in upto if e["type"] == "attendance_reported"}  # the last one wins
        stock = [0.0] * 4
        balance = 0.0
        for e in upto:
            if e["type"] in ("stock_delivered", "stock_adjusted"):
                stock = [s + e.get(k, 0) for s, k in zip(stock, items)]
            elif e["type"] == "funds_released" and e.get("school_id"):
                balance += e["amount_inr"]
            elif e["type"] == "funds_utilised":
                balance -= e["amount_inr"]
        for date, report in reports.items():
            meals = [report.get("meals_served", {}).get(b, 0) for b in BANDS]
            rate = _rate(day_number(dt.date.fromisoformat(date)))
            for band in range(3):
                stock = [s - meals[band] * RATION_PER_MEAL[item, band] for item, s in enumerate(stock)]
                balance -= meals[band] * rate[band]
        report = reports.get(day.isoformat())
        out.append({
            "date": day.isoformat(),
            "present": report["present"] if report else None,
            "meals_served": {b: report.get("meals_served", {}).get(b, 0) for b in BANDS} if report else None,
            "no_meal_reason": report.get("no_meal_reason") if report else None,
            "stock": dict(zip(items, stock)),
            "funds_balance_inr": balance,
        })
        day += dt.timedelta(days=1)
    return out


def naive_history_features(state) -> dict:  # noqa: ANN001
    """Meal share over the last week, the no-meal streak and no-meal days in 30, school by school,
    from the kept reports sorted newest first (holidays skipped)."""
    from twin.encoding import NO_MEAL_REASONS
    from twin.events import NoMealReason

    holiday = next(c for c, r in NO_MEAL_REASONS.items() if r == NoMealReason.HOLIDAY)
    today, w = int(state.today[0]), state.hist_day.shape[1]
    out = {"meal_share": [], "no_meal_streak": [], "no_meal_days_30": []}
    for i in range(state.n_schools):
        reports = sorted(
            (int(state.hist_day[i, j]), int(state.hist_reason[i, j]), int(state.hist_meals[i, j].sum()))
            for j in range(w)
            if 0 <= today - state.hist_day[i, j] < w and state.hist_day[i, j] >= 0
        )[::-1]
        reports = [r for r in reports if r[1] != holiday]
        week = [r for r in reports if today - r[0] < 7]
        enrolled = int(state.enrolment[i].sum())
        out["meal_share"].append(sum(m for _, _, m in week) / (enrolled * len(week)) if week and enrolled else np.nan)
        streak = 0
        for _, reason, _ in reports:
            if reason == 0:
                break
            streak += 1
        out["no_meal_streak"].append(streak)
        out["no_meal_days_30"].append(sum(1 for d, reason, _ in reports if reason and today - d < 30))
    return {k: np.array(v, float) for k, v in out.items()}


def naive_school_edges(latitude_deg, longitude_deg, active, radius_km, k_max) -> set[tuple[int, int]]:  # noqa: ANN001
    """School pairs (i < j) of the neighbour graph by brute force: haversine distance from every
    active school to every other, each keeps its `k_max` nearest within `radius_km`, either side
    listing the other makes the edge."""
    from twin.neighbour_graph import EARTH_RADIUS_KM

    lat, lon = np.radians(latitude_deg), np.radians(longitude_deg)
    idx = np.flatnonzero(active)
    edges = set()
    for i in idx:
        a = np.sin((lat[idx] - lat[i]) / 2) ** 2 + np.cos(lat[i]) * np.cos(lat[idx]) * np.sin((lon[idx] - lon[i]) / 2) ** 2
        km = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(a))
        near = [(d, j) for d, j in zip(km.tolist(), idx.tolist()) if j != i and d < radius_km]
        for _, j in sorted(near)[:k_max]:
            edges.add((min(i, j), max(i, j)))
    return edges


def naive_jacobi(indptr, indices, s, alpha, tol) -> list[float]:  # noqa: ANN001
    """x = (1 - alpha) s + alpha * (mean of neighbours' x), x = s for isolated nodes: plain Python
    Jacobi sweeps from x = s until no value changes by tol or more."""
    rows = [indices[indptr[i]:indptr[i + 1]].tolist() for i in range(len(s))]
    s = [float(v) for v in s]
    x = list(s)
    while True:
        new = [s[i] if not row else (1 - alpha) * s[i] + alpha * sum(x[k] for k in row) / len(row)
               for i, row in enumerate(rows)]
        change = max((abs(a - b) for a, b in zip(new, x)), default=0.0)
        x = new
        if change < tol:
            return x


def exact_pressure(indptr, indices, s, alpha) -> np.ndarray:  # noqa: ANN001
    """The fixed point solved directly: (I - alpha A) x = c s, c = 1 - alpha (1 if isolated)."""
    n = len(s)
    A = np.zeros((n, n))
    c = np.ones(n)
    for i in range(n):
        row = indices[indptr[i]:indptr[i + 1]]
        if len(row):
            A[i, row] = 1.0 / len(row)
            c[i] = 1 - alpha
    return np.linalg.solve(np.eye(n) - alpha * A, c * np.asarray(s))


# -- finance -------------------------------------------------------------------------------------
def naive_cook_helpers(children: float) -> int:
    """Cook-cum-helpers for one centre: 1 up to 25 children, 2 up to 100, one more per further 100."""
    if children <= 0:
        return 0
    if children <= 25:
        return 1
    cooks, left = 2, children - 100
    while left > 0:
        cooks += 1
        left -= 100
    return cooks


def naive_entitlement(enrolment, first_day, school_day, norms, policy="norms") -> dict:  # noqa: ANN001
    """School by school and day by day: the norm row in force found by scanning the table, material
    and grain on school days, honorarium (or the legacy allowance) as the day's share of its
    financial year, MME on top, and every amount split Centre/State by its band or cook."""
    import datetime as dt

    out = {k: [] for k in ("material_inr", "honorarium_inr", "mme_inr", "total_inr", "centre_inr", "state_inr",
                           "grain_kg")}
    for enrolled in np.asarray(enrolment, float).tolist():
        material, grain = [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]
        honorarium = mme = centre = 0.0
        for i, is_school_day in enumerate(school_day.tolist()):
            day = first_day + dt.timedelta(days=i)
            r = max(j for j, start in enumerate(norms.effective_from) if start <= day)
            fy = day.year if day.month >= 4 else day.year - 1
            year_share = 1.0 / (dt.date(fy + 1, 4, 1) - dt.date(fy, 4, 1)).days
            share = [norms.centre_share[r] if norms.shared_band[r, b] else 0.0 for b in range(3)]
            if is_school_day:
                for b in range(3):
                    grain[b] += enrolled[b] * norms.grain_g_per_child_day[r, b] / 1000
            if policy == "legacy_flat":
                for b in range(3):
                    amount = enrolled[b] * norms.legacy_inr_per_child_year * year_share
                    material[b] += amount
                    centre += amount * share[b]
                continue
            if is_school_day:
                for b in range(3):
                    amount = enrolled[b] * norms.material_inr_per_child_day[r, b]
                    material[b] += amount
                    mme += amount * norms.mme_share[r]
                    centre += amount * share[b] * (1 + norms.mme_share[r])
            shared_children = sum(enrolled[b] for b in range(3) if norms.shared_band[r, b])
            shared_cooks = naive_cook_helpers(shared_children)
            all_cooks = naive_cook_helpers(sum(enrolled))
            pay = norms.honorarium_inr_per_cook_year[r] * year_share
            honorarium += all_cooks * pay
            mme += all_cooks * pay * norms.mme_share[r]
            centre += shared_cooks * pay * norms.centre_share[r] * (1 + norms.mme_share[r])
        total = sum(material) + honorarium + mme
        for key, value in zip(out, (material, honorarium, mme, total, centre, total - centre, grain)):
            out[key].append(value)
    return {k: np.array(v, float) for k, v in out.items()}


def naive_funds_rollup(school_block, block_district, released, utilised, n_districts) -> tuple:  # noqa: ANN001
    """Block and district rows of (released, utilised, balance), summed school by school."""
    blocks = [[0.0, 0.0] for _ in range(len(block_district))]
    districts = [[0.0, 0.0] for _ in range(n_districts)]
    for b, r, u in zip(school_block.tolist(), released.tolist(), utilised.tolist()):
        blocks[b][0] += r
        blocks[b][1] += u
        districts[block_district[b]][0] += r
        districts[block_district[b]][1] += u
    return (np.array([[r, u, r - u] for r, u in blocks]).reshape(-1, 3),
            np.array([[r, u, r - u] for r, u in districts]).reshape(-1, 3))


def naive_release_refusals(alloc_c, alloc_s, released, utilised, prop_c, prop_s,  # noqa: ANN001
                           tol=1.0) -> list[set[str]]:
    """For each area, the names of the release rules the proposal breaks."""
    out = []
    for ac, as_, r, u, pc, ps in zip(alloc_c, alloc_s, released, utilised, prop_c, prop_s):
        broken = set()
        allocation, proposed = ac + as_, pc + ps
        if pc < 0 or ps < 0 or proposed <= 0:
            broken.add("NOT_POSITIVE")
        if proposed > 0.25 * allocation + tol:
            broken.add("OVER_INSTALMENT_CAP")
        if r + proposed > allocation + tol:
            broken.add("OVER_ALLOCATION")
        if r > 0 and u < 0.75 * r - tol:
            broken.add("EARLIER_UNDERUSED")
        expected_state = proposed * as_ / allocation if allocation > 0 else 0.0
        if abs(ps - expected_state) > tol:
            broken.add("SHARES_APART")
        out.append(broken)
    return out


def naive_days_to_reach(utilised, target, burn, limit=100_000) -> int:  # noqa: ANN001
    """School days, counted one by one, until utilised + burn x days reaches target; -1 if never."""
    for d in range(limit + 1):
        if utilised + burn * d >= target:
            return d
    return -1


def naive_burn_rate(spent, school_day, window) -> list[float]:  # noqa: ANN001
    """Spending from the window's first school day to the end, over the school days in it."""
    days = [i for i, s in enumerate(school_day.tolist()) if s][-window:]
    if not days:
        return [0.0] * len(spent)
    return [sum(row[days[0]:]) / len(days) for row in np.asarray(spent).tolist()]


def naive_allocations(state, batch) -> dict:  # noqa: ANN001
    """Expected allocations after folding `batch` into a fresh `state`: {(local school, year):
    (centre, state)}. The latest allocation of a school and year replaces the earlier; a school keeps
    the newest `ALLOCATION_YEARS` years it was given (an older year arriving later is ignored)."""
    from twin.state import ALLOCATION_YEARS

    held: dict[tuple[int, int], tuple[int, float, float]] = {}  # (school, slot) -> (year, centre, state)
    for e in range(len(batch)):
        if int(batch.kind[e]) != EventKind.FUNDS_ALLOCATED or state.district_local[batch.district[e]] < 0:
            continue
        s = int(state.school_local[batch.school[e]])
        year, centre, state_share = int(batch.values[e, 0]), float(batch.values[e, 1]), float(batch.values[e, 2])
        key = (s, year % ALLOCATION_YEARS)
        if key not in held or held[key][0] <= year:
            held[key] = (year, centre, state_share)
    return {(s, year): (c, st) for (s, _), (year, c, st) in held.items()}


def naive_school_days_after(after: int, through: int) -> int:
    """School days d with after < d <= through (day numbers), walking the calendar a day at a time."""
    return sum(calendar.is_school_day(day_date(d)) for d in range(max(after, -1) + 1, through + 1) if d >= 0)
