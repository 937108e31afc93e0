"""Access and refresh tokens: RS256 JWTs signed with our own key, and their verification.

An access token is short-lived and carries what authorisation needs (role and the district, block
or school it is scoped to). A refresh token lives longer and only buys new tokens; each belongs to a
family (one login) so that the revocation store can spot a stolen refresh token being replayed.

Verification trusts nothing in the token before the signature is checked: the algorithm must be
RS256, never what the header asks for. Accepting the header's `alg` is what lets `none`, or HS256
keyed with our own public key (which anyone can read), forge tokens.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives import serialization

from serve_app.auth.signing_keys import SigningKeys

ALGORITHM = "RS256"
LEEWAY_S = 10  # clock skew between the replicas that issue and verify
TokenKind = Literal["access", "refresh"]
_KINDS = ("access", "refresh")
_REQUIRED_CLAIMS = ["iss", "aud", "sub", "iat", "exp", "jti", "kind", "role"]
# Signatures already checked, by token: a client sends the same access token with every request for
# its lifetime, and the RSA check and JSON decoding cost ~0.15 ms of a busy replica's CPU each time.
# Only the signature is remembered; lifetime and kind are checked again on every use.
_VERIFIED_TOKENS = 4_096


class InvalidToken(Exception):
    """A token that must not be honoured; `reason` is short and safe to show the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Claims:
    subject: str  # a user id, or "key:<key_id>" for an API key
    role: str
    district: str | None
    block: str | None
    school_id: str | None
    kind: TokenKind
    token_id: str
    family: str | None  # the refresh-token family; None for access tokens
    issued_at: int
    expires_at: int
    mfa: bool
    # to the millisecond: "every token issued before now" must not also catch the one issued next
    issued_at_ms: int = 0


class TokenIssuer:
    def __init__(self, keys: SigningKeys, *, issuer: str = "mealtwin", audience: str = "mealtwin-api",
                 access_ttl_s: int = 900, refresh_ttl_s: int = 1_209_600,
                 clock: Callable[[], float] = time.time) -> None:
        self._keys = keys
        self._private_key = serialization.load_pem_private_key(keys.private_pem, password=None)
        self._public_key = serialization.load_pem_public_key(keys.public_pem)
        self._issuer = issuer
        self._audience = audience
        self._ttl_s = {"access": access_ttl_s, "refresh": refresh_ttl_s}
        self._clock = clock
        self._verified: dict[str, dict[str, Any]] = {}  # token -> payload, oldest first

    def issue_access(self, subject: str, role: str, district: str | None, block: str | None,
                     school_id: str | None, mfa: bool = False) -> tuple[str, Claims]:
        return self._issue("access", subject, role, district, block, school_id, None, mfa)

    def issue_refresh(self, subject: str, role: str, district: str | None, block: str | None,
                      school_id: str | None, family: str | None = None,
                      mfa: bool = False) -> tuple[str, Claims]:
        """A refresh token in `family`; a login starts a new family (`family=None`), a refresh
        continues the family of the token it replaces."""
        return self._issue("refresh", subject, role, district, block, school_id,
                           family or secrets.token_urlsafe(16), mfa)

    def _issue(self, kind: TokenKind, subject: str, role: str, district: str | None, block: str | None,
               school_id: str | None, family: str | None, mfa: bool) -> tuple[str, Claims]:
        moment = self._clock()
        now = int(moment)
        claims = Claims(subject=subject, role=role, district=district, block=block, school_id=school_id,
                        kind=kind, token_id=secrets.token_urlsafe(16), family=family,
                        issued_at=now, expires_at=now + self._ttl_s[kind], mfa=mfa, issued_at_ms=int(moment * 1000))
        payload = {
            "iss": self._issuer, "aud": self._audience, "sub": claims.subject,
            "iat": claims.issued_at, "nbf": claims.issued_at, "exp": claims.expires_at,
            "jti": claims.token_id, "kind": kind, "role": role, "district": district, "block": block,
            "school_id": school_id, "fam": family, "mfa": mfa, "iat_ms": claims.issued_at_ms,
        }
        token = jwt.encode(payload, self._private_key, algorithm=ALGORITHM, headers={"kid": self._keys.kid})
        return token, claims

    def verify(self, token: str, kind: str) -> Claims:
        """The claims of `token` if it is a valid token of `kind` signed by us, else InvalidToken."""
        payload = self._verified.get(token)
        if payload is None:
            payload = self._verify_signature(token)
            if len(self._verified) >= _VERIFIED_TOKENS:
                del self._verified[next(iter(self._verified))]
            self._verified[token] = payload
        self._check_times(payload)
        if payload["kind"] != kind:
            raise InvalidToken("wrong token kind")
        return _claims_of(payload)

    def _verify_signature(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise InvalidToken("malformed") from None
        if header.get("alg") != ALGORITHM:
            raise InvalidToken("wrong algorithm")
        if header.get("kid") != self._keys.kid:
            raise InvalidToken("unknown key")
        return self._decode(token)

    def _decode(self, token: str) -> dict[str, Any]:
        # Expiry and the like are checked by `_check_times` against the injected clock; pyjwt
        # would read the system clock.
        options = {"require": _REQUIRED_CLAIMS, "verify_exp": False, "verify_iat": False, "verify_nbf": False}
        try:
            return jwt.decode(token, self._public_key, algorithms=[ALGORITHM], audience=self._audience,
                              issuer=self._issuer, options=options)
        except jwt.InvalidAlgorithmError:
            raise InvalidToken("wrong algorithm") from None
        except jwt.InvalidSignatureError:
            raise InvalidToken("bad signature") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("wrong audience") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("wrong issuer") from None
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken(f"missing claim {exc.claim}") from None
        except jwt.InvalidTokenError:
            raise InvalidToken("malformed") from None

    def _check_times(self, payload: dict[str, Any]) -> None:
        now = self._clock()
        for name in ("iat", "exp", "nbf"):
            if name in payload and (not isinstance(payload[name], int) or isinstance(payload[name], bool)):
                raise InvalidToken("malformed")
        if payload["exp"] <= now - LEEWAY_S:
            raise InvalidToken("expired")
        if payload["iat"] > now + LEEWAY_S or payload.get("nbf", payload["iat"]) > now + LEEWAY_S:
            raise InvalidToken("not yet valid")


def _claims_of(payload: dict[str, Any]) -> Claims:
    def optional_str(name: str) -> str | None:
        value = payload.get(name)
        if value is not None and not isinstance(value, str):
            raise InvalidToken("malformed")
        return value

    kind, family, mfa = payload["kind"], optional_str("fam"), payload.get("mfa", False)
    issued_at_ms = payload.get("iat_ms", payload["iat"] * 1000)
    if kind not in _KINDS or not isinstance(payload["role"], str) or not isinstance(mfa, bool) \
            or not isinstance(issued_at_ms, int) or isinstance(issued_at_ms, bool):
        raise InvalidToken("malformed")
    if (kind == "refresh") != (family is not None):
        raise InvalidToken("malformed")
    return Claims(subject=payload["sub"], role=payload["role"], district=optional_str("district"),
                  block=optional_str("block"), school_id=optional_str("school_id"), kind=kind,
                  token_id=payload["jti"], family=family, issued_at=payload["iat"],
                  expires_at=payload["exp"], mfa=mfa, issued_at_ms=issued_at_ms)
