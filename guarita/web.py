"""The health and metrics server: ``/healthz`` (JSON) and ``/metrics`` (Prometheus).

Covers: PB-05.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web

from guarita.metrics import Metrics

__all__ = ["HEALTH", "METRICS", "make_web_app", "serve_web"]

log = logging.getLogger(__name__)

HEALTH: web.AppKey[Callable[[], dict[str, Any]]] = web.AppKey("health", Callable[[], dict[str, Any]])  # type: ignore[arg-type]
METRICS: web.AppKey[Metrics] = web.AppKey("metrics", Metrics)


async def _healthz(request: web.Request) -> web.Response:
    report = request.app[HEALTH]()
    return web.json_response(report, status=200 if report["status"] != "failing" else 503)


async def _metrics(request: web.Request) -> web.Response:
    return web.Response(text=request.app[METRICS].render(), content_type="text/plain", charset="utf-8")


def make_web_app(health: Callable[[], dict[str, Any]], metrics: Metrics) -> web.Application:
    """The aiohttp app; ``health`` builds the /healthz report on each request."""
    app = web.Application()
    app[HEALTH] = health
    app[METRICS] = metrics
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/metrics", _metrics)
    return app


async def serve_web(app: web.Application, host: str, port: int, stop: asyncio.Event, bound: asyncio.Future[int]) -> None:
    """Serve ``app`` until ``stop``; ``bound`` receives the port actually bound."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        actual = sockets[0].getsockname()[1] if sockets else port
        log.info("health and metrics on http://%s:%d/healthz", host, actual)
        if not bound.done():
            bound.set_result(actual)
        await stop.wait()
    finally:
        await runner.cleanup()
