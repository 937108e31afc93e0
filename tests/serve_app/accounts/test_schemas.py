"""Every accounts route answers what its declared model says: each JSON answer of a small
in-process twin validates as `Envelope[Model]`, and the OpenAPI document names that model as
each operation's `data`."""

import time

import pyotp
import pytest
from pydantic import BaseModel

from configs import Settings
from serve_app.accounts.schemas import (
    ApiKey, AuditPage, KeyCaller, Me, MfaEnrolment, MfaSession, MfaState, NewApiKey, PasswordChanged, Session,
    SignedOut, User, UserPage,
)
from serve_app.auth.principal import Caller
from serve_app.shared.envelope import Envelope
from tests.fixtures.app import client_of, running_app
from tests.fixtures.schemas import component, schema_models

ADMIN = {"email": "admin@tn.gov.in", "full_name": "State Admin", "password": "Noon-meal-2026", "role": "state_admin"}
BEO = {"email": "beo.sendurai@tn.gov.in", "full_name": "K. Meena", "password": "Rice-sacks-4410",
       "role": "block_officer", "district": "Ariyalur", "block": "Sendurai", "employee_id": "TN-BEO-0417"}
HM = {"email": "hm@tn.gov.in", "full_name": "Head Master", "password": "Kitchen-ledger-77", "role": "school_admin",
      "district": "Ariyalur", "block": "Sendurai", "school_id": "33010500100"}

# every operation of the domain, with the model of its answer's `data`
DECLARED = {
    ("post", "/api/v1/auth/login"): Session, ("post", "/api/v1/auth/refresh"): Session,
    ("post", "/api/v1/auth/logout"): SignedOut, ("get", "/api/v1/auth/me"): Me | KeyCaller,
    ("post", "/api/v1/auth/register"): User, ("post", "/api/v1/auth/password"): PasswordChanged,
    ("post", "/api/v1/auth/mfa/enrol"): MfaEnrolment, ("post", "/api/v1/auth/mfa/verify"): MfaSession,
    ("post", "/api/v1/auth/mfa/disable"): MfaState, ("get", "/api/v1/users"): UserPage,
    ("get", "/api/v1/users/{user_id}"): User, ("patch", "/api/v1/users/{user_id}"): User,
    ("post", "/api/v1/api-keys"): NewApiKey, ("get", "/api/v1/api-keys"): list[ApiKey],
    ("delete", "/api/v1/api-keys/{key_id}"): ApiKey, ("get", "/api/v1/audit"): AuditPage,
}


@pytest.fixture
async def app(seeded_url):
    async with running_app(Settings(database_url=seeded_url)) as app:
        app.state.services.accounts._sleep = _no_wait
        await app.state.services.accounts.register(None, ADMIN, Caller("command line"))
        yield app


async def _no_wait(_: float) -> None:
    return None


class _Checked:
    """Sends requests and validates every answer against the route's declared model."""

    def __init__(self, client) -> None:  # noqa: ANN001
        self.client = client
        self.seen: set[tuple[str, str]] = set()

    async def __call__(self, method: str, route: str, status: int = 200, headers: dict | None = None,
                       **kwargs) -> dict:  # noqa: ANN003
        path = route.format(**kwargs.pop("path", {}))
        response = await self.client.request(method.upper(), path, headers=headers, **kwargs)
        assert response.status_code == status, (method, path, response.text)
        body = Envelope[DECLARED[method, route]].model_validate(response.json())
        self.seen.add((method, route))
        data = body.data
        return data.model_dump(mode="json") if isinstance(data, BaseModel) else response.json()["data"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


async def test_every_accounts_answer_is_its_declared_model(app):
    async with client_of(app, role=None) as c:
        call = _Checked(c)
        admin = await call("post", "/api/v1/auth/login", json={"email": ADMIN["email"], "password": ADMIN["password"]})
        admin = await call("post", "/api/v1/auth/refresh", json={"refresh_token": admin["refresh_token"]})
        as_admin = bearer(admin["access_token"])
        me = await call("get", "/api/v1/auth/me", headers=as_admin)
        assert "users:manage" in me["permissions"]
        beo = await call("post", "/api/v1/auth/register", 201, headers=as_admin, json=BEO)
        await call("post", "/api/v1/auth/register", 201, headers=as_admin, json=HM)
        page = await call("get", "/api/v1/users", headers=as_admin, params={"page_size": 2})
        assert page["pagination"] == {"page": 1, "page_size": 2, "total": 3, "pages": 2}
        assert (await call("get", "/api/v1/users/{user_id}", headers=as_admin, path={"user_id": beo["id"]}))["email"] \
            == BEO["email"]
        changed = await call("patch", "/api/v1/users/{user_id}", headers=as_admin, path={"user_id": beo["id"]},
                             json={"phone": "+919876543210"})
        assert changed["phone"] == "+919876543210"

        officer = await call("post", "/api/v1/auth/login", json={"email": BEO["email"], "password": BEO["password"]})
        as_officer = bearer(officer["access_token"])
        await call("post", "/api/v1/auth/password", headers=as_officer,
                   json={"current_password": BEO["password"], "new_password": "Dal-and-eggs-5521"})
        officer = await call("post", "/api/v1/auth/login", json={"email": BEO["email"], "password": "Dal-and-eggs-5521"})
        as_officer = bearer(officer["access_token"])
        enrol = await call("post", "/api/v1/auth/mfa/enrol", headers=as_officer)
        totp = pyotp.TOTP(enrol["secret"])
        on = await call("post", "/api/v1/auth/mfa/verify", headers=as_officer, json={"code": totp.now()})
        assert len(on["recovery_codes"]) == 10 and on["user"]["mfa_enabled"]
        later = time.time() + 30  # the next code: a code is never accepted twice
        app.state.services.accounts._clock = lambda: time.time() + 30
        off = await call("post", "/api/v1/auth/mfa/disable", headers=bearer(on["access_token"]),
                         json={"password": "Dal-and-eggs-5521", "code": totp.at(later)})
        assert off == {"mfa_enabled": False}
        await call("post", "/api/v1/auth/logout", headers=bearer(on["access_token"]),
                   json={"refresh_token": on["refresh_token"]})

        made = await call("post", "/api/v1/api-keys", 201, headers=as_admin,
                          json={"name": "Ariyalur readers", "scopes": ["read"], "district": "Ariyalur"})
        assert made["key"].startswith("mtk_")
        key = await call("get", "/api/v1/auth/me", headers={"X-API-Key": made["key"]})
        assert key["api_key"]["id"] == made["id"]
        assert [k["id"] for k in await call("get", "/api/v1/api-keys", headers=as_admin)] == [made["id"]]
        revoked = await call("delete", "/api/v1/api-keys/{key_id}", headers=as_admin, path={"key_id": made["id"]})
        assert revoked["revoked"] is True
        audit = await call("get", "/api/v1/audit", headers=as_admin, params={"page_size": 5})
        assert audit["pagination"]["page_size"] == 5 and audit["pagination"]["pages"] >= 2
        assert {e["outcome"] for e in audit["entries"]} <= {"ok", "denied", "failed"}

        assert call.seen == set(DECLARED)  # every route of the domain was called


def _data_schema(spec: dict, method: str, path: str) -> dict:
    responses = spec["paths"][path][method]["responses"]
    success = responses.get("200") or responses["201"]
    ref = success["content"]["application/json"]["schema"]["$ref"]
    return component(spec, ref)["properties"]["data"]


def _expected(model) -> list:  # noqa: ANN001
    if getattr(model, "__origin__", None) is list:
        return [("list", *_expected(model.__args__[0]))]
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [(model.__name__, set(model.model_fields))]
    return [name for choice in model.__args__ for name in _expected(choice)]


async def test_the_openapi_document_shows_each_answers_model(app):
    spec = app.openapi()  # the document /api/openapi.json serves
    operations = {(m, p) for p, ops in spec["paths"].items() for m in ops
                  if p.startswith(("/api/v1/auth/", "/api/v1/users", "/api/v1/api-keys", "/api/v1/audit"))}
    assert operations == set(DECLARED)
    for (method, path), model in DECLARED.items():
        assert schema_models(spec, _data_schema(spec, method, path)) == _expected(model), (method, path)
