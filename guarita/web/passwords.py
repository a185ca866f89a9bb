"""Console passwords: scrypt hashes in our own one-line format, ``scrypt$n$r$p$salt$hash``.

``hash_password`` makes the line ``guarita web hash-password`` prints (salt and hash in
URL-safe base64 without padding); an operator puts it in the file that
``web.users.<name>.password_hash_file`` names. ``check_password`` reads such a line and
compares in constant time. The file is read at each sign-in, so a changed password takes
effect without a restart. Passwords are never logged.

Covers: BH-07, BH-09.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from pathlib import Path

from guarita.errors import GuaritaError

__all__ = ["PasswordFileError", "check_password", "hash_password", "read_password_hash"]

SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
_SALT_BYTES = 16
_HASH_BYTES = 32
_MAX_N = 2**20


class PasswordFileError(GuaritaError):
    """A password hash file that cannot be read or is not in the ``scrypt$n$r$p$salt$hash`` format."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=length,
                          maxmem=2 * 128 * r * n + 1024 * 1024)


def hash_password(password: str) -> str:
    """The one-line hash of ``password``, with a fresh random salt."""
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, _HASH_BYTES)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def read_password_hash(path: Path) -> str:
    """The hash line kept in ``path``.

    Raises:
        PasswordFileError: the file cannot be read or holds no hash line.
    """
    try:
        line = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise PasswordFileError(f"cannot read the password hash file {path}: {exc.strerror}") from exc
    _parse(line, path)
    return line


def _parse(line: str, path: Path | None = None) -> tuple[int, int, int, bytes, bytes]:
    where = f" in {path}" if path is not None else ""
    parts = line.split("$")
    try:
        if len(parts) != 6 or parts[0] != "scrypt":
            raise ValueError("not six fields starting with scrypt")
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        if n < 2 or n > _MAX_N or n & (n - 1) or not 1 <= r <= 32 or not 1 <= p <= 16:
            raise ValueError("parameters out of range")
        salt, digest = _unb64(parts[4]), _unb64(parts[5])
        if len(salt) < 8 or len(digest) < 16:
            raise ValueError("salt or hash too short")
    except ValueError as exc:
        raise PasswordFileError(
            f"the password hash{where} is not a `scrypt$n$r$p$salt$hash` line ({exc}): "
            "make one with `guarita web hash-password`"
        ) from None
    return n, r, p, salt, digest


def check_password(password: str, line: str) -> bool:
    """Whether ``password`` matches the hash ``line`` (constant-time comparison)."""
    n, r, p, salt, digest = _parse(line)
    return hmac.compare_digest(_scrypt(password, salt, n, r, p, len(digest)), digest)
