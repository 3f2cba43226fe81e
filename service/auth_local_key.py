"""The local development signing key: an EC P-256 key created on first use, never in the repo.

It lives at `<data_dir>/dev-signing-key.pem` with mode 0600 (see service.secret_files).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from service.secret_files import load_or_create_secret

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
    pem = load_or_create_secret(path, _generate_pem)
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


def _generate_pem() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    """A stable key id: the SHA-256 of the public key's DER, base64url without padding."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()[:16]).rstrip(b"=").decode()
