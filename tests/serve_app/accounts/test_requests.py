"""Accounts asked for by their holders: asked without a token, pending and unable to sign in, listed
to the officers above their area only, approved or rejected once, audited, and refused in the
envelope's error format when the input is bad."""

import pytest

from configs import Settings
from configs.settings import Limits
from serve_app.auth.principal import Caller
from tests.fixtures.app import client_of, running_app
from twin.area import Area

ADMIN = {"email": "admin@tn.gov.in", "full_name": "State Admin", "password": "Noon-meal-2026", "role": "state_admin"}
PASSWORD = "Asked-for-2026"
SCHOOL, OTHER_BLOCK_SCHOOL = ("Ariyalur", "Sendurai", "33010500100"), ("Ariyalur", "Ariyalur", "33010000100")
OFFICERS = {
    "district": ("district_officer", Area("Ariyalur")),
    "block": ("block_officer", Area("Ariyalur", "Sendurai")),
    "other_block": ("block_officer", Area("Ariyalur", "Ariyalur")),
    "chennai": ("district_officer", Area("Chennai")),
    "school": ("school_admin", Area(*SCHOOL)),
}


async def _no_wait(_: float) -> None:
    return None


@pytest.fixture
async def app(seeded_url):
    async with running_app(Settings(database_url=seeded_url)) as app:
        accounts = app.state.services.accounts
        accounts._sleep = _no_wait
        await accounts.register(None, ADMIN, Caller("test"))
        for name, (role, area) in OFFICERS.items():
            await accounts.register(None, {"email": f"{name}@tn.gov.in", "full_name": name.title(), "password": PASSWORD,
                                           "role": role, "district": area.district, "block": area.block,
                                           "school_id": area.school_id}, Caller("test"))
        yield app


async def _as(c, name: str) -> dict:  # noqa: ANN001
    email = ADMIN["email"] if name == "state" else f"{name}@tn.gov.in"
    password = ADMIN["password"] if name == "state" else PASSWORD
    answer = await c.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['data']['access_token']}"}


def _ask(email: str, role: str = "school_admin", place: tuple = SCHOOL, **extra) -> dict:  # noqa: ANN003
    return {"email": email, "full_name": "R. Selvi", "password": PASSWORD, "role": role,
            **dict(zip(("district", "block", "school_id"), place)), **extra}


async def _pending_ids(c, headers: dict) -> list[str]:  # noqa: ANN001
    answer = await c.get("/api/v1/account-requests", headers=headers)
    assert answer.status_code == 200, answer.text
    return [r["email"] for r in answer.json()["data"]["requests"]]


async def test_an_asked_account_waits_then_signs_in_once_approved(app):
    async with client_of(app, role=None) as c:
        asked = await c.post("/api/v1/auth/register", json=_ask("Selvi@Example.org"))
        assert asked.status_code == 202 and asked.json()["data"]["status"] == "pending", asked.text
        refused = await c.post("/api/v1/auth/login", json={"email": "selvi@example.org", "password": PASSWORD})
        assert refused.status_code == 401
        assert refused.json()["error"]["details"]["reason"] == "awaiting_approval"
        assert "awaiting approval" in refused.json()["error"]["message"]
        wrong = await c.post("/api/v1/auth/login", json={"email": "selvi@example.org", "password": "Not-the-one-1"})
        assert wrong.status_code == 401 and "reason" not in wrong.json()["error"]["details"]  # a guesser learns nothing

        block = await _as(c, "block")
        assert await _pending_ids(c, block) == ["selvi@example.org"]
        request = (await c.get("/api/v1/account-requests", headers=block)).json()["data"]["requests"][0]
        assert (request["role"], request["school_id"], request["status"]) == ("school_admin", SCHOOL[2], "pending")
        approved = await c.post(f"/api/v1/account-requests/{request['id']}/approve", headers=block)
        assert approved.status_code == 200 and approved.json()["data"]["status"] == "approved"
        assert approved.json()["data"]["decided_by"] == "user:{}".format(
            (await c.get("/api/v1/auth/me", headers=block)).json()["data"]["id"])

        again = await c.post(f"/api/v1/account-requests/{request['id']}/approve", headers=block)
        assert again.status_code == 409 and again.json()["error"]["code"] == "CONFLICT"
        reject_after = await c.post(f"/api/v1/account-requests/{request['id']}/reject", headers=block,
                                    json={"reason": "too late"})
        assert reject_after.status_code == 409 and reject_after.json()["success"] is False

        session = await c.post("/api/v1/auth/login", json={"email": "selvi@example.org", "password": PASSWORD})
        assert session.status_code == 200, session.text
        user = session.json()["data"]["user"]
        assert (user["role"], user["district"], user["block"], user["school_id"], user["is_active"]) == (
            "school_admin", *SCHOOL, True)
        assert await _pending_ids(c, block) == []
        decided = (await c.get("/api/v1/account-requests", headers=block, params={"status": "approved"})).json()
        assert [r["email"] for r in decided["data"]["requests"]] == ["selvi@example.org"]

        audit = (await c.get("/api/v1/audit", headers=await _as(c, "state"),
                             params={"action": "accounts.approve"})).json()["data"]["entries"]
        assert [(e["target"], e["before"]["status"], e["after"]["status"]) for e in audit] == [
            (f"user:{request['id']}", "pending", "approved")]
        asked_audit = (await c.get("/api/v1/audit", headers=await _as(c, "state"),
                                   params={"action": "accounts.request"})).json()["data"]["entries"]
        assert [e["outcome"] for e in asked_audit] == ["ok"]


async def test_a_rejected_account_is_told_why_and_stays_out(app):
    async with client_of(app, role=None) as c:
        assert (await c.post("/api/v1/auth/register", json=_ask("nope@example.org", "block_officer",
                                                               ("Ariyalur", "Sendurai")))).status_code == 202
        district = await _as(c, "district")
        request_id = (await c.get("/api/v1/account-requests", headers=district)).json()["data"]["requests"][0]["id"]
        blank = await c.post(f"/api/v1/account-requests/{request_id}/reject", headers=district, json={"reason": ""})
        assert blank.status_code == 422 and blank.json()["error"]["code"] == "VALIDATION_ERROR"
        rejected = await c.post(f"/api/v1/account-requests/{request_id}/reject", headers=district,
                                json={"reason": "no such post in Sendurai"})
        assert rejected.status_code == 200 and rejected.json()["data"]["reason"] == "no such post in Sendurai"
        login = await c.post("/api/v1/auth/login", json={"email": "nope@example.org", "password": PASSWORD})
        assert login.status_code == 401
        assert login.json()["error"]["details"] == {"reason": "rejected", "decision_reason": "no such post in Sendurai"}
        again = await c.post(f"/api/v1/account-requests/{request_id}/approve", headers=district)
        assert again.status_code == 409 and again.json()["error"]["details"]["status"] == "rejected"
        # the decision stays on record for the officers above
        state = await _as(c, "state")
        assert (await c.get("/api/v1/account-requests", headers=state, params={"status": "rejected"})
                ).json()["data"]["requests"][0]["id"] == request_id


async def test_each_officer_sees_and_decides_only_the_roles_below_inside_its_area(app):
    asked = {
        "school@sendurai.org": ("school_admin", SCHOOL),
        "school@ariyalur.org": ("school_admin", OTHER_BLOCK_SCHOOL),
        "block@sendurai.org": ("block_officer", SCHOOL[:2]),
        "deo@ariyalur.org": ("district_officer", SCHOOL[:1]),
        "school@chennai.org": ("school_admin", ("Chennai", "Chennai North", "33031400100")),
    }
    async with client_of(app, role=None) as c:
        for email, (role, place) in asked.items():
            answer = await c.post("/api/v1/auth/register", json=_ask(email, role, place))
            assert answer.status_code == 202, (email, answer.text)
        sees = {name: sorted(await _pending_ids(c, await _as(c, name)))
                for name in ("state", "district", "block", "other_block", "chennai")}
        assert sees == {
            "state": sorted(asked),
            "district": ["block@sendurai.org", "school@ariyalur.org", "school@sendurai.org"],
            "block": ["school@sendurai.org"],
            "other_block": ["school@ariyalur.org"],
            "chennai": ["school@chennai.org"],
        }
        school = await _as(c, "school")
        listed = await c.get("/api/v1/account-requests", headers=school)
        assert listed.status_code == 403 and listed.json()["error"]["code"] == "FORBIDDEN"

        ids = {r["email"]: r["id"] for r in (await c.get("/api/v1/account-requests", headers=await _as(c, "state"),
                                                         params={"page_size": 100})).json()["data"]["requests"]}
        # outside the area, or a role not below: as if there were no such request
        for name, email in (("block", "school@ariyalur.org"), ("block", "block@sendurai.org"),
                            ("district", "deo@ariyalur.org"), ("chennai", "school@sendurai.org")):
            answer = await c.post(f"/api/v1/account-requests/{ids[email]}/approve", headers=await _as(c, name))
            assert answer.status_code == 404 and answer.json()["error"]["code"] == "NOT_FOUND", (name, email)
        unknown = await c.post("/api/v1/account-requests/999999/approve", headers=await _as(c, "state"))
        assert unknown.status_code == 404
        # an account an admin made is no request
        made = await c.get("/api/v1/users", headers=await _as(c, "state"), params={"role": "block_officer"})
        block_user = next(u["id"] for u in made.json()["data"]["users"] if u["email"] == "block@tn.gov.in")
        assert (await c.post(f"/api/v1/account-requests/{block_user}/approve",
                             headers=await _as(c, "state"))).status_code == 404
        # a pending account is decided, not switched on
        switched = await c.patch(f"/api/v1/users/{ids['block@sendurai.org']}", headers=await _as(c, "district"),
                                 json={"is_active": True})
        assert switched.status_code == 409
        approved = await c.post(f"/api/v1/account-requests/{ids['deo@ariyalur.org']}/approve",
                                headers=await _as(c, "state"))
        assert approved.status_code == 200
        assert (await c.post("/api/v1/auth/login", json={"email": "deo@ariyalur.org",
                                                          "password": PASSWORD})).status_code == 200


async def test_bad_requests_are_refused_field_by_field(app):
    bad = {
        "state admin": _ask("a@example.org", "state_admin", ()),
        "no school": _ask("b@example.org", "school_admin", SCHOOL[:2]),
        "school elsewhere": _ask("c@example.org", "school_admin", ("Ariyalur", "Sendurai", "33031400100")),
        "unknown district": _ask("d@example.org", "district_officer", ("Atlantis",)),
        "weak password": _ask("e@example.org", password="short"),
        "bad email": _ask("not-an-email"),
        "no name": _ask("f@example.org", full_name=""),
    }
    async with client_of(app, role=None) as c:
        for why, body in bad.items():
            answer = await c.post("/api/v1/auth/register", json=body)
            assert answer.status_code == 422, (why, answer.text)
            assert answer.json()["success"] is False and answer.json()["error"]["code"] == "VALIDATION_ERROR", why
        assert await _pending_ids(c, await _as(c, "state")) == []
        forged = await c.post("/api/v1/auth/register", json=_ask("g@example.org"),
                              headers={"Authorization": "Bearer not-a-token"})
        assert forged.status_code == 401  # bad credentials are refused, not taken for a request


async def test_asking_reveals_no_existing_email(app):
    async with client_of(app, role=None) as c:
        taken = await c.post("/api/v1/auth/register", json=_ask("block@tn.gov.in"))
        fresh = await c.post("/api/v1/auth/register", json=_ask("fresh@example.org"))
        assert taken.status_code == fresh.status_code == 202
        assert taken.json()["data"] == fresh.json()["data"]
        twice = await c.post("/api/v1/auth/register", json=_ask("fresh@example.org", full_name="Someone Else"))
        assert twice.status_code == 202 and twice.json()["data"] == fresh.json()["data"]
        # the taken account is untouched: its own password still signs it in as before
        assert (await c.post("/api/v1/auth/login", json={"email": "block@tn.gov.in",
                                                          "password": PASSWORD})).status_code == 200
        assert await _pending_ids(c, await _as(c, "block")) == ["fresh@example.org"]


async def test_asking_is_rate_limited_like_sign_in(seeded_url):
    async with running_app(Settings(database_url=seeded_url, limits=Limits(login_per_minute=3))) as app:
        async with client_of(app, role=None) as c:
            codes = [(await c.post("/api/v1/auth/register", json=_ask(f"r{i}@example.org"))).status_code
                     for i in range(6)]
            # the window slides: should a minute turn between the third and the fourth (slow asks on a
            # busy machine), the earlier minute's asks have begun to age out and one more may pass
            assert codes[:3] == [202] * 3 and 429 in codes[3:5], codes
            assert codes.count(202) <= 4 and codes[-1] == 429, codes


async def test_a_signed_in_admin_still_creates_users_directly(app):
    async with client_of(app, role=None) as c:
        made = await c.post("/api/v1/auth/register", headers=await _as(c, "state"),
                            json=_ask("direct@example.org", "block_officer", SCHOOL[:2]))
        assert made.status_code == 201 and made.json()["data"]["is_active"] is True
        assert (await c.post("/api/v1/auth/login", json={"email": "direct@example.org",
                                                          "password": PASSWORD})).status_code == 200


async def test_someone_asking_finds_their_school_by_name_or_code_without_signing_in(app):
    async with client_of(app, role=None) as c:
        by_code = await c.get("/api/v1/school-directory", params={"q": SCHOOL[2]})
        assert by_code.status_code == 200, by_code.text
        assert by_code.json()["data"][0] == {"id": SCHOOL[2], "name": by_code.json()["data"][0]["name"],
                                             "district": SCHOOL[0], "block": SCHOOL[1]}
        name = by_code.json()["data"][0]["name"]
        by_name = (await c.get("/api/v1/school-directory", params={"q": name.lower()})).json()["data"]
        assert SCHOOL[2] in [s["id"] for s in by_name]
        assert all(set(s) == {"id", "name", "district", "block"} for s in by_name)  # nothing of the school's state
        short = await c.get("/api/v1/school-directory", params={"q": "33"})
        assert short.status_code == 422 and short.json()["error"]["code"] == "VALIDATION_ERROR"
        many = await c.get("/api/v1/school-directory", params={"q": "3301", "limit": 21})
        assert many.status_code == 422
