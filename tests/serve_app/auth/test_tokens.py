"""Tokens: what we issue verifies as issued; anything forged, expired, misdirected or of the wrong
kind is refused with a reason, whatever its header claims."""

import base64
import hashlib
import hmac
import json

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from serve_app.auth.signing_keys import SigningKeys
from serve_app.auth.tokens import Claims, InvalidToken, TokenIssuer

SCHOOL = ("Madurai", "Melur", "33250100101")


@pytest.fixture(scope="module")
def keys():
    return SigningKeys.generate()


@pytest.fixture(scope="module")
def other_keys():
    return SigningKeys.generate()


@pytest.fixture
def issuer(keys, clock):
    return TokenIssuer(keys, clock=clock)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made(header: dict, payload: dict, sign=lambda signing_input: b"") -> str:
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    return f"{signing_input}.{b64url(sign(signing_input.encode()))}"


def serialization_key(keys: SigningKeys):
    return serialization.load_pem_private_key(keys.private_pem, password=None)


def payload_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def reason(issuer: TokenIssuer, token: str, kind: str = "access") -> str:
    with pytest.raises(InvalidToken) as refused:
        issuer.verify(token, kind)
    return refused.value.reason


def test_an_access_token_round_trips(issuer, clock, keys):
    token, claims = issuer.issue_access("42", "block_officer", *SCHOOL, mfa=True)
    assert claims == Claims(subject="42", role="block_officer", district="Madurai", block="Melur",
                            school_id="33250100101", kind="access", token_id=claims.token_id, family=None,
                            issued_at=int(clock.now), expires_at=int(clock.now) + 900, mfa=True,
                            issued_at_ms=int(clock.now * 1000))
    assert issuer.verify(token, "access") == claims
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "typ": "JWT", "kid": keys.kid}
    payload = payload_of(token)
    assert (payload["iss"], payload["aud"], payload["kind"]) == ("mealtwin", "mealtwin-api", "access")


def test_a_refresh_token_round_trips_in_its_family(issuer, clock):
    token, claims = issuer.issue_refresh("key:abc123", "state_admin", None, None, None)
    assert claims.kind == "refresh" and claims.family
    assert claims.expires_at == int(clock.now) + 1_209_600
    assert issuer.verify(token, "refresh") == claims
    _, next_claims = issuer.issue_refresh("key:abc123", "state_admin", None, None, None, family=claims.family)
    assert next_claims.family == claims.family and next_claims.token_id != claims.token_id
    assert issuer.issue_refresh("7", "state_admin", None, None, None)[1].family != claims.family


def test_every_token_gets_its_own_id(issuer):
    ids = {issuer.issue_access("42", "viewer", None, None, None)[1].token_id for _ in range(20)}
    assert len(ids) == 20


def test_an_expired_token_is_refused_after_the_leeway(issuer, clock):
    token, claims = issuer.issue_access("42", "viewer", None, None, None)
    clock.now = claims.expires_at + 5  # within the clock-skew leeway
    assert issuer.verify(token, "access") == claims
    clock.now = claims.expires_at + 11
    assert reason(issuer, token) == "expired"


def test_a_token_from_the_future_is_refused(issuer, clock):
    token, _ = issuer.issue_access("42", "viewer", None, None, None)
    clock.advance(-60)
    assert reason(issuer, token) == "not yet valid"


def test_a_token_signed_with_another_key_is_refused(issuer, keys, other_keys):
    token, _ = TokenIssuer(other_keys).issue_access("42", "state_admin", None, None, None)
    assert reason(issuer, token) == "unknown key"
    # Even claiming our kid, the signature gives it away.
    header = {"kid": keys.kid}
    forged = jwt.encode(payload_of(token), serialization_key(other_keys), algorithm="RS256", headers=header)
    assert reason(issuer, forged) == "bad signature"


def test_a_verifier_with_another_key_refuses_our_tokens(issuer, other_keys, clock):
    token, _ = issuer.issue_access("42", "viewer", None, None, None)
    assert reason(TokenIssuer(other_keys, clock=clock), token) == "unknown key"


def test_an_unsigned_alg_none_token_is_refused(issuer, keys):
    token, _ = issuer.issue_access("42", "viewer", None, None, None)
    payload = {**payload_of(token), "role": "state_admin"}
    for alg in ("none", "None", "NONE"):
        assert reason(issuer, hand_made({"alg": alg, "typ": "JWT", "kid": keys.kid}, payload)) == "wrong algorithm"


def test_hs256_keyed_with_our_public_key_is_refused(issuer, keys):
    token, _ = issuer.issue_access("42", "viewer", None, None, None)
    payload = {**payload_of(token), "role": "state_admin"}
    forged = hand_made({"alg": "HS256", "typ": "JWT", "kid": keys.kid}, payload,
                       lambda signing_input: hmac.new(keys.public_pem, signing_input, hashlib.sha256).digest())
    assert reason(issuer, forged) == "wrong algorithm"


def test_another_rsa_algorithm_is_refused_even_with_our_key(issuer, keys):
    token, _ = issuer.issue_access("42", "viewer", None, None, None)
    other_alg = jwt.encode(payload_of(token), serialization_key(keys), algorithm="RS512", headers={"kid": keys.kid})
    assert reason(issuer, other_alg) == "wrong algorithm"


def test_a_tampered_payload_is_refused(issuer):
    token, _ = issuer.issue_access("42", "viewer", None, None, None)
    header, _, signature = token.split(".")
    payload = {**payload_of(token), "role": "state_admin"}
    assert reason(issuer, f"{header}.{b64url(json.dumps(payload).encode())}.{signature}") == "bad signature"


def test_a_refresh_token_is_not_an_access_token_nor_the_other_way_round(issuer):
    refresh, _ = issuer.issue_refresh("42", "viewer", None, None, None)
    access, _ = issuer.issue_access("42", "viewer", None, None, None)
    assert reason(issuer, refresh, "access") == "wrong token kind"
    assert reason(issuer, access, "refresh") == "wrong token kind"


def test_a_token_for_another_audience_or_issuer_is_refused(keys, issuer, clock):
    elsewhere, _ = TokenIssuer(keys, audience="other-api", clock=clock).issue_access("42", "viewer", None, None, None)
    assert reason(issuer, elsewhere) == "wrong audience"
    impostor, _ = TokenIssuer(keys, issuer="someone", clock=clock).issue_access("42", "viewer", None, None, None)
    assert reason(issuer, impostor) == "wrong issuer"


def test_a_token_missing_a_required_claim_is_refused(issuer, keys):
    token, _ = issuer.issue_access("42", "viewer", None, None, None)
    payload = payload_of(token)
    del payload["role"]
    signed = jwt.encode(payload, serialization_key(keys), algorithm="RS256", headers={"kid": keys.kid})
    assert reason(issuer, signed) == "missing claim role"


@pytest.mark.parametrize("change", [{"mfa": "yes"}, {"district": 7}, {"kind": "admin"}, {"fam": "f1"},
                                    {"exp": "tomorrow"}, {"iat": 1.5}])
def test_claims_of_the_wrong_shape_are_refused_even_when_signed(issuer, keys, change):
    token, _ = issuer.issue_access("42", "viewer", None, None, None)
    signed = jwt.encode({**payload_of(token), **change}, serialization_key(keys), algorithm="RS256",
                        headers={"kid": keys.kid})
    with pytest.raises(InvalidToken):
        issuer.verify(signed, change.get("kind", "access"))


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "....."])
def test_garbage_is_malformed(issuer, garbage):
    assert reason(issuer, garbage) == "malformed"


def test_a_header_without_an_algorithm_is_refused(issuer):
    assert reason(issuer, "e30.e30.") == "wrong algorithm"  # {} . {} . no signature


def test_a_token_verified_before_is_still_checked_for_its_kind_and_lifetime(issuer, clock):
    # the second and later checks of a token skip its signature, never the rest
    token, claims = issuer.issue_refresh("42", "viewer", None, None, None)
    assert issuer.verify(token, "refresh") == claims
    assert reason(issuer, token, "access") == "wrong token kind"
    clock.now = claims.expires_at + 11
    assert reason(issuer, token, "refresh") == "expired"
