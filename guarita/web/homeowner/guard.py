"""What protects the homeowner pages: headers, a rate limit per address, and form tokens.

* Every answer carries a strict Content-Security-Policy (``default-src 'self'``: no inline
  script or style, nothing from elsewhere), ``X-Frame-Options: DENY``, ``Referrer-Policy:
  no-referrer`` (a link's token never leaks to another site), ``nosniff`` and ``no-store``.
* Each remote address may make ``limit`` requests per ``window_s`` under ``/h/`` (30 a minute
  by default); more get 429. Behind a reverse proxy every request comes from the proxy's
  address: rate-limit at the proxy too (docs/homeowner.md).
* Forms carry a token bound to the invitation (or withdrawal link) and to a random
  ``SameSite=Strict``, ``HttpOnly`` cookie set when the page is shown: a post from another
  site has neither. No session is kept on the server.

Covers: PB-07, BH-07.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from aiohttp import web

__all__ = ["COOKIE", "SECURITY_HEADERS", "RateLimiter", "browser_nonce", "form_token", "form_token_valid", "set_nonce"]

COOKIE = "guarita_h"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
_MAX_ADDRESSES = 10_000


class RateLimiter:
    """At most ``limit`` requests per ``window_s`` seconds from one address (a sliding window)."""

    def __init__(self, limit: int = 30, window_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()

    def allow(self, address: str) -> bool:
        """Count a request from ``address``; False when it is over the limit."""
        now = self._clock()
        times = self._seen.pop(address, None) or deque()
        while times and times[0] <= now - self.window_s:
            times.popleft()
        allowed = len(times) < self.limit
        if allowed:
            times.append(now)
        self._seen[address] = times  # most recent last, so the oldest addresses are dropped first
        while len(self._seen) > _MAX_ADDRESSES:
            self._seen.popitem(last=False)
        return allowed


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
