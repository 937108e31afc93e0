"""API keys for machines (school kiosks, partner systems): `mtk_<key_id>_<secret>`.

The key id (12 lowercase letters and digits) is stored in the clear and finds the key's row; only
a hash of the secret (40 URL-safe characters, 240 random bits) is stored. The secret is random, not
chosen by a person, so there is nothing to guess and a fast SHA-256 is enough: a slow password
hash would only make every authenticated request slow.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string

from serve_app.auth.principal import KEY_SCOPE_PERMISSIONS

PREFIX = "mtk_"
KEY_ID_LENGTH = 12
SECRET_LENGTH = 40
KEY_SCOPES = tuple(sorted(KEY_SCOPE_PERMISSIONS))  # what a key may be granted: what its scopes permit
_KEY_ID_ALPHABET = string.ascii_lowercase + string.digits
_API_KEY = re.compile(rf"{PREFIX}([a-z0-9]{{{KEY_ID_LENGTH}}})_([A-Za-z0-9_-]{{{SECRET_LENGTH}}})")


def new_api_key() -> tuple[str, str, str]:
    """A fresh key: the plain key to show once, its key id, and the secret hash to store."""
    key_id = "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(KEY_ID_LENGTH))
    secret = secrets.token_urlsafe(SECRET_LENGTH * 3 // 4)  # 30 bytes are 40 base64 characters
    return f"{PREFIX}{key_id}_{secret}", key_id, hash_secret(secret)


def parse_api_key(plain: str) -> tuple[str, str] | None:
    """(key_id, secret) of a well-formed key, else None."""
    # The secret may itself contain "_", so the key is cut by position, not split on "_".
    match = _API_KEY.fullmatch(plain)
    return (match.group(1), match.group(2)) if match else None


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, secret_hash: str) -> bool:
    """True if `secret` hashes to `secret_hash`, compared in constant time."""
    return hmac.compare_digest(hash_secret(secret), secret_hash)


def validate_scopes(scopes: list[str]) -> list[str]:
    """`scopes` without duplicates, in the order given; ValueError if any is unknown or none given."""
    unknown = [scope for scope in scopes if scope not in KEY_SCOPES]
    if unknown:
        raise ValueError(f"unknown scopes {unknown}; known: {list(KEY_SCOPES)}")
    if not scopes:
        raise ValueError("an API key needs at least one scope")
    return list(dict.fromkeys(scopes))
