"""What the optimisation models read: per-school and per-depot arrays, and the arcs stock can move on.

Rows are schools in the scenario engine's global order (`StartState`: grouped by block); depots are
indexed by global block (one depot a block). Nothing here solves anything: `scenarios.optimise_stock`,
`optimise_delivery` and `optimise_funds` build their LPs from an `OptimiseInput`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from simulation.start_state import StartState, block_count
from twin import norms
from twin.neighbour_graph import EARTH_RADIUS_KM, build_graph

EGG_KG = 0.06  # one egg's weight in a vehicle
ITEM_KG = np.array([1.0, 1.0, 1.0, EGG_KG])  # kg per unit of each stock item (kg, kg, kg, eggs)
ROAD_FACTOR = 1.3  # road km per great-circle km
DEFAULT_VEHICLE_KG_PER_DAY = 3_000.0  # one small truck's daily round from a block depot
DEFAULT_DEPOT_DAYS = 5.0  # days of its block's need a depot holds between state consignments


@dataclass
class OptimiseInput:
    """State the optimisers read. n schools, nb depots (global blocks), m directed school arcs.

    `need_per_day` is what a school uses on a school day (units as `stock`: kg, kg, kg, eggs);
    `children` the children who eat on a school day. `days_to_delivery` counts school days until the
    school's next regular delivery of each item (grain from the depot's cycle, eggs from the weekly
drop). Arcs `arc_from -> arc_to` (school indices, int64 [m]) are the
    neighbour graph's school-school edges in both directions, `arc_km` road km."""

    block: np.ndarray  # int64 [n] global block (= depot) of each school
    children: np.ndarray  # float64 [n] children eating on a school day
    stock: np.ndarray  # float64 [n, 4] on hand
    need_per_day: np.ndarray  # float64 [n, 4]
    days_to_delivery: np.ndarray  # float64 [n, 4] school days until the next regular delivery of each item
    depot_km: np.ndarray  # float64 [n] road km from the school's depot
    depot_stock: np.ndarray  # float64 [nb, 4]
    vehicle_kg_per_day: np.ndarray  # float64 [nb]
    funds_inr: np.ndarray  # float64 [n] balance (may be negative)
    meal_cost_inr_per_day: np.ndarray  # float64 [n] the kitchen's bill on a school day
    block_balance_inr: np.ndarray  # float64 [nb] money a block may advance to its schools
    arc_from: np.ndarray  # int64 [m]
    arc_to: np.ndarray  # int64 [m]
    arc_km: np.ndarray  # float64 [m]

    @property
    def n(self) -> int:
        return int(self.block.shape[0])

    @property
    def n_blocks(self) -> int:
        return int(self.depot_stock.shape[0])

    def check(self) -> None:
        """ValueError when shapes disagree or an index is out of range."""
        n, nb = self.n, self.n_blocks
        shapes = {"children": (n,), "stock": (n, 4), "need_per_day": (n, 4), "days_to_delivery": (n, 4),
                  "depot_km": (n,), "vehicle_kg_per_day": (nb,), "funds_inr": (n,),
                  "meal_cost_inr_per_day": (n,), "block_balance_inr": (nb,), "depot_stock": (nb, 4)}
        for name, shape in shapes.items():
            if getattr(self, name).shape != shape:
                raise ValueError(f"{name} has shape {getattr(self, name).shape}, expected {shape}")
        m = self.arc_from.shape[0]
        if self.arc_to.shape != (m,) or self.arc_km.shape != (m,):
            raise ValueError("arc_from, arc_to and arc_km must all be [m]")
        if n and (self.block.min() < 0 or self.block.max() >= nb):
            raise ValueError("block index out of range of the depots")
        if m and (min(self.arc_from.min(), self.arc_to.min()) < 0 or max(self.arc_from.max(), self.arc_to.max()) >= n):
            raise ValueError("arc end out of range of the schools")

    def part(self, schools: np.ndarray) -> OptimiseInput:
        """The same input on `schools` (ascending int indices) only: arcs with both ends among them,
        renumbered; depot arrays unchanged (still indexed by global block)."""
        schools = np.asarray(schools, np.int64)
        new = np.full(self.n, -1, np.int64)
        new[schools] = np.arange(schools.size)
        keep = (new[self.arc_from] >= 0) & (new[self.arc_to] >= 0)
        per_school = ("block", "children", "stock", "need_per_day", "days_to_delivery", "depot_km", "funds_inr",
                      "meal_cost_inr_per_day")
        return replace(self, **{k: getattr(self, k)[schools] for k in per_school},
                       arc_from=new[self.arc_from[keep]], arc_to=new[self.arc_to[keep]], arc_km=self.arc_km[keep])

    def block_schools(self, block: int) -> np.ndarray:
        """int64 ascending indices of the schools of global block `block`."""
        return np.flatnonzero(self.block == block)


def great_circle_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Haversine distance, km, elementwise."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(h, 1.0)))


def neighbour_arcs(latitude_deg: np.ndarray, longitude_deg: np.ndarray, block: np.ndarray, radius_km: float = 5.0,
                   k_max: int = 8, within_block: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Directed school arcs (from, to, road km) from the twin's neighbour graph (schools within
    `radius_km`, at most `k_max` nearest each). With `within_block`, only pairs in the same block:
    then every block is a separate problem and a block re-solve is exact."""
    block = np.asarray(block, np.int64)
    n = block.size
    g = build_graph(latitude_deg, longitude_deg, block, np.ones(n, bool), radius_km, k_max,
                    n_depots=int(block.max()) + 1 if n else 0)
    rows = np.repeat(np.arange(g.n_nodes), np.diff(g.indptr))
    cols = g.indices.astype(np.int64)
    school_pair = (rows < g.n_schools) & (cols < g.n_schools)
    a = g.node_school[rows[school_pair]].astype(np.int64)
    b = g.node_school[cols[school_pair]].astype(np.int64)
    if within_block:
        same = block[a] == block[b]
        a, b = a[same], b[same]
    km = great_circle_km(latitude_deg[a], longitude_deg[a], latitude_deg[b], longitude_deg[b]) * ROAD_FACTOR
    return a, b, km


def depot_distances(latitude_deg: np.ndarray, longitude_deg: np.ndarray, block: np.ndarray, nb: int) -> np.ndarray:
    """Road km from each school to its depot, the depot standing at its block's schools' centroid
    (the twin has no depot coordinates)."""
    count = np.maximum(np.bincount(block, minlength=nb), 1)
    lat0 = np.bincount(block, latitude_deg, nb) / count
    lon0 = np.bincount(block, longitude_deg, nb) / count
    return great_circle_km(latitude_deg, longitude_deg, lat0[block], lon0[block]) * ROAD_FACTOR


def from_start(start: StartState, latitude_deg: np.ndarray, longitude_deg: np.ndarray, *,
               days_to_delivery: np.ndarray | None = None, days_to_eggs: np.ndarray | None = None,
               depot_stock: np.ndarray | None = None,
               vehicle_kg_per_day: np.ndarray | None = None, block_balance_inr: np.ndarray | None = None,
               radius_km: float = 5.0, k_max: int = 8) -> OptimiseInput:
    """The optimisers' input from a scenario's `StartState` (so a plan can be replayed by the
    engine) plus school positions. Need and meal cost on an ordinary school day as the engine
    computes them. Grain's `days_to_delivery` [n] defaults to the block's `grain_due_day` (calendar
    days, at least 1) or 30, eggs' `days_to_eggs` [n] to the days until the block's egg weekday (or
    5); a depot holds `DEFAULT_DEPOT_DAYS` of its block's need unless given; blocks
    advance nothing unless `block_balance_inr` is given."""
    nb = block_count()
    block = start.block.astype(np.int64)
    enrolment = start.enrolment.astype(np.float64)
    total = enrolment.sum(axis=1)
    share = np.divide(enrolment, total[:, None], out=np.full_like(enrolment, 1 / 3), where=total[:, None] > 0)
    children = total * start.attendance_rate * start.eat_share
    need = children[:, None] * (share @ norms.RATION_PER_MEAL.T)
    cost = children * (share @ np.array(norms.cost_per_meal(start.day)))
    if days_to_delivery is None:
        due = start.grain_due_day[block] if start.grain_due_day is not None else np.full(start.block.size, 30)
        days_to_delivery = np.maximum(due, 1)
    if days_to_eggs is None:
        weekday = start.day.weekday()
        days_to_eggs = ((start.egg_weekday[block] - weekday) % 7 + 1 if start.egg_weekday is not None
                        else np.full(block.size, 5))
    days = np.column_stack([np.repeat(np.asarray(days_to_delivery, np.float64)[:, None], 3, axis=1),
                            np.asarray(days_to_eggs, np.float64)])
    if depot_stock is None:
        depot_stock = np.zeros((nb, 4))
        np.add.at(depot_stock, block, need * DEFAULT_DEPOT_DAYS)
    a, b, km = neighbour_arcs(latitude_deg, longitude_deg, block, radius_km, k_max)
    return OptimiseInput(
        block=block, children=children, stock=np.maximum(start.stock, 0.0), need_per_day=need,
        days_to_delivery=days,
        depot_km=depot_distances(latitude_deg, longitude_deg, block, nb), depot_stock=depot_stock,
        vehicle_kg_per_day=np.full(nb, DEFAULT_VEHICLE_KG_PER_DAY) if vehicle_kg_per_day is None else vehicle_kg_per_day,
        funds_inr=start.funds_inr.astype(np.float64), meal_cost_inr_per_day=cost,
        block_balance_inr=np.zeros(nb) if block_balance_inr is None else block_balance_inr,
        arc_from=a, arc_to=b, arc_km=km)
