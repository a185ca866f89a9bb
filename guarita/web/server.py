"""The HTTP server: ``/healthz`` (JSON), ``/metrics`` (Prometheus), the REST API and the homeowner pages.

The REST API (``guarita.web.api``) is a sub-application mounted under ``/api/v1``; the
homeowner pages (``guarita.web.homeowner``) under ``/h/``, on the API's registry and store;
the web console (``guarita.web.console``) under ``/console`` (``/`` leads there), over the API.
``guarita run`` binds the port (:func:`listen_web`) before it starts any other service, so a
port that cannot be bound is a start-up error naming the address and the config key. aiohttp's
server logger would print a malformed request's offending header (a 64 KiB ``Authorization``
holding a bearer token) in its message and traceback; those errors are logged as one line
naming only the kind of error (BH-07).

Covers: PB-05, PB-07, BH-07.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import ssl
import sys
from collections.abc import Callable, MutableMapping
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from guarita.web.api_http import API_CLOCK, API_CONFIG, API_REGISTRY, API_STORE
from guarita.web.api_openapi import API_PREFIX
from guarita.web.api_playback import API_PLAYBACK
from guarita.web.api_views import API_VIDEO
from guarita.web.console import CONSOLE_PREFIX, make_console_app
from guarita.errors import ListenError
from guarita.metrics import Metrics

__all__ = ["HEALTH", "METRICS", "listen_web", "make_web_app", "serve_web"]

log = logging.getLogger(__name__)

HEALTH: web.AppKey[Callable[[], dict[str, Any]]] = web.AppKey("health", Callable[[], dict[str, Any]])  # type: ignore[arg-type]
METRICS: web.AppKey[Metrics] = web.AppKey("metrics", Metrics)


async def _healthz(request: web.Request) -> web.Response:
    report = request.app[HEALTH]()
    return web.json_response(report, status=200 if report["status"] != "failing" else 503)


async def _metrics(request: web.Request) -> web.Response:
    return web.Response(text=request.app[METRICS].render(), content_type="text/plain", charset="utf-8")


def make_web_app(
    health: Callable[[], dict[str, Any]], metrics: Metrics, api: web.Application | None = None
) -> web.Application:
    """The aiohttp app; ``health`` builds the /healthz report on each request; ``api`` goes under /api/v1
    and the web console over it under /console."""
    app = web.Application()
    app[HEALTH] = health
    app[METRICS] = metrics
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/metrics", _metrics)
    if api is not None:
        app.add_subapp(API_PREFIX, api)
        if API_VIDEO in api:
            api[API_VIDEO].report_to(metrics)
        if API_PLAYBACK in api:
            api[API_PLAYBACK].exports.on_failure = metrics.playback_export_cleanup_failures.inc
    if api is not None and API_REGISTRY in api:
        # The homeowner pages and the console act on the same registry, store and clock as the
        # API (PB-07); an API app built without a registry (a route module's own tests) gets neither.
        from guarita.web.homeowner.pages import HOMEOWNER_PREFIX, make_homeowner_app

        app.add_subapp(HOMEOWNER_PREFIX, make_homeowner_app(api[API_CONFIG], api[API_REGISTRY], api[API_STORE],
                                                            api[API_CLOCK]))
        app.add_subapp(CONSOLE_PREFIX, make_console_app(api))
        app.router.add_get("/", _to_console)
    return app


async def _to_console(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther(f"{CONSOLE_PREFIX}/")


class _RequestErrorLog(logging.LoggerAdapter[logging.Logger]):
    """aiohttp's server logger, minus the request text its parse errors carry (it may hold a token)."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        exc_info = kwargs.get("exc_info")
        error = sys.exc_info()[1] if exc_info is True else exc_info
        if isinstance(exc_info, tuple):
            error = exc_info[1]
        if isinstance(error, HttpProcessingError):
            kwargs.pop("exc_info")
            msg = f"{msg}: malformed request refused with {error.code} ({type(error).__name__}; details withheld)"
        return msg, kwargs


def _reason(exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return "address already in use"
    if exc.errno == errno.EACCES:
        return "permission denied (ports below 1024 need privileges)"
    return (exc.strerror or str(exc)).lower()


async def listen_web(app: web.Application, host: str, port: int, key: str = "web.port", *,
                     ssl_context: ssl.SSLContext | None = None) -> tuple[web.AppRunner, int]:
    """Bind ``host:port`` and serve ``app`` (HTTPS with ``ssl_context``); return the runner
    (``cleanup()`` stops it) and the port bound.

    Raises:
        ListenError: the port cannot be bound; the message names the address and ``key``.
    """
    runner = web.AppRunner(app, access_log=None, logger=_RequestErrorLog(logging.getLogger("aiohttp.server")))
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise ListenError(f"cannot listen on {host}:{port} ({key}): {_reason(exc)}") from exc
    except BaseException:
        await runner.cleanup()
        raise
    actual = int(runner.addresses[0][1]) if runner.addresses else port
    log.info("health and metrics on %s://%s:%d/healthz", "https" if ssl_context else "http", host, actual)
    return runner, actual


async def serve_web(app: web.Application, host: str, port: int, stop: asyncio.Event, bound: asyncio.Future[int]) -> None:
    """Serve ``app`` until ``stop``; ``bound`` receives the port actually bound.

    Raises:
        ListenError: the port cannot be bound.
    """
    runner, actual = await listen_web(app, host, port)
    try:
        if not bound.done():
            bound.set_result(actual)
        await stop.wait()
    finally:
        await runner.cleanup()
