"""Accounts and sessions: sign-in with lockout and MFA, token rotation and revocation, who may
create whom, API keys. Every sensitive step is written to the audit log."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable

from configs.settings import Auth
from db.account_repository import ApiKeyRepository, AuditRepository, UserRepository
from db.times import iso
from serve_app.auth import api_keys, lockout, passwords, totp
from serve_app.auth.principal import (
    KEY_SCOPE_PERMISSIONS, Caller, MAY_CREATE, ROLE_PERMISSIONS, Permission, Principal, Role, role_area_problem,
)
from serve_app.auth.errors import Forbidden, Unauthenticated
from serve_app.auth.revocation import RevocationStore, cut_off
from serve_app.auth.tokens import Claims as AccessClaims
from serve_app.auth.tokens import InvalidToken, TokenIssuer
from serve_app.shared.page import offset, pagination
from twin.area import Area
from twin.errors import Conflict, InvalidInput, NotFound

_BAD_LOGIN = "wrong email or password"


def public_user(user: dict) -> dict:
    """A user as the API shows it: never the hash, the TOTP secret or the recovery codes."""
    return {"id": user["id"], "email": user["email"], "full_name": user["full_name"], "role": user["role"],
            "district": user["district"], "block": user["block"], "school_id": user["school_id"],
            "employee_id": user["employee_id"], "phone": user["phone"], "is_active": user["is_active"],
            "mfa_enabled": user["mfa_enabled"], "locked": _locked(user, time.time()),
            "last_login_at": iso(user["last_login_at"]), "created_at": iso(user["created_at"])}


def public_key(key: dict) -> dict:
    return {"id": key["id"], "name": key["name"], "scopes": key["scopes"], "district": key["district"],
            "block": key["block"], "school_id": key["school_id"], "created_by": key["created_by"],
            "created_at": iso(key["created_at"]), "last_used_at": iso(key["last_used_at"]),
            "revoked": key["revoked_at"] is not None}


def _locked(user: dict, now: float) -> bool:
    return user["locked_until"] is not None and user["locked_until"].timestamp() > now


def _request_refusal(user: dict) -> Unauthenticated:
    """Why an account its holder asked for cannot sign in yet, or at all."""
    if user["approval"] == "pending":
        return Unauthenticated("your account is awaiting approval by an officer of your area",
                               {"reason": "awaiting_approval"})
    return Unauthenticated(f"your account request was rejected: {user['decision_reason']}",
                           {"reason": "rejected", "decision_reason": user["decision_reason"]})


def user_area(user: dict) -> Area:
    return Area(user["district"], user["block"], user["school_id"])


class Accounts:
    def __init__(self, rules: Auth, users: UserRepository, keys: ApiKeyRepository, audit: AuditRepository,
                 issuer: TokenIssuer, revocations: RevocationStore, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], object] = asyncio.sleep) -> None:
        self.rules, self.users, self.keys, self.audit = rules, users, keys, audit
        self.issuer, self.revocations = issuer, revocations
        self._clock, self._sleep = clock, sleep

    # ---- sign-in and sessions -------------------------------------------------------------

    async def login(self, email: str, password: str, otp: str | None, recovery_code: str | None,
                    caller: Caller) -> dict:
        email = email.strip().lower()
        user = await self.users.by_email(email)
        if user is None:
            await asyncio.to_thread(passwords.verify_against_dummy, password, self.rules.bcrypt_rounds)
            await self._audit(email, None, caller, "auth.login", outcome="failed", after={"reason": "unknown email"})
            raise Unauthenticated(_BAD_LOGIN)
        now = self._clock()
        if _locked(user, now):
            wait = int(user["locked_until"].timestamp() - now) + 1
            await self._audit(email, user["role"], caller, "auth.login", outcome="denied", after={"reason": "locked"})
            raise Unauthenticated(f"too many failed sign-ins: this account is locked for {wait} s more",
                                  {"reason": "locked", "retry_after_s": wait})
        good = await asyncio.to_thread(passwords.verify_password, password, user["password_hash"])
        if good and not user["is_active"] and user.get("approval") in ("pending", "rejected"):
            # told only to whoever knows the password: the holder learns why, a guesser nothing
            await self._audit(email, user["role"], caller, "auth.login", outcome="denied",
                              after={"reason": user["approval"]})
            raise _request_refusal(user)
        if not good or not user["is_active"]:
            await self._failed(user, caller, "wrong password" if not good else "inactive")
            raise Unauthenticated(_BAD_LOGIN)
        mfa_used = False
        if user["mfa_enabled"]:
            await self._second_factor(user, otp, recovery_code, caller)
            mfa_used = True
        user = await self.users.update(user["id"], {"failed_logins": 0, "locked_until": None,
                                                    "last_login_at": dt.datetime.fromtimestamp(now, dt.UTC)})
        await self._audit(email, user["role"], caller, "auth.login", after={"mfa": mfa_used})
        return self._session(user, mfa_used, family=None)  # type: ignore[arg-type]

    async def _failed(self, user: dict, caller: Caller, reason: str) -> None:
        failures = await self.users.count_failure(user["id"])
        until = lockout.locked_until(failures, self._clock(), self.rules.lockout_failures, self.rules.lockout_s)
        if until is not None:
            await self.users.update(user["id"], {"locked_until": dt.datetime.fromtimestamp(until, dt.UTC)})
        await self._audit(user["email"], user["role"], caller, "auth.login", outcome="failed",
                          after={"reason": reason, "failed_logins": failures, "locked": until is not None})
        await self._sleep(lockout.login_delay_s(failures))  # each failure in a row costs a guesser more time

    async def _second_factor(self, user: dict, otp: str | None, recovery_code: str | None, caller: Caller) -> None:
        if otp:
            step = totp.verify_code(user["mfa_secret"], otp, last_step=user["mfa_last_step"], at=self._clock())
            if step is not None and await self.users.use_mfa_step(user["id"], step):
                return
        elif recovery_code:
            remaining = totp.use_recovery_code(recovery_code, user["mfa_recovery"])
            if remaining is not None:
                await self.users.update(user["id"], {"mfa_recovery": remaining})
                await self._audit(user["email"], user["role"], caller, "auth.mfa_recovery_code_used",
                                  after={"codes_left": len(remaining)})
                return
        else:
            raise Unauthenticated("this account uses multi-factor authentication: send `otp` (or a `recovery_code`)",
                                  {"reason": "mfa_required"})
        await self._failed(user, caller, "wrong one-time code")
        raise Unauthenticated("wrong or already used one-time code", {"reason": "mfa_failed"})

    def _session(self, user: dict, mfa: bool, family: str | None) -> dict:
        subject = f"user:{user['id']}"
        access, claims = self.issuer.issue_access(subject, user["role"], user["district"], user["block"],
                                                  user["school_id"], mfa=mfa)
        refresh, _ = self.issuer.issue_refresh(subject, user["role"], user["district"], user["block"],
                                               user["school_id"], family=family, mfa=mfa)
        out = {"access_token": access, "refresh_token": refresh, "token_type": "bearer",
               "expires_in": claims.expires_at - claims.issued_at, "user": public_user(user)}
        if self._enrolment_due(user["role"], mfa):
            out["mfa_enrolment_required"] = True
        return out

    def _enrolment_due(self, role: str, mfa: bool) -> bool:
        return role in self.rules.mfa_required_roles and not mfa

    async def refresh(self, token: str, caller: Caller) -> dict:
        """Rotate: the refresh token is spent and a new pair is issued in the same family. A spent
        token presented again means it was stolen (or the client is confused): the whole family is
        revoked, so the thief's copy dies with the user's."""
        try:
            claims = self.issuer.verify(token, "refresh")
        except InvalidToken as exc:
            raise Unauthenticated(f"refresh token rejected: {exc.reason}", {"reason": exc.reason}) from None
        if await self._subject_revoked(claims.subject, claims.issued_at_ms) or claims.family is None:
            raise Unauthenticated("refresh token rejected: revoked", {"reason": "revoked"})
        # the family's records must outlive its newest token, the one about to be issued
        use = await self.revocations.use_refresh(claims.family, claims.token_id,
                                                 int(self._clock()) + self.rules.refresh_ttl_s)
        if use != "ok":
            if use == "reused":
                await self._audit(claims.subject, claims.role, caller, "auth.refresh_reuse", outcome="denied",
                                  after={"family": claims.family})
            raise Unauthenticated(f"refresh token rejected: {'reused; every session of this sign-in is now revoked' if use == 'reused' else 'revoked'}",
                                  {"reason": use})
        user = await self.users.get(int(claims.subject.partition(":")[2]))
        if user is None or not user["is_active"]:
            raise Unauthenticated("refresh token rejected: the account is not active", {"reason": "inactive"})
        return self._session(user, claims.mfa, family=claims.family)

    async def logout(self, principal: Principal, refresh_token: str | None, everywhere: bool, caller: Caller) -> None:
        if principal.token_id and principal.token_expires_at:
            await self.revocations.revoke_token(principal.token_id, principal.token_expires_at)
        if refresh_token:
            try:
                claims = self.issuer.verify(refresh_token, "refresh")
            except InvalidToken:
                claims = None
            if claims is not None and claims.subject == principal.subject and claims.family:
                await self.revocations.revoke_family(claims.family, int(self._clock()) + self.rules.refresh_ttl_s)
        if everywhere:
            await self._revoke_subject(principal.subject)
        await self._audit(principal.actor(), principal.role, caller, "auth.logout", after={"everywhere": everywhere})

    async def _revoke_subject(self, subject: str) -> None:
        """Every token of `subject` issued until now is refused (cut-off in milliseconds)."""
        await self.revocations.revoke_subject(subject, int(self._clock() * 1000), self.rules.refresh_ttl_s)

    async def _subject_revoked(self, subject: str, issued_at_ms: int) -> bool:
        return cut_off(await self.revocations.subject_revoked_before(subject), issued_at_ms)

    # ---- who is calling -------------------------------------------------------------------

    def access_claims(self, token: str) -> AccessClaims:
        """The token's claims once its signature and lifetime check out (no look-up: revocation is
        `principal_from_claims`'s)."""
        try:
            return self.issuer.verify(token, "access")
        except InvalidToken as exc:
            raise Unauthenticated(f"access token rejected: {exc.reason}", {"reason": exc.reason}) from None

    async def principal_from_token(self, token: str) -> Principal:
        return await self.principal_from_claims(self.access_claims(token))

    async def principal_from_claims(self, claims: AccessClaims) -> Principal:
        if await self.revocations.access_revoked(claims.token_id, claims.subject, claims.issued_at_ms):
            raise Unauthenticated("access token rejected: revoked", {"reason": "revoked"})
        try:
            role = Role(claims.role)
            area = Area(claims.district, claims.block, claims.school_id)
        except ValueError:
            raise Unauthenticated("access token rejected: malformed", {"reason": "malformed"}) from None
        return Principal(claims.subject, role.value, area, ROLE_PERMISSIONS[role], token_id=claims.token_id,
                         token_expires_at=claims.expires_at,
                         mfa_enrolment_due=self._enrolment_due(role.value, claims.mfa))

    async def principal_from_key(self, plain: str) -> Principal:
        parsed = api_keys.parse_api_key(plain)
        key = await self.keys.get(parsed[0]) if parsed else None
        if key is None or key["revoked_at"] is not None or not api_keys.secret_matches(parsed[1], key["secret_hash"]):
            raise Unauthenticated("API key rejected", {"reason": "unknown or revoked key"})
        permissions = frozenset(KEY_SCOPE_PERMISSIONS[s] for s in key["scopes"])
        return Principal(f"key:{key['id']}", "api_key", Area(key["district"], key["block"], key["school_id"]),
                         permissions)

    async def me(self, principal: Principal) -> dict:
        if principal.user_id is None:
            key = await self.keys.get(principal.subject.partition(":")[2])
            if key is None:
                raise NotFound("no such API key")
            return {"api_key": public_key(key)}
        user = await self.users.get(principal.user_id)
        if user is None:
            raise NotFound("no such user")
        return public_user(user) | {"permissions": sorted(p.value for p in principal.permissions),
                                    "mfa_enrolment_required": principal.mfa_enrolment_due}

    async def why_not_reading(self, subject: str, area: Area) -> str | None:
        """Why `subject` (a user or an API key, as a token or key names it) may no longer read
        `area`, judged on its account as it is now; None when it still may. What was granted when
        something was set up for it (a scheduled report) is not what it holds later: an account
        deactivated, no longer approved, given a role without reading, or moved to another area."""
        kind, _, ident = subject.partition(":")
        if kind == "user" and ident.isdigit():
            user = await self.users.get(int(ident))
            if user is None:
                return "the owner's account no longer exists"
            if not user["is_active"]:
                return "the owner's account is deactivated"
            if user.get("approval") not in (None, "approved"):
                return f"the owner's account is {user['approval']}"
            try:
                role = Role(user["role"])
            except ValueError:
                return f"the owner's role {user['role']!r} is not a role of this twin"
            if Permission.READ not in ROLE_PERMISSIONS[role]:
                return f"the owner's role {role.value} may not read reports"
            held = user_area(user)
        elif kind == "key":
            key = await self.keys.get(ident)
            if key is None or key["revoked_at"] is not None:
                return "the owner's API key is revoked"
            if "read" not in key["scopes"]:
                return "the owner's API key may not read"
            held = Area(key["district"], key["block"], key["school_id"])
        else:
            return f"the owner {subject!r} has no account to check"
        if not held.contains(area):
            return f"the owner's area is now {held.label()}, which does not include {area.label()}"
        return None

    # ---- users ----------------------------------------------------------------------------

    def _check_may_create(self, creator: Principal, role: Role, area: Area) -> None:
        creator.require(Permission.USERS_MANAGE)
        if role not in MAY_CREATE.get(Role(creator.role), frozenset()):
            raise Forbidden(f"a {creator.role.replace('_', ' ')} may not make a {role.value.replace('_', ' ')}")
        if not creator.area.contains(area):
            raise Forbidden(f"{area.label()} is outside your area ({creator.area.label()})")

    async def register(self, creator: Principal | None, values: dict, caller: Caller) -> dict:
        """Create a user. `creator` None is the command line's first state admin."""
        role = Role(values["role"])
        area = Area(values.get("district"), values.get("block"), values.get("school_id"))
        problem = role_area_problem(role, area)
        if problem:
            raise InvalidInput(problem, {"fields": [{"field": "role", "message": problem}]})
        if creator is not None:
            self._check_may_create(creator, role, area)
        self._check_password(values["password"], values["email"], values["full_name"])
        hashed = await asyncio.to_thread(passwords.hash_password, values["password"], self.rules.bcrypt_rounds)
        row = {k: v for k, v in values.items() if k != "password"} | {
            "email": values["email"].strip().lower(), "password_hash": hashed,
            "created_by": creator.subject if creator else "command line"}
        user = await self.users.create(row)
        await self._audit(creator.actor() if creator else "command line", creator.role if creator else None, caller,
                          "users.create", target=f"user:{user['id']}", district=user["district"],
                          after=public_user(user))
        return public_user(user)

    def _check_password(self, password: str, email: str, full_name: str | None) -> None:
        problems = passwords.password_problems(password, email=email, full_name=full_name,
                                               min_length=self.rules.password_min_length)
        if problems:
            raise InvalidInput("the password is too weak: " + "; ".join(problems),
                               {"fields": [{"field": "password", "message": p} for p in problems]})

    async def visible_user(self, principal: Principal, user_id: int) -> dict:
        principal.require(Permission.USERS_MANAGE)
        user = await self.users.get(user_id)
        if user is None or not principal.area.contains(user_area(user)):
            raise NotFound(f"no user {user_id}", {"user_id": user_id})
        return user

    async def get_user(self, principal: Principal, user_id: int) -> dict:
        return public_user(await self.visible_user(principal, user_id))

    async def list_users(self, principal: Principal, role: str | None, page: int, page_size: int) -> dict:
        principal.require(Permission.USERS_MANAGE)
        rows, total = await self.users.page(principal.area, role, offset(page, page_size), page_size)
        return {"users": [public_user(u) for u in rows], "pagination": pagination(page, page_size, total)}

    async def change_user(self, principal: Principal, user_id: int, changes: dict, caller: Caller) -> dict:
        """Change a user's details, role, area or active flag; unlock. A change of role, area or
        active flag revokes the user's sessions, since their tokens carry the old ones."""
        user = await self.visible_user(principal, user_id)
        if principal.user_id != user_id and Role(user["role"]) not in MAY_CREATE.get(Role(principal.role), frozenset()):
            raise Forbidden(f"a {principal.role.replace('_', ' ')} may not change a {user['role'].replace('_', ' ')}")
        if user.get("approval") == "pending" and "is_active" in changes:
            raise Conflict(f"user {user_id} asked for this account: approve or reject the request instead",
                           {"user_id": user_id, "approval": "pending"})
        before = public_user(user)
        role = Role(changes.get("role") or user["role"])
        area_keys = ("district", "block", "school_id")
        area = Area(*(changes[k] if k in changes else user[k] for k in area_keys))
        if role.value != user["role"] or area != user_area(user):
            problem = role_area_problem(role, area)
            if problem:
                raise InvalidInput(problem, {"fields": [{"field": "role", "message": problem}]})
            self._check_may_create(principal, role, area)
        if principal.user_id == user_id and (role.value != user["role"] or changes.get("is_active") is False):
            raise Forbidden("you may not change your own role or deactivate yourself")
        values = {k: v for k, v in changes.items() if k not in ("unlock", "password")}
        values.update(role=role.value, **dict(zip(area_keys, (area.district, area.block, area.school_id))))
        if changes.get("unlock"):
            values.update(failed_logins=0, locked_until=None)
        if changes.get("password"):
            self._check_password(changes["password"], user["email"], user["full_name"])
            values["password_hash"] = await asyncio.to_thread(passwords.hash_password, changes["password"],
                                                              self.rules.bcrypt_rounds)
        updated = await self.users.update(user_id, values)
        after = public_user(updated)  # type: ignore[arg-type]
        if any(before[k] != after[k] for k in ("role", "district", "block", "school_id", "is_active")) \
                or "password_hash" in values:
            await self._revoke_subject(f"user:{user_id}")
        await self._audit(principal.actor(), principal.role, caller, "users.change", target=f"user:{user_id}",
                          district=after["district"] or before["district"],
                          before=before, after=after | ({"password": "changed"} if "password_hash" in values else {}))
        return after

    async def change_own_password(self, principal: Principal, current: str, new: str, caller: Caller) -> None:
        user = await self._own(principal)
        if not await asyncio.to_thread(passwords.verify_password, current, user["password_hash"]):
            raise Forbidden("the current password is wrong")
        self._check_password(new, user["email"], user["full_name"])
        hashed = await asyncio.to_thread(passwords.hash_password, new, self.rules.bcrypt_rounds)
        await self.users.update(user["id"], {"password_hash": hashed})
        await self._revoke_subject(principal.subject)
        await self._audit(principal.actor(), principal.role, caller, "auth.password_change", target=principal.subject)

    async def _own(self, principal: Principal) -> dict:
        user = await self.users.get(principal.user_id) if principal.user_id is not None else None
        if user is None:
            raise Forbidden("only a signed-in user has an account to change")
        return user

    # ---- multi-factor authentication ------------------------------------------------------

    async def mfa_enrol(self, principal: Principal, caller: Caller) -> dict:
        user = await self._own(principal)
        if user["mfa_enabled"]:
            raise InvalidInput("multi-factor authentication is on already; disable it first to enrol again")
        secret = totp.new_secret()
        await self.users.update(user["id"], {"mfa_secret": secret, "mfa_last_step": None})
        uri = totp.provisioning_uri(secret, user["email"], self.rules.mfa_issuer)
        await self._audit(principal.actor(), principal.role, caller, "auth.mfa_enrol", target=principal.subject)
        return {"secret": secret, "otpauth_uri": uri, "qr_svg": totp.qr_svg(uri)}

    async def mfa_confirm(self, principal: Principal, code: str, caller: Caller) -> dict:
        """The first good code turns MFA on and hands out the recovery codes, once."""
        user = await self._own(principal)
        if user["mfa_enabled"] or not user["mfa_secret"]:
            raise InvalidInput("nothing to confirm: enrol first (POST /api/v1/auth/mfa/enrol)")
        step = totp.verify_code(user["mfa_secret"], code, last_step=user["mfa_last_step"], at=self._clock())
        if step is None or not await self.users.use_mfa_step(user["id"], step):
            raise InvalidInput("wrong one-time code", {"fields": [{"field": "code", "message": "wrong or used"}]})
        plain, hashes = totp.new_recovery_codes()
        await self.users.update(user["id"], {"mfa_enabled": True, "mfa_recovery": hashes})
        await self._revoke_subject(principal.subject)  # sessions without the second factor end here
        await self._audit(principal.actor(), principal.role, caller, "auth.mfa_enabled", target=principal.subject)
        return {"mfa_enabled": True, "recovery_codes": plain} | self._session(
            await self.users.get(user["id"]), mfa=True, family=None)  # type: ignore[arg-type]

    async def mfa_disable(self, principal: Principal, password: str, code: str, caller: Caller) -> None:
        user = await self._own(principal)
        if not user["mfa_enabled"]:
            raise InvalidInput("multi-factor authentication is not on")
        if user["role"] in self.rules.mfa_required_roles:
            raise Forbidden(f"a {user['role'].replace('_', ' ')} must keep multi-factor authentication")
        if not await asyncio.to_thread(passwords.verify_password, password, user["password_hash"]):
            raise Forbidden("the password is wrong")
        step = totp.verify_code(user["mfa_secret"], code, last_step=user["mfa_last_step"], at=self._clock())
        if step is None or not await self.users.use_mfa_step(user["id"], step):
            raise Forbidden("wrong one-time code")
        await self.users.update(user["id"], {"mfa_enabled": False, "mfa_secret": None, "mfa_recovery": []})
        await self._audit(principal.actor(), principal.role, caller, "auth.mfa_disabled", target=principal.subject)

    # ---- API keys -------------------------------------------------------------------------

    async def create_key(self, principal: Principal, name: str, scopes: list[str], area: Area, caller: Caller) -> dict:
        principal.require(Permission.KEYS_MANAGE)
        try:
            scopes = api_keys.validate_scopes(scopes)
        except ValueError as exc:
            raise InvalidInput(str(exc), {"fields": [{"field": "scopes", "message": str(exc)}]}) from None
        if not principal.area.contains(area):
            raise Forbidden(f"{area.label()} is outside your area ({principal.area.label()})")
        plain, key_id, secret_hash = api_keys.new_api_key()
        key = await self.keys.create({"id": key_id, "name": name, "secret_hash": secret_hash, "scopes": scopes,
                                      "district": area.district, "block": area.block, "school_id": area.school_id,
                                      "created_by": principal.subject})
        await self._audit(principal.actor(), principal.role, caller, "keys.create", target=f"key:{key_id}",
                          district=area.district, after=public_key(key))
        return public_key(key) | {"key": plain}

    async def list_keys(self, principal: Principal) -> list[dict]:
        principal.require(Permission.KEYS_MANAGE)
        return [public_key(k) for k in await self.keys.list(principal.area)]

    async def revoke_key(self, principal: Principal, key_id: str, caller: Caller) -> dict:
        principal.require(Permission.KEYS_MANAGE)
        key = await self.keys.get(key_id)
        if key is None or not principal.area.contains(Area(key["district"], key["block"], key["school_id"])):
            raise NotFound(f"no API key {key_id}", {"key_id": key_id})
        await self.keys.revoke(key_id)
        await self._audit(principal.actor(), principal.role, caller, "keys.revoke", target=f"key:{key_id}",
                          district=key["district"], before=public_key(key))
        return public_key(await self.keys.get(key_id))  # type: ignore[arg-type]

    # ---- the audit log --------------------------------------------------------------------

    async def audit_page(self, principal: Principal, actor: str | None, action: str | None,
                         since: dt.datetime | None, until: dt.datetime | None, page: int, page_size: int) -> dict:
        """A page of the audit log inside the reader's area, newest first."""
        principal.require(Permission.AUDIT_READ)
        rows, total = await self.audit.page(principal.area, actor, action, since, until, offset(page, page_size),
                                             page_size)
        return {"entries": rows, "pagination": pagination(page, page_size, total)}

    async def _audit(self, actor: str, role: str | None, caller: Caller, action: str, *, outcome: str = "ok",
                     target: str | None = None, district: str | None = None, before: dict | None = None,
                     after: dict | None = None) -> None:
        await self.audit.append([{"actor": actor, "actor_role": role, "ip": caller.ip, "action": action,
                                  "target": target, "district": district, "outcome": outcome,
                                  "before": before, "after": after}])

    async def record(self, principal: Principal, caller: Caller, action: str, **fields) -> None:  # noqa: ANN003
        """An audit entry for a sensitive action taken elsewhere (schools, funds)."""
        await self._audit(principal.actor(), principal.role, caller, action, **fields)

