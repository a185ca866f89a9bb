"""Rendering console pages: the language, the signed-in operator, the CSRF token, the headers.

Every console answer (pages, refusals, the live stream, static files) carries the security
headers of ``guarita.web.protection`` (shared with the homeowner pages), whose ``translator``
gives the page's language. Pages are Jinja2 templates with autoescape on.

Covers: BH-07, BH-09.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from guarita.web.console.session import CSRF_FIELD, Operator, csrf_token, get_session
from guarita.web.console.state import CONSOLE_PREFIX, config_of, roles_of
from guarita.web.protection import SECURITY_HEADERS, security_headers, translator

__all__ = ["SECURITY_HEADERS", "csrf_checked", "nav_items", "render", "security_headers", "translator"]

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def nav_items(operator: Operator | None) -> list[tuple[str, str]]:
    """(path, message key) of the pages ``operator``'s role may open."""
    if operator is None:
        return []
    pages = [("overview", "readSummary", "nav.overview"), ("cameras", "listCameras", "nav.cameras"),
             ("clients", "listClients", "nav.clients"), ("evidence", "listClients", "nav.evidence"),
             ("audit", "verifyAudit", "nav.audit"), ("fleet/vehicles", "listVehicleEvents", "nav.fleet")]
    return [(f"{CONSOLE_PREFIX}/{path}", key) for path, operation, key in pages if operator.role in roles_of(operation)]


async def render(request: web.Request, template: str, context: Mapping[str, Any], *,
                 operator: Operator | None, status: int = 200) -> web.Response:
    """``template`` with the language, the operator, the navigation and the CSRF token."""
    session = await get_session(request)
    t = translator(request)
    config = config_of(request)
    full = {
        "t": t,
        "lang": t.language,
        "operator": operator,
        "nav": [n for n in nav_items(operator) if config.fleet is not None or "/fleet/" not in n[0]],
        "here": request.path,
        "csrf": csrf_token(session),
        "csrf_field": CSRF_FIELD,
        "provider": config.provider.name,
        "prefix": CONSOLE_PREFIX,
        **context,
    }
    return aiohttp_jinja2.render_template(f"console/{template}", request, full, status=status)


@web.middleware
async def csrf_checked(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """Refuse (403, with a page saying why) any POST whose form lacks the session's CSRF token."""
    if request.method == "POST":
        session = await get_session(request)
        expected = session.get(CSRF_FIELD)
        form = await request.post()
        given = form.get(CSRF_FIELD)
        if not isinstance(expected, str) or not isinstance(given, str) or not hmac.compare_digest(
            given.encode(), expected.encode()
        ):
            t = translator(request)
            return await render(request, "refused.html", {
                "title": t("csrf.title"), "message": t("csrf.message"),
            }, operator=None, status=403)
    return await handler(request)
