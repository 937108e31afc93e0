"""Later instalments (`POST /financial/release`): refused naming the rule while less than 75% of
the year's releases is utilised, or out of order; released down the chain once the rule is kept;
a repeat records nothing new; audited; only state admins and district officers. On SQLite and
PostgreSQL."""

import datetime as dt

import pytest

from configs import Settings
from serve_app.finance.schemas import AllocationPlan, Financial, InstalmentRelease
from tests.fixtures.app import client_of, running_app
from tests.fixtures.builders import small_directory
from tests.serve_app.finance.test_endpoints import assert_answers
from twin.area import Area

DIRECTORY, _ = small_directory()
IDS = [f"{int(s):011d}" for s in DIRECTORY.school_ids]
BLOCK_OF = {s: DIRECTORY.blocks.names[int(b)] for s, b in zip(IDS, DIRECTORY.school_block)}
SENDURAI = sorted(s for s in IDS if BLOCK_OF[s] == "Sendurai")
AREA = {"district": "Ariyalur", "block": "Sendurai"}
DAY = dt.date(2025, 7, 1)


@pytest.fixture
async def app(seeded_url):
    async with running_app(Settings(database_url=seeded_url)) as app:
        yield app


def _release(number: int, area: dict = AREA) -> dict:
    return {"year": 2025, "instalment": number, "area": area}


async def _allocate_with_first_instalment(client) -> dict:
    # a report puts the twin's day in July 2025, so the releases are dated in the year
    report = {"type": "attendance_reported", "event_id": "att-1", "date": DAY.isoformat(), "school_id": SENDURAI[0],
              "present": 30, "meals_served": {"primary": 20, "upper_primary": 10, "secondary": 0}}
    assert (await client.post("/api/v1/events", json={"events": [report]})).status_code == 200
    body = {"year": 2025, "area": AREA, "commit": True, "first_instalment": True}
    return assert_answers(AllocationPlan, (await client.post("/api/v1/financial/allocate", json=body)).json())


async def _block(client) -> dict:
    r = await client.get("/api/v1/financial/blocks/Sendurai", params={"district": "Ariyalur", "year": 2025})
    return assert_answers(Financial, r.json())


async def _spend(client, share: float, tag: str) -> None:
    """Each Sendurai school spends `share` of what was released to it."""
    items = []
    for school in SENDURAI:
        read = assert_answers(Financial, (await client.get(f"/api/v1/financial/schools/{school}",
                                                           params={"year": 2025})).json())
        amount = round(share * read["released_inr"] - read["utilised"]["total_inr"], 2)
        if amount > 0:
            items.append({"school_id": school, "amount_inr": amount, "date": DAY.isoformat(),
                          "event_id": f"spend-{tag}-{school}"})
    r = await client.put("/api/v1/financial/update-utilization", json={"items": items})
    assert r.status_code == 200 and r.json()["data"]["rejected"] == 0, r.text[:400]


async def test_the_next_instalment_waits_for_75_percent_utilised_then_goes_down_once(app):
    async with client_of(app, "district_officer", Area("Ariyalur")) as officer:
        plan = await _allocate_with_first_instalment(officer)
        allocated = plan["totals"]["total_inr"]
        r = await officer.post("/api/v1/financial/release", json=_release(2))
        assert r.status_code == 409, r.text[:400]
        error = r.json()["error"]
        assert [x["rule"] for x in error["details"]["rules"]] == ["earlier_underused"]
        check = error["details"]["check"]
        assert check["released_inr"] == pytest.approx(0.25 * allocated, abs=0.05)
        assert check["utilised_share"] < 0.75
        assert (await _block(officer))["released_inr"] == pytest.approx(0.25 * allocated, abs=0.05)  # nothing moved

        await _spend(officer, 0.7, "a")  # still short of 75%
        r = await officer.post("/api/v1/financial/release", json=_release(2))
        assert r.status_code == 409 and r.json()["error"]["details"]["rules"][0]["rule"] == "earlier_underused"

        await _spend(officer, 0.8, "b")
        r = await officer.post("/api/v1/financial/release", json=_release(2))
        out = assert_answers(InstalmentRelease, r.json())
        assert out["decided_before"] is False and out["check"]["allowed"] is True
        assert out["check"]["utilised_share"] >= 0.75
        # the State's part with the Centre's, in proportion to the allocation
        expected_state = 0.25 * plan["totals"]["state_inr"]
        assert out["check"]["proposed_state_inr"] == pytest.approx(expected_state, abs=0.05)
        assert out["recorded"]["accepted"] == out["recorded"]["events"] == len(SENDURAI) + 2  # district, block legs
        assert out["recorded"]["amount_inr"] == pytest.approx(3 * 0.25 * allocated, abs=0.1)  # three legs
        block = await _block(officer)
        assert block["released_inr"] == pytest.approx(0.5 * allocated, abs=0.05)
        assert block["office"]["received_inr"] == pytest.approx(block["office"]["passed_down_inr"], abs=0.01)

        again = assert_answers(InstalmentRelease,
                               (await officer.post("/api/v1/financial/release", json=_release(2))).json())
        assert again["decided_before"] is True and again["check"] is None
        assert again["recorded"]["accepted"] == 0 and again["recorded"]["duplicates"] == len(SENDURAI) + 2
        assert (await _block(officer))["released_inr"] == pytest.approx(0.5 * allocated, abs=0.05)

        # the fourth before the third
        r = await officer.post("/api/v1/financial/release", json=_release(4))
        assert r.status_code == 409 and r.json()["error"]["details"]["rules"][0]["rule"] == "instalments_in_order"

    async with client_of(app) as admin:  # audited once: the refusals and the repeat moved nothing
        audit = (await admin.get("/api/v1/audit", params={"action": "funds.events"})).json()["data"]
        second = [e for e in audit["entries"]
                  if any(x.get("event_id", "").startswith("rel:2025:2:") for x in e["after"]["events"])]
        assert len(second) == 1


async def test_only_allocators_release_and_only_in_their_area(app):
    async with client_of(app) as admin:
        await _allocate_with_first_instalment(admin)
    for role, area in (("block_officer", Area("Ariyalur", "Sendurai")), ("school_admin", Area("Ariyalur", "Sendurai", SENDURAI[0]))):
        async with client_of(app, role, area) as other:
            r = await other.post("/api/v1/financial/release", json=_release(2))
            assert r.status_code == 403, (role, r.text[:300])
    async with client_of(app, "district_officer", Area("Chennai")) as elsewhere:
        r = await elsewhere.post("/api/v1/financial/release", json=_release(2))
        assert r.status_code in (403, 404), r.text[:300]
    async with client_of(app, "district_officer", Area("Ariyalur")) as officer:
        r = await officer.post("/api/v1/financial/release", json={**_release(2), "area": {"district": "Perambalur"}})
        assert r.status_code in (403, 404)
        r = await officer.post("/api/v1/financial/release", json={**_release(2), "area": {"district": "Ariyalur"}})
        assert r.status_code == 409  # the whole district: nothing allocated outside Sendurai in its first
        assert r.json()["error"]["details"]["rules"][0]["rule"] in ("instalments_in_order", "earlier_underused")
        for bad in ({**_release(2), "instalment": 1}, {**_release(2), "instalment": 5}, {**_release(2), "year": "x"}):
            r = await officer.post("/api/v1/financial/release", json=bad)
            assert r.status_code == 422
