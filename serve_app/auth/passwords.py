"""Passwords: what we accept, and how we store and check them.

Hashes are bcrypt (`$2b$`) of a SHA-256 pre-hash. bcrypt only reads the first 72 bytes of its
input (and bcrypt 5 refuses longer input outright), so a long passphrase would otherwise be
silently cut, or rejected, at 72 bytes. The pre-hash folds any length into 32 bytes; it is
base64-encoded (44 ASCII bytes) because raw digest bytes may contain NUL, which some bcrypt
implementations treat as the end of the password.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
import secrets

import bcrypt

MAX_LENGTH = 128
DEFAULT_ROUNDS = 12
# Shorter fragments of a name or an email ("raj", "tn") turn up by chance in good passwords.
_MIN_PERSONAL_FRAGMENT = 4

COMMON_PASSWORDS = frozenset({
    "password", "password1", "password12", "password123", "password@123", "passw0rd", "p@ssw0rd",
    "123456", "12345678", "123456789", "1234567890", "0987654321", "1234512345", "1111111111",
    "qwerty", "qwerty123", "qwerty@123", "qwertyuiop", "1q2w3e4r5t", "1qaz2wsx3edc", "abc123",
    "abcd1234", "abcdef123", "admin", "admin123", "admin@123", "administrator", "welcome1",
    "welcome123", "welcome@123", "iloveyou1", "letmein123", "changeme123", "india123", "india@123",
    "chennai123", "chennai@123", "tamilnadu1", "tamilnadu123", "school123", "teacher123",
})


def password_problems(password: str, *, email: str | None = None, full_name: str | None = None,
                      min_length: int = 10) -> list[str]:
    """Why `password` is not acceptable, in words a user can act on; empty when it is."""
    problems = []
    if len(password) < min_length:
        problems.append(f"must be at least {min_length} characters long")
    if len(password) > MAX_LENGTH:
        problems.append(f"must be at most {MAX_LENGTH} characters long")
    if not any(c.isalpha() for c in password):
        problems.append("must contain at least one letter")
    if not any(c.isdigit() for c in password):
        problems.append("must contain at least one digit")
    if password.lower() in COMMON_PASSWORDS:
        problems.append("is too common")
    if _contains_personal_fragment(password, email=email, full_name=full_name):
        problems.append("must not be based on your name or email address")
    return problems


def _alnum_lower(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.lower())


def _contains_personal_fragment(password: str, *, email: str | None, full_name: str | None) -> bool:
    fragments = []
    for source in (email.split("@", 1)[0] if email else None, full_name):
        if source:
            fragments.append(_alnum_lower(source))
            fragments.extend(_alnum_lower(word) for word in re.split(r"[\W_]+", source))
    flattened = _alnum_lower(password)
    return any(len(f) >= _MIN_PERSONAL_FRAGMENT and f in flattened for f in fragments)


def _prehash(password: str) -> bytes:
    return base64.b64encode(hashlib.sha256(password.encode("utf-8")).digest())


def hash_password(password: str, rounds: int = DEFAULT_ROUNDS) -> str:
    """A bcrypt hash (`$2b$<rounds>$...`) of `password`, salted afresh on every call."""
    return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds=rounds)).decode("ascii")


def verify_password(password: str, hashed: str) -> bool:
    """True if `password` matches `hashed`; False, never an exception, when `hashed` is malformed."""
    try:
        return bcrypt.checkpw(_prehash(password), hashed.encode("ascii"))
    except (ValueError, TypeError):
        return False


@functools.cache
def _dummy_hash(rounds: int) -> str:
    # A hash of a throwaway random secret: nothing can match it, but checking it costs as much as
    # checking a real user's hash of the same cost.
    return hash_password(secrets.token_urlsafe(16), rounds=rounds)


def verify_against_dummy(password: str, rounds: int = DEFAULT_ROUNDS) -> bool:
    """Always False, after the same bcrypt work as `verify_password`: call it when the user does not
    exist, so the response time does not tell an attacker which emails have accounts. Pass the
    `rounds` the real hashes use."""
    verify_password(password, _dummy_hash(rounds))
    return False
