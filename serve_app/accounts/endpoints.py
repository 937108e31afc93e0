"""Routes of accounts and access: sign-in and sessions, MFA, users, API keys and the audit log.

No `from __future__ import annotations`: Serve pickles the routes by value (see serve_app.app)."""

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request

from serve_app.accounts.schemas import (
    AccountRequest, AccountRequestPage, AccountRequested, Decision, ApiKey, AuditPage, Code, KeyCaller, Login, LogoutBody, Me, MfaDisable, MfaEnrolment, MfaSession, MfaState,
    NewApiKey, NewKey, NewUser, PasswordChange, PasswordChanged, RefreshBody, Session, SignedOut, User, UserChange,
    UserPage,
)
from serve_app.accounts.requests import AccountRequests
from serve_app.accounts.service import Accounts
from serve_app.auth.guard import authenticated, caller_of, optionally_authenticated, principal_of
from serve_app.auth.principal import Principal, Role
from serve_app.auth.rate_limit import enforce
from serve_app.shared.app_services import services_of
from serve_app.shared.envelope import Envelope, JSONResponse, ok
from serve_app.shared.examples import errors
from serve_app.shared.paths import API
from serve_app.shared.page import PageNumber, PageSize
from twin import geography
from twin.errors import InvalidInput


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
    await _throttle(request, "login", email, "too many sign-in attempts")


async def _throttle(request: Request, what: str, email: str | None, refusal: str) -> None:
    services = services_of(request)
    limit = services.settings.limits.login_per_minute
    keys = [f"{what}-ip:{caller_of(request).ip}"] + ([f"{what}-user:{email.strip().lower()}"] if email else [])
    for key in keys:
        await enforce(services.limiter, key, limit, 60, refusal)


def auth_router() -> APIRouter:
    r = APIRouter(prefix=f"{API}/auth", tags=["auth"])
    signed_in = [Depends(authenticated)]

    @r.post("/login", summary="Sign in", response_model=Envelope[Session], responses=errors(401, 422, 429),
            description="Email and password (and `otp` when MFA is on). Answers an access token (short-lived) and "
                        "a refresh token (rotated on every use). Failed sign-ins slow down, then lock the account "
                        "for a while.")
    async def login(request: Request, body: Login) -> JSONResponse:
        await _throttle_login(request, body.email)
        return ok(await _accounts(request).login(body.email, body.password, body.otp, body.recovery_code,
                                                 caller_of(request)), "signed in")

    @r.post("/refresh", summary="New tokens for a refresh token", response_model=Envelope[Session],
            responses=errors(401, 422, 429),
            description="The refresh token is spent: use the new one next time. Presenting a spent refresh token "
                        "again revokes every token of that sign-in.")
    async def refresh(request: Request, body: RefreshBody) -> JSONResponse:
        await _throttle_login(request)
        return ok(await _accounts(request).refresh(body.refresh_token, caller_of(request)))

    @r.post("/logout", summary="Sign out", dependencies=signed_in, response_model=Envelope[SignedOut],
            responses=errors(401, 422))
    async def logout(request: Request, body: LogoutBody | None = None) -> JSONResponse:
        body = body or LogoutBody()
        await _accounts(request).logout(principal_of(request), body.refresh_token, body.everywhere, caller_of(request))
        return ok({"signed_out": True}, "signed out")

    @r.get("/me", summary="Who am I", dependencies=signed_in, response_model=Envelope[Me | KeyCaller],
           description="A signed-in user: the account and its permissions; an API key: the key.",
           responses=errors(401, 404))
    async def me(request: Request) -> JSONResponse:
        return ok(await _accounts(request).me(principal_of(request)))

    @r.post("/register", status_code=201, summary="Create a user, or ask for an account",
            description="Signed in: a state admin creates anyone; a district officer creates block officers and "
                        "school admins inside the district (201, the user). Without credentials: anyone asks for a "
                        "district officer's, block officer's or school admin's account (202); it cannot sign in "
                        "until an officer above its area approves it (`/account-requests`). The answer is the "
                        "same whether or not the email has an account. The role's area is required: district "
                        "for a district officer, district and block for a block officer, and the school too for "
                        "a school admin.",
            response_model=Envelope[User],
            responses={202: {"model": Envelope[AccountRequested], "description": "asked: pending approval"},
                       **errors(401, 403, 409, 422, 429)})
    async def register(request: Request, body: NewUser,
                       principal: Annotated[Principal | None, Depends(optionally_authenticated)]) -> JSONResponse:
        if principal is None:  # asking, not creating: limited as sign-in is, per address and per email
            await _throttle(request, "register", body.email, "too many account requests")
        _school_in_its_block(request, body.district, body.block, body.school_id)
        values = body.model_dump() | {"role": body.role.value}
        if principal is None:
            return ok(await AccountRequests(_accounts(request)).ask(values, caller_of(request)),
                      "request received", status_code=202)
        return ok(await _accounts(request).register(principal, values, caller_of(request)),
                  "created", status_code=201)

    @r.post("/password", summary="Change my password", dependencies=signed_in,
            response_model=Envelope[PasswordChanged], responses=errors(401, 403, 422))
    async def change_password(request: Request, body: PasswordChange) -> JSONResponse:
        await _accounts(request).change_own_password(principal_of(request), body.current_password,
                                                     body.new_password, caller_of(request))
        return ok({"changed": True}, "password changed: sign in again")

    @r.post("/mfa/enrol", summary="Start TOTP multi-factor authentication", dependencies=signed_in,
            description="Answers the secret, an `otpauth://` URI and its QR code (SVG) for an authenticator app. "
                        "MFA is on once a code is confirmed with POST /auth/mfa/verify.",
            response_model=Envelope[MfaEnrolment], responses=errors(401, 422))
    async def mfa_enrol(request: Request) -> JSONResponse:
        return ok(await _accounts(request).mfa_enrol(principal_of(request), caller_of(request)))

    @r.post("/mfa/verify", summary="Confirm TOTP and turn MFA on", dependencies=signed_in,
            description="Answers ten recovery codes, shown only this once, and a new session with MFA.",
            response_model=Envelope[MfaSession], responses=errors(401, 422))
    async def mfa_verify(request: Request, body: Code) -> JSONResponse:
        return ok(await _accounts(request).mfa_confirm(principal_of(request), body.code, caller_of(request)))

    @r.post("/mfa/disable", summary="Turn MFA off", dependencies=signed_in,
            response_model=Envelope[MfaState], responses=errors(401, 403, 422))
    async def mfa_disable(request: Request, body: MfaDisable) -> JSONResponse:
        await _accounts(request).mfa_disable(principal_of(request), body.password, body.code, caller_of(request))
        return ok({"mfa_enabled": False})

    return r


def users_router() -> APIRouter:
    r = APIRouter(prefix=f"{API}/users", tags=["users"], dependencies=[Depends(authenticated)])

    @r.get("", summary="Users in my area", response_model=Envelope[UserPage], responses=errors(401, 403, 422))
    async def list_users(request: Request, role: Role | None = None, page: PageNumber = 1,
                         page_size: PageSize = 50) -> JSONResponse:
        return ok(await _accounts(request).list_users(principal_of(request), role.value if role else None, page, page_size))

    @r.get("/{user_id}", summary="A user", response_model=Envelope[User], responses=errors(401, 403, 404, 422))
    async def get_user(request: Request, user_id: Annotated[int, Path(ge=1, le=2**62)]) -> JSONResponse:
        return ok(await _accounts(request).get_user(principal_of(request), user_id))

    @r.patch("/{user_id}", summary="Change a user (role, area, active, unlock, password)",
             description="A change of role, area or active flag, or a new password, ends the user's sessions.",
             response_model=Envelope[User], responses=errors(401, 403, 404, 422))
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


def api_keys_router() -> APIRouter:
    r = APIRouter(prefix=f"{API}/api-keys", tags=["api keys"], dependencies=[Depends(authenticated)])

    @r.post("", status_code=201, summary="Create an API key (shown once)",
            description="Scopes: `events:write` (POST /events) and `read`; the key only reaches its area.",
            response_model=Envelope[NewApiKey], responses=errors(401, 403, 422))
    async def create_key(request: Request, body: NewKey) -> JSONResponse:
        return ok(await _accounts(request).create_key(principal_of(request), body.name, list(body.scopes),
                                                      body.area(), caller_of(request)),
                  "created: store the key now, it is not shown again", status_code=201)

    @r.get("", summary="API keys of my area", response_model=Envelope[list[ApiKey]], responses=errors(401, 403))
    async def list_keys(request: Request) -> JSONResponse:
        return ok(await _accounts(request).list_keys(principal_of(request)))

    @r.delete("/{key_id}", summary="Revoke an API key", response_model=Envelope[ApiKey],
              responses=errors(401, 403, 404, 422))
    async def revoke_key(request: Request, key_id: Annotated[str, Path(max_length=16)]) -> JSONResponse:
        return ok(await _accounts(request).revoke_key(principal_of(request), key_id, caller_of(request)), "revoked")

    return r


def audit_router() -> APIRouter:
    r = APIRouter(prefix=f"{API}/audit", tags=["audit"], dependencies=[Depends(authenticated)])

    @r.get("", summary="The audit log (newest first)",
           description="Sign-ins and failures, user, role and key changes, school changes and fund events: who, "
                       "when, from where, what changed. Read-only: no route changes it.",
           response_model=Envelope[AuditPage], responses=errors(401, 403, 422))
    async def audit(request: Request, actor: Annotated[str | None, Query(max_length=254)] = None,
                    action: Annotated[str | None, Query(max_length=64, examples=["auth.login"])] = None,
                    since: dt.datetime | None = None, until: dt.datetime | None = None,
                    page: PageNumber = 1,
                    page_size: Annotated[int, Query(ge=1, le=500)] = 50) -> JSONResponse:
        return ok(await _accounts(request).audit_page(principal_of(request), actor, action, since, until, page,
                                                      page_size))

    return r


def account_requests_router() -> APIRouter:
    r = APIRouter(prefix=f"{API}/account-requests", tags=["users"], dependencies=[Depends(authenticated)])
    user_id = Annotated[int, Path(ge=1, le=2**62)]

    @r.get("", summary="Account requests I decide",
           description="Accounts asked for inside my area by the roles below mine (a block officer: school admins; "
                       "a district officer: block officers and school admins; a state admin: every officer), "
                       "oldest first.",
           response_model=Envelope[AccountRequestPage], responses=errors(401, 403, 422))
    async def list_requests(request: Request, status: Literal["pending", "approved", "rejected"] = "pending",
                            page: PageNumber = 1, page_size: PageSize = 50) -> JSONResponse:
        return ok(await AccountRequests(_accounts(request)).page(principal_of(request), status, page, page_size))

    @r.post("/{user_id}/approve", summary="Approve an account request",
            description="The account becomes active with the role and area asked for. A decided request cannot "
                        "be decided again (409).",
            response_model=Envelope[AccountRequest], responses=errors(401, 403, 404, 409, 422))
    async def approve(request: Request, user_id: user_id) -> JSONResponse:
        return ok(await AccountRequests(_accounts(request)).approve(principal_of(request), user_id,
                                                                    caller_of(request)), "approved")

    @r.post("/{user_id}/reject", summary="Reject an account request, with the reason",
            description="The account stays unable to sign in; signing in tells its holder the reason.",
            response_model=Envelope[AccountRequest], responses=errors(401, 403, 404, 409, 422))
    async def reject(request: Request, user_id: user_id, body: Decision) -> JSONResponse:
        return ok(await AccountRequests(_accounts(request)).reject(principal_of(request), user_id, body.reason,
                                                                   caller_of(request)), "rejected")

    return r
