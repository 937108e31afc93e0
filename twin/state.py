"""Twin state of the schools, blocks and districts one shard hosts, as numpy columns.

A school twin is a virtual actor: its state is row `i` of these columns and it changes only
through `twin.kernels.apply_events`. Stock is a book balance (deliveries minus norm draw-down and
adjustments): it may go below zero when a school serves meals from stock it never reported
receiving, which is itself a signal; views show it clipped at zero.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from twin.directory import Directory

HISTORY_DAYS = 35  # daily reports kept per school; an older report can no longer be corrected
ALLOCATION_YEARS = 4  # financial years of allocation kept per school (slot = year % ALLOCATION_YEARS)
NO_DAY = -1
# funds column order (school level)
FUNDS_RELEASED, MEAL_COST, OTHER_UTILISED = 0, 1, 2
# block and district funds columns
RECEIVED, PASSED_DOWN = 0, 1
# allocation payer columns (`alloc_inr[..., k]`)
ALLOC_CENTRE, ALLOC_STATE = 0, 1


@dataclass
class ShardState:
    # schools (row i = local school i)
    school_ids: np.ndarray  # int64 [n]
    school_block: np.ndarray  # int32 [n] local block index
    enrolment: np.ndarray  # int32 [n, 3] children by band
    active: np.ndarray  # bool [n] false once the school is deactivated: views and roll-ups skip it
    stock: np.ndarray  # float64 [n, 4] rice kg, pulses kg, oil kg, eggs
    funds: np.ndarray  # float64 [n, 3] released, meal cost accrued, other utilised (INR)
    alloc_year: np.ndarray  # int32 [n, ALLOCATION_YEARS] the financial year each slot holds, NO_DAY: none
    alloc_inr: np.ndarray  # float64 [n, ALLOCATION_YEARS, 2] that year's allocation: Centre's, State's (INR)
    last_report_day: np.ndarray  # int32 [n]
    closed_from: np.ndarray  # int32 [n]
    closed_to: np.ndarray  # int32 [n]
    closed_reason: np.ndarray  # int8 [n]
    inspection_day: np.ndarray  # int32 [n]
    inspection_score: np.ndarray  # float64 [n]
    inspection_issues: np.ndarray  # int8 [n]
    shortage_day: np.ndarray  # int32 [n]
    shortage_item: np.ndarray  # int8 [n]
    hist_day: np.ndarray  # int32 [n, HISTORY_DAYS] which day each slot holds (slot = day % HISTORY_DAYS)
    hist_present: np.ndarray  # int32 [n, HISTORY_DAYS]
    hist_meals: np.ndarray  # int32 [n, HISTORY_DAYS, 3]
    hist_reason: np.ndarray  # int8 [n, HISTORY_DAYS] no-meal reason code, 0 = meal served
    # blocks
    block_global: np.ndarray  # int32 [nb]
    block_district: np.ndarray  # int32 [nb] local district index
    block_funds: np.ndarray  # float64 [nb, 2] received from district, released to schools
    # the block depot's stock (as `stock`): consignments received less its deliveries and transfers;
    # a book balance, known only once a consignment is logged (`block_depot_logged`)
    block_depot_stock: np.ndarray  # float64 [nb, 4]
    block_depot_logged: np.ndarray  # int8 [nb] 1 once a consignment to the depot is logged
    # districts
    district_global: np.ndarray  # int16 [nd]
    district_funds: np.ndarray  # float64 [nd, 2] received from state, released to blocks
    district_applied_seq: np.ndarray  # int64 [nd] last log seq folded into each district
    # global -> local index maps (-1 = not hosted here)
    school_local: np.ndarray  # int32 [N schools in the state]
    block_local: np.ndarray  # int32 [N blocks in the state]
    district_local: np.ndarray  # int32 [38]
    today: np.ndarray  # int32 [1] the latest report day seen: the twin's "today"

    @property
    def n_schools(self) -> int:
        return int(self.school_ids.shape[0])

    @classmethod
    def for_districts(cls, directory: Directory, enrolment: np.ndarray, districts: list[int]) -> ShardState:
        """Fresh state for the schools of `districts` (global indices), enrolment [N, 3] by global school."""
        n_districts_total = len(directory.district_names())
        district_global = np.array(sorted(districts), np.int16)
        district_local = np.full(n_districts_total, -1, np.int32)
        district_local[district_global] = np.arange(len(district_global))
        block_mask = np.isin(directory.blocks.district, district_global)
        block_global = np.flatnonzero(block_mask).astype(np.int32)
        block_local = np.full(len(directory.blocks), -1, np.int32)
        block_local[block_global] = np.arange(len(block_global))
        schools = np.flatnonzero(np.isin(directory.school_district, district_global))
        school_local = np.full(len(directory), -1, np.int32)
        school_local[schools] = np.arange(len(schools))
        n, nb, nd = len(schools), len(block_global), len(district_global)
        return cls(
            school_ids=directory.school_ids[schools].astype(np.int64),
            school_block=block_local[directory.school_block[schools]].astype(np.int32),
            enrolment=np.asarray(enrolment, np.int32)[schools].copy(),
            active=np.asarray(directory.school_active, bool)[schools].copy(),
            stock=np.zeros((n, 4)),
            funds=np.zeros((n, 3)),
            alloc_year=np.full((n, ALLOCATION_YEARS), NO_DAY, np.int32),
            alloc_inr=np.zeros((n, ALLOCATION_YEARS, 2)),
            last_report_day=np.full(n, NO_DAY, np.int32),
            closed_from=np.full(n, NO_DAY, np.int32),
            closed_to=np.full(n, NO_DAY, np.int32),
            closed_reason=np.zeros(n, np.int8),
            inspection_day=np.full(n, NO_DAY, np.int32),
            inspection_score=np.zeros(n),
            inspection_issues=np.zeros(n, np.int8),
            shortage_day=np.full(n, NO_DAY, np.int32),
            shortage_item=np.zeros(n, np.int8),
            hist_day=np.full((n, HISTORY_DAYS), NO_DAY, np.int32),
            hist_present=np.zeros((n, HISTORY_DAYS), np.int32),
            hist_meals=np.zeros((n, HISTORY_DAYS, 3), np.int32),
            hist_reason=np.zeros((n, HISTORY_DAYS), np.int8),
            block_global=block_global,
            block_district=district_local[directory.blocks.district[block_global]].astype(np.int32),
            block_funds=np.zeros((nb, 2)),
            block_depot_stock=np.zeros((nb, 4)),
            block_depot_logged=np.zeros(nb, np.int8),
            district_global=district_global,
            district_funds=np.zeros((nd, 2)),
            district_applied_seq=np.zeros(nd, np.int64),
            school_local=school_local,
            block_local=block_local,
            district_local=district_local,
            today=np.full(1, NO_DAY, np.int32),
        )

    def grown(self, directory: Directory, enrolment: np.ndarray) -> ShardState:
        """This state plus, as fresh rows at the end, the schools of its districts that `directory`
        (an extension of the one this state was built from) adds; `enrolment` [N, 3] by global
        school gives theirs. Existing rows keep their local index: new schools come after them
        in global order, hence in local order too."""
        new = ShardState.for_districts(directory, enrolment, [int(d) for d in self.district_global])
        n = self.n_schools
        if not np.array_equal(new.school_ids[:n], self.school_ids):
            raise ValueError("the directory is not an extension of this state's")
        for f in fields(ShardState):
            if f.name == "school_local":
                continue
            if f.name in SCHOOL_COLUMNS or f.name == "active":
                getattr(new, f.name)[:n] = getattr(self, f.name)
            else:
                setattr(new, f.name, getattr(self, f.name))
        return new

    # -- snapshots: one per district, so they survive a change of placement ------------------------
    def district_parts(self, seq: int, changed: np.ndarray | None = None) -> list[dict[str, np.ndarray]]:
        """Copies of the columns of every hosted district (its schools, blocks and own row), as
        folded up to log position `seq`, in local district order; copies, since snapshots are
        stored while folding goes on. One sort finds every district's rows: a boolean mask per
        district and column took 35 ms for 43,000 schools, under the shard's fold lock; this, 10.

        With `changed` (bool [n_schools]), only those schools' rows: a delta, which restored over
        the snapshot before it (`restore_district_part`) gives the state at `seq`, as a whole copy
        would, for the cost of the rows copied (blocks and districts are copied whole)."""
        nd = len(self.district_global)
        district_of_school = self.school_block_district()
        if changed is None:
            schools, school_bounds = _grouped(district_of_school, nd)
        else:  # sort only the changed rows (a sort of 1.08 M would cost more than their copy)
            picked = np.flatnonzero(changed)
            order, school_bounds = _grouped(district_of_school[picked], nd)
            schools = picked[order]
        blocks, block_bounds = _grouped(self.block_district, nd)
        parts = []
        for d in range(nd):
            rows = schools[school_bounds[d] : school_bounds[d + 1]]
            b_rows = blocks[block_bounds[d] : block_bounds[d + 1]]
            part = {f"s.{name}": getattr(self, name)[rows] for name in SCHOOL_COLUMNS}
            part |= {f"b.{name}": getattr(self, name)[b_rows] for name in BLOCK_COLUMNS}
            part["d.district_funds"] = self.district_funds[d].copy()
            part["d.district_applied_seq"] = np.array([seq], np.int64)
            part["today"] = self.today.copy()
            parts.append(part)
        return parts

    def school_order(self) -> tuple[np.ndarray, np.ndarray]:
        """(the rows in UDISE code order, the codes in that order): what `restore_district_part`
        matches a snapshot's schools with. A sort of 1.08 M codes takes ~0.1 s: a recovery that
        restores many parts (a snapshot and its deltas, of every district) sorts them once."""
        order = np.argsort(self.school_ids)
        return order, self.school_ids[order]

    def restore_district_part(self, d_local: int, part: dict[str, np.ndarray],
                              school_order: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """Load a snapshot (or a delta after it) of one district into its rows. Schools are matched
        by UDISE code, so a school added since the snapshot keeps its fresh row and one removed
        since is dropped. `school_order`: `self.school_order()`, if the caller has it already."""
        self.restore_district_chain(d_local, [part], school_order)

    def restore_district_chain(self, d_local: int, chain: list[dict[str, np.ndarray]],
                               school_order: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """Load a district's snapshot and the deltas after it (`chain`, in seq order) in one pass:
        the same state as restoring each part in turn (`restore_district_part`), but each school
        row is written once, from the newest part that holds it. At India scale a recovery's
        chain holds a whole copy and up to three copies' rows of deltas, and writing every part's
        rows in turn rewrote most schools two to four times. Blocks, the district's row and
        "today" (a few rows, in every part) are restored part by part, in order. (One process
        writes a whole chain, so its parts hold the same columns.)"""
        order, sorted_ids = school_order or self.school_order()
        written = np.zeros(self.n_schools, bool)  # rows a newer part has restored
        for part in reversed(chain):
            rows, picked = self._matched_rows(part["s.school_ids"], order, sorted_ids)
            fresh = ~written[rows]
            written[rows] = True
            self._restore_school_rows(part, rows[fresh], picked[fresh])
        for part in chain:
            self._restore_blocks_and_district(d_local, part)

    @staticmethod
    def _matched_rows(ids: np.ndarray, order: np.ndarray, sorted_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(this state's rows, their index in `ids`) of the codes `ids` that are hosted here."""
        if not len(order):
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        pos = np.minimum(np.searchsorted(sorted_ids, ids), len(order) - 1)
        picked = np.flatnonzero(sorted_ids[pos] == ids)
        return order[pos[picked]], picked

    def _restore_school_rows(self, part: dict[str, np.ndarray], rows: np.ndarray, picked: np.ndarray) -> None:
        """Write the part's school values at index `picked` into this state's `rows`."""
        for name in SCHOOL_COLUMNS:
            if name in ("school_ids", "school_block"):
                continue
            if f"s.{name}" not in part:  # a column added since the snapshot: the log after it fills it
                continue
            getattr(self, name)[rows] = part[f"s.{name}"][picked]

    def _restore_blocks_and_district(self, d_local: int, part: dict[str, np.ndarray]) -> None:
        b_rows = self.block_local[part["b.block_global"]]
        ok = b_rows >= 0
        for name in BLOCK_COLUMNS[1:]:
            if f"b.{name}" in part:  # a column added since the snapshot: the log after it fills it
                getattr(self, name)[b_rows[ok]] = part[f"b.{name}"][ok]
        self.district_funds[d_local] = part["d.district_funds"]
        self.district_applied_seq[d_local] = int(part["d.district_applied_seq"][0])
        self.today[0] = max(int(self.today[0]), int(part["today"][0]))

    def allocation(self, year: int) -> np.ndarray:
        """float64 [n, 2]: each school's allocation for financial year `year` (Centre's, State's;
        zero where none is recorded or its slot holds another year)."""
        slot = year % ALLOCATION_YEARS
        return np.where((self.alloc_year[:, slot] == year)[:, None], self.alloc_inr[:, slot], 0.0)

    def school_block_district(self) -> np.ndarray:
        """Local district index of every school."""
        return self.block_district[self.school_block]


def _grouped(group: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices ordered by `group` (stable: each group's rows stay in order), and where each
    of the `n_groups` groups starts in them (n_groups + 1 bounds)."""
    order = np.argsort(group, kind="stable")
    return order, np.searchsorted(group[order], np.arange(n_groups + 1))


# Columns snapshotted per block (its global index first, to match rows on restore).
BLOCK_COLUMNS = ("block_global", "block_funds", "block_depot_stock", "block_depot_logged")

# Columns snapshotted per school. `active` is not one: the schools table is its source of truth
# and every load of the directory reads it from there.
SCHOOL_COLUMNS = tuple(
    f.name
    for f in fields(ShardState)
    if f.name
    not in {
        "block_global", "block_district", "block_funds", "block_depot_stock", "block_depot_logged",
        "district_global", "district_funds",
        "district_applied_seq", "school_local", "block_local", "district_local", "today", "active",
    }
)
