"""The homeowner pages under ``/h/``: accept an invitation, see the receipt, withdraw.

Server-rendered (jinja2, autoescaped), no JavaScript, no account. Every write goes through
the consent registry's own methods (``Registry.grant_all``, ``Registry.revoke``,
``Registry.add_client``), so it is audited and applied by ``guarita run`` within 0.25 s
exactly as a CLI or API change is.

* ``GET /h/i/<token>``: the provider, each invited camera's masked snapshot
  (``/h/i/<token>/camera/<n>.jpg``), what sharing means, the term (version, SHA-256) and
  the form. ``POST`` records the consent with the signed acceptance record as evidence.
* ``GET /h/w/<token>``: what stops; ``POST`` withdraws. ``/h/w/<token>/receipt`` prints.
* A used, expired or unknown link gets the same page (410 or 404, same body).

Covers: PB-07, BH-03, BH-04, BH-07.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import sqlite3
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import aiohttp
import aiohttp_jinja2
import jinja2
from aiohttp import web

from guarita import audit
from guarita.config import GuaritaConfig, ProgramName
from guarita.consent.registry import Registry, RegistryRefusal
from guarita.errors import GuaritaError, StoreError
from guarita.key_file import make_key_file
from guarita.local_time import local_zone
from guarita.store import Store
from guarita.web.homeowner.acceptance import Acceptance, signed_acceptance
from guarita.web.homeowner.guard import COOKIE, browser_nonce, form_token, form_token_valid, set_nonce
from guarita.web.homeowner.invitations import (
    Invitation,
    WithdrawalLink,
    find_invitation,
    find_withdrawal_link,
    mark_withdrawal_used,
    use_invitation,
    withdrawal_link,
)
from guarita.web.homeowner.strings import add_homeowner_messages
from guarita.web.homeowner.term import current_term
from guarita.web.protection import RequestLimiter, security_headers, translator

__all__ = ["HOMEOWNER_PREFIX", "make_homeowner_app"]

log = logging.getLogger(__name__)

HOMEOWNER_PREFIX = "/h"
FORM_KEY = Path("keys") / "homeowner-form.key"
_TEMPLATES: web.AppKey[jinja2.Environment] = web.AppKey("homeowner_templates", jinja2.Environment)
_MAX_FORM_BYTES = 16 * 1024
_WITHDRAW_REASON = "withdrawn by the homeowner through the withdrawal link"
_STYLESHEET = f"{HOMEOWNER_PREFIX}/static/homeowner.css"


@dataclass
class _State:
    config: GuaritaConfig
    registry: Registry
    store: Store
    clock: Callable[[], datetime]
    limiter: RequestLimiter
    _form_key: bytes | None = field(default=None)

    def form_key(self) -> bytes:
        if self._form_key is None:
            self._form_key = make_key_file(self.config.storage.data_dir / FORM_KEY)
        return self._form_key


_STATE: web.AppKey[_State] = web.AppKey("homeowner_state", _State)


def _state(request: web.Request) -> _State:
    return request.config_dict[_STATE]


def _local(moment: datetime) -> str:
    return moment.astimezone(local_zone()).strftime("%d/%m/%Y %H:%M")


def _render(request: web.Request, template: str, context: Mapping[str, Any], status: int = 200) -> web.Response:
    t = translator(request)
    full = {"t": t, "lang": t.language, **context}
    return aiohttp_jinja2.render_template(template, request, full, status=status, app_key=_TEMPLATES)


def _neutral(request: web.Request, known: bool) -> web.Response:
    """The one answer for a used, expired or unknown link: same body, 410 or 404."""
    return _render(request, "neutral.html", {}, status=410 if known else 404)


def _message(request: web.Request, title: str, body: str, status: int) -> web.Response:
    return _render(request, "message.html", {"title_key": f"home.{title}", "body_key": f"home.{body}"}, status=status)


# ---- invitation ------------------------------------------------------------------------
def _open_invitation(request: web.Request) -> tuple[Invitation | None, web.Response | None]:
    state = _state(request)
    invitation = find_invitation(state.store.db, request.match_info["token"])
    if invitation is None or not invitation.open_at(state.clock()):
        return None, _neutral(request, invitation is not None)
    return invitation, None


def _camera_rows(config: GuaritaConfig, invitation: Invitation) -> list[dict[str, Any]]:
    cop_bh = config.programs.get(ProgramName.COP_BH)
    rows = []
    for number, camera in enumerate(invitation.cameras, start=1):
        agencies = [
            cop_bh.agencies[a].name if cop_bh is not None and a in cop_bh.agencies else a
            for a in config.camera_agencies(camera)
        ]
        rows.append({"number": number, "name": camera, "agencies": ", ".join(agencies)})
    return rows


def _invitation_page(
    request: web.Request, invitation: Invitation, nonce: str, *, values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None, status: int = 200,
) -> web.Response:
    state = _state(request)
    provider = state.config.provider
    accreditation = provider.accreditation
    context = {
        "provider": provider.name,
        "accreditation": None if accreditation is None else {
            "reference": accreditation.reference, "date": accreditation.date.strftime("%d/%m/%Y")},
        "cameras": _camera_rows(state.config, invitation),
        "term": current_term(),
        "token": request.match_info["token"],
        "form_token": form_token(state.form_key(), "accept", invitation.id, nonce),
        "values": values or {},
        "errors": errors or {},
    }
    return _render(request, "invitation.html", context, status=status)


async def _invitation_get(request: web.Request) -> web.StreamResponse:
    invitation, refusal = _open_invitation(request)
    if invitation is None:
        assert refusal is not None
        return refusal
    nonce, fresh = browser_nonce(request)
    response = _invitation_page(request, invitation, nonce)
    if fresh:
        set_nonce(response, nonce, request.secure)
    return response


def _check_form(registry: Registry, client_id: str, name: str, document: str, agreed: bool) -> tuple[dict[str, str], str]:
    """The fields' problems (as string keys), and the document's keyed hash when it is valid."""
    errors: dict[str, str] = {}
    keyed = ""
    if not name:
        errors["name"] = "home.error_name"
    try:
        keyed = registry.keyed_document(document)
    except RegistryRefusal:
        errors["document"] = "home.error_document"
    else:
        on_file = registry.client_document(client_id)
        if on_file is not None and not hmac.compare_digest(on_file, keyed):
            errors["document"] = "home.error_document_mismatch"
    if not agreed:
        errors["agree"] = "home.error_agree"
    return errors, keyed


def _record_consent(state: _State, request: web.Request, invitation: Invitation, name: str, document: str,
                    keyed: str) -> tuple[str, str, datetime]:
    """Grant every camera through the registry with the signed record, and use the invitation, all in one
    transaction (a camera refused leaves none granted and the invitation open); returns (withdrawal token,
    record sha256, when)."""
    now = state.clock()
    actor = f"homeowner:{invitation.client_id} (invitation {invitation.id})"
    registry = state.registry
    if registry.client_document(invitation.client_id) is None:  # keep the document (keyed) on the client's record
        current = next(c for c in registry.clients() if c.client_id == invitation.client_id)
        registry.add_client(invitation.client_id, current.name, by=actor, document=document)
    record = signed_acceptance(
        state.config.storage.data_dir, state.config.provider.id, current_term(),
        Acceptance(invitation=invitation.id, client_id=invitation.client_id, cameras=invitation.cameras,
                   programs=(ProgramName.COP_BH.value,), name=name, document_hmac=keyed,
                   user_agent=request.headers.get("User-Agent", ""), remote_address=request.remote or "",
                   accepted_at=now),
    )
    digest = hashlib.sha256(record).hexdigest()
    folder = state.config.storage.data_dir / "uploads"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    with tempfile.NamedTemporaryFile(dir=folder, prefix="acceptance-", suffix=".json") as spool:
        spool.write(record)
        spool.flush()
        tokens: list[str] = []
        registry.grant_all(invitation.cameras, client_id=invitation.client_id, evidence=Path(spool.name), by=actor,
                           programs=frozenset({ProgramName.COP_BH}),
                           also=lambda db: tokens.append(use_invitation(db, invitation, now, actor, digest)))
    return tokens[0], digest, now


async def _invitation_post(request: web.Request) -> web.StreamResponse:
    invitation, refusal = _open_invitation(request)
    if invitation is None:
        assert refusal is not None
        return refusal
    state = _state(request)
    form = await request.post()
    if not form_token_valid(state.form_key(), "accept", invitation.id, request, str(form.get("form_token", ""))):
        return _message(request, "expired_form_title", "expired_form_body", 403)
    name = " ".join(str(form.get("name", "")).split())[:200]
    document = str(form.get("document", "")).strip()[:32]
    agreed = form.get("agree") == "yes"
    errors, keyed = _check_form(state.registry, invitation.client_id, name, document, agreed)
    if errors:
        nonce = request.cookies.get(COOKIE, "")
        return _invitation_page(request, invitation, nonce, values={"name": name, "document": document},
                                errors=errors, status=400)
    try:
        token, digest, at = _record_consent(state, request, invitation, name, document, keyed)
    except RegistryRefusal as exc:  # e.g. the camera changed hands meanwhile, or the invitation was just used
        log.warning("homeowner invitation %d not recorded: %s", invitation.id, exc)
        return _message(request, "neutral_title", "unavailable", 409)
    log.info("homeowner consent recorded: client %s, invitation %d, cameras %s", invitation.client_id,
             invitation.id, ", ".join(invitation.cameras))
    return _render(request, "accepted.html", {
        "name": name, "at": _local(at), "cameras": invitation.cameras,
        "withdraw_url": withdrawal_link(state.config, token), "receipt_url": f"/h/w/{token}/receipt",
        "evidence": digest,
    })


async def _camera_jpg(request: web.Request) -> web.StreamResponse:
    from guarita.masked_evidence import masked_evidence

    invitation, refusal = _open_invitation(request)
    if invitation is None:
        assert refusal is not None
        return refusal
    number = int(request.match_info["number"])
    if not 1 <= number <= len(invitation.cameras):
        return _neutral(request, False)
    state = _state(request)
    camera = invitation.cameras[number - 1]
    try:
        with tempfile.TemporaryDirectory(prefix="guarita-homeowner-") as scratch:
            image = (await masked_evidence(state.config, camera, None, Path(scratch))).read_bytes()
    except (GuaritaError, aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        log.warning("no snapshot of %s for a homeowner page: %s", camera, exc)
        return web.Response(status=503, text="snapshot unavailable")
    return web.Response(body=image, content_type="image/jpeg")


# ---- withdrawal ------------------------------------------------------------------------
def _active_cameras(registry: Registry, link: WithdrawalLink) -> list[str]:
    """The link's cameras whose consent in force is this client's."""
    snapshot = registry.snapshot()
    active = []
    for camera in link.cameras:
        share = snapshot.cameras.get(camera)
        if (share is not None and share.client_id == link.client_id and share.consent is not None
                and share.consent.revoked_at is None):
            active.append(camera)
    return active


def _find_link(request: web.Request) -> WithdrawalLink | None:
    return find_withdrawal_link(_state(request).store.db, request.match_info["token"])


async def _withdraw_get(request: web.Request) -> web.StreamResponse:
    link = _find_link(request)
    if link is None:
        return _neutral(request, False)
    state = _state(request)
    nonce, fresh = browser_nonce(request)
    response = _render(request, "withdraw.html", {
        "cameras": _active_cameras(state.registry, link),
        "form_token": form_token(state.form_key(), "withdraw", link.id, nonce),
        "receipt_url": f"/h/w/{request.match_info['token']}/receipt",
    })
    if fresh:
        set_nonce(response, nonce, request.secure)
    return response


async def _withdraw_post(request: web.Request) -> web.StreamResponse:
    link = _find_link(request)
    if link is None:
        return _neutral(request, False)
    state = _state(request)
    form = await request.post()
    if not form_token_valid(state.form_key(), "withdraw", link.id, request, str(form.get("form_token", ""))):
        return _message(request, "expired_form_title", "expired_form_body", 403)
    actor = f"homeowner:{link.client_id} (withdrawal link {link.id})"
    stopped = []
    for camera in _active_cameras(state.registry, link):
        state.registry.revoke(camera, by=actor, reason=_WITHDRAW_REASON)
        stopped.append(camera)
    now = state.clock()
    with state.store.transaction() as db:
        mark_withdrawal_used(db, link, now)
        audit.append(db, at=now.timestamp(), actor=actor, action="homeowner.withdraw", subject=link.client_id,
                     details={"withdrawal_link": link.id, "cameras": stopped})
    log.info("homeowner withdrew consent: client %s, cameras %s", link.client_id, ", ".join(stopped) or "none")
    return _render(request, "withdrawn.html", {"cameras": stopped, "at": _local(now)})


async def _receipt(request: web.Request) -> web.StreamResponse:
    link = _find_link(request)
    if link is None:
        return _neutral(request, False)
    state = _state(request)
    term = current_term()
    return _render(request, "receipt.html", {
        "provider": state.config.provider.name,
        "cameras": link.cameras,
        "at": _local(link.created_at),
        "term": term,
        "evidence": link.acceptance_sha256,
        "withdraw_url": withdrawal_link(state.config, request.match_info["token"]),
        "active": bool(_active_cameras(state.registry, link)),
    })


async def _stylesheet(request: web.Request) -> web.StreamResponse:
    css = resources.files(__package__).joinpath("static", "homeowner.css").read_bytes()
    return web.Response(body=css, content_type="text/css", charset="utf-8")


# ---- the app ---------------------------------------------------------------------------
@web.middleware
async def _guard(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Rate limit, and the neutral page for anything unknown under /h/ (``security_headers`` runs outside it)."""
    response: web.StreamResponse
    counted = request.path != _STYLESHEET  # the stylesheet holds no token: loading it costs no attempt
    if counted and not _state(request).limiter.allow(request.remote or "unknown"):
        response = _message(request, "too_many_title", "too_many_body", 429)
        response.headers["Retry-After"] = str(int(_state(request).limiter.window_s))
    else:
        try:
            response = await handler(request)
        except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
            response = _neutral(request, False)
        except (StoreError, sqlite3.Error) as exc:
            log.error("homeowner page %s: the store could not be used: %s", request.method, exc)
            response = _message(request, "neutral_title", "unavailable", 503)
    return response


def make_homeowner_app(
    config: GuaritaConfig, registry: Registry, store: Store, clock: Callable[[], datetime],
    *, limiter: RequestLimiter | None = None,
) -> web.Application:
    """The homeowner pages, to mount at ``HOMEOWNER_PREFIX`` (``/h``)."""
    app = web.Application(middlewares=[security_headers, _guard], client_max_size=_MAX_FORM_BYTES)
    add_homeowner_messages()
    app[_STATE] = _State(config, registry, store, clock, limiter or RequestLimiter())
    aiohttp_jinja2.setup(
        app, loader=jinja2.PackageLoader("guarita.web.homeowner", "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True), app_key=_TEMPLATES,
    )
    app.router.add_get("/i/{token}", _invitation_get)
    app.router.add_post("/i/{token}", _invitation_post)
    app.router.add_get(r"/i/{token}/camera/{number:\d{1,3}}.jpg", _camera_jpg)
    app.router.add_get("/w/{token}", _withdraw_get)
    app.router.add_post("/w/{token}", _withdraw_post)
    app.router.add_get("/w/{token}/receipt", _receipt)
    app.router.add_get("/static/homeowner.css", _stylesheet)
    return app
