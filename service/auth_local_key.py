"""The local development signing key: an EC P-256 key created on first use, never in the repo.

It lives at `<data_dir>/dev-signing-key.pem` with mode 0600. Two processes starting at once
(`serve` and `token`, or two workers) agree on one key: the file is written under a
temporary name and hard-linked into place, which fails if the other process won the race.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

KEY_FILE_NAME = "dev-signing-key.pem"
LOCAL_ISSUER = "awaterra-local"
LOCAL_AUDIENCE = "awaterra-app"
LOCAL_ALGORITHM = "ES256"


@dataclass(frozen=True)
class LocalSigningKey:
    private_key: ec.EllipticCurvePrivateKey
    kid: str

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.private_key.public_key()


def key_path(data_dir: Path) -> Path:
    return data_dir / KEY_FILE_NAME


def load_or_create_signing_key(data_dir: Path) -> LocalSigningKey:
    path = key_path(data_dir)
    if not path.exists():
        _create_key_file(path)
    pem = path.read_bytes()
    try:
        private_key = serialization.load_pem_private_key(pem, password=None)
    except ValueError as error:
        raise ValueError(
            f"{path} is not a readable PEM private key; delete it to start over"
        ) from error
    if not isinstance(private_key, ec.EllipticCurvePrivateKey) or not isinstance(
        private_key.curve, ec.SECP256R1
    ):
        raise ValueError(f"{path} must hold an EC P-256 private key; delete it to start over")
    return LocalSigningKey(private_key=private_key, kid=_key_id(private_key.public_key()))


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # mkstemp creates the file with mode 0600 before a single byte of the key is written.
    fd, temp_name = tempfile.mkstemp(prefix=".dev-signing-key-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temp_name, path)
        except FileExistsError:
            pass  # another process created it first; use theirs
    finally:
        os.unlink(temp_name)


def _key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    """A stable key id: the SHA-256 of the public key's DER, base64url without padding."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()[:16]).rstrip(b"=").decode()
