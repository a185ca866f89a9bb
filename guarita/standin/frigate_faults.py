"""Make the Frigate stand-in misbehave the way a real Frigate does while it restarts.

Contract §9: while Frigate restarts, its nginx answers 500 or 502 to every ``/api`` path (the
``/auth`` sub-request fails) for several seconds, then connections are refused, then it is
back. :class:`FrigateFaults` switches a stand-in app between those states:

* ``HTTP_500`` / ``HTTP_502``: nginx's HTML error page for every path, before any auth check;
* ``TIMEOUT``: the request is held without an answer until the fault changes, then gets the
  504 nginx sends once its upstream timed out (the client has usually given up by then);
* ``REFUSED``: the listening socket is closed (new connections are refused) and a request on a
  kept-alive connection has that connection dropped; :meth:`FrigateFaults.clear` listens again
  on the same port.

Use: ``faults = FrigateFaults.install(app)`` before serving it, then ``await
faults.set(FaultKind.HTTP_500, runner)`` and ``await faults.clear(runner)``.
:func:`frigate_restart` plays the whole sequence.

Covers: PB-05, DT-02, DT-08.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from enum import StrEnum

from aiohttp import web

__all__ = ["FRIGATE_RESTART", "FaultKind", "FrigateFaults", "frigate_restart"]


class FaultKind(StrEnum):
    """How the stand-in misbehaves."""

    HTTP_500 = "500"
    HTTP_502 = "502"
    TIMEOUT = "timeout"
    REFUSED = "refused"


FRIGATE_RESTART = (FaultKind.HTTP_500, FaultKind.HTTP_502, FaultKind.TIMEOUT, FaultKind.REFUSED)
"""Every fault a Frigate restart shows a client, in the order it shows them."""

_TITLES = {500: "500 Internal Server Error", 502: "502 Bad Gateway", 504: "504 Gateway Time-out"}


def _nginx_page(status: int) -> web.Response:
    title = _TITLES[status]
    body = (f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n"
            "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
    return web.Response(status=status, text=body, content_type="text/html")


class FrigateFaults:
    """The fault switch of one stand-in app; :attr:`kind` is None while it behaves."""

    def __init__(self) -> None:
        self.kind: FaultKind | None = None
        self.requests_faulted = 0
        self._changed = asyncio.Event()
        self._address: tuple[str, int] | None = None

    @classmethod
    def install(cls, app: web.Application) -> FrigateFaults:
        """Put the fault middleware first in ``app``'s chain (call before serving ``app``)."""
        faults = cls()

        @web.middleware
        async def frigate_faults(
            request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
        ) -> web.StreamResponse:
            return await faults._answer(request, handler)

        app.middlewares.insert(0, frigate_faults)
        return faults

    async def _answer(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        kind = self.kind
        if kind is None:
            return await handler(request)
        self.requests_faulted += 1
        if kind is FaultKind.HTTP_500:
            return _nginx_page(500)
        if kind is FaultKind.HTTP_502:
            return _nginx_page(502)
        if kind is FaultKind.TIMEOUT:
            while self.kind is FaultKind.TIMEOUT:
                await self._changed.wait()
            return _nginx_page(504)
        if request.transport is not None:  # REFUSED, on a connection opened before: drop it
            request.transport.close()
        return _nginx_page(502)  # never reaches the client

    async def set(self, kind: FaultKind | None, runner: web.AppRunner) -> None:
        """Switch to ``kind`` (None: behave again); ``runner`` is what serves the app."""
        if kind is FaultKind.REFUSED and self.kind is not FaultKind.REFUSED:
            self._address = (str(runner.addresses[0][0]), int(runner.addresses[0][1]))
            for site in list(runner.sites):
                await site.stop()
        elif kind is not FaultKind.REFUSED and self.kind is FaultKind.REFUSED:
            assert self._address is not None
            host, port = self._address
            await web.TCPSite(runner, host, port).start()
        self.kind = kind
        self._changed.set()
        self._changed = asyncio.Event()

    async def clear(self, runner: web.AppRunner) -> None:
        """Behave again (listening again on the same port after ``REFUSED``)."""
        await self.set(None, runner)


async def frigate_restart(faults: FrigateFaults, runner: web.AppRunner, phase_s: float,
                          *, timeout_phase_s: float | None = None) -> None:
    """Play a Frigate restart: 500, 502, request timeouts, refused connections, then back.

    Each phase lasts ``phase_s`` (a real restart: several seconds each); the timeout phase lasts
    ``timeout_phase_s`` when given, so that it can outlast a client's own timeout.
    """
    try:
        for kind in FRIGATE_RESTART:
            await faults.set(kind, runner)
            await asyncio.sleep(timeout_phase_s if kind is FaultKind.TIMEOUT and timeout_phase_s else phase_s)
    finally:
        await faults.clear(runner)
