"""Second factor: time-based one-time codes (RFC 6238, as authenticator apps make them) and
single-use recovery codes for a user who has lost the device.

`verify_code` returns the time step a code belongs to. The caller stores it and passes it back as
`last_step`: a code is then accepted only for a later step, so a code seen over someone's shoulder,
or captured in transit, cannot be used a second time within its validity window.

Recovery codes are random (about 59 bits each), so a plain SHA-256 of each is enough to store
them: unlike a password there is no small space of likely values to search.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import pyotp
import qrcode
from qrcode.image.svg import SvgPathImage

STEP_S = 30
DIGITS = 6
# No 0/o, 1/i/l: a code copied from paper must not be ambiguous.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_GROUPS = 3
RECOVERY_GROUP_LENGTH = 4


def new_secret() -> str:
    """A fresh base32 TOTP secret (160 bits)."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, account: str, issuer: str = "mealtwin") -> str:
    """The `otpauth://` URI an authenticator app reads, usually from a QR code."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_S).provisioning_uri(name=account, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """`uri` as a QR code in an SVG document (drawn as a path, so no imaging library is needed)."""
    image = qrcode.make(uri, image_factory=SvgPathImage)
    return image.to_string(encoding="unicode")


def verify_code(secret: str, code: str, *, last_step: int | None, at: float | None = None,
                window: int = 1) -> int | None:
    """The time step `code` was generated for, if it is valid at `at` (default now) give or take
    `window` steps of clock drift and is later than `last_step`; else None."""
    code = code.replace(" ", "")
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_S)
    current = int((time.time() if at is None else at) // STEP_S)
    matched = None
    # Every candidate is checked, so the time taken does not reveal which step matched.
    for step in range(current - window, current + window + 1):
        if hmac.compare_digest(totp.generate_otp(step), code) and (last_step is None or step > last_step):
            matched = step
    return matched


def new_recovery_codes(n: int = 10) -> tuple[list[str], list[str]]:
    """`n` fresh codes like `abcd-efgh-jkmn` to show the user once, and the hashes to store."""
    codes = ["-".join("".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_GROUP_LENGTH))
                      for _ in range(RECOVERY_GROUPS)) for _ in range(n)]
    return codes, [_hash_recovery_code(code) for code in codes]


def use_recovery_code(code: str, hashes: list[str]) -> list[str] | None:
    """The hashes left once `code` is spent, or None if it matches none of `hashes`. Case, dashes
    and spaces do not matter."""
    if not _normalise(code):
        return None
    presented = _hash_recovery_code(code)
    matches = [hmac.compare_digest(presented, stored) for stored in hashes]
    if not any(matches):
        return None
    spent = matches.index(True)
    return hashes[:spent] + hashes[spent + 1:]


def _normalise(code: str) -> str:
    return "".join(c for c in code.lower() if c not in "- \t")


def _hash_recovery_code(code: str) -> str:
    return hashlib.sha256(_normalise(code).encode()).hexdigest()
