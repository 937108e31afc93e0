"""Signing keys: generated once per directory, read back afterwards, private file owner-only, and
two processes racing to create them end up with the same pair."""

import hashlib
import multiprocessing
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from serve_app.auth.signing_keys import PRIVATE_KEY_FILE, PUBLIC_KEY_FILE, SigningKeys


@pytest.fixture(scope="module")
def keys():
    return SigningKeys.generate()


def test_a_generated_pair_is_rsa_2048_with_a_kid_from_the_public_key(keys):
    private_key = serialization.load_pem_private_key(keys.private_pem, password=None)
    assert isinstance(private_key, rsa.RSAPrivateKey) and private_key.key_size == 2048
    der = private_key.public_key().public_bytes(serialization.Encoding.DER,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
    assert keys.kid == hashlib.sha256(der).hexdigest()[:16]
    assert serialization.load_pem_public_key(keys.public_pem).public_numbers() == \
        private_key.public_key().public_numbers()


def test_from_pem_gives_back_the_same_pair(keys):
    assert SigningKeys.from_pem(keys.private_pem) == keys


def test_from_pem_refuses_a_key_that_is_not_rsa():
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with pytest.raises(ValueError):
        SigningKeys.from_pem(pem)


def test_from_pem_refuses_a_short_rsa_key():
    pem = rsa.generate_private_key(public_exponent=65537, key_size=1024).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with pytest.raises(ValueError):
        SigningKeys.from_pem(pem)


def test_two_generated_pairs_differ(keys):
    assert SigningKeys.generate().kid != keys.kid


def test_load_or_create_writes_once_then_reads(tmp_path):
    directory = tmp_path / "keys"
    first = SigningKeys.load_or_create(directory)
    private_file, public_file = directory / PRIVATE_KEY_FILE, directory / PUBLIC_KEY_FILE
    assert private_file.read_bytes() == first.private_pem
    assert public_file.read_bytes() == first.public_pem
    assert stat.S_IMODE(private_file.stat().st_mode) == 0o600
    assert SigningKeys.load_or_create(directory) == first
    assert sorted(p.name for p in directory.iterdir()) == [PRIVATE_KEY_FILE, PUBLIC_KEY_FILE]


def test_a_missing_public_file_is_rewritten_from_the_private_key(tmp_path):
    first = SigningKeys.load_or_create(tmp_path)
    (tmp_path / PUBLIC_KEY_FILE).unlink()
    assert SigningKeys.load_or_create(tmp_path) == first
    assert (tmp_path / PUBLIC_KEY_FILE).read_bytes() == first.public_pem


def _load_kid(directory, barrier, answers):
    barrier.wait()
    answers.put(SigningKeys.load_or_create(directory).kid)


def test_processes_racing_to_create_the_keys_all_get_the_same_pair(tmp_path):
    context = multiprocessing.get_context("spawn")
    barrier, answers = context.Barrier(3), context.Queue()
    processes = [context.Process(target=_load_kid, args=(tmp_path, barrier, answers)) for _ in range(3)]
    for process in processes:
        process.start()
    kids = [answers.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=120)
    assert len(set(kids)) == 1
    assert kids[0] == SigningKeys.from_pem((tmp_path / PRIVATE_KEY_FILE).read_bytes()).kid
    assert sorted(p.name for p in tmp_path.iterdir()) == [PRIVATE_KEY_FILE, PUBLIC_KEY_FILE]


def test_the_loser_of_a_race_keeps_the_winners_key(tmp_path, monkeypatch, keys):
    winner = keys
    generate = SigningKeys.generate

    def generate_while_another_process_wins():
        # The other process links its key after we found the file missing, before we link ours.
        (tmp_path / PRIVATE_KEY_FILE).write_bytes(winner.private_pem)
        return generate()

    monkeypatch.setattr(SigningKeys, "generate", staticmethod(generate_while_another_process_wins))
    assert SigningKeys.load_or_create(tmp_path) == winner
    assert (tmp_path / PUBLIC_KEY_FILE).read_bytes() == winner.public_pem
    assert sorted(p.name for p in tmp_path.iterdir()) == [PRIVATE_KEY_FILE, PUBLIC_KEY_FILE]
