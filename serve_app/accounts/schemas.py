"""The accounts domain's request and response shapes: sign-in and sessions, MFA, users, API keys
and the audit log. The examples the API's documentation shows are the fields' own."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints, model_validator

from serve_app.auth.api_keys import KEY_SCOPES
from serve_app.auth.principal import Permission, Role
from serve_app.shared.fields import Timestamp, UdiseCode
from serve_app.shared.page import Pagination
from twin import geography
from twin.area import Area

_Email = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=3, max_length=254,
                                          pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
                   Field(examples=["officer@tn.gov.in"])]
_Phone = Annotated[str, Field(pattern=r"^\+?\d{10,15}$", examples=["+919876543210"])]
_District = Annotated[str, Field(max_length=64, examples=["Ariyalur"])]
_Block = Annotated[str, Field(max_length=64, examples=["Sendurai"])]
KeyScope = Literal[KEY_SCOPES]

# ---- requests -------------------------------------------------------------------------------


class AreaFields(BaseModel):
    district: _District | None = None
    block: _Block | None = None
    school_id: UdiseCode | None = None

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
    full_name: str = Field(min_length=1, max_length=200, examples=["K. Meena"])
    password: str = Field(min_length=1, max_length=128)
    role: Role
    employee_id: str | None = Field(default=None, max_length=64, examples=["TN-BEO-0417"])
    phone: _Phone | None = None


class UserChange(BaseModel):
    full_name: str | None = Field(default=None, min_length=1, max_length=200)
    role: Role | None = None
    district: _District | None = None
    block: _Block | None = None
    school_id: UdiseCode | None = None
    employee_id: str | None = Field(default=None, max_length=64)
    phone: _Phone | None = None
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
    scopes: list[KeyScope] = Field(min_length=1, examples=[["events:write"]])


# ---- answers --------------------------------------------------------------------------------


class User(BaseModel):
    """A user as the API shows it: never the password hash, the TOTP secret or the recovery codes."""

    id: int = Field(examples=[2])
    email: str = Field(examples=["beo.sendurai@tn.gov.in"])
    full_name: str = Field(examples=["K. Meena"])
    role: Role
    district: str | None = Field(description="the role's area: none for a state admin", examples=["Ariyalur"])
    block: str | None = Field(examples=["Sendurai"])
    school_id: UdiseCode | None
    employee_id: str | None = Field(examples=["TN-BEO-0417"])
    phone: str | None = Field(examples=[None])
    is_active: bool
    mfa_enabled: bool
    locked: bool = Field(description="locked for a while after too many failed sign-ins")
    last_login_at: Timestamp | None
    created_at: Timestamp


class Me(User):
    """The signed-in user, with what the role permits."""

    permissions: list[Permission] = Field(examples=[["read", "events:write", "alerts:manage"]])
    mfa_enrolment_required: bool = Field(description="the role must use MFA and this session has none: enrol")


class Session(BaseModel):
    """A sign-in: a short-lived access token and a refresh token (spent on its first use)."""

    access_token: str = Field(examples=["eyJ..."])
    refresh_token: str = Field(examples=["eyJ..."])
    token_type: Literal["bearer"]
    expires_in: int = Field(description="seconds the access token lives", examples=[900])
    user: User
    mfa_enrolment_required: bool = Field(
        default=False, description="present (true) when the role must use MFA and this session has none")


class MfaSession(Session):
    """MFA is on: the recovery codes (shown only this once) and a new session with MFA."""

    mfa_enabled: Literal[True]
    recovery_codes: list[str] = Field(description="each works once instead of a code", examples=[["abcd-efgh-ijkl"]])


class MfaEnrolment(BaseModel):
    """What an authenticator app needs: the secret, its `otpauth://` URI and that URI's QR code."""

    secret: str = Field(examples=["JBSWY3DPEHPK3PXP"])
    otpauth_uri: str = Field(examples=["otpauth://totp/Mealtwin:officer%40tn.gov.in?secret=JBSWY3DPEHPK3PXP"])
    qr_svg: str = Field(description="an SVG image", examples=["<svg ...>"])


class MfaState(BaseModel):
    mfa_enabled: bool = Field(examples=[False])


class SignedOut(BaseModel):
    signed_out: Literal[True]


class PasswordChanged(BaseModel):
    changed: Literal[True]


class UserPage(BaseModel):
    users: list[User]
    pagination: Pagination


class ApiKey(BaseModel):
    """An API key as its area's managers see it (never its secret)."""

    id: str = Field(examples=["k3jd9aq2lmzx"])
    name: str = Field(examples=["Ariyalur attendance devices"])
    scopes: list[KeyScope] = Field(examples=[["events:write"]])
    district: str | None = Field(examples=["Ariyalur"])
    block: str | None = Field(examples=[None])
    school_id: UdiseCode | None = Field(examples=[None])
    created_by: str = Field(examples=["user:1"])
    created_at: Timestamp
    last_used_at: Timestamp | None
    revoked: bool


class NewApiKey(ApiKey):
    key: str = Field(description="the key itself: shown only this once", examples=["mtk_k3jd9aq2lmzx_..."])


class KeyCaller(BaseModel):
    """Who am I, for a caller with an API key."""

    api_key: ApiKey


class AuditEntry(BaseModel):
    id: int = Field(examples=[7])
    at: Timestamp
    actor: str = Field(description="email, user:<id>, key:<id> or the sign-in name tried", examples=["admin@tn.gov.in"])
    actor_role: str | None = Field(examples=["state_admin"])
    ip: str | None = Field(examples=["10.0.0.5"])
    action: str = Field(examples=["users.create"])
    target: str | None = Field(examples=["user:2"])
    district: str | None = Field(examples=["Ariyalur"])
    outcome: Literal["ok", "denied", "failed"]
    # the audited thing's state before and after: its shape is the action's (a user, a key, a school,
    # a sign-in's reason), so these stay open
    before: dict[str, Any] | None = Field(examples=[None])
    after: dict[str, Any] | None = Field(examples=[{"email": "beo.sendurai@tn.gov.in", "role": "block_officer"}])


class AuditPage(BaseModel):
    entries: list[AuditEntry]
    pagination: Pagination


# ---- accounts asked for by their holders --------------------------------------------------


class Decision(BaseModel):
    reason: str = Field(min_length=1, max_length=500, examples=["no such post in this block"])


class AccountRequested(BaseModel):
    """The same answer whether or not the email already has an account: it reveals none."""

    status: Literal["pending"]
    message: str = Field(examples=["request received: an officer of your area will approve or reject it"])


class AccountRequest(BaseModel):
    """An account its holder asked for, as the officers deciding it see it."""

    id: int = Field(examples=[12])
    email: str = Field(examples=["hm.33010500100@example.org"])
    full_name: str = Field(examples=["R. Selvi"])
    role: Role
    district: str | None = Field(examples=["Ariyalur"])
    block: str | None = Field(examples=["Sendurai"])
    school_id: UdiseCode | None
    employee_id: str | None = Field(examples=[None])
    phone: str | None = Field(examples=[None])
    status: Literal["pending", "approved", "rejected"]
    requested_at: Timestamp
    decided_by: str | None = Field(examples=[None])
    decided_at: Timestamp | None
    reason: str | None = Field(description="why it was rejected", examples=[None])


class AccountRequestPage(BaseModel):
    requests: list[AccountRequest]
    pagination: Pagination
