"""Recommendations read a copy of only the district they work in: a block's or a district's run,
an edit, an impact and an approval copy the state of that district alone (a state-wide run every
district), the twin's day is read from the shards' statuses, and what they answer is what a copy
of every district answered. On SQLite and PostgreSQL.

The twin here has two shards (Ariyalur alone, then two districts); the second holds a report of a
later day, so the twin's day is not the day of Ariyalur's shard."""

import datetime as dt

import pytest

from serve_app.auth.principal import Caller
from serve_app.optimization.service import RISK
from tests.fixtures.app import client_of
from tests.serve_app.optimization.test_endpoints import (
    DAY,
    DIRECTORY,
    SCHOOLS,
    SHORT,
    feed,
    transfer_to_short,
)
from twin.area import STATE, Area

ARIYALUR = 0  # its index
NEXT_DAY = DAY + dt.timedelta(days=1)
# a school of the other shard, which reports the twin's newest day
ELSEWHERE = next(s for s, d in zip(SCHOOLS, DIRECTORY.school_district.tolist()) if d == 1)
# what is compared of a recommendation: everything but its identity and bookkeeping
COMPARED = ("kind", "district", "block", "school_id", "from_school_id", "from_depot", "quantity_kg", "cost_inr",
            "children_affected", "twin_seq", "action", "quantities", "risk", "explanation")


class Copies:
    """The service's copies of the live state, recording the districts each call asked for. A
    `whole` one copies every district whatever is asked: what the service read before."""

    def __init__(self, copies, whole: bool = False) -> None:
        self._copies, self._whole = copies, whole
        self.asked: list[list[int] | None] = []

    async def __call__(self, districts=None):
        self.asked.append(None if districts is None else sorted(districts))
        return await self._copies(None if self._whole else districts)


def recording(app, whole: bool = False) -> Copies:
    service = app.state.services.optimisation
    copies = Copies(app.state.services.router.state_copies, whole)
    service._live_states = copies
    return copies


async def feed_two_days(app) -> None:
    """Ariyalur's schools on `DAY` (`feed`), a school of the other shard on the day after."""
    later = {"type": "attendance_reported", "event_id": "a-later", "date": NEXT_DAY.isoformat(),
             "school_id": ELSEWHERE, "present": 30, "meals_served": {"primary": 25}}
    async with client_of(app) as admin:
        await feed(admin)
        assert (await admin.post("/api/v1/events", json={"events": [later]})).status_code == 200


async def run_of(app, district: str | None = None, block: str | None = None) -> tuple[dict, list[dict]]:
    """A run as the twin's risk follower asks it, and its recommendations (in a stable order)."""
    service = app.state.services.optimisation
    run = await service.run(RISK, Caller(), district, block)
    recs = await service.run_recommendations(run["run_id"], STATE)
    return run, sorted(recs, key=lambda r: (r["kind"], r["school_id"], r["from_school_id"] or ""))


def compared(run: dict, recs: list[dict]) -> tuple[dict, list[dict]]:
    summary = {k: v for k, v in run.items() if k not in ("run_id", "superseded", "build_s", "solve_s")}
    return summary, [{k: r[k] for k in COMPARED} for r in recs]


@pytest.mark.parametrize(("district", "block"), [("Ariyalur", None), ("Ariyalur", "Ariyalur")])
async def test_a_district_or_block_run_copies_its_district_and_proposes_as_from_every_district(app, district, block):
    await feed_two_days(app)
    whole = recording(app, whole=True)
    before = compared(*await run_of(app, district, block))
    cut = recording(app)
    after = compared(*await run_of(app, district, block))
    assert cut.asked == [[ARIYALUR]] and whole.asked == [[ARIYALUR]]
    assert after == before and after[1]  # something was proposed, the same from the copy of Ariyalur alone


async def test_a_state_wide_run_copies_every_district(app):
    await feed_two_days(app)
    copies = recording(app)
    await app.state.services.optimisation.run_scheduled()
    assert copies.asked == [None]


async def test_an_impact_an_edit_and_an_approval_copy_only_the_recommendations_district(app):
    await feed_two_days(app)
    service = app.state.services.optimisation
    _, recs = await run_of(app, "Ariyalur", "Ariyalur")
    rec = transfer_to_short(recs)

    whole = recording(app, whole=True)
    impact_whole = await service.impact(rec["id"], STATE, 10, 4, False)
    run_impact_whole = await service.run_impact(rec["run_id"], STATE, 10, 4, False)
    copies = recording(app)
    assert await service.impact(rec["id"], STATE, 10, 4, False) == impact_whole
    assert await service.run_impact(rec["run_id"], STATE, 10, 4, False) == run_impact_whole
    assert copies.asked == [[ARIYALUR], [ARIYALUR]] and whole.asked == copies.asked

    items = {"rice_kg": round(rec["action"]["items"]["rice_kg"] / 2, 3)}
    states, today = await service._live(Area("Ariyalur", "Ariyalur"))
    every, _ = await service._live(STATE)
    lat, lon = await service._coordinates()
    assert service._proposals.check_edit(states, rec, items, lat, lon, 0.0, today) == \
        service._proposals.check_edit(every, rec, items, lat, lon, 0.0, today)

    copies = recording(app)
    edited = await service.edit(rec["id"], RISK, None, items)
    assert edited["action"]["items"] == items
    assert copies.asked == [[ARIYALUR], [ARIYALUR]]  # the edit's check, then its verification

    copies = recording(app)
    approved = await service.approve(rec["id"], RISK, None)
    assert approved["status"] == "applied"
    assert copies.asked == [[ARIYALUR]]  # whether the twin moved on; the events' day is read without a copy
    async with client_of(app) as admin:
        events = (await admin.get("/api/v1/events", params={"school_id": SHORT})).json()["data"]["events"]
    [moved] = [e for e in events if e["event_id"] == f"rec-{rec['id']}"]
    assert moved["date"] == NEXT_DAY.isoformat()  # the twin's day, not that of Ariyalur's shard
