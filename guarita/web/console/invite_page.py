"""The console's homeowner invitation: choose a client and its cop_bh cameras, confirm, and the
one-time link is shown once, with its QR code as an SVG drawn in the page.

It calls ``create_invitation`` as ``guarita consent invite`` does (audited there as
``invitation.create`` in the same transaction); the link's token is kept only as
its SHA-256, so the page cannot show it again. Who may invite: the roles that may record a
consent (the API's ``grantConsent``).

Covers: PB-07, BH-03, BH-09.
"""

from __future__ import annotations

from typing import Any

import segno
from aiohttp import web
from markupsafe import Markup

from guarita.config import ProgramName
from guarita.errors import GuaritaError
from guarita.web.console.auth import page
from guarita.web.console.overview import local_text
from guarita.web.console.render import render, translator
from guarita.web.console.session import Operator
from guarita.web.console.state import CONSOLE_PREFIX, clock_of, config_of, registry_of, store_of
from guarita.web.homeowner.invitations import DEFAULT_DAYS, create_invitation

__all__ = ["add_invite_routes", "qr_svg"]


def qr_svg(link: str, label: str) -> Markup:
    """``link`` as a QR code: an ``<svg>`` element (no script, no style) named ``label``."""
    svg = segno.make(link, error="m").svg_inline(scale=4, border=4, title=label, dark="#000", light="#fff")
    return Markup(svg.replace("<svg ", '<svg role="img" class="qr" ', 1))


def _cop_bh_cameras(request: web.Request) -> list[str]:
    return sorted(name for name, camera in config_of(request).cameras.items()
                  if ProgramName.COP_BH in camera.programs)


async def _form(request: web.Request, operator: Operator, *, values: dict[str, Any] | None = None,
                error: str | None = None, status: int = 200) -> web.Response:
    t = translator(request)
    return await render(request, "invite.html", {
        "title": t("invite.title"), "clients": registry_of(request).clients(), "cameras": _cop_bh_cameras(request),
        "values": values or {"days": f"{DEFAULT_DAYS:g}"}, "error": error,
    }, operator=operator, status=status)


@page("grantConsent")
async def _get_invite(request: web.Request, operator: Operator) -> web.StreamResponse:
    return await _form(request, operator)


@page("grantConsent")
async def _post_invite(request: web.Request, operator: Operator) -> web.StreamResponse:
    """First the confirmation page; with ``confirm=yes``, the invitation, shown once."""
    t = translator(request)
    form = await request.post()
    client = str(form.get("client", "")).strip()
    cameras = [str(c) for c in form.getall("cameras", [])]
    days_text = str(form.get("days", "")).strip() or f"{DEFAULT_DAYS:g}"
    values = {"client": client, "cameras": cameras, "days": days_text}
    try:
        days = float(days_text)
    except ValueError:
        return await _form(request, operator, values=values, error=t("invite.days.wrong"), status=400)
    if not client or not cameras:
        return await _form(request, operator, values=values, error=t("invite.missing"), status=400)
    if form.get("confirm") != "yes":
        return await render(request, "action_confirm.html", {
            "title": t("invite.confirm"),
            "summary": [t("forms.summary.client", client=client),
                        t("invite.summary.cameras", cameras=", ".join(cameras)),
                        t("invite.summary.days", days=days_text)],
            "hidden": [("client", client), ("days", days_text), *(("cameras", c) for c in cameras)],
            "action_url": f"{CONSOLE_PREFIX}/invitations",
            "back": f"{CONSOLE_PREFIX}/invitations",
        }, operator=operator)
    try:
        made = create_invitation(config_of(request), store_of(request), registry_of(request), client_id=client,
                                 cameras=cameras, by=operator.name, clock=clock_of(request), days=days)
    except GuaritaError as exc:
        return await _form(request, operator, values=values, error=str(exc), status=409)
    invitation = made.invitation
    return await render(request, "invite_done.html", {
        "title": t("invite.done.title"), "link": made.link,
        "qr": qr_svg(made.link, t("invite.qr", client=invitation.client_id)),
        "client": invitation.client_id, "cameras": ", ".join(invitation.cameras),
        "expires": local_text(invitation.expires_at.isoformat(), t),
    }, operator=operator, status=201)


def add_invite_routes(app: web.Application) -> None:
    """``GET``/``POST /invitations``."""
    app.router.add_get("/invitations", _get_invite)
    app.router.add_post("/invitations", _post_invite)
