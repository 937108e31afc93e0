"""TOTP: codes from an authenticator app verify within the drift window, each at most once; the QR
code is plain SVG; recovery codes are single use, whatever their case or dashes."""

import subprocess
import sys
import urllib.parse
import xml.etree.ElementTree as ET

import pyotp
import pytest

from serve_app.auth.totp import (
    new_recovery_codes,
    new_secret,
    provisioning_uri,
    qr_svg,
    use_recovery_code,
    verify_code,
)

NOW = 1_796_000_000.0
STEP = int(NOW // 30)


@pytest.fixture
def secret():
    return new_secret()


def code_at(secret: str, at: float) -> str:
    return pyotp.TOTP(secret).at(at)


def test_a_secret_is_base32_of_160_bits(secret):
    assert len(secret) == 32 and set(secret) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    assert new_secret() != secret


def test_the_provisioning_uri_names_the_account_and_issuer(secret):
    uri = urllib.parse.urlparse(provisioning_uri(secret, "priya@tn.gov.in"))
    query = urllib.parse.parse_qs(uri.query)
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert urllib.parse.unquote(uri.path) == "/mealtwin:priya@tn.gov.in"
    assert query["secret"] == [secret] and query["issuer"] == ["mealtwin"]
    assert pyotp.parse_uri(provisioning_uri(secret, "priya@tn.gov.in")).now() == pyotp.TOTP(secret).now()


def test_the_qr_code_is_an_svg_document(secret):
    svg = qr_svg(provisioning_uri(secret, "priya@tn.gov.in"))
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.find("{http://www.w3.org/2000/svg}path") is not None


def test_the_qr_code_needs_no_imaging_library():
    # A fresh interpreter in which importing PIL fails, as on a server without Pillow.
    script = ("import sys; sys.modules['PIL'] = None\n"
              "from serve_app.auth.totp import qr_svg\n"
              "print(qr_svg('otpauth://totp/x?secret=AAAA')[:200])")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "<svg" in result.stdout


def test_the_current_code_verifies_and_returns_its_step(secret):
    assert verify_code(secret, code_at(secret, NOW), last_step=None, at=NOW) == STEP


def test_codes_one_step_either_side_verify_and_further_ones_do_not(secret):
    assert verify_code(secret, code_at(secret, NOW - 30), last_step=None, at=NOW) == STEP - 1
    assert verify_code(secret, code_at(secret, NOW + 30), last_step=None, at=NOW) == STEP + 1
    assert verify_code(secret, code_at(secret, NOW - 60), last_step=None, at=NOW) is None
    assert verify_code(secret, code_at(secret, NOW - 60), last_step=None, at=NOW, window=2) == STEP - 2


def test_a_code_is_refused_for_its_own_or_an_earlier_step_once_used(secret):
    code = code_at(secret, NOW)
    step = verify_code(secret, code, last_step=None, at=NOW)
    assert verify_code(secret, code, last_step=step, at=NOW) is None
    assert verify_code(secret, code, last_step=step, at=NOW + 20) is None
    assert verify_code(secret, code_at(secret, NOW - 30), last_step=step, at=NOW) is None
    assert verify_code(secret, code_at(secret, NOW + 30), last_step=step, at=NOW + 30) == step + 1


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "١٢٣٤٥٦"])
def test_malformed_codes_are_refused(secret, code):
    assert verify_code(secret, code, last_step=None, at=NOW) is None


def test_spaces_in_a_code_are_ignored(secret):
    code = code_at(secret, NOW)
    assert verify_code(secret, f"{code[:3]} {code[3:]}", last_step=None, at=NOW) == STEP


def test_a_wrong_code_is_refused(secret):
    valid = {code_at(secret, NOW + d) for d in (-30, 0, 30)}
    wrong = next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)
    assert verify_code(secret, wrong, last_step=None, at=NOW) is None


def test_a_code_for_another_secret_is_refused():
    mine, other = "JBSWY3DPEHPK3PXP" * 2, "KRSXG5CTMVRXEZLU" * 2
    assert code_at(other, NOW) not in {code_at(mine, NOW + d) for d in (-30, 0, 30)}  # fixed, so checked once
    assert verify_code(mine, code_at(other, NOW), last_step=None, at=NOW) is None


def test_recovery_codes_look_like_three_groups_and_are_stored_hashed():
    codes, hashes = new_recovery_codes()
    assert len(codes) == len(hashes) == 10 and len(set(codes)) == 10
    for code, hashed in zip(codes, hashes, strict=True):
        groups = code.split("-")
        assert [len(g) for g in groups] == [4, 4, 4] and code.islower()
        assert len(hashed) == 64 and code not in hashed
    assert len(new_recovery_codes(3)[0]) == 3


def test_a_recovery_code_is_spent_once():
    codes, hashes = new_recovery_codes(3)
    remaining = use_recovery_code(codes[1], hashes)
    assert remaining == [hashes[0], hashes[2]]
    assert use_recovery_code(codes[1], remaining) is None
    assert use_recovery_code(codes[0], remaining) == [hashes[2]]


def test_recovery_codes_ignore_case_dashes_and_spaces():
    codes, hashes = new_recovery_codes(1)
    assert use_recovery_code(" " + codes[0].upper().replace("-", " "), hashes) == []
    assert use_recovery_code(codes[0].replace("-", ""), hashes) == []


def test_unknown_or_empty_recovery_codes_match_nothing():
    _, hashes = new_recovery_codes(3)
    assert use_recovery_code("abcd-efgh-jkmn", hashes) is None
    assert use_recovery_code("", hashes) is None
    assert use_recovery_code(" - ", hashes) is None
