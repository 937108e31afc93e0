"""The RSA key pair that signs access and refresh tokens, and where it lives on disk.

`load_or_create` keeps the pair in a directory shared by the API replicas: the first process to
start generates it and every later one reads it. Two processes starting together may both
generate a key; each writes its private key to a temporary file and hard-links it to the final
name, which only one link can win, so the loser throws its own key away and reads the winner's.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pathlib
import tempfile
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

PRIVATE_KEY_FILE = "jwt_private.pem"
PUBLIC_KEY_FILE = "jwt_public.pem"
KEY_SIZE = 2048
MIN_KEY_SIZE = 2048


@dataclass(frozen=True)
class SigningKeys:
    private_pem: bytes
    public_pem: bytes
    kid: str

    @classmethod
    def generate(cls) -> SigningKeys:
        """A fresh RSA-2048 pair."""
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)
        return cls.from_pem(private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))

    @classmethod
    def from_pem(cls, private_pem: bytes) -> SigningKeys:
        """The pair of an unencrypted PEM RSA private key; ValueError if it is not one."""
        private_key = serialization.load_pem_private_key(private_pem, password=None)
        if not isinstance(private_key, rsa.RSAPrivateKey):
            raise ValueError("the signing key must be an RSA private key")
        if private_key.key_size < MIN_KEY_SIZE:
            raise ValueError(f"the signing key must have at least {MIN_KEY_SIZE} bits")
        public_key = private_key.public_key()
        public_pem = public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        public_der = public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return cls(private_pem=private_pem, public_pem=public_pem, kid=key_id(public_der))

    @classmethod
    def load_or_create(cls, directory: pathlib.Path) -> SigningKeys:
        """The pair kept in `directory` (`jwt_private.pem`, mode 0600, and `jwt_public.pem`),
        generated and written on the first call, read on every later one."""
        directory.mkdir(parents=True, exist_ok=True)
        private_path = directory / PRIVATE_KEY_FILE
        if not private_path.exists():
            _link_new_file(private_path, cls.generate().private_pem)
        keys = cls.from_pem(private_path.read_bytes())
        public_path = directory / PUBLIC_KEY_FILE
        if not public_path.exists() or public_path.read_bytes() != keys.public_pem:
            _replace_file(public_path, keys.public_pem)
        return keys


def key_id(public_der: bytes) -> str:
    """The `kid` of a public key: the first 16 hex digits of the SHA-256 of its DER encoding."""
    return hashlib.sha256(public_der).hexdigest()[:16]


def _write_temporary(directory: pathlib.Path, content: bytes) -> pathlib.Path:
    # mkstemp creates the file readable by its owner only, so a private key is never exposed,
    # even for the moment between writing and linking.
    fd, name = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".pem")
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    return pathlib.Path(name)


def _link_new_file(path: pathlib.Path, content: bytes) -> None:
    """Create `path` holding `content`, unless another process creates it first (then keep theirs)."""
    temporary = _write_temporary(path.parent, content)
    try:
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink()


def _replace_file(path: pathlib.Path, content: bytes) -> None:
    # Readers never see a half-written file; racing writers write the same bytes.
    temporary = _write_temporary(path.parent, content)
    temporary.chmod(0o644)
    os.replace(temporary, path)
