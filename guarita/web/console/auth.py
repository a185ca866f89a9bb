"""Signing in to the console (a ``web.users`` password or a ``web.tokens`` token), signing out,
and the role check every page goes through.

A failed sign-in is audited (``console.sign_in.refused``: the address, how, why, and the
name only when it is a configured user: never what was typed as a password or token) and
counted against the address; past ``MAX_FAILURES`` in ``WINDOW_S`` seconds the address is
refused without checking anything (429, audited once per window as
``console.sign_in.throttled``). A success is audited as ``console.sign_in``, a sign-out as
``console.sign_out``. Unknown names cost the same scrypt work as known ones.

Covers: BH-07, BH-09.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from guarita import audit
from guarita.web.api_http import token_caller
from guarita.web.console.render import render, translator
from guarita.web.console.session import Operator, get_session, operator_of, sign_in
from guarita.web.console.state import CONSOLE_PREFIX, CONSOLE_THROTTLE, config_of, roles_of, store_of
from guarita.web.passwords import PasswordFileError, check_password, hash_password, read_password_hash

__all__ = ["Page", "add_auth_routes", "audit_console", "page"]

log = logging.getLogger(__name__)

Page = Callable[[web.Request, Operator], Awaitable[web.StreamResponse]]
# What an unknown name is checked against, so it costs the same as a known one.
_DUMMY_HASH = hash_password("not a password of anyone")


def audit_console(request: web.Request, actor: str, action: str, details: dict[str, Any]) -> None:
    """Append a console entry to the audit log (subject: the browser's address)."""
    with store_of(request).transaction() as db:
        audit.append(db, at=time.time(), actor=actor, action=action, subject=request.remote or "unknown",
                     details=details)


def page(operation_id: str) -> Callable[[Page], Callable[[web.Request], Awaitable[web.StreamResponse]]]:
    """A page for the roles of the API's ``operation_id``: sign-in first, 403 for other roles."""
    roles = roles_of(operation_id)

    def wrap(handler: Page) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        @functools.wraps(handler)
        async def handle(request: web.Request) -> web.StreamResponse:
            operator = await operator_of(request, config_of(request))
            if operator is None:
                if request.method == "GET":
                    raise web.HTTPSeeOther(f"{CONSOLE_PREFIX}/sign-in?next={request.path}")
                t = translator(request)
                return await render(request, "refused.html", {"title": t("signin.required"),
                                                              "message": t("signin.required.message")},
                                    operator=None, status=401)
            if operator.role not in roles:
                t = translator(request)
                return await render(request, "refused.html", {
                    "title": t("role.refused.title"),
                    "message": t("role.refused.message", role=t(f"role.{operator.role.value}")),
                }, operator=operator, status=403)
            return await handler(request, operator)

        return handle

    return wrap


async def _sign_in_page(request: web.Request, *, error: str | None = None, status: int = 200,
                        name: str = "") -> web.Response:
    config = config_of(request)
    return await render(request, "sign_in.html", {
        "title": translator(request)("signin.title"), "error": error, "name": name, "next": _safe_next(request.query.get("next", "")),
        "passwords": bool(config.web.users), "tokens": bool(config.web.tokens),
    }, operator=None, status=status)


def _safe_next(target: str) -> str:
    """Only a console path: never another site (an open redirect)."""
    if target.startswith(CONSOLE_PREFIX + "/") and not target.startswith("//") and "\\" not in target:
        return target
    return f"{CONSOLE_PREFIX}/overview"


async def _get_sign_in(request: web.Request) -> web.StreamResponse:
    operator = await operator_of(request, config_of(request))
    if operator is not None:
        raise web.HTTPSeeOther(f"{CONSOLE_PREFIX}/overview")
    return await _sign_in_page(request)


async def _check(request: web.Request, form: Any) -> tuple[str | None, str, dict[str, Any]]:
    """(the name signed in or None, how, what to audit)."""
    config = config_of(request)
    token = str(form.get("token", "")).strip()
    if token:
        caller = token_caller(config, token)
        return (caller.name if caller else None), "token", {"method": "token", "why": "unknown token"}
    name = str(form.get("name", "")).strip()
    password = str(form.get("password", ""))
    user = config.web.users.get(name)
    line = _DUMMY_HASH
    if user is not None:
        try:
            line = await asyncio.to_thread(read_password_hash, user.password_hash_file)
        except PasswordFileError as exc:
            log.error("console sign-in of %s: %s", name, exc)
            return None, "password", {"method": "password", "name": name, "why": "password hash file unusable"}
    matches = await asyncio.to_thread(check_password, password, line)
    if user is None:
        return None, "password", {"method": "password", "why": "unknown user"}
    if not matches:
        return None, "password", {"method": "password", "name": name, "why": "wrong password"}
    return name, "password", {}


async def _post_sign_in(request: web.Request) -> web.StreamResponse:
    t = translator(request)
    throttle = request.app[CONSOLE_THROTTLE]
    address = request.remote or "unknown"
    now = time.monotonic()
    wait = throttle.wait_s(address, now)
    if wait > 0:
        if throttle.first_refusal(address, now):
            audit_console(request, "unknown", "console.sign_in.throttled", {"wait_s": round(wait)})
        return await _sign_in_page(request, error=t("signin.throttled", minutes=max(1, round(wait / 60))),
                                   status=429)
    form = await request.post()
    name, method, refusal = await _check(request, form)
    if name is None:
        throttle.failed(address, now)
        audit_console(request, str(refusal.get("name", "unknown")), "console.sign_in.refused", refusal)
        return await _sign_in_page(request, error=t("signin.failed"), status=401,
                                   name=str(form.get("name", "")) if method == "password" else "")
    session = await get_session(request)
    sign_in(session, name, method)
    operator = await operator_of(request, config_of(request))
    assert operator is not None
    audit_console(request, name, "console.sign_in", {"method": method, "role": operator.role.value})
    raise web.HTTPSeeOther(_safe_next(str(form.get("next", ""))))


async def _post_sign_out(request: web.Request) -> web.StreamResponse:
    operator = await operator_of(request, config_of(request))
    session = await get_session(request)
    if operator is not None:
        audit_console(request, operator.name, "console.sign_out", {"method": operator.method})
    session.invalidate()
    raise web.HTTPSeeOther(f"{CONSOLE_PREFIX}/sign-in")


def add_auth_routes(app: web.Application) -> None:
    """``GET``/``POST /sign-in`` and ``POST /sign-out``."""
    app.router.add_get("/sign-in", _get_sign_in)
    app.router.add_post("/sign-in", _post_sign_in)
    app.router.add_post("/sign-out", _post_sign_out)
