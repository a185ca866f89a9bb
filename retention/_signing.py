"""The provider's evidence signing key (Ed25519): made on first use, kept in ``data_dir/keys``.

The private key never leaves ``data_dir/keys/evidence_ed25519.pem`` (PKCS#8 PEM, mode 0600,
created with ``O_EXCL`` so two processes never race to two keys). Its public half is what
``guarita evidence pubkey`` prints and what a court checks a bundle's signature with.

Covers: BH-07, BH-08, DT-04.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from guarita.retention.footage import RetentionError

__all__ = ["KEY_FILE", "fingerprint", "load_public_key", "public_pem", "signature_valid", "signing_key"]

KEY_FILE = Path("keys") / "evidence_ed25519.pem"


def signing_key(data_dir: Path) -> Ed25519PrivateKey:
    """The provider's signing key, created (mode 0600) the first time it is needed.

    Raises:
        RetentionError: the key file exists but is not an Ed25519 private key.
    """
    path = data_dir / KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise RetentionError(f"{path} does not hold an Ed25519 private key") from None
        return key
    created = Ed25519PrivateKey.generate()
    pem = created.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
        handle.flush()
        os.fsync(handle.fileno())
    return created


def public_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """The public key as SubjectPublicKeyInfo PEM (what ``openssl pkeyutl -pubin`` reads)."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def fingerprint(key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw 32-byte public key, hex: short enough to read over the phone."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def load_public_key(pem: bytes, where: str) -> Ed25519PublicKey:
    """Read an Ed25519 public key PEM.

    Raises:
        RetentionError: ``pem`` is not one (``where`` names the file in the message).
    """
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError as exc:
        raise RetentionError(f"{where}: not a PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise RetentionError(f"{where}: not an Ed25519 public key")
    return key


def signature_valid(key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    """True when ``signature`` is ``key``'s Ed25519 signature of ``data``."""
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True
