"""API keys: a new key parses back into its id and secret, only its hash is kept, and scopes are
checked against the known ones."""

import hashlib

import pytest

from serve_app.auth.api_keys import (
    KEY_SCOPES,
    hash_secret,
    new_api_key,
    parse_api_key,
    secret_matches,
    validate_scopes,
)


def test_a_new_key_parses_into_its_id_and_a_secret_matching_the_stored_hash():
    plain, key_id, secret_hash = new_api_key()
    assert plain.startswith(f"mtk_{key_id}_") and len(key_id) == 12 and len(plain) == 4 + 12 + 1 + 40
    parsed = parse_api_key(plain)
    assert parsed is not None and parsed[0] == key_id
    assert secret_matches(parsed[1], secret_hash)
    assert parsed[1] not in secret_hash


def test_keys_are_unique():
    keys = [new_api_key() for _ in range(50)]
    assert len({k[0] for k in keys}) == len({k[1] for k in keys}) == 50


def test_a_secret_containing_underscores_still_parses():
    secret = "ab_cd-" * 6 + "ab_cd"[:4]
    assert len(secret) == 40
    assert parse_api_key(f"mtk_abcdef123456_{secret}") == ("abcdef123456", secret)


@pytest.mark.parametrize("plain", [
    "", "mtk_", "abc_abcdef123456_" + "x" * 40, "mtk_abcdef12345_" + "x" * 40, "mtk_abcdef123456_" + "x" * 39,
    "mtk_abcdef123456_" + "x" * 41, "mtk_ABCDEF123456_" + "x" * 40, "mtk_abcdef123456-" + "x" * 40,
    "mtk_abcdef123456_" + "x" * 39 + "=", " mtk_abcdef123456_" + "x" * 40, "mtk_abcdef123456_" + "x" * 40 + "\n",
])
def test_malformed_keys_do_not_parse(plain):
    assert parse_api_key(plain) is None


def test_the_secret_hash_is_sha256_hex():
    assert hash_secret("s3cret") == hashlib.sha256(b"s3cret").hexdigest()


def test_a_wrong_secret_or_hash_does_not_match():
    assert secret_matches("s3cret", hash_secret("s3cret"))
    assert not secret_matches("s3cres", hash_secret("s3cret"))
    assert not secret_matches("s3cret", "")
    assert not secret_matches("s3cret", hash_secret("s3cret").upper())


def test_known_scopes_are_accepted_once_each_in_order():
    assert KEY_SCOPES == ("events:write", "read")
    assert validate_scopes(["read", "events:write", "read"]) == ["read", "events:write"]


@pytest.mark.parametrize("scopes", [["admin"], ["read", "Read"], [], ["events:*"]])
def test_unknown_or_missing_scopes_are_refused(scopes):
    with pytest.raises(ValueError):
        validate_scopes(scopes)
