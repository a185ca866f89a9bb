"""What protects the homeowner pages' forms: tokens bound to the link and to a browser cookie.

The security headers and the rate limit per address (``RequestLimiter``: 30 requests a minute
under ``/h/`` by default, more get 429; behind a reverse proxy every request comes from the
proxy's address, so rate-limit at the proxy too, docs/homeowner.md) are
``guarita.web.protection``'s, shared with the console.

* Forms carry a token bound to the invitation (or withdrawal link) and to a random
  ``SameSite=Strict``, ``HttpOnly`` cookie set when the page is shown: a post from another
  site has neither. No session is kept on the server.

Covers: PB-07, BH-07.
"""

from __future__ import annotations

import hmac
import secrets

from aiohttp import web

__all__ = ["COOKIE", "browser_nonce", "form_token", "form_token_valid", "set_nonce"]

COOKIE = "guarita_h"


def browser_nonce(request: web.Request) -> tuple[str, bool]:
    """The browser's cookie value, and whether it must be set (it had none or a malformed one)."""
    given = request.cookies.get(COOKIE, "")
    if 20 <= len(given) <= 64 and given.replace("-", "").replace("_", "").isalnum():
        return given, False
    return secrets.token_urlsafe(24), True


def set_nonce(response: web.StreamResponse, nonce: str, secure: bool) -> None:
    """Give the browser its cookie (for the forms under /h/ only)."""
    response.set_cookie(COOKIE, nonce, path="/h/", httponly=True, samesite="Strict", secure=secure)


def form_token(key: bytes, purpose: str, link_id: int, nonce: str) -> str:
    """The token a form carries: bound to what it acts on and to the browser's cookie."""
    return hmac.new(key, f"{purpose}:{link_id}:{nonce}".encode(), "sha256").hexdigest()


def form_token_valid(key: bytes, purpose: str, link_id: int, request: web.Request, given: str) -> bool:
    """True when ``given`` is this browser's token for ``purpose`` on ``link_id``."""
    nonce = request.cookies.get(COOKIE, "")
    if not nonce or not given:
        return False
    return hmac.compare_digest(form_token(key, purpose, link_id, nonce), given)
