"""Accounts asked for by their holders: anyone may ask for a district officer's, block officer's or
school admin's account; it waits, unable to sign in, until an officer above its area approves it
(it becomes active with the role and area asked for) or rejects it with a reason. Every step is
audited, and a decided request stays decided.

Asking tells nothing about which emails have accounts: the answer is the same whether or not the
email is taken, and takes as long (a password is hashed either way)."""

from __future__ import annotations

import asyncio

from db.times import iso
from serve_app.accounts.service import Accounts, user_area
from serve_app.auth import passwords
from serve_app.auth.principal import MAY_APPROVE, Caller, Permission, Principal, Role, role_area_problem
from serve_app.shared.page import offset, pagination
from twin.area import Area
from twin.errors import Conflict, InvalidInput, NotFound

PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"
SELF = "self-registration"
RECEIVED = {"status": PENDING, "message": "request received: an officer of your area will approve or reject it; "
                                         "sign in to see how it stands"}


def public_request(user: dict) -> dict:
    """A request as its deciders see it (never the password hash)."""
    return {"id": user["id"], "email": user["email"], "full_name": user["full_name"], "role": user["role"],
            "district": user["district"], "block": user["block"], "school_id": user["school_id"],
            "employee_id": user["employee_id"], "phone": user["phone"], "status": user["approval"],
            "requested_at": iso(user["created_at"]), "decided_by": user["decided_by"],
            "decided_at": iso(user["decided_at"]), "reason": user["decision_reason"]}


class AccountRequests:
    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts
        self.users = accounts.users

    async def ask(self, values: dict, caller: Caller) -> dict:
        """A pending account, or (the email being taken) nothing, with the same answer."""
        role = Role(values["role"])
        area = Area(values.get("district"), values.get("block"), values.get("school_id"))
        if role not in MAY_APPROVE[Role.STATE_ADMIN]:
            raise InvalidInput(f"a {role.value} account cannot be asked for",
                               {"fields": [{"field": "role", "message": "not open to requests"}]})
        problem = role_area_problem(role, area)
        if problem:
            raise InvalidInput(problem, {"fields": [{"field": "role", "message": problem}]})
        email = values["email"].strip().lower()
        self.accounts._check_password(values["password"], email, values["full_name"])
        rounds = self.accounts.rules.bcrypt_rounds
        hashed = await asyncio.to_thread(passwords.hash_password, values["password"], rounds)
        row = {k: v for k, v in values.items() if k != "password"} | {
            "email": email, "password_hash": hashed, "is_active": False, "approval": PENDING, "created_by": SELF}
        taken = await self.users.by_email(email) is not None
        if not taken:
            try:
                user = await self.users.create(row)
            except Conflict:  # asked for twice at the same moment
                taken = True
        if taken:
            await self.accounts._audit(email, None, caller, "accounts.request", outcome="denied",
                                       district=area.district, after={"reason": "email in use"})
            return RECEIVED
        await self.accounts._audit(email, None, caller, "accounts.request", target=f"user:{user['id']}",
                                   district=user["district"], after=public_request(user))
        return RECEIVED

    async def page(self, principal: Principal, status: str, page: int, page_size: int) -> dict:
        """Requests in the officer's area that the officer decides, oldest first."""
        principal.require(Permission.ACCOUNTS_APPROVE)
        roles = sorted(r.value for r in MAY_APPROVE.get(Role(principal.role), frozenset()))
        rows, total = await self.users.requests_page(principal.area, roles, status, offset(page, page_size), page_size)
        return {"requests": [public_request(u) for u in rows], "pagination": pagination(page, page_size, total)}

    async def approve(self, principal: Principal, user_id: int, caller: Caller) -> dict:
        return await self._decide(principal, user_id, APPROVED, None, caller)

    async def reject(self, principal: Principal, user_id: int, reason: str, caller: Caller) -> dict:
        return await self._decide(principal, user_id, REJECTED, reason, caller)

    async def _decide(self, principal: Principal, user_id: int, decision: str, reason: str | None,
                      caller: Caller) -> dict:
        request = await self._visible(principal, user_id)
        values = {"approval": decision, "decided_by": principal.actor(), "decision_reason": reason}
        if decision == APPROVED:
            values["is_active"] = True
        if request["approval"] != PENDING or not await self.users.decide(user_id, values):
            decided = await self.users.get(user_id)
            raise Conflict(f"request {user_id} was {decided['approval']} already",  # type: ignore[index]
                           {"user_id": user_id, "status": decided["approval"]})  # type: ignore[index]
        after = public_request(await self.users.get(user_id))  # type: ignore[arg-type]
        await self.accounts._audit(principal.actor(), principal.role, caller, f"accounts.{decision[:-1]}",
                                   target=f"user:{user_id}", district=request["district"],
                                   before=public_request(request), after=after)
        return after

    async def _visible(self, principal: Principal, user_id: int) -> dict:
        """A request the officer decides; any other id answers as an unknown one."""
        principal.require(Permission.ACCOUNTS_APPROVE)
        user = await self.users.get(user_id)
        decides = MAY_APPROVE.get(Role(principal.role), frozenset())
        if user is None or user["approval"] is None or Role(user["role"]) not in decides \
                or not principal.area.contains(user_area(user)):
            raise NotFound(f"no account request {user_id}", {"user_id": user_id})
        return user
