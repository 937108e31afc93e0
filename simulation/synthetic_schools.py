"""Seeded synthetic schools for all of Tamil Nadu, laid out on the real districts and blocks.

Everything is vectorised so the same generator serves the state (~43k schools) and an India-scale
stress set (~10.8 lakh schools). The stress set repeats the state's layout on 25 state-sized tiles
over about India's extent, each block's schools dealt evenly over the tiles with a depot in each:
so schools stand as densely as they do in the country (TN and India both have ~0.33 schools a km2)
and a depot serves ~110 schools (India: ~10.8 lakh schools over ~7,000 blocks, ~155 a block),
where 25 times the schools on TN's own map would be 25 times as dense with depots of ~2,800.
District and block stay TN's, so codes and names stay valid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from twin import geography
from twin.directory import BlockTable

# Chennai's 3 zones have few "village panchayats" (20 each by convention), which would give the
# capital ~200 schools; it really runs about 1,300 of the state's ~43k noon-meal centres.
CHENNAI_SHARE = 1_300 / 43_000
CHENNAI = "Chennai"

# School types and their share of schools (TN pattern: mostly small primary schools).
PRIMARY, MIDDLE, HIGH = 0, 1, 2
TYPE_SHARE = (0.55, 0.25, 0.20)
HIGH_WITH_PRIMARY = 0.4  # many high/higher-secondary schools also run classes 1-5
# Relative size by type: high schools draw from several villages, primary schools from one.
TYPE_SIZE = np.array([0.7, 1.1, 1.8])
MEAN_ENROLMENT = 100.0  # ~42 lakh children in ~43k schools
ENROLMENT_SIGMA = 0.9  # lognormal spread: a handful of children up to a few thousand
MIN_ENROLMENT = 5
HOSTEL_PROB = np.array([0.01, 0.03, 0.08])  # by type; ~3% overall
BREAKFAST_PROB = 0.97  # of schools with primary classes: ~37k of 43k overall

BLOCK_RADIUS_KM = 35.0  # block centres around the district HQ
CHENNAI_BLOCK_RADIUS_KM = 8.0  # the city is small
SCHOOL_SCATTER_KM = 6.0  # std-dev per axis of schools around their block centre (~8 km typical)
KM_PER_DEG_LAT = 111.0

STATE_SCHOOLS = 43_000  # the state's scale: more schools than ~1.5x this are laid out on tiles
TILE_COLUMNS = 5
MAX_VILLAGES, MAX_SCHOOLS_PER_VILLAGE = 999, 99  # the 3- and 2-digit UDISE fields

# Pieces of Tamil place names, combined into plausible village names.
_NAME_PREFIX = ("", "", "", "Kila ", "Mela ", "Vada ", "Then ", "Periya ", "Chinna ", "Pudu ")
_NAME_ROOT = (
    "Alanga", "Ambal", "Arasa", "Athi", "Ayyam", "Chettik", "Edaya", "Ganapathi", "Kadam", "Kalla",
    "Kamaya", "Kanni", "Karuppa", "Keeran", "Kodi", "Kottai", "Kumara", "Mallan", "Manga", "Maruda",
    "Muthu", "Nalla", "Naga", "Palani", "Panai", "Pattu", "Periya", "Ponnu", "Ramana", "Sandhana",
    "Sengal", "Siru", "Sokka", "Thenna", "Thiru", "Uthama", "Vadiveel", "Valli", "Vanni", "Veera",
)  # fmt: skip
_NAME_SUFFIX = (
    "kulam", "palayam", "puram", "patti", "nallur", "kuppam", "pettai", "mangalam", "cheri",
    "thurai", "oor", "kottai", "malai", "vadi", "samudram", "kurichi", "nagar", "pakkam",
    "venkatapuram", "salai",
)  # fmt: skip
_VILLAGE_NAMES = tuple(
    p + r + s for p in _NAME_PREFIX for r in _NAME_ROOT for s in _NAME_SUFFIX
)
_RURAL_TITLES = (
    "Panchayat Union Primary School",
    "Panchayat Union Middle School",
    "Government High School",
    "Government Higher Secondary School",
)
_CHENNAI_TITLES = (
    "Chennai Primary School",
    "Chennai Middle School",
    "Chennai High School",
    "Chennai Higher Secondary School",
)


@dataclass
class SchoolTable:
    udise: np.ndarray  # int64 [n], 33 DD BB VVV SS
    name: list[str]
    district: np.ndarray  # int16 [n], index into geography.districts()
    block: np.ndarray  # int32 [n], global block index (BlockTable.from_geography order)
    latitude: np.ndarray  # float64 [n]
    longitude: np.ndarray  # float64 [n]
    enrolment: np.ndarray  # int32 [n, 3] primary, upper primary, secondary
    capacity: np.ndarray  # int32 [n], kitchen meals/day
    has_hostel: np.ndarray  # bool [n]
    breakfast_scheme: np.ndarray  # bool [n]
    depot_id: list[str]  # the depot supplying the school: its block's (on its tile, in the stress set)

    def __len__(self) -> int:
        return int(self.udise.shape[0])


def generate_schools(n_schools: int = 43_000, seed: int = 0) -> SchoolTable:
    """`n_schools` synthetic schools spread over every block of the state; same seed, same table."""
    blocks = _block_frame()
    nb = len(blocks["district"])
    if n_schools < nb:
        raise ValueError(f"need at least one school per block: n_schools >= {nb}")
    rng = np.random.default_rng(seed)
    # Block centres first, so a block sits in the same place whatever the number of schools.
    block_lat, block_lon = _block_centres(blocks, rng)

    per_block = _allocate(n_schools, blocks["weight"])
    block = np.repeat(np.arange(nb, dtype=np.int32), per_block)
    district = blocks["district"][block]
    village, school_no = _village_and_school_numbers(per_block, blocks["villages"])
    udise = (
        33 * 10**9
        + blocks["district_code"][block].astype(np.int64) * 10**7
        + blocks["number"][block].astype(np.int64) * 10**5
        + village * 100
        + school_no
    )

    lat, lon = _scatter(block_lat[block], block_lon[block], rng)
    tile = _tiles(per_block, n_schools)
    lat, lon = _place_on_tiles(lat, lon, tile)
    school_type = rng.choice(3, size=n_schools, p=TYPE_SHARE)
    with_primary = (school_type != HIGH) | (rng.random(n_schools) < HIGH_WITH_PRIMARY)
    enrolment = _enrolment(school_type, with_primary, rng)
    total = enrolment.sum(axis=1)
    # Kitchens are built with headroom over the roll, rounded up to tens of meals.
    capacity = (np.ceil(total * rng.uniform(1.1, 1.5, n_schools) / 10) * 10).astype(np.int32)
    capacity = np.maximum(capacity, 25)
    has_hostel = rng.random(n_schools) < HOSTEL_PROB[school_type]
    breakfast = with_primary & (rng.random(n_schools) < BREAKFAST_PROB)

    is_chennai = district == blocks["chennai_index"]
    names = _names(school_type, with_primary, block, village, is_chennai, seed)
    depot_id = _depot_ids(blocks, block, tile)
    return SchoolTable(
        udise=udise,
        name=names,
        district=district.astype(np.int16),
        block=block,
        latitude=lat,
        longitude=lon,
        enrolment=enrolment,
        capacity=capacity,
        has_hostel=has_hostel,
        breakfast_scheme=breakfast,
        depot_id=depot_id,
    )


def _tiles(per_block: np.ndarray, n_schools: int) -> np.ndarray:
    """int64 [n]: the state-sized tile each school lies in. One tile up to the state's scale; beyond
    it about n_schools / STATE_SCHOOLS of them, and every block's schools dealt evenly over them."""
    tiles = max(1, round(n_schools / STATE_SCHOOLS))
    starts = np.concatenate([[0], np.cumsum(per_block)[:-1]])
    return (np.arange(n_schools) - np.repeat(starts, per_block)) % tiles


def _place_on_tiles(lat: np.ndarray, lon: np.ndarray, tile: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shift each school from the state's box to its tile's: tiles fill rows of TILE_COLUMNS boxes
    northwards from the state's latitudes, tile 0 the state's own box in the middle of the first
    row (then east of it, then west), so 25 tiles span about India's extent (8-36 N, 68-89 E) at the
    state's density."""
    lat_span = geography.LAT_RANGE[1] - geography.LAT_RANGE[0]
    lon_span = geography.LON_RANGE[1] - geography.LON_RANGE[0]
    row, column = np.divmod(tile, TILE_COLUMNS)
    half = TILE_COLUMNS // 2
    return lat + row * lat_span, lon + ((column + half) % TILE_COLUMNS - half) * lon_span


def _depot_ids(blocks: dict, block: np.ndarray, tile: np.ndarray) -> list[str]:
    """Each school's depot: its block's, `DEPOT-DD-BB`; in a tiled stress set, its block's in its
    tile, `DEPOT-DD-BB-TT`."""
    names = [f"DEPOT-{c:02d}-{b:02d}" for c, b in zip(blocks["district_code"], blocks["number"])]
    if not tile.any():
        return [names[b] for b in block.tolist()]
    return [f"{names[b]}-{t + 1:02d}" for b, t in zip(block.tolist(), tile.tolist())]


def _block_frame() -> dict[str, np.ndarray]:
    """Per global block: district index and code, 1-based number in its district, weight, villages."""
    table = BlockTable.from_geography()
    districts = geography.districts()
    number = np.concatenate([np.arange(1, len(d.blocks) + 1) for d in districts])
    villages = np.array([b.village_panchayats for d in districts for b in d.blocks], np.float64)
    district = table.district.astype(np.int64)
    chennai = geography.district_index(CHENNAI)
    weight = villages / villages[district != chennai].sum() * (1 - CHENNAI_SHARE)
    in_chennai = district == chennai
    weight[in_chennai] = CHENNAI_SHARE / in_chennai.sum()
    return {
        "district": district,
        "district_code": np.array([districts[d].code for d in district], np.int64),
        "number": number,
        "weight": weight,
        "villages": villages.astype(np.int64),
        "hq_lat": np.array([districts[d].hq_lat for d in district]),
        "hq_lon": np.array([districts[d].hq_lon for d in district]),
        "chennai_index": np.int64(chennai),
        "in_chennai": in_chennai,
    }


def _allocate(n: int, weight: np.ndarray) -> np.ndarray:
    """Schools per block: one each, the rest in proportion to weight (largest remainder, exact sum)."""
    rest = n - len(weight)
    share = weight / weight.sum() * rest
    count = np.floor(share).astype(np.int64)
    short = rest - int(count.sum())
    # Stable sort keeps ties in block order, so the allocation is reproducible.
    count[np.argsort(-(share - count), kind="stable")[:short]] += 1
    return count + 1


def _village_and_school_numbers(per_block: np.ndarray, villages: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """1-based village and school numbers within each block, unique within the block.

    Schools fill the block's real villages; large blocks (or the stress set) use more village/ward
    numbers, up to the 999 x 99 the code's digits allow."""
    if per_block.max() > MAX_VILLAGES * MAX_SCHOOLS_PER_VILLAGE:
        raise ValueError("too many schools in one block for an 11-digit UDISE code")
    n_villages = np.clip(
        np.maximum(villages, -(-per_block // MAX_SCHOOLS_PER_VILLAGE)), 1, MAX_VILLAGES
    )
    per_village = -(-per_block // n_villages)  # ceil: schools per village in this block
    starts = np.concatenate([[0], np.cumsum(per_block)[:-1]])
    k = np.arange(per_block.sum()) - np.repeat(starts, per_block)  # position within the block
    pv = np.repeat(per_village, per_block)
    return (k // pv + 1).astype(np.int64), (k % pv + 1).astype(np.int64)


def _block_centres(blocks: dict, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A centre for each block, uniformly within a disc around its district HQ."""
    nb = len(blocks["district"])
    radius_km = np.where(blocks["in_chennai"], CHENNAI_BLOCK_RADIUS_KM, BLOCK_RADIUS_KM)
    r = radius_km * np.sqrt(rng.random(nb))
    theta = rng.uniform(0, 2 * math.pi, nb)
    lat = blocks["hq_lat"] + r * np.sin(theta) / KM_PER_DEG_LAT
    lon = blocks["hq_lon"] + r * np.cos(theta) / (KM_PER_DEG_LAT * np.cos(np.radians(blocks["hq_lat"])))
    return lat, lon


def _scatter(lat0: np.ndarray, lon0: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Schools scattered around their block centre, kept inside the state's bounding box."""
    n = lat0.shape[0]
    dlat = rng.normal(0, SCHOOL_SCATTER_KM, n) / KM_PER_DEG_LAT
    dlon = rng.normal(0, SCHOOL_SCATTER_KM, n) / (KM_PER_DEG_LAT * np.cos(np.radians(lat0)))
    lat = np.clip(lat0 + dlat, *geography.LAT_RANGE)
    lon = np.clip(lon0 + dlon, *geography.LON_RANGE)
    return lat, lon


def _enrolment(school_type: np.ndarray, with_primary: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Children by band [n, 3]: a long-tailed total split over the bands the school teaches."""
    n = school_type.shape[0]
    # Scale by type but keep the overall mean at MEAN_ENROLMENT.
    size = TYPE_SIZE[school_type] / (np.dot(TYPE_SHARE, TYPE_SIZE))
    mu = math.log(MEAN_ENROLMENT) - ENROLMENT_SIGMA**2 / 2
    total = np.maximum(np.rint(rng.lognormal(mu, ENROLMENT_SIGMA, n) * size), MIN_ENROLMENT)

    # Bands a school teaches, weighted by grades in the band (5, 3, 2) with school-level variation.
    teaches = np.zeros((n, 3), bool)
    teaches[:, 0] = with_primary
    teaches[:, 1] = school_type != PRIMARY
    teaches[:, 2] = school_type == HIGH
    weight = rng.gamma(shape=np.array([5.0, 3.0, 2.0]) * 4, size=(n, 3)) * teaches
    share = weight / weight.sum(axis=1, keepdims=True)
    enrolment = rng.multinomial(total.astype(np.int64), share)
    return enrolment.astype(np.int32)


def _names(
    school_type: np.ndarray,
    with_primary: np.ndarray,
    block: np.ndarray,
    village: np.ndarray,
    is_chennai: np.ndarray,
    seed: int,
) -> list[str]:
    """Names like "<title>, <village>": schools of one village share its name; titles follow the bands."""
    # High schools with primary sections are typically the bigger higher secondary schools.
    title = np.where(school_type == HIGH, 2 + with_primary, school_type) + 4 * is_chennai
    titles = _RURAL_TITLES + _CHENNAI_TITLES
    # A cheap deterministic hash of (seed, block, village) picks the village's name.
    key = (block.astype(np.uint64) * np.uint64(1_000_003) + village.astype(np.uint64)) ^ np.uint64(seed)
    key = (key * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(33)
    pick = (key % np.uint64(len(_VILLAGE_NAMES))).astype(np.int64)
    return [f"{titles[t]}, {_VILLAGE_NAMES[v]}" for t, v in zip(title.tolist(), pick.tolist())]
