"""The web console's application, mounted at ``/console`` beside the REST API.

Server-rendered pages (Jinja2, autoescape on) from ``guarita/web/templates``, our own CSS
and script from ``guarita/web/static``, sessions in an encrypted cookie, a CSRF token
checked on every POST, and the security headers on every answer. See docs/console.md.

Covers: BH-03, BH-07, BH-09.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from guarita.web.api_http import API_CONFIG
from guarita.web.console.audit_page import add_audit_routes
from guarita.web.console.auth import add_auth_routes
from guarita.web.console.camera_forms import add_camera_form_routes, upload_limit
from guarita.web.console.cameras import add_camera_routes
from guarita.web.console.invite_page import add_invite_routes
from guarita.web.console.map_page import add_map_routes
from guarita.web.console.clients import add_client_routes
from guarita.web.console.evidence_pages import add_evidence_routes
from guarita.web.console.fleet import add_fleet_routes
from guarita.web.console.messages import add_console_messages
from guarita.web.console.overview import add_overview_routes
from guarita.web.console.render import csrf_checked, security_headers
from guarita.web.console.session import COOKIE, ConsoleCookies, session_key, sessions
from guarita.web.console.state import CONSOLE_API, CONSOLE_PREFIX, CONSOLE_STOP, CONSOLE_THROTTLE
from guarita.web.console.throttle import SignInThrottle

__all__ = ["STATIC_DIR", "TEMPLATES_DIR", "make_console_app"]

WEB_DIR = Path(__file__).resolve().parents[1]
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"


async def _index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther(f"{CONSOLE_PREFIX}/overview")


async def _stop_streams(app: web.Application) -> None:
    """At shutdown: end the live update streams, so none holds the server open."""
    app[CONSOLE_STOP].set()


def make_console_app(api: web.Application) -> web.Application:
    """The console sub-application over the API application ``api``; mount it at ``CONSOLE_PREFIX``."""
    config = api[API_CONFIG]
    cookies = ConsoleCookies(
        session_key(config), cookie_name=COOKIE, path=CONSOLE_PREFIX, httponly=True, samesite="Strict",
        max_age=int(config.web.session_idle_minutes * 60),
    )
    app = web.Application(middlewares=[security_headers, upload_limit, sessions(cookies), csrf_checked])
    app[CONSOLE_API] = api
    app[CONSOLE_STOP] = asyncio.Event()
    app[CONSOLE_THROTTLE] = SignInThrottle()
    add_console_messages()
    aiohttp_jinja2.setup(
        app, loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)), autoescape=jinja2.select_autoescape(["html"]),
    )
    app.router.add_get("/", _index)
    add_auth_routes(app)
    add_overview_routes(app)
    add_camera_routes(app)
    add_camera_form_routes(app)
    add_invite_routes(app)
    add_map_routes(app)
    add_audit_routes(app)
    add_client_routes(app)
    add_evidence_routes(app)
    add_fleet_routes(app)
    app.router.add_static("/static", STATIC_DIR)
    app.on_shutdown.append(_stop_streams)
    return app
