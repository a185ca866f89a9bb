"""HS256 JSON Web Tokens for the Frigate stand-in's login (hmac + hashlib, no dependency).

Covers: PB-01.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["decode_hs256", "encode_hs256"]

_HEADER = {"alg": "HS256", "typ": "JWT"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(signing_input: str, secret: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), signing_input.encode("ascii"), hashlib.sha256)
    return _b64(digest.digest())


def encode_hs256(claims: Mapping[str, Any], secret: str) -> str:
    """Return a compact JWT carrying ``claims``, signed with HMAC-SHA256."""
    header = _b64(json.dumps(_HEADER, separators=(",", ":")).encode())
    payload = _b64(json.dumps(dict(claims), separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}"
    return f"{signing_input}.{_sign(signing_input, secret)}"


def decode_hs256(token: str, secret: str, *, now: float) -> dict[str, Any] | None:
    """Return the claims of a valid, unexpired HS256 token, else None."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    header, payload, signature = parts
    if not hmac.compare_digest(_sign(f"{header}.{payload}", secret), signature):
        return None
    try:
        head = json.loads(_unb64(header))
        if not isinstance(head, dict) or head.get("alg") != "HS256":
            return None
        claims = json.loads(_unb64(payload))
    except ValueError:
        return None
    if not isinstance(claims, dict) or not {"sub", "role", "exp"} <= claims.keys():
        return None
    if not isinstance(claims["exp"], int | float) or claims["exp"] <= now:
        return None
    return claims
