"""Who is calling: a signed-in user or an API key, with what they may do and the area they may see.

Two kinds of refusal, on purpose different:
- an action the caller's role does not allow at all is 403 FORBIDDEN;
- a school, block, district, alert or run outside the caller's area is 404, exactly as if it did
  not exist, so probing ids tells an outsider nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from serve_app.auth.errors import Forbidden
from twin.area import Area


class Role(StrEnum):
    STATE_ADMIN = "state_admin"
    DISTRICT_OFFICER = "district_officer"
    BLOCK_OFFICER = "block_officer"
    SCHOOL_ADMIN = "school_admin"


class Permission(StrEnum):
    READ = "read"  # the twin, schools, events, risk, alerts, scenarios, streams inside the area
    EVENTS_WRITE = "events:write"
    SCHOOLS_WRITE = "schools:write"
    ALERTS_MANAGE = "alerts:manage"  # mark read, subscribe
    SCENARIOS_RUN = "scenarios:run"
    USERS_MANAGE = "users:manage"
    KEYS_MANAGE = "keys:manage"
    AUDIT_READ = "audit:read"
    MODELS_MANAGE = "models:manage"  # retrain the state's models
    ACCOUNTS_APPROVE = "accounts:approve"  # decide the account requests of the roles below, inside the area


_ALL = frozenset(Permission)
_OFFICER = frozenset({Permission.READ, Permission.EVENTS_WRITE, Permission.SCHOOLS_WRITE, Permission.ALERTS_MANAGE,
                      Permission.SCENARIOS_RUN, Permission.ACCOUNTS_APPROVE})
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.STATE_ADMIN: _ALL,
    Role.DISTRICT_OFFICER: _OFFICER | {Permission.USERS_MANAGE, Permission.KEYS_MANAGE},
    Role.BLOCK_OFFICER: _OFFICER,
    Role.SCHOOL_ADMIN: frozenset({Permission.READ, Permission.EVENTS_WRITE, Permission.ALERTS_MANAGE}),
}

# What an API key's scopes grant (keys never manage users, keys or the audit log).
KEY_SCOPE_PERMISSIONS = {"read": Permission.READ, "events:write": Permission.EVENTS_WRITE}

# Who may create (or change a user into) which role: a district officer only below itself.
MAY_CREATE: dict[Role, frozenset[Role]] = {
    Role.STATE_ADMIN: frozenset(Role),
    Role.DISTRICT_OFFICER: frozenset({Role.BLOCK_OFFICER, Role.SCHOOL_ADMIN}),
}


# Whose account requests an officer decides: the roles of the areas strictly inside its own (the
# superior of an area approves it: state admin a district officer, district officer a block officer,
# block officer a school admin, and each above them too).
MAY_APPROVE: dict[Role, frozenset[Role]] = {
    Role.STATE_ADMIN: frozenset({Role.DISTRICT_OFFICER, Role.BLOCK_OFFICER, Role.SCHOOL_ADMIN}),
    Role.DISTRICT_OFFICER: frozenset({Role.BLOCK_OFFICER, Role.SCHOOL_ADMIN}),
    Role.BLOCK_OFFICER: frozenset({Role.SCHOOL_ADMIN}),
}


def role_area_problem(role: Role, area: Area) -> str | None:
    """Each role has exactly the area it is named for."""
    wanted = {Role.STATE_ADMIN: "state", Role.DISTRICT_OFFICER: "district", Role.BLOCK_OFFICER: "block",
              Role.SCHOOL_ADMIN: "school"}[role]
    if area.kind != wanted:
        return f"a {role.value} has a {wanted}" + ("" if wanted == "state" else " (give " + {
            "district": "district", "block": "district and block", "school": "district, block and school_id"}[wanted]
            + ")") + f", not a {area.kind}"
    return None


@dataclass(frozen=True)
class Principal:
    subject: str  # "user:<id>" or "key:<key id>"
    role: str  # a Role, or "api_key"
    area: Area
    permissions: frozenset[Permission] = field(default_factory=frozenset)
    email: str | None = None
    token_id: str | None = None  # the access token's id, to revoke it at logout
    token_expires_at: int | None = None
    mfa_enrolment_due: bool = False  # MFA is required for the role and not set up yet

    @property
    def user_id(self) -> int | None:
        kind, _, rest = self.subject.partition(":")
        return int(rest) if kind == "user" else None

    def require(self, permission: Permission) -> None:
        if self.mfa_enrolment_due:
            raise Forbidden("set up multi-factor authentication first (POST /api/v1/auth/mfa/enrol)",
                            {"reason": "mfa_enrolment_required"})
        if permission not in self.permissions:
            raise Forbidden(f"a {self.role.replace('_', ' ')} may not do this ({permission.value})",
                            {"needs": permission.value})

    def actor(self) -> str:
        """How the audit log names the caller."""
        return self.email or self.subject


@dataclass(frozen=True)
class Caller:
    """Where a request came from, for the audit log and the login throttle."""

    ip: str | None = None
