"""Passwords: the policy explains what is wrong, hashes are salted bcrypt that never truncate, and a
bad hash or a missing user is a plain False."""

import bcrypt
import pytest

from serve_app.auth.passwords import (
    COMMON_PASSWORDS,
    hash_password,
    password_problems,
    verify_against_dummy,
    verify_password,
)

FAST = 4  # bcrypt's lowest cost, so the suite stays quick


def test_a_long_mixed_password_is_acceptable():
    assert password_problems("noon meal 2026 at Madurai") == []


@pytest.mark.parametrize(("password", "problem"), [
    ("short1", "at least 10 characters"),
    ("a1" * 65, "at most 128 characters"),
    ("1234567890123", "at least one letter"),
    ("onlylettershere", "at least one digit"),
])
def test_length_letters_and_digits_are_required(password, problem):
    problems = password_problems(password)
    assert any(problem in p for p in problems), problems


def test_the_minimum_length_is_configurable():
    assert password_problems("abcde12", min_length=6) == []
    assert password_problems("abcde12", min_length=8) != []


@pytest.mark.parametrize("password", ["Password1", "QWERTY123", "admin@123", "1234567890"])
def test_common_passwords_are_refused_whatever_their_case(password):
    assert "is too common" in password_problems(password, min_length=1)


def test_the_common_list_is_stored_in_lower_case():
    assert all(p == p.lower() for p in COMMON_PASSWORDS)
    assert len(COMMON_PASSWORDS) >= 30


def test_a_password_built_from_the_email_or_the_name_is_refused():
    personal = "must not be based on your name or email address"
    assert personal in password_problems("priya.raman2026", email="priya.raman@tn.gov.in")
    assert personal in password_problems("Raman@2026xyz", full_name="Priya Raman")
    assert personal in password_problems("PRIYARAMAN99", full_name="Priya Raman")
    assert personal not in password_problems("kolam rangoli 42", email="priya.raman@tn.gov.in",
                                             full_name="Priya Raman")


def test_short_name_fragments_do_not_count():
    assert password_problems("sunlit banner 42", full_name="Ann Li") == []


def test_a_hash_verifies_its_password_only():
    hashed = hash_password("noon meal 2026", rounds=FAST)
    assert hashed.startswith("$2b$04$")
    assert verify_password("noon meal 2026", hashed)
    assert not verify_password("noon meal 2027", hashed)


def test_each_hash_is_salted_afresh():
    assert hash_password("noon meal 2026", rounds=FAST) != hash_password("noon meal 2026", rounds=FAST)


def test_the_default_cost_is_12():
    assert hash_password("noon meal 2026").startswith("$2b$12$")


def test_passwords_longer_than_72_bytes_are_not_truncated():
    base = "x1" * 40  # 80 bytes: plain bcrypt would only read the first 72
    hashed = hash_password(base + "A", rounds=FAST)
    assert verify_password(base + "A", hashed)
    assert not verify_password(base + "B", hashed)


def test_non_ascii_passwords_round_trip():
    hashed = hash_password("சத்துணவு திட்டம் 1982", rounds=FAST)
    assert verify_password("சத்துணவு திட்டம் 1982", hashed)


def test_the_hash_is_not_plain_bcrypt_of_the_password():
    hashed = hash_password("noon meal 2026", rounds=FAST)
    assert not bcrypt.checkpw(b"noon meal 2026", hashed.encode())


@pytest.mark.parametrize("hashed", ["", "not a hash", "$2b$04$short", "$2b$04$" + "é" * 53, "$1$abc$def"])
def test_a_malformed_hash_is_false_not_an_error(hashed):
    assert verify_password("noon meal 2026", hashed) is False


def test_the_dummy_check_is_always_false():
    assert verify_against_dummy("noon meal 2026", rounds=FAST) is False
    assert verify_against_dummy("", rounds=FAST) is False
