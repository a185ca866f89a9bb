"""The installation's random keys under ``data_dir/keys``: made once, owner-only, never replaced.

The audit chain's HMAC key and the CPF/CNPJ hashing key are both made here: 32 random bytes
in a 0600 file in a 0700 folder, created exclusively so two processes starting together end
up with the same key.

Covers: BH-07.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["make_key_file"]


def make_key_file(path: Path) -> bytes:
    """Create ``path`` with a new random key unless it exists; return the key in it."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()  # another process made it first
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(secrets.token_bytes(32))
        handle.flush()
        os.fsync(handle.fileno())
    return path.read_bytes()
