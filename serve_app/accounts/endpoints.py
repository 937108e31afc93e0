"""Routes of accounts and access: sign-in and sessions, MFA, users, API keys and the audit log.

No `from __future__ import annotations`: Serve pickles the routes by value (see serve_app.app)."""

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from pydantic import BaseModel, Field, StringConstraints, model_validator

from serve_app.shared.app_services import services_of
from serve_app.accounts.service import Accounts
from serve_app.auth.api_keys import KEY_SCOPES
from serve_app.auth.guard import authenticated, caller_of, principal_of
from serve_app.auth.principal import Permission, Role
from serve_app.auth.rate_limit import enforce
from serve_app.shared.envelope import JSONResponse, ok
from serve_app.shared.examples import envelope
from serve_app.shared.paths import API
from twin import geography
from twin.area import Area
from twin.errors import InvalidInput

_Email = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=3, max_length=254,
                                          pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
                   Field(examples=["officer@tn.gov.in"])]
_USER = {"id": 2, "email": "beo.sendurai@tn.gov.in", "full_name": "K. Meena", "role": "block_officer",
         "district": "Ariyalur", "block": "Sendurai", "school_id": None, "employee_id": "TN-BEO-0417",
         "phone": None, "is_active": True, "mfa_enabled": False, "locked": False, "last_login_at": None,
         "created_at": "2026-11-29T06:00:00Z"}
_SESSION = {"access_token": "eyJ...", "refresh_token": "eyJ...", "token_type": "bearer", "expires_in": 900,
            "user": _USER}


class AreaFields(BaseModel):
    district: str | None = Field(default=None, max_length=64, examples=["Ariyalur"])
    block: str | None = Field(default=None, max_length=64, examples=["Sendurai"])
    school_id: str | None = Field(default=None, pattern=r"^\d{11}$", examples=["33010100101"])

    @model_validator(mode="after")
    def _known_places(self):  # noqa: ANN202
        if self.district is not None:
            try:
                self.district = geography.district_names()[geography.district_index(self.district)]
            except (KeyError, ValueError):
                raise ValueError(f"unknown district {self.district!r}") from None
            if self.block is not None:
                names = {b.name.lower(): b.name for b in geography.districts()[geography.district_index(self.district)].blocks}
                if self.block.strip().lower() not in names:
                    raise ValueError(f"no block {self.block!r} in {self.district}")
                self.block = names[self.block.strip().lower()]
        if (self.block and not self.district) or (self.school_id and not self.block):
            raise ValueError("give the district with a block, and the district and block with a school")
        return self

    def area(self) -> Area:
        return Area(self.district, self.block, self.school_id)


class Login(BaseModel):
    email: _Email
    password: str = Field(min_length=1, max_length=128)
    otp: str | None = Field(default=None, pattern=r"^\d{6}$", description="the authenticator's code, when MFA is on")
    recovery_code: str | None = Field(default=None, max_length=32, description="instead of `otp`, once each")


class RefreshBody(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=4096)


class LogoutBody(BaseModel):
    refresh_token: str | None = Field(default=None, max_length=4096, description="also end this refresh token's family")
    everywhere: bool = Field(default=False, description="end every session of this account")


class NewUser(AreaFields):
    email: _Email
    full_name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=128)
    role: Role
    employee_id: str | None = Field(default=None, max_length=64)
    phone: str | None = Field(default=None, pattern=r"^\+?\d{10,15}$")


class UserChange(BaseModel):
    full_name: str | None = Field(default=None, min_length=1, max_length=200)
    role: Role | None = None
    district: str | None = Field(default=None, max_length=64)
    block: str | None = Field(default=None, max_length=64)
    school_id: str | None = Field(default=None, pattern=r"^\d{11}$")
    employee_id: str | None = Field(default=None, max_length=64)
    phone: str | None = Field(default=None, pattern=r"^\+?\d{10,15}$")
    is_active: bool | None = None
    unlock: bool = Field(default=False, description="clear failed sign-ins and a lock")
    password: str | None = Field(default=None, min_length=1, max_length=128, description="set a new password")

    def changes(self) -> dict:
        given = self.model_dump(exclude_unset=True)
        if any(k in given for k in ("district", "block", "school_id")):
            AreaFields(**{k: given.get(k) for k in ("district", "block", "school_id")})  # validates the place
        return {k: v.value if isinstance(v, Role) else v for k, v in given.items()}


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=128)
    new_password: str = Field(min_length=1, max_length=128)


class Code(BaseModel):
    code: str = Field(pattern=r"^\d{6}$")


class MfaDisable(Code):
    password: str = Field(min_length=1, max_length=128)


class NewKey(AreaFields):
    name: str = Field(min_length=1, max_length=200, examples=["Ariyalur attendance devices"])
    scopes: list[Literal[KEY_SCOPES]] = Field(min_length=1, examples=[["events:write"]])


def _school_in_its_block(request: Request, district: str | None, block: str | None, school_id: str | None) -> None:
    """A school admin's school must exist, in the district and block given with it."""
    if school_id is None:
        return
    directory = services_of(request).directory
    i = directory.index(school_id)
    d = geography.district_names()[int(directory.school_district[i])] if i >= 0 else None
    b = directory.blocks.names[int(directory.school_block[i])] if i >= 0 else None
    if (d, b) != (district, block):
        message = f"no school {school_id} in {district}/{block}"
        raise InvalidInput(message, {"fields": [{"field": "school_id", "message": message}]})


def _accounts(request: Request) -> Accounts:
    return services_of(request).accounts


async def _throttle_login(request: Request, email: str | None = None) -> None:
    """Sign-in is limited harder than other routes, per IP and per account, so a password guesser
    gets few tries whatever address it comes from."""
    services = services_of(request)
    limit = services.settings.limits.login_per_minute
    keys = [f"login-ip:{caller_of(request).ip}"] + ([f"login-user:{email.strip().lower()}"] if email else [])
    for key in keys:
        await enforce(services.limiter, key, limit, 60, "too many sign-in attempts")


def auth_router() -> APIRouter:
    r = APIRouter(prefix=f"{API}/auth", tags=["auth"])
    signed_in = [Depends(authenticated)]

    @r.post("/login", summary="Sign in", responses=envelope(_SESSION, 401, 422, 429),
            description="Email and password (and `otp` when MFA is on). Answers an access token (short-lived) and "
                        "a refresh token (rotated on every use). Failed sign-ins slow down, then lock the account "
                        "for a while.")
    async def login(request: Request, body: Login) -> JSONResponse:
        await _throttle_login(request, body.email)
        return ok(await _accounts(request).login(body.email, body.password, body.otp, body.recovery_code,
                                                 caller_of(request)), "signed in")

    @r.post("/refresh", summary="New tokens for a refresh token", responses=envelope(_SESSION, 401, 422, 429),
            description="The refresh token is spent: use the new one next time. Presenting a spent refresh token "
                        "again revokes every token of that sign-in.")
    async def refresh(request: Request, body: RefreshBody) -> JSONResponse:
        await _throttle_login(request)
        return ok(await _accounts(request).refresh(body.refresh_token, caller_of(request)))

    @r.post("/logout", summary="Sign out", dependencies=signed_in, responses=envelope({"signed_out": True}, 401))
    async def logout(request: Request, body: LogoutBody | None = None) -> JSONResponse:
        body = body or LogoutBody()
        await _accounts(request).logout(principal_of(request), body.refresh_token, body.everywhere, caller_of(request))
        return ok({"signed_out": True}, "signed out")

    @r.get("/me", summary="Who am I", dependencies=signed_in, responses=envelope(_USER, 401))
    async def me(request: Request) -> JSONResponse:
        return ok(await _accounts(request).me(principal_of(request)))

    @r.post("/register", status_code=201, summary="Create a user", dependencies=signed_in,
            description="A state admin creates anyone; a district officer creates block officers and school admins "
                        "inside the district. The role's area is required: district for a district officer, "
                        "district and block for a block officer, and the school too for a school admin.",
            responses=envelope(_USER, 401, 403, 409, 422, status=201, message="created"))
    async def register(request: Request, body: NewUser) -> JSONResponse:
        _school_in_its_block(request, body.district, body.block, body.school_id)
        values = body.model_dump() | {"role": body.role.value}
        return ok(await _accounts(request).register(principal_of(request), values, caller_of(request)),
                  "created", status_code=201)

    @r.post("/password", summary="Change my password", dependencies=signed_in,
            responses=envelope({"changed": True}, 401, 403, 422))
    async def change_password(request: Request, body: PasswordChange) -> JSONResponse:
        await _accounts(request).change_own_password(principal_of(request), body.current_password,
                                                     body.new_password, caller_of(request))
        return ok({"changed": True}, "password changed: sign in again")

    @r.post("/mfa/enrol", summary="Start TOTP multi-factor authentication", dependencies=signed_in,
            description="Answers the secret, an `otpauth://` URI and its QR code (SVG) for an authenticator app. "
                        "MFA is on once a code is confirmed with POST /auth/mfa/verify.",
            responses=envelope({"secret": "JBSWY3DPEHPK3PXP", "otpauth_uri": "otpauth://totp/...", "qr_svg": "<svg ...>"}, 401, 422))
    async def mfa_enrol(request: Request) -> JSONResponse:
        return ok(await _accounts(request).mfa_enrol(principal_of(request), caller_of(request)))

    @r.post("/mfa/verify", summary="Confirm TOTP and turn MFA on", dependencies=signed_in,
            description="Answers ten recovery codes, shown only this once, and a new session with MFA.",
            responses=envelope({"mfa_enabled": True, "recovery_codes": ["abcd-efgh-ijkl"], **_SESSION}, 401, 422))
    async def mfa_verify(request: Request, body: Code) -> JSONResponse:
        return ok(await _accounts(request).mfa_confirm(principal_of(request), body.code, caller_of(request)))

    @r.post("/mfa/disable", summary="Turn MFA off", dependencies=signed_in,
            responses=envelope({"mfa_enabled": False}, 401, 403, 422))
    async def mfa_disable(request: Request, body: MfaDisable) -> JSONResponse:
        await _accounts(request).mfa_disable(principal_of(request), body.password, body.code, caller_of(request))
        return ok({"mfa_enabled": False})

    return r


def users_router() -> APIRouter:
    r = APIRouter(prefix=f"{API}/users", tags=["users"], dependencies=[Depends(authenticated)])

    @r.get("", summary="Users in my area", responses=envelope({"users": [_USER], "pagination": {
        "page": 1, "page_size": 50, "total": 1, "pages": 1}}, 401, 403))
    async def list_users(request: Request, role: Role | None = None, page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
                         page_size: Annotated[int, Query(ge=1, le=200)] = 50) -> JSONResponse:
        return ok(await _accounts(request).list_users(principal_of(request), role.value if role else None, page, page_size))

    @r.get("/{user_id}", summary="A user", responses=envelope(_USER, 401, 403, 404))
    async def get_user(request: Request, user_id: Annotated[int, Path(ge=1, le=2**62)]) -> JSONResponse:
        from serve_app.accounts.service import public_user

        return ok(public_user(await _accounts(request).visible_user(principal_of(request), user_id)))

    @r.patch("/{user_id}", summary="Change a user (role, area, active, unlock, password)",
             description="A change of role, area or active flag, or a new password, ends the user's sessions.",
             responses=envelope(_USER, 401, 403, 404, 422))
    async def change_user(request: Request, user_id: Annotated[int, Path(ge=1, le=2**62)],
                          body: Annotated[UserChange, Body()]) -> JSONResponse:
        try:
            changes = body.changes()
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        if changes.get("school_id"):
            _school_in_its_block(request, changes.get("district"), changes.get("block"), changes["school_id"])
        return ok(await _accounts(request).change_user(principal_of(request), user_id, changes, caller_of(request)),
                  "updated")

    return r


_KEY = {"id": "k3Jd9aQ2LmZx", "name": "Ariyalur attendance devices", "scopes": ["events:write"],
        "district": "Ariyalur", "block": None, "school_id": None, "created_by": "user:1",
        "created_at": "2026-11-29T06:00:00Z", "last_used_at": None, "revoked": False}


def api_keys_router() -> APIRouter:
    r = APIRouter(prefix=f"{API}/api-keys", tags=["api keys"], dependencies=[Depends(authenticated)])

    @r.post("", status_code=201, summary="Create an API key (shown once)",
            description="Scopes: `events:write` (POST /events) and `read`; the key only reaches its area.",
            responses=envelope({**_KEY, "key": "mtk_k3Jd9aQ2LmZx_..."}, 401, 403, 422, status=201, message="created"))
    async def create_key(request: Request, body: NewKey) -> JSONResponse:
        return ok(await _accounts(request).create_key(principal_of(request), body.name, list(body.scopes),
                                                      body.area(), caller_of(request)),
                  "created: store the key now, it is not shown again", status_code=201)

    @r.get("", summary="API keys of my area", responses=envelope([_KEY], 401, 403))
    async def list_keys(request: Request) -> JSONResponse:
        return ok(await _accounts(request).list_keys(principal_of(request)))

    @r.delete("/{key_id}", summary="Revoke an API key", responses=envelope({**_KEY, "revoked": True}, 401, 403, 404))
    async def revoke_key(request: Request, key_id: Annotated[str, Path(max_length=16)]) -> JSONResponse:
        return ok(await _accounts(request).revoke_key(principal_of(request), key_id, caller_of(request)), "revoked")

    return r


def audit_router() -> APIRouter:
    r = APIRouter(prefix=f"{API}/audit", tags=["audit"], dependencies=[Depends(authenticated)])

    @r.get("", summary="The audit log (newest first)",
           description="Sign-ins and failures, user, role and key changes, school changes and fund events: who, "
                       "when, from where, what changed. Read-only: no route changes it.",
           responses=envelope({"entries": [{"id": 7, "at": "2026-11-29T06:00:00Z", "actor": "admin@tn.gov.in",
                                            "actor_role": "state_admin", "ip": "10.0.0.5", "action": "users.create",
                                            "target": "user:2", "district": "Ariyalur", "outcome": "ok",
                                            "before": None, "after": _USER}],
                               "pagination": {"page": 1, "page_size": 50, "total": 1, "pages": 1}}, 401, 403))
    async def audit(request: Request, actor: Annotated[str | None, Query(max_length=254)] = None,
                    action: Annotated[str | None, Query(max_length=64, examples=["auth.login"])] = None,
                    since: dt.datetime | None = None, until: dt.datetime | None = None,
                    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
                    page_size: Annotated[int, Query(ge=1, le=500)] = 50) -> JSONResponse:
        principal = principal_of(request)
        principal.require(Permission.AUDIT_READ)
        rows, total = await _accounts(request).audit.page(principal.area, actor, action, since, until,
                                                          (page - 1) * page_size, page_size)
        return ok({"entries": rows, "pagination": {"page": page, "page_size": page_size, "total": total,
                                                   "pages": -(-total // page_size)}})

    return r
