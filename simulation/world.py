"""The world behind the live feed: the true state of every school, and the events it sends.

The world keeps each school's real stock, funds and open/closed status in arrays and simulates one
day at a time. What the feed shows is deliberately imperfect, as in PM POSHAN's monitoring: reports
go missing, some arrive a day late, a few are corrected. Events are plain dicts that validate with
`twin.events.parse_event`.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from statistics import NormalDist

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

# Districts on the Western Ghats, which the south-west monsoon (June-September) soaks.
WESTERN_GHATS_DISTRICTS = ("The Nilgiris", "Coimbatore")

# Attendance.
MONDAY_FRIDAY_FACTOR = 0.96
# The live world lowers attendance by the day's rain in each district (below); this is about the
# average effect over a coastal north-east monsoon, which the scenario engine applies as a flat factor.
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
BLOCK_FLOOD_PROB = 0.08  # chance per wet monsoon day that one coastal block floods
BLOCK_FLOOD_RAIN_MM = 30.0  # floods need a wet day in the block's district

# Rainfall per district (mm/day, mean over all days of the month, Jan..Dec). Tamil Nadu gets most of
# its rain from the north-east monsoon (Oct-Dec), most of all on the coast; the south-west monsoon
# (Jun-Sep) is light except on the Western Ghats.
RAIN_CLIMATE_MM = {
    "coastal": (0.8, 0.3, 0.3, 0.6, 1.6, 1.6, 2.6, 3.6, 3.8, 8.0, 12.5, 6.5),
    "inland": (0.4, 0.3, 0.4, 1.2, 2.4, 1.3, 1.8, 3.0, 4.0, 5.5, 5.0, 2.0),
    "ghats": (0.4, 0.3, 0.6, 2.0, 3.0, 6.0, 8.0, 5.5, 3.5, 6.0, 5.0, 1.8),
}
RAIN_SPELL_PERSISTENCE = 0.75  # day-to-day correlation of a district's wetness: rain comes in spells
RAIN_SHARED_WEIGHT = 0.5  # share of the daily weather common to the whole state (monsoon surges)
RAIN_WET_DAY_BASE_MM, RAIN_WET_DAY_SLOPE = 8.0, 1.2  # mean rain on a wet day = base + slope x monthly mean
RAIN_AMOUNT_SHAPE = 0.7  # gamma shape of a wet day's rain: mostly light, now and then very heavy
SYSTEM_RAIN_MM = (150.0, 70.0)  # mean rain of a weather system at landfall and in the districts it reaches
HEAVY_RAIN_MM = 100.0  # a collector may declare a rain holiday in a coastal district in the monsoon
HEAVY_RAIN_CLOSURE_PROB = 0.6
RAIN_ATTENDANCE_FREE_MM = 10.0  # light rain keeps no one at home
RAIN_ATTENDANCE_FULL_MM = 100.0  # from here on attendance is down by RAIN_ATTENDANCE_DROP
RAIN_ATTENDANCE_DROP = 0.25

# Funds: quarterly releases down the chain; a few blocks are months late (TNIE, Dec 2022).
QUARTER_MONTHS = (1, 4, 7, 10)
VERY_LATE_BLOCKS = 0.04

INSPECTION_GAP_DAYS = (60, 120)
UTILISATION_PURPOSES = ("firewood and LPG", "utensils", "kitchen repairs", "vegetables and condiments")
_REASONS = (None, "food_grains_not_available", "funds_not_available", "cook_not_available", "meals_not_served")
NO_REASON, GRAINS, FUNDS, COOK, NOT_SERVED = range(5)


class World:
    """True state of every school plus the feed of events it produces, one day per `step_day`."""

    def __init__(self, schools: SchoolTable, seed: int = 0, start: dt.date = dt.date(2025, 6, 2),
                 emit_events: bool = True):
        self.schools = schools
        self.seed = seed
        # False skips building event dicts (the state evolves exactly the same): for long histories
        self.emit_events = emit_events
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
        # Weather has its own stream, so the rain of a day does not depend on how many schools there are.
        self.weather = DistrictWeather(self._coastal, np.random.default_rng([seed, 1]))
        self._rain_rng = np.random.default_rng([seed, 2])
        self.rain_mm = np.zeros(len(self._district_names))  # today's rain per district
        self.truth: DayTruth | None = None  # what really happened on the last simulated day

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
        self.rain_mm = self.weather.day(d)
        self._shortage_today = np.zeros(len(self._ids), bool)
        self._meal_record: dict | None = None
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
        self.truth = self._day_truth(d)
        self.today = d + dt.timedelta(days=1)
        return events

    def _day_truth(self, d: dt.date) -> DayTruth:
        n = len(self._ids)
        rec = self._meal_record
        if rec is None:  # no school today
            zeros = np.zeros(n, np.int64)
            return DayTruth(d, self.rain_mm.copy(), np.zeros(n, bool), np.zeros(n, bool), zeros, zeros,
                            np.zeros(n, np.int8), self._shortage_today)
        return DayTruth(d, self.rain_mm.copy(), rec["open"], rec["reported"], rec["present"],
                        rec["meals"].sum(axis=1), rec["reason"].astype(np.int8), self._shortage_today)

    # ----------------------------------------------------------------- closures

    def _closures(self, em: _Emitter, d: dt.date) -> list[dict]:
        events = []
        if calendar.is_monsoon(d):
            events += self._monsoon_system(em, d)
            events += self._rain_holidays(em, d)
            events += self._block_flood(em, d)
        if calendar.is_school_day(d):
            events += self._single_school_closures(em, d)
        return events

    def _monsoon_system(self, em: _Emitter, d: dt.date) -> list[dict]:
        """Now and then a cyclone or deep depression closes the coastal districts near landfall (the
        weather has already rained it on them)."""
        rng = self.rng
        if self.weather.landfall is None:
            return []
        landfall = self.weather.landfall
        near = self.weather.reached
        reason = "cyclone" if rng.random() < 0.4 else "flood"
        events = []
        for di in near:
            if di != landfall and rng.random() < 0.3:
                continue  # the system spares some neighbours
            days = int(rng.integers(1, 7))
            self._close(self._district == di, d, days)
            events.append(em.closure(d, days, reason, district=self._district_names[di]))
        return events

    def _rain_holidays(self, em: _Emitter, d: dt.date) -> list[dict]:
        """After very heavy rain a coastal district's collector often closes its schools for the day."""
        rng = self.rng
        today = norms.day_number(d)
        events = []
        for di in self._coastal.tolist():
            if self.rain_mm[di] < HEAVY_RAIN_MM or rng.random() >= HEAVY_RAIN_CLOSURE_PROB:
                continue
            in_district = self._district == di
            if in_district.any() and (self.closed_until[in_district] >= today).all():
                continue  # a weather system already closed it
            self._close(in_district, d, 1)
            events.append(em.closure(d, 1, "monsoon", district=self._district_names[di]))
        return events

    def _block_flood(self, em: _Emitter, d: dt.date) -> list[dict]:
        """One coastal block floods now and then, more likely where it rained hardest today."""
        rng = self.rng
        if rng.random() >= BLOCK_FLOOD_PROB:
            return []
        coastal_blocks = np.flatnonzero(np.isin(self._block_district, self._coastal))
        wet = self.rain_mm[self._block_district[coastal_blocks]]
        wet = np.where(wet >= BLOCK_FLOOD_RAIN_MM, wet, 0.0)
        if wet.sum() <= 0:
            return []
        b = int(rng.choice(coastal_blocks, p=wet / wet.sum()))
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
        if not self.emit_events:
            return []
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
        if not self.emit_events:
            return []
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
        present, eaters = self._rain_keeps_at_home(present, eaters)
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
        self._meal_record = record
        events = self._attendance_events(em, record, np.flatnonzero(reported), "att")
        return events + self._shortage_events(em, reason, short_of_eggs)

    def _attendance_rate(self, d: dt.date) -> np.ndarray:
        """Each school's chance a child comes today: its own habit, the weekday, season and exams."""
        factor = 1.0
        if d.weekday() in (0, 4):
            factor *= MONDAY_FRIDAY_FACTOR
        if calendar.day_kind(d) == calendar.DayKind.EXAM_DAY:
            factor *= EXAM_FACTOR
        # A shared shock per district: local festivals, a market day. (Rain comes after, in
        # `_rain_keeps_at_home`; it, not the season, is what lowers monsoon attendance.)
        shock = self.rng.normal(0, 0.02, len(self._district_names))[self._district]
        return np.clip(self.base_rate * factor + shock, 0.3, 0.99)

    def _rain_keeps_at_home(self, present: np.ndarray, eaters: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each child who would have come stays at home with the chance the district's rain sets,
        whether or not they would have eaten. Drawn from the weather's own stream, so the rest of the
        world's randomness is the same whatever the rain (common random numbers)."""
        stay = 1.0 - rain_attendance_factor(self.rain_mm)[self._district]
        if not (stay > 0).any():
            return present, eaters
        stay = stay[:, None]
        rng = self._rain_rng
        eaters_home = rng.binomial(eaters, stay)
        others_home = rng.binomial(present - eaters, stay)
        return present - eaters_home - others_home, eaters - eaters_home

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
        if not self.emit_events:
            return []
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
            self._shortage_today[schools] = True
            if not self.emit_events:
                continue
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


@dataclass
class DayTruth:
    """What really happened in every school on one simulated day (the feed shows only part of it)."""

    date: dt.date
    rain_mm: np.ndarray  # float64 [D] rain per district
    open: np.ndarray  # bool [n] open for a meal: a school day and not closed
    reported: np.ndarray  # bool [n] sent the day's report on the day
    present: np.ndarray  # int64 [n] children present
    meals: np.ndarray  # int64 [n] meals served, all bands
    reason: np.ndarray  # int8 [n] why no meal (NO_REASON when served or closed)
    shortage: np.ndarray  # bool [n] raised a shortage with the block office today


def rain_attendance_factor(rain_mm: np.ndarray) -> np.ndarray:
    """Share of the usual attendance that comes on a day with `rain_mm` of rain."""
    span = RAIN_ATTENDANCE_FULL_MM - RAIN_ATTENDANCE_FREE_MM
    return 1.0 - RAIN_ATTENDANCE_DROP * np.clip((rain_mm - RAIN_ATTENDANCE_FREE_MM) / span, 0.0, 1.0)


def district_rain_normals() -> np.ndarray:
    """float64 [D, 12]: each district's normal rain (mm/day) in each month, Jan..Dec: the climate the
    weather draws from, as a forecaster would know it from published normals."""
    names = geography.district_names()
    region = np.full(len(names), "inland", dtype=object)
    region[[geography.district_index(d) for d in COASTAL_DISTRICTS]] = "coastal"
    region[[geography.district_index(d) for d in WESTERN_GHATS_DISTRICTS]] = "ghats"
    return np.array([RAIN_CLIMATE_MM[r] for r in region])


class DistrictWeather:
    """Daily rain per district: each month's climate, wet spells that persist for days and are partly
    shared across the state, and in the NE monsoon now and then a weather system (cyclone or deep
    depression) that drenches the coastal districts near its landfall."""

    def __init__(self, coastal: np.ndarray, rng: np.random.Generator):
        self.rng = rng
        names = geography.district_names()
        self.coastal = coastal
        self.monthly_mm = district_rain_normals()
        self.wet_day_mm = RAIN_WET_DAY_BASE_MM + RAIN_WET_DAY_SLOPE * self.monthly_mm
        wet_prob = np.clip(self.monthly_mm / self.wet_day_mm, 1e-4, 0.95)
        unit = NormalDist()
        self.wet_threshold = np.vectorize(lambda p: unit.inv_cdf(1 - p))(wet_prob)  # [D, 12]
        self.wetness = rng.standard_normal(len(names))
        self.landfall: int | None = None  # today's weather system, if any
        self.reached: list[int] = []

    def day(self, d: dt.date) -> np.ndarray:
        """float64 [D]: rain per district on `d` (call once per day, in order)."""
        rng, nd, m = self.rng, len(self.wetness), d.month - 1
        rho, w = RAIN_SPELL_PERSISTENCE, RAIN_SHARED_WEIGHT
        shock = math.sqrt(w) * rng.standard_normal() + math.sqrt(1 - w) * rng.standard_normal(nd)
        self.wetness = rho * self.wetness + math.sqrt(1 - rho**2) * shock
        amount = rng.gamma(RAIN_AMOUNT_SHAPE, 1 / RAIN_AMOUNT_SHAPE, nd) * self.wet_day_mm[:, m]
        rain = np.where(self.wetness > self.wet_threshold[:, m], amount, 0.0)
        self.landfall, self.reached = None, []
        if calendar.is_monsoon(d) and rng.random() < SYSTEM_PROB:
            self.landfall = int(rng.choice(self.coastal))
            self.reached = [int(c) for c in self.coastal if _hq_distance_km(self.landfall, int(c)) <= SYSTEM_REACH_KM]
            for c in self.reached:
                mean = SYSTEM_RAIN_MM[0] if c == self.landfall else SYSTEM_RAIN_MM[1]
                rain[c] += mean * rng.gamma(4.0, 0.25)
        return np.round(rain, 1)


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
    """The depot serving each global block, read off the schools (the India-scale stress set's
    depot areas are one block depot to the world: it ships per block)."""
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
