"""The world behind the live feed: the true state of every school, and the events it sends.

The world keeps each school's real stock, funds and open/closed status in arrays and simulates one
day at a time. What the feed shows is deliberately imperfect, as in PM POSHAN's monitoring: reports
go missing, some arrive a day late, a few are corrected. Events are plain dicts that validate with
`twin.events.parse_event`.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np

from simulation.synthetic_schools import SchoolTable
from twin import calendar, geography, norms
from twin.directory import BlockTable

# Districts on the coast, where the north-east monsoon's cyclones and floods close schools.
COASTAL_DISTRICTS = (
    "Chennai", "Cuddalore", "Nagapattinam", "Mayiladuthurai", "Tiruvarur", "Thanjavur",
    "Ramanathapuram", "Thoothukudi", "Kanniyakumari", "Chengalpattu", "Kancheepuram",
    "Tiruvallur", "Viluppuram", "Pudukkottai",
)  # fmt: skip

# Attendance.
MONDAY_FRIDAY_FACTOR = 0.96
MONSOON_FACTOR = 0.95
EXAM_FACTOR = 1.04
SECONDARY_EAT_ON_EXAM_DAYS = 0.8  # older children often go home after the paper

# Reporting: most schools report most days; a few report rarely.
LATE_REPORT_PROB = 0.10  # of yesterday's missing reports, sent today
CORRECTION_PROB = 0.003  # of yesterday's reports, re-sent today with corrected numbers

# Daily chances per school (school days unless said otherwise).
COOK_ABSENT_PROB = 0.004
NOT_SERVED_PROB = 0.001
FUNDS_REFUSAL_PROB = 0.25  # when the account is empty; otherwise the organiser pays from pocket
SPOILAGE_PROB = 0.0008
UTILISATION_PROB = 0.002
SCHOOL_CLOSURE_PROB = 0.0001
ENROLMENT_UPDATE_PROB = 0.001  # in June, the start of the school year
SHORTAGE_REPORT_PROB = {"rice": 0.5, "funds": 0.3, "cook": 0.3, "eggs": 0.2}

# Supply: grain monthly from the block depot, eggs weekly.
GRAIN_CYCLE_DAYS = 30
EGG_BUFFER_DAYS = 8  # a weekly drop plus a few days in hand
EGG_WEEK_MISSED_PROB = 0.02  # the egg supplier skips a block's weekly drop
SHORT_SHIPMENT_PROB = 0.05  # a school gets only part of its top-up
DELAY_PRONE_BLOCKS = 0.03  # blocks whose depot is chronically late
DEMAND_MEMORY = 0.1  # weight of today in the running daily demand

# NE monsoon: a weather system forms on some days and closes districts near its landfall.
SYSTEM_PROB = 0.04
SYSTEM_REACH_KM = 120.0
BLOCK_FLOOD_PROB = 0.08  # chance per monsoon day that one coastal block floods

# Funds: quarterly releases down the chain; a few blocks are months late (TNIE, Dec 2022).
QUARTER_MONTHS = (1, 4, 7, 10)
VERY_LATE_BLOCKS = 0.04

INSPECTION_GAP_DAYS = (60, 120)
UTILISATION_PURPOSES = ("firewood and LPG", "utensils", "kitchen repairs", "vegetables and condiments")
_REASONS = (None, "food_grains_not_available", "funds_not_available", "cook_not_available", "meals_not_served")
NO_REASON, GRAINS, FUNDS, COOK, NOT_SERVED = range(5)


class World:
    """True state of every school plus the feed of events it produces, one day per `step_day`."""

    def __init__(self, schools: SchoolTable, seed: int = 0, start: dt.date = dt.date(2025, 6, 2)):
        self.schools = schools
        self.seed = seed
        self.start = start
        self.today = start
        self.rng = np.random.default_rng(seed)
        n = len(schools)
        self._ids = [str(u) for u in schools.udise.tolist()]
        self._district = schools.district.astype(np.int64)
        self._block = schools.block.astype(np.int64)
        blocks = BlockTable.from_geography()
        self._block_district = blocks.district.astype(np.int64)
        self._block_names = blocks.names
        self._district_names = geography.district_names()
        self._depot_of_block = _depots_of_blocks(schools, len(blocks))
        self._coastal = np.array([geography.district_index(d) for d in COASTAL_DISTRICTS])

        self.enrolment = schools.enrolment.astype(np.int64)
        self._init_traits(n)
        self._init_state(n)
        self._init_schedules(n, len(blocks))

    # ----------------------------------------------------------------- setup

    def _init_traits(self, n: int) -> None:
        """Fixed character of each school: attendance, reporting habit, kitchen quality."""
        rng = self.rng
        self.base_rate = rng.uniform(0.80, 0.95, n)
        # Most schools report nearly every day; some are patchy, a few rarely report.
        habit = rng.random(n)
        self.reliability = np.select(
            [habit < 0.80, habit < 0.95],
            [rng.uniform(0.93, 0.995, n), rng.uniform(0.6, 0.9, n)],
            rng.uniform(0.2, 0.6, n),
        )
        self.eat_share = rng.uniform(0.95, 0.99, n)
        self.quality = rng.normal(82, 8, n)

    def _init_state(self, n: int) -> None:
        """Opening stock (a month of grain, a week of eggs at the norms) and a quarter's funds."""
        need = norms.daily_need(self.enrolment.astype(np.float64))
        self.stock = need * norms.GRAIN_BUFFER_DAYS
        self.stock[:, 3] = np.ceil(need[:, 3] * EGG_BUFFER_DAYS)
        # Running daily demand: what the school draws on a normal school day.
        self.demand = need * (self.base_rate * self.eat_share)[:, None]
        self.funds = _quarter_cost(self.enrolment, self.start)
        self._opening_funds = self.funds.copy()
        self.closed_until = np.full(n, -1, np.int64)  # day number of the last closed day
        self._no_meal_days = np.zeros(n, np.int64)  # since the last inspection
        self._yesterday: dict | None = None
        self._tranches: list[dict] = []

    def _init_schedules(self, n: int, nb: int) -> None:
        """Staggered depot cycles and inspection rounds, so work spreads over the month."""
        rng = self.rng
        today = norms.day_number(self.start)
        self._grain_planned = today + rng.integers(5, GRAIN_CYCLE_DAYS + 5, nb)
        self._delay_prone = rng.random(nb) < DELAY_PRONE_BLOCKS
        self._grain_due = self._grain_planned + self._delivery_delay(np.ones(nb, bool))
        self._egg_weekday = rng.integers(0, 5, nb)
        self._next_inspection = today + rng.integers(0, INSPECTION_GAP_DAYS[1], n)

    def _delivery_delay(self, blocks: np.ndarray) -> np.ndarray:
        """Days late for the given blocks' next grain delivery: usually on time, sometimes weeks."""
        rng = self.rng
        k = int(blocks.sum())
        u = rng.random(k)
        delay = np.where(u < 0.70, 0, np.where(u < 0.95, rng.integers(1, 6, k), rng.integers(6, 21, k)))
        prone = self._delay_prone[blocks]
        return np.where(prone, np.maximum(delay, rng.integers(5, 21, k)), delay)

    # ----------------------------------------------------------------- opening

    def opening_events(self) -> list[dict]:
        """The set-up before day one: every school's opening stock and a quarter's funds, released
        state -> district -> block -> school. Dated the day before the start; uses no randomness."""
        day = self.start - dt.timedelta(days=1)
        em = _Emitter(self.seed, day, tag="open")
        everyone = np.arange(len(self._ids))
        districts, blocks = np.arange(len(self._district_names)), np.unique(self._block)
        events = self._delivery_events(em, everyone, self.stock, kind="dlv")
        events += self._release_events(em, self._opening_funds, districts, blocks, everyone)
        return events

    # ----------------------------------------------------------------- a day

    def step_day(self) -> list[dict]:
        """Simulate `today`, return the events the feed receives for it, and move to the next day."""
        d = self.today
        em = _Emitter(self.seed, d)
        school_day = calendar.is_school_day(d)
        events = self._closures(em, d)
        events += self._deliveries(em, d, school_day)
        events += self._funds(em, d)
        events += self._late_and_corrected(em)
        if school_day:
            events += self._meals(em, d)
            events += self._spoilage(em, d)
            events += self._utilisation(em)
            events += self._inspections(em)
            if d.month == 6:
                events += self._enrolment_updates(em)
        else:
            self._yesterday = None
        self.today = d + dt.timedelta(days=1)
        return events

    # ----------------------------------------------------------------- closures

    def _closures(self, em: _Emitter, d: dt.date) -> list[dict]:
        events = []
        if calendar.is_monsoon(d):
            events += self._monsoon_system(em, d)
            events += self._block_flood(em, d)
        if calendar.is_school_day(d):
            events += self._single_school_closures(em, d)
        return events

    def _monsoon_system(self, em: _Emitter, d: dt.date) -> list[dict]:
        """Now and then a cyclone or deep depression closes the coastal districts near landfall."""
        rng = self.rng
        if rng.random() >= SYSTEM_PROB:
            return []
        landfall = int(rng.choice(self._coastal))
        near = [int(c) for c in self._coastal if _hq_distance_km(landfall, int(c)) <= SYSTEM_REACH_KM]
        reason = "cyclone" if rng.random() < 0.4 else "flood"
        events = []
        for di in near:
            if di != landfall and rng.random() < 0.3:
                continue  # the system spares some neighbours
            days = int(rng.integers(1, 7))
            self._close(self._district == di, d, days)
            events.append(em.closure(d, days, reason, district=self._district_names[di]))
        return events

    def _block_flood(self, em: _Emitter, d: dt.date) -> list[dict]:
        rng = self.rng
        if rng.random() >= BLOCK_FLOOD_PROB:
            return []
        coastal_blocks = np.flatnonzero(np.isin(self._block_district, self._coastal))
        b = int(rng.choice(coastal_blocks))
        days = int(rng.integers(1, 4))
        self._close(self._block == b, d, days)
        reason = "flood" if rng.random() < 0.5 else "monsoon"
        district = self._district_names[self._block_district[b]]
        return [em.closure(d, days, reason, district=district, block=self._block_names[b])]

    def _single_school_closures(self, em: _Emitter, d: dt.date) -> list[dict]:
        """Rare local closures of one school (a temple festival, a building problem)."""
        rng = self.rng
        hit = np.flatnonzero(rng.random(len(self._ids)) < SCHOOL_CLOSURE_PROB)
        events = []
        for s in hit.tolist():
            days = int(rng.integers(1, 3))
            self.closed_until[s] = max(self.closed_until[s], norms.day_number(d) + days - 1)
            reason = "local_holiday" if rng.random() < 0.6 else "other"
            events.append(em.closure(d, days, reason, school_id=self._ids[s]))
        return events

    def _close(self, mask: np.ndarray, d: dt.date, days: int) -> None:
        last = norms.day_number(d) + days - 1
        self.closed_until[mask] = np.maximum(self.closed_until[mask], last)

    def _open_today(self, d: dt.date) -> np.ndarray:
        return self.closed_until < norms.day_number(d)

    # ----------------------------------------------------------------- deliveries

    def _deliveries(self, em: _Emitter, d: dt.date, school_day: bool) -> list[dict]:
        events = []
        # Depots work Monday to Saturday except public holidays, whatever the school calendar says.
        if d.weekday() < 6 and calendar.day_kind(d) != calendar.DayKind.HOLIDAY:
            events += self._grain_deliveries(em, d)
        if school_day:
            events += self._egg_deliveries(em, d)
        return events

    def _grain_deliveries(self, em: _Emitter, d: dt.date) -> list[dict]:
        """Blocks whose (possibly delayed) cycle is due top their open schools up to a month's use."""
        today = norms.day_number(d)
        due = self._grain_due <= today
        if not due.any():
            return []
        self._grain_planned[due] += GRAIN_CYCLE_DAYS  # delays do not shift the planned cycle
        self._grain_due[due] = self._grain_planned[due] + self._delivery_delay(due)
        schools = np.flatnonzero(due[self._block] & self._open_today(d))
        target = self.demand[schools, :3] * norms.GRAIN_BUFFER_DAYS
        top_up = np.maximum(target - self.stock[schools, :3], 0)
        short = self.rng.random(len(schools)) < SHORT_SHIPMENT_PROB
        top_up *= np.where(short, self.rng.uniform(0.4, 0.9, len(schools)), 1.0)[:, None]
        amounts = np.zeros((len(schools), 4))
        amounts[:, :3] = np.round(top_up, 1)
        return self._deliver(em, schools, amounts)

    def _egg_deliveries(self, em: _Emitter, d: dt.date) -> list[dict]:
        """Each block's weekly egg drop, on its own weekday; now and then the supplier skips one."""
        due = (self._egg_weekday == d.weekday()) & (self.rng.random(len(self._egg_weekday)) >= EGG_WEEK_MISSED_PROB)
        schools = np.flatnonzero(due[self._block] & self._open_today(d))
        amounts = np.zeros((len(schools), 4))
        amounts[:, 3] = np.maximum(np.ceil(self.demand[schools, 3] * EGG_BUFFER_DAYS - self.stock[schools, 3]), 0)
        return self._deliver(em, schools, amounts)

    def _deliver(self, em: _Emitter, schools: np.ndarray, amounts: np.ndarray) -> list[dict]:
        keep = amounts.sum(axis=1) > 0  # an empty delivery is no delivery
        schools, amounts = schools[keep], amounts[keep]
        self.stock[schools] += amounts
        return self._delivery_events(em, schools, amounts, kind="dlv")

    def _delivery_events(self, em: _Emitter, schools: np.ndarray, amounts: np.ndarray, kind: str) -> list[dict]:
        amounts = np.column_stack([np.round(amounts[:, :3], 1), np.rint(amounts[:, 3])])
        keep = amounts.sum(axis=1) > 0
        schools, amounts = schools[keep], amounts[keep]
        date, ids = em.date, em.ids(kind, len(schools))
        depot = self._depot_of_block
        return [
            {"type": "stock_delivered", "event_id": i, "date": date, "school_id": self._ids[s],
             "depot_id": depot[b], "rice_kg": r, "pulses_kg": p, "oil_kg": o, "eggs": int(e)}
            for i, s, b, (r, p, o, e) in zip(ids, schools.tolist(), self._block[schools].tolist(), amounts.tolist())
        ]  # fmt: skip

    # ----------------------------------------------------------------- funds

    def _funds(self, em: _Emitter, d: dt.date) -> list[dict]:
        if d.day == 1 and d.month in QUARTER_MONTHS and d != self.start:
            self._tranches.append(self._new_tranche(d))
        if d.weekday() >= 5:
            return []  # treasuries and block offices release on weekdays
        today = norms.day_number(d)
        events = []
        for t in self._tranches:
            events += self._release_due(em, t, today)
        self._tranches = [t for t in self._tranches if not t["school_done"].all()]
        return events

    def _new_tranche(self, d: dt.date) -> dict:
        """A quarter's material cost and when each level will pass it on: state to district within
        weeks, district to block within weeks (a few blocks months late), block to schools in days."""
        rng = self.rng
        nd, nb, n = len(self._district_names), len(self._block_district), len(self._ids)
        start = norms.day_number(d)
        district_day = start + rng.integers(0, 15, nd) + (rng.random(nd) < 0.1) * rng.integers(15, 40, nd)
        very_late = (rng.random(nb) < VERY_LATE_BLOCKS) * rng.integers(60, 110, nb)
        block_day = district_day[self._block_district] + rng.integers(2, 15, nb) + very_late
        school_day = block_day[self._block] + rng.integers(0, 8, n)
        return {
            "amount": _quarter_cost(self.enrolment, d),
            "district_day": district_day, "district_done": np.zeros(nd, bool),
            "block_day": block_day, "block_done": np.zeros(nb, bool),
            "school_day": school_day, "school_done": np.zeros(n, bool),
        }  # fmt: skip

    def _release_due(self, em: _Emitter, t: dict, today: int) -> list[dict]:
        released = []
        for level in ("district", "block", "school"):
            due = ~t[f"{level}_done"] & (t[f"{level}_day"] <= today)
            t[f"{level}_done"] |= due
            released.append(np.flatnonzero(due))
        districts, blocks, schools = released
        self.funds[schools] += t["amount"][schools]
        return self._release_events(em, t["amount"], districts, blocks, schools)

    def _release_events(self, em: _Emitter, amount: np.ndarray, districts, blocks, schools) -> list[dict]:
        """funds_released events for the given districts, blocks and schools of a school-level plan."""
        date, names = em.date, self._district_names
        by_district = np.bincount(self._district, amount, minlength=len(names))
        by_block = np.bincount(self._block, amount, minlength=len(self._block_names))
        events = [
            {"type": "funds_released", "event_id": i, "date": date, "amount_inr": round(float(by_district[k]), 2),
             "district": names[k]}
            for i, k in zip(em.ids("fnd", len(districts)), districts.tolist())
        ]  # fmt: skip
        events += [
            {"type": "funds_released", "event_id": i, "date": date, "amount_inr": round(float(by_block[b]), 2),
             "district": names[self._block_district[b]], "block": self._block_names[b]}
            for i, b in zip(em.ids("fnb", len(blocks)), blocks.tolist())
        ]  # fmt: skip
        events += [
            {"type": "funds_released", "event_id": i, "date": date, "amount_inr": a, "school_id": self._ids[s]}
            for i, s, a in zip(em.ids("fns", len(schools)), schools.tolist(), np.round(amount[schools], 2).tolist())
        ]  # fmt: skip
        return [e for e in events if e["amount_inr"] > 0]

    # ----------------------------------------------------------------- meals

    def _meals(self, em: _Emitter, d: dt.date) -> list[dict]:
        """Who came, who ate, what it drew from stock and funds, and which schools reported it."""
        rng = self.rng
        n = len(self._ids)
        is_open = self._open_today(d)
        present = rng.binomial(self.enrolment, self._attendance_rate(d)[:, None]) * is_open[:, None]
        eat = np.repeat(self.eat_share[:, None], 3, axis=1)
        if calendar.day_kind(d) == calendar.DayKind.EXAM_DAY:
            eat[:, 2] *= SECONDARY_EAT_ON_EXAM_DAYS
        eaters = rng.binomial(present, eat)
        wanted = eaters @ norms.RATION_PER_MEAL.T
        self.demand[is_open] += DEMAND_MEMORY * (wanted[is_open] - self.demand[is_open])

        reason = self._no_meal_reasons(is_open, wanted[:, 0])
        meals = eaters * (reason == NO_REASON)[:, None]
        short_of_eggs = self._draw_stock(meals)
        self.funds -= meals @ np.array(norms.cost_per_meal(d))
        self._no_meal_days += is_open & (reason != NO_REASON)

        reported = is_open & (rng.random(n) < self.reliability)
        record = {"date": em.date, "present": present.sum(axis=1), "meals": meals, "reason": reason,
                  "open": is_open, "reported": reported}  # fmt: skip
        self._yesterday = record
        events = self._attendance_events(em, record, np.flatnonzero(reported), "att")
        return events + self._shortage_events(em, reason, short_of_eggs)

    def _attendance_rate(self, d: dt.date) -> np.ndarray:
        """Each school's chance a child comes today: its own habit, the weekday, season and exams."""
        factor = 1.0
        if d.weekday() in (0, 4):
            factor *= MONDAY_FRIDAY_FACTOR
        if calendar.is_monsoon(d):
            factor *= MONSOON_FACTOR
        if calendar.day_kind(d) == calendar.DayKind.EXAM_DAY:
            factor *= EXAM_FACTOR
        # A shared shock per district: local festivals, rain, a market day.
        shock = self.rng.normal(0, 0.02, len(self._district_names))[self._district]
        return np.clip(self.base_rate * factor + shock, 0.3, 0.99)

    def _no_meal_reasons(self, is_open: np.ndarray, rice_wanted: np.ndarray) -> np.ndarray:
        """Why an open school cooks nothing today; the first applicable reason wins."""
        rng = self.rng
        n = len(is_open)
        out_of_rice = self.stock[:, 0] < rice_wanted
        refused = (self.funds <= 0) & (rng.random(n) < FUNDS_REFUSAL_PROB)
        no_cook = rng.random(n) < COOK_ABSENT_PROB
        not_served = rng.random(n) < NOT_SERVED_PROB
        reason = np.select([out_of_rice, refused, no_cook, not_served], [GRAINS, FUNDS, COOK, NOT_SERVED], NO_REASON)
        return np.where(is_open, reason, NO_REASON)

    def _draw_stock(self, meals: np.ndarray) -> np.ndarray:
        """Take today's meals out of stock; returns schools that ran out of eggs (the meal still goes out)."""
        draw = meals @ norms.RATION_PER_MEAL.T
        short_of_eggs = self.stock[:, 3] < draw[:, 3]
        self.stock = np.maximum(self.stock - draw, 0)
        return short_of_eggs

    def _attendance_events(
        self, em: _Emitter, rec: dict, schools: np.ndarray, kind: str, extra: np.ndarray | None = None
    ) -> list[dict]:
        """Reports of `rec`'s day for `schools`; `extra` children are added to present (corrections)."""
        present = rec["present"][schools] + (0 if extra is None else extra)
        meals = rec["meals"][schools]
        date, ids = rec["date"], em.ids(kind, len(schools))
        events = [
            {"type": "attendance_reported", "event_id": i, "date": date, "school_id": self._ids[s], "present": p,
             "meals_served": {"primary": a, "upper_primary": b, "secondary": c}}
            for i, s, p, (a, b, c) in zip(ids, schools.tolist(), present.tolist(), meals.tolist())
        ]  # fmt: skip
        reasons = rec["reason"][schools]
        for k in np.flatnonzero(reasons).tolist():
            events[k]["no_meal_reason"] = _REASONS[reasons[k]]
        return events

    def _shortage_events(self, em: _Emitter, reason: np.ndarray, short_of_eggs: np.ndarray) -> list[dict]:
        """Some schools in trouble also raise a shortage with the block office."""
        rng = self.rng
        n = len(reason)
        causes = {"rice": reason == GRAINS, "funds": reason == FUNDS, "cook": reason == COOK, "eggs": short_of_eggs}
        events = []
        for item, hit in causes.items():
            schools = np.flatnonzero(hit & (rng.random(n) < SHORTAGE_REPORT_PROB[item]))
            events += [
                {"type": "shortage_reported", "event_id": i, "date": em.date, "school_id": self._ids[s], "item": item}
                for i, s in zip(em.ids(f"sh{item}", len(schools)), schools.tolist())
            ]  # fmt: skip
        return events

    def _late_and_corrected(self, em: _Emitter) -> list[dict]:
        """Yesterday's stragglers: some missing reports arrive now, and a few reports are corrected."""
        rec = self._yesterday
        if rec is None:
            return []
        rng = self.rng
        n = len(self._ids)
        missed = rec["open"] & ~rec["reported"]
        late = np.flatnonzero(missed & (rng.random(n) < LATE_REPORT_PROB))
        fixed = np.flatnonzero(rec["reported"] & (rng.random(n) < CORRECTION_PROB))
        # A correction usually adds children counted after the report went in.
        added = rng.integers(1, 6, len(fixed))
        return self._attendance_events(em, rec, late, "late") + self._attendance_events(em, rec, fixed, "fix", added)

    # ----------------------------------------------------------------- other events

    def _spoilage(self, em: _Emitter, d: dt.date) -> list[dict]:
        """Grain lost to damp (more in a coastal monsoon), pests or pilferage."""
        rng = self.rng
        n = len(self._ids)
        prob = np.full(n, SPOILAGE_PROB)
        if calendar.is_monsoon(d):
            prob[np.isin(self._district, self._coastal)] *= 3
        schools = np.flatnonzero((rng.random(n) < prob) & (self.stock[:, 0] >= 1))
        share = rng.uniform(0.01, 0.08, len(schools))
        loss = np.round(self.stock[schools, :3] * share[:, None], 1)
        self.stock[schools, :3] -= loss
        reasons = np.where(rng.random(len(schools)) < 0.8, "spoilage", "loss").tolist()
        return [
            {"type": "stock_adjusted", "event_id": i, "date": em.date, "school_id": self._ids[s], "reason": why,
             "rice_kg": -r, "pulses_kg": -p, "oil_kg": -o}
            for i, s, why, (r, p, o) in zip(em.ids("adj", len(schools)), schools.tolist(), reasons, loss.tolist())
        ]  # fmt: skip

    def _utilisation(self, em: _Emitter) -> list[dict]:
        """Spending beyond the per-meal cost: fuel, utensils, repairs."""
        rng = self.rng
        n = len(self._ids)
        schools = np.flatnonzero(rng.random(n) < UTILISATION_PROB)
        amount = rng.integers(150, 3000, len(schools))
        purpose = rng.integers(0, len(UTILISATION_PURPOSES), len(schools))
        self.funds[schools] -= amount
        return [
            {"type": "funds_utilised", "event_id": i, "date": em.date, "school_id": self._ids[s],
             "amount_inr": float(a), "purpose": UTILISATION_PURPOSES[p]}
            for i, s, a, p in zip(em.ids("use", len(schools)), schools.tolist(), amount.tolist(), purpose.tolist())
        ]  # fmt: skip

    def _inspections(self, em: _Emitter) -> list[dict]:
        """Each school is inspected every few months; days without meals pull its score down."""
        rng = self.rng
        today = norms.day_number(self.today)
        schools = np.flatnonzero((self._next_inspection <= today) & (self.closed_until < today))
        score = self.quality[schools] + rng.normal(0, 5, len(schools)) - 5 * np.minimum(self._no_meal_days[schools], 4)
        score = np.round(np.clip(score, 0, 100), 1)
        self._next_inspection[schools] = today + rng.integers(*INSPECTION_GAP_DAYS, len(schools))
        self._no_meal_days[schools] = 0
        return [
            {"type": "inspection_done", "event_id": i, "date": em.date, "school_id": self._ids[s], "score": x,
             "issues_found": x < 65}
            for i, s, x in zip(em.ids("insp", len(schools)), schools.tolist(), score.tolist())
        ]  # fmt: skip

    def _enrolment_updates(self, em: _Emitter) -> list[dict]:
        """Admissions settle in June: a few schools revise their roll by up to a tenth."""
        rng = self.rng
        n = len(self._ids)
        schools = np.flatnonzero(rng.random(n) < ENROLMENT_UPDATE_PROB)
        change = rng.uniform(0.9, 1.1, (len(schools), 3))
        self.enrolment[schools] = np.rint(self.enrolment[schools] * change).astype(np.int64)
        return [
            {"type": "enrolment_updated", "event_id": i, "date": em.date, "school_id": self._ids[s],
             "primary": a, "upper_primary": b, "secondary": c}
            for i, s, (a, b, c) in zip(em.ids("enr", len(schools)), schools.tolist(), self.enrolment[schools].tolist())
        ]  # fmt: skip


class _Emitter:
    """Deterministic, unique event ids for one simulated day: w<seed>-<yyyymmdd>[-tag]-<kind>-<n>."""

    def __init__(self, seed: int, day: dt.date, tag: str | None = None):
        self.date = day.isoformat()
        self._prefix = f"w{seed}-{day:%Y%m%d}" + (f"-{tag}" if tag else "")
        self._counts: dict[str, int] = {}

    def ids(self, kind: str, k: int) -> list[str]:
        start = self._counts.get(kind, 0)
        self._counts[kind] = start + k
        prefix = f"{self._prefix}-{kind}-"
        return [prefix + str(j) for j in range(start, start + k)]

    def closure(self, d: dt.date, days: int, reason: str, **where: str) -> dict:
        (event_id,) = self.ids("cls", 1)
        date_to = (d + dt.timedelta(days=days - 1)).isoformat()
        return {"type": "school_closed", "event_id": event_id, "date": self.date, "date_to": date_to,
                "reason": reason, **where}  # fmt: skip


def _quarter_cost(enrolment: np.ndarray, on: dt.date) -> np.ndarray:
    """A quarter of the year's material cost per school at the class-banded norms."""
    return norms.annual_allocation_inr(enrolment, on) / 4


def _depots_of_blocks(schools: SchoolTable, nb: int) -> list[str | None]:
    """The depot serving each global block (one per block), read off the schools."""
    depots: list[str | None] = [None] * nb
    first = np.unique(schools.block, return_index=True)[1]
    for i in first.tolist():
        depots[int(schools.block[i])] = schools.depot_id[i]
    return depots


def _hq_distance_km(a: int, b: int) -> float:
    """Great-circle distance between two district headquarters."""
    da, db = geography.districts()[a], geography.districts()[b]
    la, lb = math.radians(da.hq_lat), math.radians(db.hq_lat)
    dlat, dlon = lb - la, math.radians(db.hq_lon - da.hq_lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(la) * math.cos(lb) * math.sin(dlon / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))
