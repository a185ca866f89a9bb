"""What every HTML page of ``guarita/web`` shares: security headers, the page's language, a limit per address.

* ``security_headers``: middleware adding ``SECURITY_HEADERS`` to every answer, refusals
  included: a Content-Security-Policy allowing only this origin's own files (no inline
  script or style, no framing, forms posted only here), ``X-Frame-Options: DENY``,
  ``Referrer-Policy: no-referrer`` (a link's token never leaks to another site),
  ``X-Content-Type-Options: nosniff`` and ``Cache-Control: no-store``. Used by the console
  (``/console``) and the homeowner pages (``/h``).
* ``translator``: the request's language from ``Accept-Language`` (``guarita.web.i18n``).
* ``AddressWindow``: events per remote address in a sliding window, with a bounded number of
  addresses kept (the least recently seen are forgotten first). ``RequestLimiter`` counts
  requests with it (the homeowner pages); the console's ``SignInThrottle`` counts failed
  sign-ins.

Covers: BH-03, BH-07, BH-09, PB-07.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from guarita.web.i18n import Translator, negotiate

__all__ = ["SECURITY_HEADERS", "AddressWindow", "RequestLimiter", "security_headers", "translator"]

SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
ADDRESSES_KEPT = 10_000

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def security_headers(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """Add ``SECURITY_HEADERS`` to every answer, refusals included."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers.update(SECURITY_HEADERS)
        raise
    if not response.prepared:
        response.headers.update(SECURITY_HEADERS)
    return response


def translator(request: web.Request) -> Translator:
    """The request's language, from ``Accept-Language`` (Portuguese unless English is preferred)."""
    return Translator(negotiate(request.headers.get("Accept-Language")))


class AddressWindow:
    """At most ``limit`` events per address in any ``window_s`` seconds (a sliding window)."""

    def __init__(self, limit: int, window_s: float, addresses_kept: int = ADDRESSES_KEPT) -> None:
        self.limit = limit
        self.window_s = window_s
        self._kept = addresses_kept
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, address: str, now: float) -> deque[float]:
        times = self._seen.get(address, deque())
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times

    def wait_s(self, address: str, now: float) -> float:
        """Seconds ``address`` must wait before its next event is within the limit (0: now)."""
        times = self._recent(address, now)
        if len(times) < self.limit:
            return 0.0
        return max(times[0] + self.window_s - now, 0.0)

    def count(self, address: str, now: float) -> None:
        """Count one event from ``address``."""
        times = self._recent(address, now)
        times.append(now)
        self._seen[address] = times
        self._seen.move_to_end(address)  # most recent last, so the longest unseen are dropped first
        while len(self._seen) > self._kept:
            self._seen.popitem(last=False)


class RequestLimiter:
    """At most ``limit`` requests per ``window_s`` seconds from one address."""

    def __init__(self, limit: int = 30, window_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._window = AddressWindow(limit, window_s)

    def allow(self, address: str) -> bool:
        """Count a request from ``address``; False (and not counted) when it is over the limit."""
        now = self._clock()
        if self._window.wait_s(address, now) > 0:
            return False
        self._window.count(address, now)
        return True
