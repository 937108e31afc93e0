"""Webhook signatures: a receiver accepts exactly the body and timestamp that were signed, with
the right secret, while the timestamp is fresh."""

import hashlib
import hmac

from serve_app.alerts.delivery.signature import sign, verify_signature

BODY = b'{"delivery_id":"42:7","alert":{"id":42}}'
NOW = 1_796_000_000


def test_the_signature_is_the_hmac_of_timestamp_dot_body():
    expected = hmac.new(b"secret", f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign("secret", NOW, BODY) == f"sha256={expected}"


def test_a_signed_body_verifies():
    assert verify_signature("secret", BODY, str(NOW), sign("secret", NOW, BODY), now=NOW + 10)


def test_a_changed_body_wrong_secret_or_moved_timestamp_does_not_verify():
    signature = sign("secret", NOW, BODY)
    assert not verify_signature("secret", BODY + b" ", str(NOW), signature, now=NOW)
    assert not verify_signature("other", BODY, str(NOW), signature, now=NOW)
    assert not verify_signature("secret", BODY, str(NOW + 1), signature, now=NOW)


def test_a_replay_outside_the_tolerance_does_not_verify():
    signature = sign("secret", NOW, BODY)
    assert verify_signature("secret", BODY, str(NOW), signature, now=NOW + 299)
    assert not verify_signature("secret", BODY, str(NOW), signature, now=NOW + 301)
    assert not verify_signature("secret", BODY, str(NOW), signature, now=NOW - 301)  # from the future
    assert verify_signature("secret", BODY, str(NOW), signature, now=NOW + 3_000, tolerance_s=3_600)


def test_missing_or_malformed_headers_do_not_verify():
    signature = sign("secret", NOW, BODY)
    assert not verify_signature("secret", BODY, None, signature, now=NOW)
    assert not verify_signature("secret", BODY, "yesterday", signature, now=NOW)
    assert not verify_signature("secret", BODY, str(NOW), None, now=NOW)
    assert not verify_signature("secret", BODY, str(NOW), signature.removeprefix("sha256="), now=NOW)
