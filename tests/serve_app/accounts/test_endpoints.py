"""Accounts through the API: sign-in, token rotation and revocation, lockout, who may create whom,
multi-factor authentication, API keys and the audit log."""

import base64
import json
import time

import pyotp
import pytest

from configs import Settings
from configs.settings import Auth
from serve_app.auth.signing_keys import SigningKeys
from serve_app.auth.tokens import TokenIssuer
from tests.fixtures.app import client_of, running_app, token_for
from twin.area import Area

ADMIN = {"email": "admin@tn.gov.in", "full_name": "State Admin", "password": "Noon-meal-2026", "role": "state_admin"}
ARIYALUR = Area("Ariyalur")
IN_ARIYALUR, IN_CHENNAI = "33010000100", "33031400100"  # schools of the small test directory


@pytest.fixture
async def app(seeded_url):
    async with running_app(Settings(database_url=seeded_url)) as app:
        app.state.services.accounts._sleep = _no_wait  # failed sign-ins wait seconds in production
        await app.state.services.accounts.register(None, ADMIN, _cli())
        yield app


async def _no_wait(_: float) -> None:
    return None


def _cli():  # noqa: ANN202
    from serve_app.auth.principal import Caller

    return Caller("command line")


async def login(client, email: str, password: str, **extra) -> dict:  # noqa: ANN001, ANN003
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password, **extra})
    assert response.status_code == 200, response.text
    return response.json()["data"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


async def test_sign_in_read_me_refresh_and_sign_out(app):
    async with client_of(app, role=None) as c:
        session = await login(c, "ADMIN@tn.gov.in ", ADMIN["password"])  # email is case- and space-blind
        assert session["token_type"] == "bearer" and session["expires_in"] == 900
        assert "password_hash" not in session["user"] and "mfa_secret" not in session["user"]
        me = (await c.get("/api/v1/auth/me", headers=bearer(session["access_token"]))).json()["data"]
        assert (me["email"], me["role"]) == ("admin@tn.gov.in", "state_admin")
        assert "users:manage" in me["permissions"]

        rotated = (await c.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})).json()["data"]
        assert rotated["refresh_token"] != session["refresh_token"]
        assert (await c.get("/api/v1/twin/state", headers=bearer(rotated["access_token"]))).status_code == 200

        out = await c.post("/api/v1/auth/logout", headers=bearer(rotated["access_token"]),
                           json={"refresh_token": rotated["refresh_token"]})
        assert out.status_code == 200
        gone = await c.get("/api/v1/auth/me", headers=bearer(rotated["access_token"]))
        assert gone.status_code == 401 and gone.json()["error"]["details"]["reason"] == "revoked"
        again = await c.post("/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
        assert again.status_code == 401


async def test_a_reused_refresh_token_revokes_its_whole_family(app):
    async with client_of(app, role=None) as c:
        first = await login(c, ADMIN["email"], ADMIN["password"])
        second = (await c.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})).json()["data"]
        stolen = await c.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert stolen.status_code == 401 and stolen.json()["error"]["details"]["reason"] == "reused"
        # the legitimate holder's newer token dies with the thief's copy
        assert (await c.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})).status_code == 401
        # another sign-in is another family, untouched
        other = await login(c, ADMIN["email"], ADMIN["password"])
        assert (await c.post("/api/v1/auth/refresh", json={"refresh_token": other["refresh_token"]})).status_code == 200


def _forge(claims: dict, header: dict, signature: bytes = b"") -> str:
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    return ".".join([part(json.dumps(header).encode()), part(json.dumps(claims).encode()), part(signature)])


async def test_expired_forged_wrong_key_and_unsigned_tokens_are_refused(app):
    issuer = app.state.services.accounts.issuer
    good = token_for(app)
    expired = TokenIssuer(SigningKeys.from_pem(issuer._keys.private_pem), clock=lambda: time.time() - 3600)
    other_keys = SigningKeys.generate()
    wrong_key = TokenIssuer(other_keys)
    payload = json.loads(base64.urlsafe_b64decode(good.split(".")[1] + "=="))
    cases = {
        "expired": expired.issue_access("user:1", "state_admin", None, None, None)[0],
        "unknown key": wrong_key.issue_access("user:1", "state_admin", None, None, None)[0],
        "bad signature": good.rsplit(".", 1)[0] + "." + wrong_key.issue_access("user:1", "state_admin", None, None,
                                                                                None)[0].rsplit(".", 1)[1],
        "wrong algorithm": _forge(payload, {"alg": "none", "typ": "JWT", "kid": issuer._keys.kid}),
        "malformed": "not-a-token",
    }
    async with client_of(app, role=None) as c:
        assert (await c.get("/api/v1/twin/state", headers=bearer(good))).status_code == 200
        assert (await c.get("/api/v1/twin/state")).status_code == 401
        for reason, token in cases.items():
            response = await c.get("/api/v1/twin/state", headers=bearer(token))
            assert response.status_code == 401, reason
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert response.json()["error"]["details"]["reason"] in (reason, "bad signature"), reason


async def test_repeated_failures_lock_the_account_then_the_lock_lifts(app):
    async with client_of(app, role=None) as c:
        for _ in range(5):
            bad = await c.post("/api/v1/auth/login", json={"email": ADMIN["email"], "password": "wrong-guess-1"})
            assert bad.status_code == 401 and bad.json()["error"]["message"] == "wrong email or password"
        locked = await c.post("/api/v1/auth/login", json={"email": ADMIN["email"], "password": ADMIN["password"]})
        assert locked.status_code == 401 and locked.json()["error"]["details"]["reason"] == "locked"
        unknown = await c.post("/api/v1/auth/login", json={"email": "nobody@tn.gov.in", "password": "whatever1"})
        assert unknown.json()["error"]["message"] == "wrong email or password"  # no hint that the email exists

        accounts = app.state.services.accounts
        accounts._clock = lambda: time.time() + 901  # the lock's time passes
        assert (await login(c, ADMIN["email"], ADMIN["password"]))["user"]["locked"] is False
    async with client_of(app) as admin:
        failures = (await admin.get("/api/v1/audit", params={"action": "auth.login"})).json()["data"]["entries"]
    outcomes = [e["outcome"] for e in reversed(failures)]
    assert outcomes == ["failed"] * 5 + ["denied", "failed", "ok"]
    assert failures[-1]["after"]["reason"] == "wrong password" and failures[-1]["ip"]


async def test_who_may_create_whom(app):
    officer = {"email": "do.ariyalur@tn.gov.in", "full_name": "District Officer", "password": "Kitchen-ledger-77",
               "role": "district_officer", "district": "Ariyalur"}
    async with client_of(app) as admin:
        created = await admin.post("/api/v1/auth/register", json=officer)
        assert created.status_code == 201, created.text
        assert (await admin.post("/api/v1/auth/register", json=officer)).status_code == 409
        weak = await admin.post("/api/v1/auth/register", json={**officer, "email": "x@tn.gov.in", "password": "short1"})
        assert weak.status_code == 422 and weak.json()["error"]["details"]["fields"][0]["field"] == "password"
        no_area = await admin.post("/api/v1/auth/register", json={**officer, "email": "y@tn.gov.in", "district": None})
        assert no_area.status_code == 422
    async with client_of(app, role=None) as c:
        session = await login(c, officer["email"], officer["password"])
        headers = bearer(session["access_token"])
        beo = {"email": "beo.sendurai@tn.gov.in", "full_name": "Block Officer", "password": "Rice-sacks-4410",
               "role": "block_officer", "district": "Ariyalur", "block": "Sendurai"}
        assert (await c.post("/api/v1/auth/register", json=beo, headers=headers)).status_code == 201
        elsewhere = {**beo, "email": "beo2@tn.gov.in", "district": "Chennai", "block": "Chennai North"}
        assert (await c.post("/api/v1/auth/register", json=elsewhere, headers=headers)).status_code == 403
        peer = {**officer, "email": "do2@tn.gov.in"}
        assert (await c.post("/api/v1/auth/register", json=peer, headers=headers)).status_code == 403
        listed = (await c.get("/api/v1/users", headers=headers)).json()["data"]["users"]
        assert {u["email"] for u in listed} == {officer["email"], beo["email"]}  # not the state admin
        assert (await c.get("/api/v1/audit", headers=headers)).status_code == 403


async def test_a_role_change_ends_the_users_sessions(app):
    beo = {"email": "beo@tn.gov.in", "full_name": "Block Officer", "password": "Rice-sacks-4410",
           "role": "block_officer", "district": "Ariyalur", "block": "Sendurai"}
    async with client_of(app) as admin:
        user = (await admin.post("/api/v1/auth/register", json=beo)).json()["data"]
        async with client_of(app, role=None) as c:
            session = await login(c, beo["email"], beo["password"])
            assert (await c.get("/api/v1/twin/districts/Ariyalur", headers=bearer(session["access_token"]))).status_code == 404
            moved = await admin.patch(f"/api/v1/users/{user['id']}", json={"role": "district_officer", "block": None})
            assert moved.status_code == 200 and moved.json()["data"]["role"] == "district_officer"
            assert (await c.get("/api/v1/auth/me", headers=bearer(session["access_token"]))).status_code == 401
            fresh = await login(c, beo["email"], beo["password"])
            assert (await c.get("/api/v1/twin/districts/Ariyalur", headers=bearer(fresh["access_token"]))).status_code == 200
        trail = (await admin.get("/api/v1/audit", params={"action": "users.change"})).json()["data"]["entries"]
        assert (trail[0]["before"]["role"], trail[0]["after"]["role"]) == ("block_officer", "district_officer")
        assert (await admin.delete("/api/v1/audit")).status_code == 405  # the log cannot be edited


async def test_totp_enrolment_sign_in_replay_and_recovery_codes(app):
    async with client_of(app, role=None) as c:
        session = await login(c, ADMIN["email"], ADMIN["password"])
        headers = bearer(session["access_token"])
        enrol = (await c.post("/api/v1/auth/mfa/enrol", headers=headers)).json()["data"]
        assert enrol["otpauth_uri"].startswith("otpauth://totp/") and enrol["qr_svg"].lstrip().startswith("<")
        totp = pyotp.TOTP(enrol["secret"])
        assert (await c.post("/api/v1/auth/mfa/verify", headers=headers, json={"code": "000000" if totp.now() != "000000" else "111111"})).status_code == 422
        on = (await c.post("/api/v1/auth/mfa/verify", headers=headers, json={"code": totp.now()})).json()["data"]
        assert on["mfa_enabled"] and len(on["recovery_codes"]) == 10
        assert (await c.get("/api/v1/auth/me", headers=headers)).status_code == 401  # the old session ended

        without = await c.post("/api/v1/auth/login", json={"email": ADMIN["email"], "password": ADMIN["password"]})
        assert without.status_code == 401 and without.json()["error"]["details"]["reason"] == "mfa_required"
        # the code just used to turn MFA on cannot be used again
        replay = await c.post("/api/v1/auth/login", json={"email": ADMIN["email"], "password": ADMIN["password"],
                                                          "otp": totp.now()})
        assert replay.status_code == 401
        code = on["recovery_codes"][0]
        assert (await login(c, ADMIN["email"], ADMIN["password"], recovery_code=code.upper()))["user"]["mfa_enabled"]
        spent = await c.post("/api/v1/auth/login", json={"email": ADMIN["email"], "password": ADMIN["password"],
                                                         "recovery_code": code})
        assert spent.status_code == 401


async def test_mfa_can_be_required_for_a_role(seeded_url):
    settings = Settings(database_url=seeded_url, auth=Auth(bcrypt_rounds=4, mfa_required_roles=["state_admin"]))
    async with running_app(settings) as app, client_of(app, role=None) as c:
        await app.state.services.accounts.register(None, ADMIN, _cli())
        session = await login(c, ADMIN["email"], ADMIN["password"])
        assert session["mfa_enrolment_required"] is True
        headers = bearer(session["access_token"])
        refused = await c.get("/api/v1/twin/state", headers=headers)
        assert refused.status_code == 403 and refused.json()["error"]["details"]["reason"] == "mfa_enrolment_required"
        enrol = (await c.post("/api/v1/auth/mfa/enrol", headers=headers)).json()["data"]
        on = (await c.post("/api/v1/auth/mfa/verify", headers=headers,
                           json={"code": pyotp.TOTP(enrol["secret"]).now()})).json()["data"]
        assert (await c.get("/api/v1/twin/state", headers=bearer(on["access_token"]))).status_code == 200


def _attendance(school: str, n: int) -> dict:
    return {"type": "attendance_reported", "event_id": f"key-{school}-{n}", "date": "2025-07-01", "school_id": school,
            "present": 40, "meals_served": {"primary": 40}}


async def test_api_keys_are_scoped_shown_once_and_revocable(app):
    async with client_of(app) as admin:
        made = await admin.post("/api/v1/api-keys", json={"name": "Ariyalur devices", "scopes": ["events:write"],
                                                          "district": "Ariyalur"})
        assert made.status_code == 201
        key = made.json()["data"]
        listed = (await admin.get("/api/v1/api-keys")).json()["data"]
        assert [k["id"] for k in listed] == [key["id"]] and "key" not in listed[0] and "secret_hash" not in listed[0]
    async with client_of(app, role=None) as device:
        headers = {"X-API-Key": key["key"]}
        posted = await device.post("/api/v1/events", headers=headers,
                                   json={"events": [_attendance(IN_ARIYALUR, 1), _attendance(IN_CHENNAI, 1)]})
        results = posted.json()["data"]["results"]
        assert [r["status"] for r in results] == ["accepted", "rejected"]
        assert results[1]["error"]["message"] == f"unknown school_id {IN_CHENNAI}"  # as if it did not exist
        assert (await device.get(f"/api/v1/twin/schools/{IN_ARIYALUR}", headers=headers)).status_code == 403
        assert (await device.get("/api/v1/api-keys", headers=headers)).status_code == 403
        forged = {"X-API-Key": key["key"][:-4] + "AAAA"}
        assert (await device.post("/api/v1/events", headers=forged, json={"events": []})).status_code == 401
        async with client_of(app) as admin:
            assert (await admin.delete(f"/api/v1/api-keys/{key['id']}")).json()["data"]["revoked"] is True
        assert (await device.post("/api/v1/events", headers=headers,
                                  json={"events": [_attendance(IN_ARIYALUR, 2)]})).status_code == 401


async def test_fund_and_school_changes_are_audited(app):
    release = {"type": "funds_released", "event_id": "rel-1", "date": "2025-07-01", "school_id": IN_ARIYALUR,
               "amount_inr": 12500}
    async with client_of(app) as admin:
        assert (await admin.post("/api/v1/events", json={"events": [release]})).status_code == 200
        school = (await admin.get(f"/api/v1/schools/{IN_ARIYALUR}")).json()["data"]
        changed = {k: v for k, v in school.items() if k in (
            "name", "district", "block", "address", "latitude", "longitude", "enrolment_primary",
            "enrolment_upper_primary", "enrolment_secondary", "capacity", "has_hostel", "breakfast_scheme",
            "depot_id")} | {"capacity": school["capacity"] + 10}
        assert (await admin.put(f"/api/v1/schools/{IN_ARIYALUR}", json=changed)).status_code == 200
        entries = (await admin.get("/api/v1/audit")).json()["data"]["entries"]
    by_action = {e["action"]: e for e in entries}
    assert by_action["funds.events"]["after"]["total_inr"] == 12500
    update = by_action["schools.update"]
    assert update["target"] == f"school:{IN_ARIYALUR}"
    assert update["after"]["capacity"] - update["before"]["capacity"] == 10


async def test_officers_manage_only_the_roles_below_them_and_real_schools(app):
    officers = [{"email": f"do{k}@tn.gov.in", "full_name": f"Officer {k}", "password": "Kitchen-ledger-77",
                 "role": "district_officer", "district": "Ariyalur"} for k in (1, 2)]
    async with client_of(app) as admin:
        first, peer = [(await admin.post("/api/v1/auth/register", json=o)).json()["data"] for o in officers]
        hm = {"email": "hm@tn.gov.in", "full_name": "Head Master", "password": "Kitchen-ledger-77",
              "role": "school_admin", "district": "Ariyalur", "block": "Sendurai"}
        wrong_block = await admin.post("/api/v1/auth/register", json={**hm, "school_id": IN_ARIYALUR})
        assert wrong_block.status_code == 422 and "no school" in wrong_block.json()["error"]["message"]
        assert (await admin.post("/api/v1/auth/register", json={**hm, "school_id": "33010500100"})).status_code == 201
    async with client_of(app, role=None) as c:
        headers = bearer((await login(c, officers[0]["email"], officers[0]["password"]))["access_token"])
        refused = await c.patch(f"/api/v1/users/{peer['id']}", headers=headers, json={"is_active": False})
        assert refused.status_code == 403  # a peer is not theirs to manage
        own = await c.patch(f"/api/v1/users/{first['id']}", headers=headers, json={"phone": "+919876543210"})
        assert own.status_code == 200 and own.json()["data"]["phone"] == "+919876543210"
