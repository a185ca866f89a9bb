"""The console's clients: the list, adding one (CPF/CNPJ checked, kept only as its keyed hash),
a client's details (cameras, consents with their state, withdrawals) and the LGPD access report.

Adding calls ``Registry.add_client`` (audited there as ``client.add``), as ``guarita
clients add`` and ``POST /api/v1/clients`` do, after a confirmation step. The details and the
report come from ``retention.client_report.client_report`` (what ``guarita report client``
prints), the consent state from ``consent.status.camera_statuses``. Reads are audited as the
API's (``api.read``). Who may do what is the API's role table (``listClients``, ``addClient``).

Covers: BH-03, BH-07, BH-09, PB-03.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from guarita.consent.registry import RegistryRefusal, normalise_document
from guarita.consent.status import camera_statuses
from guarita.retention.client_report import client_report, client_report_markdown
from guarita.retention.footage import RetentionError
from guarita.web.console.auth import page
from guarita.web.console.overview import local_text
from guarita.web.console.render import render, translator
from guarita.web.console.session import Operator
from guarita.web.console.state import CONSOLE_PREFIX, clock_of, config_of, registry_of, roles_of, store_of, audit_read

__all__ = ["add_client_routes", "confirm_page"]

MAX_FIELD = 200


async def confirm_page(request: web.Request, operator: Operator, *, title: str, text: str, action: str,
                       fields: Mapping[str, str | list[str]], submit: str, cancel: str) -> web.Response:
    """The confirmation step of a form: what will happen, the form again as hidden fields, yes or back."""
    hidden: list[tuple[str, str]] = []
    for name, value in fields.items():
        hidden += [(name, v) for v in value] if isinstance(value, list) else [(name, value)]
    return await render(request, "confirm.html", {"title": title, "text": text, "action": action, "fields": hidden,
                                                  "submit": submit, "cancel": cancel}, operator=operator)


def _field(form: Any, name: str) -> str:
    return str(form.get(name, "")).strip()[:MAX_FIELD]


async def _clients_page(request: web.Request, operator: Operator, *, error: str | None = None,
                        form: dict[str, str] | None = None, status: int = 200) -> web.Response:
    t = translator(request)
    clients = registry_of(request).clients()
    rows = [{"id": c.client_id, "name": c.name, "contact": c.contact, "document": c.has_document,
             "recorded": local_text(c.recorded_at.isoformat(), t), "by": c.recorded_by} for c in clients]
    return await render(request, "clients.html", {
        "title": t("nav.clients"), "rows": rows, "error": error, "form": form or {},
        "may_add": operator.role in roles_of("addClient"), "done": request.query.get("done"),
    }, operator=operator, status=status)


@page("listClients")
async def _get_clients(request: web.Request, operator: Operator) -> web.StreamResponse:
    audit_read(request, operator)
    return await _clients_page(request, operator)


@page("addClient")
async def _post_client(request: web.Request, operator: Operator) -> web.StreamResponse:
    """First the confirmation page; with ``confirm=yes``, ``Registry.add_client``."""
    form = await request.post()
    t = translator(request)
    given = {name: _field(form, name) for name in ("id", "name", "document", "contact")}
    try:
        if not given["id"] or not given["name"]:
            raise RegistryRefusal(t("client.missing"))
        if given["document"]:
            normalise_document(given["document"])  # refused before the confirmation, not after
    except RegistryRefusal as exc:
        return await _clients_page(request, operator, error=str(exc), form=given, status=400)
    if form.get("confirm") != "yes":
        existed = any(c.client_id == given["id"] for c in registry_of(request).clients())
        return await confirm_page(
            request, operator, title=t("client.confirm.title", client=given["id"]),
            text=t("client.confirm.update" if existed else "client.confirm.add", client=given["id"],
                   name=given["name"]),
            action=f"{CONSOLE_PREFIX}/clients", fields=given, submit=t("client.confirm.submit"),
            cancel=f"{CONSOLE_PREFIX}/clients")
    try:
        registry_of(request).add_client(given["id"], given["name"], by=operator.name,
                                        document=given["document"] or None, contact=given["contact"] or None)
    except RegistryRefusal as exc:
        return await _clients_page(request, operator, error=str(exc), form=given, status=400)
    raise web.HTTPSeeOther(f"{CONSOLE_PREFIX}/clients/{given['id']}?done=added")


def _report(request: web.Request) -> dict[str, Any]:
    try:
        return client_report(store_of(request).db, request.match_info["client"])
    except RetentionError:
        raise web.HTTPNotFound(text=translator(request)("client.unknown", client=request.match_info["client"])) \
            from None


@page("listClients")
async def _get_client(request: web.Request, operator: Operator) -> web.StreamResponse:
    report = _report(request)
    audit_read(request, operator)
    t = translator(request)
    config = config_of(request)
    statuses = {s.camera: s for s in camera_statuses(config, registry_of(request).snapshot(), clock_of(request)())}
    cameras = []
    for camera in report["cameras"]:
        status = statuses.get(camera)
        owner = status is not None and status.client == report["client_id"]
        if status is None or not owner:
            state = t("client.camera.gone") if status is None else t("client.camera.other")
        elif status.consent_revoked is not None:
            state = t("client.consent.revoked", at=local_text(status.consent_revoked.isoformat(), t))
        elif status.consent_since is not None:
            state = t("client.consent.active", programs=", ".join(status.consent_programs),
                      since=local_text(status.consent_since.isoformat(), t))
        else:
            state = t("camera.consent.none")
        cameras.append({"camera": camera, "state": state, "configured": status is not None})
    consents = [{**row, "programs": ", ".join(row.get("programs") or []),
                 "at": local_text(row["recorded_at"], t)} for row in report["consents"]]
    latest = report["records"][-1]
    return await render(request, "client.html", {
        "title": t("client.title", client=report["client_id"]), "client": report["client_id"], "record": latest,
        "cameras": cameras, "consents": consents,
        "withdrawals": [c for c in consents if c["action"] == "revoke"],
        "requests": report["evidence_requests"],
        "message": t("client.added") if request.query.get("done") == "added" else None,
    }, operator=operator)


@page("listClients")
async def _get_report(request: web.Request, operator: Operator) -> web.StreamResponse:
    """The LGPD access report, as ``guarita report client`` writes it (Markdown, or JSON)."""
    report = _report(request)
    audit_read(request, operator)
    client = report["client_id"]
    if request.match_info["format"] == "json":
        body, kind = json.dumps(report, indent=2, ensure_ascii=False), "application/json"
    else:
        body, kind = client_report_markdown(report), "text/markdown"
    return web.Response(text=body, content_type=kind, charset="utf-8", headers={
        "Content-Disposition": f'attachment; filename="lgpd-{client}.{request.match_info["format"]}"'})


def add_client_routes(app: web.Application) -> None:
    """The client pages and forms."""
    app.router.add_get("/clients", _get_clients)
    app.router.add_post("/clients", _post_client)
    app.router.add_get("/clients/{client}", _get_client)
    app.router.add_get(r"/clients/{client}/report.{format:md|json}", _get_report)
