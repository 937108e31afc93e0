"""`RiskDesk`: risk, cascade and alerts for every school of Tamil Nadu, in the state actor.

Shards send the raw risk features (`twin.risk.school_features`) of the schools whose features
changed; the desk scores them (`twin.risk`), moves the cascade incrementally from just those
schools (`twin.cascade`), re-levels every school (a vector operation over 43k rows) and brings the
alert book to what the rules now call for (`twin.alert_rules`). The changes are stored, streamed on
`alerts:<district>` and handed to the notifier; a store failure reloads the book from the store,
so the next round retries what was lost.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

import numpy as np

from actors.shard_publisher import alerts_topic
from twin import geography
from twin.alert_rules import (
    AREA_FUNDS_CAUSES, BLOCK_CATEGORY, BLOCK_CAUSE, CAUSES, NONE, SCHOOL_CAUSES, SEVERITIES, AlertBook,
    AlertRulesLike, C, Changes, area_funds_figures, area_funds_severities, block_severities, describe,
    describe_area_funds, school_severities,
)
from twin.cascade import Cascade
from twin.neighbour_graph import build_graph
from twin.norms import day_date
from twin.ports import DeskPorts
from twin.school_features import AREA_FUNDS
from twin.risk_answers import RiskColumns, risk_answers
from twin.risk import (
    FACTORS, FEATURES, LEVELS, NEIGHBOURS, F, RiskRules, factor_points, feature_dict, level_codes, neighbour_points,
)

log = logging.getLogger(__name__)

RISK_HISTORY_DAYS = 35
FULL_PROPAGATION_SHARE = 0.05  # when more schools changed than this, one full propagation is cheaper


class RiskDesk:
    def __init__(self, ports: DeskPorts, risk_rules: RiskRules, alert_rules: AlertRulesLike) -> None:
        self._ports = ports
        self._risk, self._rules = risk_rules, alert_rules
        self._lock = asyncio.Lock()  # one evaluation at a time
        self._load(ports.directory, ports.latitude, ports.longitude)
        self.rounds = 0  # evaluations done
        self.round_cpu_s = 0.0  # the CPU seconds of the last evaluation's scoring and reconciling

    def _load(self, directory, latitude, longitude) -> None:  # noqa: ANN001
        self.directory = directory
        n = len(directory)
        self.features = np.full((n, len(FEATURES)), np.nan)
        self.features[:, F["closed_today"]] = 0
        self.points = np.zeros((n, len(FACTORS)))
        self.local = np.zeros(n)
        self.graph = build_graph(latitude, longitude, directory.school_block, directory.school_active,
                                 self._risk.neighbour_radius_km, self._risk.neighbour_k_max)
        # one thread: the state actor shares the cores with the shards and Serve, and a parallel sweep
        # waits for its slowest thread (see benchmarks/README.md, cascade)
        self.cascade = Cascade(self.graph, self._risk.cascade_alpha, threads=1)
        self.cascade.set_local(self.local)
        self.neighbour = np.zeros(n)
        self.level = np.zeros(n, np.int8)
        self._stored_level = np.full(n, -1, np.int8)  # as the level store last heard (-1: not yet)
        self._dirty = np.zeros(n, bool)
        # each school's score at the last evaluation of each twin day (slot = day % RISK_HISTORY_DAYS)
        self.score_days = np.full(RISK_HISTORY_DAYS, -1, np.int32)
        self.score_history = np.zeros((n, RISK_HISTORY_DAYS), np.float32)
        self.book = AlertBook(n, len(CAUSES))
        self.block_book = AlertBook(len(directory.blocks), 1)
        # each school's money (`AREA_FUNDS`), summed into the blocks' and districts' funds alerts
        self.money = np.zeros((n, len(AREA_FUNDS)))
        self.area_funds_books = {"block": AlertBook(len(directory.blocks), len(AREA_FUNDS_CAUSES)),
                                 "district": AlertBook(len(geography.district_names()), len(AREA_FUNDS_CAUSES))}

    async def start(self) -> None:
        """Take the alerts left open by an earlier run, so none is raised twice."""
        if self._ports.store is None:
            return
        self.book.open[:] = NONE
        self.block_book.open[:] = NONE
        for book in self.area_funds_books.values():
            book.open[:] = NONE
        for subject, cause, severity in await self._ports.store.open_alerts():
            kind, _, key = subject.partition(":")
            if kind == "school" and cause in C and (i := self.directory.index(key)) >= 0:
                self.book.open[i, C[cause]] = SEVERITIES.index(severity)
            elif kind == "block" and cause == BLOCK_CAUSE and key.isdigit() and int(key) < len(self.block_book.open):
                self.block_book.open[int(key), 0] = SEVERITIES.index(severity)
            elif kind in self.area_funds_books and cause in AREA_FUNDS_CAUSES and key.isdigit() \
                    and int(key) < len(self.area_funds_books[kind].open):
                self.area_funds_books[kind].open[int(key), AREA_FUNDS_CAUSES.index(cause)] = SEVERITIES.index(severity)

    async def reload_schools(self, directory, latitude, longitude) -> None:  # noqa: ANN001
        """The school register changed (schools added or removed): rebuild the graph and the
        book, keeping what is known of the schools that stay."""
        async with self._lock:
            old_ids, old_features, old_money = self.directory.school_ids, self.features, self.money
            await asyncio.to_thread(self._load, directory, latitude, longitude)
            self.features[: len(old_ids)] = old_features  # indices never shift (`Directory.extend`)
            self.money[: len(old_ids)] = old_money
            self._dirty[:] = True
            await self.start()

    @property
    def pending(self) -> bool:
        """Whether features arrived since the last evaluation."""
        return bool(self._dirty.any())

    def ingest(self, schools: np.ndarray, features: np.ndarray) -> None:
        """New features (float [k, len(FEATURES)], or with the money columns `AREA_FUNDS` after
        them, as the shards send) of `schools` (global indices)."""
        schools = np.asarray(schools, np.int64)
        known = schools < len(self.features)  # a school registered after our directory: next reload
        self.features[schools[known]] = features[known, :len(FEATURES)]
        if features.shape[1] == len(FEATURES) + len(AREA_FUNDS):
            self.money[schools[known]] = features[known, len(FEATURES):]
        self._dirty[schools[known]] = True

    async def evaluate(self, today: int = -1) -> int:
        """Score what changed, move the cascade, re-level, record the scores as those of twin day
        `today` (if >= 0), and act on the alert changes. Returns the number of alert changes."""
        async with self._lock:
            school_changes, block_changes, at_risk, area_changes = await asyncio.to_thread(self._compute, today)
            opened, escalated, resolved = self._rows(school_changes, block_changes, at_risk)
            for kind, changes in area_changes.items():
                opened += [self._area_funds_row(kind, a, c, s) for a, c, s in zip(*map(np.ndarray.tolist,
                                                                                      changes.opened))]
                escalated += [self._area_funds_row(kind, a, c, s) for a, c, s in zip(*map(np.ndarray.tolist,
                                                                                          changes.escalated))]
                resolved += [(f"{kind}:{a}", AREA_FUNDS_CAUSES[c]) for a, c in zip(*map(np.ndarray.tolist,
                                                                                        changes.resolved[:2]))]
            self.rounds += 1
            await self._store_levels()
            if not (opened or escalated or resolved):
                return 0
            stored = opened + escalated
            if self._ports.store is not None:
                try:
                    stored = await self._ports.store.apply(opened, escalated, resolved)
                except Exception:  # noqa: BLE001 - the twin goes on; the book is reloaded so the next round retries
                    log.exception("storing %d alert changes failed", len(opened) + len(escalated) + len(resolved))
                    await self._reload_book()
                    return 0
            await self._announce(stored, resolved)
            return len(opened) + len(escalated) + len(resolved)

    async def _store_levels(self) -> None:
        """Tell the level store the schools whose level changed (every school the first time)."""
        if self._ports.levels is None:
            return
        changed = np.flatnonzero(self.level != self._stored_level)
        if not len(changed):
            return
        ids = self.directory.school_ids[changed].tolist()
        try:
            await self._ports.levels.set_risk_levels(
                [(f"{int(s):011d}", LEVELS[int(lv)]) for s, lv in zip(ids, self.level[changed].tolist())])
            self._stored_level[changed] = self.level[changed]
        except Exception:  # noqa: BLE001 - the next round tries again
            log.exception("storing the risk levels of %d schools failed", len(changed))

    async def _reload_book(self) -> None:
        try:
            await self.start()
        except Exception:  # noqa: BLE001
            log.exception("reloading the open alerts failed")

    def _compute(self, today: int = -1) -> tuple[Changes, Changes, np.ndarray, dict[str, Changes]]:
        started = time.thread_time()  # this thread's: a busy machine's waits are not the round's cost
        try:
            return self._compute_all(today)
        finally:
            self.round_cpu_s = time.thread_time() - started

    def _compute_all(self, today: int) -> tuple[Changes, Changes, np.ndarray, dict[str, Changes]]:
        changed = np.flatnonzero(self._dirty)
        self._dirty[changed] = False
        if len(changed):
            self.points[changed] = factor_points(self.features[changed], self._risk)
            self.local[changed] = self.points[changed].sum(axis=1)
            if len(changed) > FULL_PROPAGATION_SHARE * len(self.local):
                self.cascade.set_local(self.local / 100)
            else:
                self.cascade.update_local(changed, self.local[changed] / 100)
        self.neighbour = neighbour_points(self.local, self.local / 100, self.cascade.pressure_by_school(),
                                          self._risk.neighbour_weight)
        active = self.directory.school_active
        self.level = np.where(active, level_codes(self.local + self.neighbour, self._risk.levels), 0).astype(np.int8)
        if today >= 0:
            slot = today % RISK_HISTORY_DAYS
            self.score_days[slot] = today
            self.score_history[:, slot] = self.local + self.neighbour
        wanted = school_severities(self.features, self.level, self._rules, self._risk.inspection_interval_days)
        wanted[~active] = NONE  # a deactivated school's alerts resolve
        block_wanted, at_risk = block_severities(self.directory.school_block, self.level, active,
                                                 len(self.block_book.open), self._rules)
        areas = {kind: book.reconcile(area_funds_severities(self._area_of(kind), self.money, active,
                                                            len(book.open), self._rules))
                 for kind, book in self.area_funds_books.items()}
        return self.book.reconcile(wanted), self.block_book.reconcile(block_wanted[:, None]), at_risk, areas

    def _area_of(self, kind: str) -> np.ndarray:
        """Each school's block or district (global index)."""
        return self.directory.school_block if kind == "block" else self.directory.school_district

    # -- alert rows ---------------------------------------------------------------------------------
    def _rows(self, schools: Changes, blocks: Changes, at_risk: np.ndarray) -> tuple[list, list, list]:
        opened = [self._school_row(i, c, s) for i, c, s in zip(*map(np.ndarray.tolist, schools.opened))]
        escalated = [self._school_row(i, c, s) for i, c, s in zip(*map(np.ndarray.tolist, schools.escalated))]
        resolved = [(self._school_subject(i), CAUSES[c]) for i, c in zip(*map(np.ndarray.tolist, schools.resolved[:2]))]
        opened += [self._block_row(b, s, at_risk) for b, _, s in zip(*map(np.ndarray.tolist, blocks.opened))]
        escalated += [self._block_row(b, s, at_risk) for b, _, s in zip(*map(np.ndarray.tolist, blocks.escalated))]
        resolved += [(f"block:{b}", BLOCK_CAUSE) for b in blocks.resolved[0].tolist()]
        return opened, escalated, resolved

    def _school_subject(self, i: int) -> str:
        return f"school:{int(self.directory.school_ids[i]):011d}"

    def _school_row(self, i: int, c: int, severity: int) -> dict:
        d = self.directory
        cause = CAUSES[c]
        school_id = f"{int(d.school_ids[i]):011d}"
        score = float(self.local[i] + self.neighbour[i])
        title, message, details = describe(cause, f"school {school_id}", self.features[i], score,
                                           LEVELS[int(self.level[i])])
        if cause == "risk_high" and self.cascade_flagged(i):
            details["cascade_sources"] = self.sources(i)
            message += " Driven by neighbouring schools."
        return {"subject": f"school:{school_id}", "school_id": school_id,
                "district": geography.district_names()[int(d.school_district[i])],
                "block": d.blocks.names[int(d.school_block[i])], "alert_type": cause,
                "category": SCHOOL_CAUSES[cause], "severity": SEVERITIES[severity],
                "title": title, "message": message, "details": details}

    def _block_row(self, b: int, severity: int, at_risk: np.ndarray) -> dict:
        blocks = self.directory.blocks
        name = blocks.names[b]
        title, message, details = describe(BLOCK_CAUSE, f"{name} block", at_risk=int(at_risk[b]))
        return {"subject": f"block:{b}", "school_id": None,
                "district": geography.district_names()[int(blocks.district[b])], "block": name,
                "alert_type": BLOCK_CAUSE, "category": BLOCK_CATEGORY, "severity": SEVERITIES[severity],
                "title": title, "message": message, "details": details}

    def _area_funds_row(self, kind: str, area: int, c: int, severity: int) -> dict:
        """A block's or district's funds alert (a district's has no block: an empty name)."""
        blocks = self.directory.blocks
        district = int(blocks.district[area]) if kind == "block" else area
        name = f"{blocks.names[area]} block" if kind == "block" else f"{geography.district_names()[area]} district"
        cause = AREA_FUNDS_CAUSES[c]
        figures = area_funds_figures(self._area_of(kind), self.money, self.directory.school_active, area)
        title, message, details = describe_area_funds(cause, name, figures)
        return {"subject": f"{kind}:{area}", "school_id": None, "district": geography.district_names()[district],
                "block": blocks.names[area] if kind == "block" else "", "alert_type": cause,
                "category": SCHOOL_CAUSES[cause], "severity": SEVERITIES[severity],
                "title": title, "message": message, "details": details}

    async def _announce(self, stored: Sequence[dict], resolved: Sequence[tuple[str, str]]) -> None:
        if self._ports.broker is not None:
            messages = [(alerts_topic(geography.district_index(a["district"])),
                         {"kind": "alert", "change": "resolved" if a.get("is_resolved") else "raised", **a})
                        for a in stored]
            messages += [(alerts_topic(self._district_of_subject(subject)),
                          {"kind": "alert", "change": "resolved", "subject": subject, "alert_type": cause,
                           "district": geography.district_names()[self._district_of_subject(subject)]})
                         for subject, cause in resolved]
            try:
                await self._ports.broker.publish_many(messages)
            except Exception:  # noqa: BLE001 - the alerts are stored; the stream misses them
                log.exception("publishing %d alert messages failed", len(messages))
        if self._ports.notifier is not None and stored:
            self._ports.notifier.submit(list(stored))

    def _district_of_subject(self, subject: str) -> int:
        kind, _, key = subject.partition(":")
        if kind == "block":
            return int(self.directory.blocks.district[int(key)])
        if kind == "district":
            return int(key)
        return int(self.directory.school_district[self.directory.index(key)])

    # -- reads --------------------------------------------------------------------------------------
    def _flagged(self, schools: np.ndarray | slice = slice(None)) -> np.ndarray:
        """bool: which of `schools` are cascade-flagged (driven by their neighbours)."""
        return self.neighbour[schools] >= np.maximum(self.local[schools], self._risk.cascade_flag_points)

    def cascade_flagged(self, i: int) -> bool:
        return bool(self._flagged(i))

    def sources(self, i: int) -> list[dict]:
        return [self._node(step) for step in self.cascade.explain(i)[1:]]

    def _node(self, step: dict) -> dict:
        if step["node"] == "school":
            out = {"school_id": f"{int(self.directory.school_ids[step['index']]):011d}"}
        else:
            out = {"depot_of_block": self.directory.blocks.names[step["index"]]}
        return out | {"local_risk": round(100 * step["local"], 1), "pressure": round(100 * step["pressure"], 1)}

    def risks(self, schools: np.ndarray) -> list[dict | None]:
        """`risk` of many schools in one call (reports of an area): without the score history and
        the cascade's path, which only a single school's read shows."""
        return risk_answers(self.risk_columns(schools))

    def risk_columns(self, schools: np.ndarray) -> RiskColumns:
        """What `risks` answers, as arrays (what the state actor sends an API replica). Every array
        is taken once for all the schools asked, not once a school: a state-wide read is O(n)."""
        schools = np.asarray(schools, np.int64)
        known = (schools >= 0) & (schools < len(self.local))
        known[known] &= self.directory.school_active[schools[known]]
        rows = schools[known]
        return RiskColumns(
            asked=len(schools), slot=np.flatnonzero(known), school_id=self.directory.school_ids[rows].astype(np.int64),
            points=self.points[rows].astype(np.float64), neighbour=self.neighbour[rows].astype(np.float64),
            local=self.local[rows].astype(np.float64),
            pressure=self.cascade.pressure_by_school()[rows].astype(np.float64), flagged=self._flagged(rows),
            open_causes=self.book.open[rows] != NONE, causes=tuple(CAUSES),
            weights=tuple(float(self._risk.weights.get(name, 0)) for name in FACTORS),
            neighbour_weight=float(self._risk.neighbour_weight), levels=tuple(self._risk.levels))

    def risk(self, i: int, brief: bool = False) -> dict | None:
        """One school's score with the contribution of every factor (they add up to the score)."""
        if not (0 <= i < len(self.local)) or not self.directory.school_active[i]:
            return None
        factors = [{"factor": name, "points": round(float(p), 2), "weight": float(self._risk.weights.get(name, 0))}
                   for name, p in zip(FACTORS, self.points[i])]
        factors.append({"factor": NEIGHBOURS, "points": round(float(self.neighbour[i]), 2),
                        "weight": float(self._risk.neighbour_weight)})
        score = round(sum(f["points"] for f in factors), 2)
        flagged = self.cascade_flagged(i)
        if brief:
            return {"school_id": f"{int(self.directory.school_ids[i]):011d}", "score": score,
                    "level": LEVELS[int(level_codes(np.array([score]), self._risk.levels)[0])],
                    "local_score": round(float(self.local[i]), 2), "factors": factors,
                    "cascade": {"flagged": flagged, "pressure": round(100 * float(self.cascade.pressure_by_school()[i]), 2)},
                    "open_alerts": [CAUSES[c] for c in np.flatnonzero(self.book.open[i] != NONE).tolist()]}
        return {
            "school_id": f"{int(self.directory.school_ids[i]):011d}",
            "score": score,
            "level": LEVELS[int(level_codes(np.array([score]), self._risk.levels)[0])],
            "local_score": round(float(self.local[i]), 2),
            "factors": factors,
            "features": feature_dict(self.features[i]),
            "cascade": {"flagged": flagged, "pressure": round(100 * float(self.cascade.pressure_by_school()[i]), 2),
                        "path": self.sources(i) if flagged else []},
            "open_alerts": [CAUSES[c] for c in np.flatnonzero(self.book.open[i] != NONE).tolist()],
            "history": [{"date": day_date(int(self.score_days[slot])).isoformat(),
                         "score": round(float(self.score_history[i, slot]), 1)}
                        for slot in np.argsort(self.score_days) if self.score_days[slot] >= 0],
        }

    def summary(self) -> dict:
        """Tamil Nadu at a glance: schools by risk level, cascade-flagged schools, open alerts."""
        active = self.directory.school_active
        flagged = self._flagged() & active
        return {"by_level": dict(zip(LEVELS, map(int, np.bincount(self.level[active], minlength=len(LEVELS))))),
                "cascade_flagged": int(flagged.sum()),
                "open_alerts": int((self.book.open != NONE).sum() + (self.block_book.open != NONE).sum())}

    def cascade_view(self, schools: np.ndarray, limit: int = 200) -> dict:
        """The cascade-flagged schools among `schools` (global indices), most neighbour-driven first."""
        schools = np.asarray(schools, np.int64)
        flagged = schools[self._flagged(schools) & self.directory.school_active[schools]]
        flagged = flagged[np.argsort(-self.neighbour[flagged], kind="stable")]
        rows = [{"school_id": f"{int(self.directory.school_ids[i]):011d}",
                 "score": round(float(self.local[i] + self.neighbour[i]), 2), "level": LEVELS[int(self.level[i])],
                 "local_score": round(float(self.local[i]), 2), "neighbour_points": round(float(self.neighbour[i]), 2),
                 "sources": self.sources(int(i))[-1:]} for i in flagged[:limit].tolist()]
        levels = np.bincount(self.level[schools[self.directory.school_active[schools]]], minlength=len(LEVELS))
        return {"schools": int(len(schools)), "by_level": dict(zip(LEVELS, map(int, levels))),
                "cascade_flagged": int(len(flagged)), "flagged": rows, "shown": len(rows)}
