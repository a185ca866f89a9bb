"""The console's cameras: each camera's share state per program in words with every reason it
is held back, its masked snapshot, a detail page, revocation (with a confirmation step) and
the live view of a shared camera.

Reads go through ``guarita.consent.status.camera_statuses`` (as ``GET /api/v1/cameras``)
and are audited like the API's reads (``api.read``, coalesced per minute). Revocation calls
``Registry.revoke`` (audited there as ``consent.revoke``), as ``guarita consent revoke`` and
``POST /api/v1/cameras/{camera}/consent/revoke`` do; the live view opens a view in the
API's view book after the API's own check (``check_view_camera``), so it is audited as
``video.view.start`` and its stream is the API's ``stream.mp4``. Who may do what is the
API's role table.

Covers: BH-03, BH-04, BH-09, BH-11, PB-03.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from guarita.config import ApiRole
from guarita.consent.registry import RegistryRefusal
from guarita.consent.status import CameraStatus, camera_statuses
from guarita.video import ViewLimitReached
from guarita.web.api_http import ApiProblem
from guarita.web.api_views import API_VIDEO, MAX_REASON_CHARS, check_view_camera, stream_path
from guarita.web.console.auth import page
from guarita.web.console.camera_forms import ACTIONS, may
from guarita.web.console.overview import local_text
from guarita.web.console.render import render, translator
from guarita.web.console.session import Operator
from guarita.web.console.state import CONSOLE_PREFIX, api_of, clock_of, config_of, registry_of, roles_of, store_of, audit_read
from guarita.web.i18n import Translator

__all__ = ["add_camera_routes", "masked_snapshot"]

_IMAGE_TYPES = ((b"\xff\xd8", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"))


def masked_snapshot(data_dir: Path, db: sqlite3.Connection, camera: str) -> Path | None:
    """The image kept with the camera's latest attestation (masked when recorded), if kept."""
    row = db.execute(
        "SELECT evidence_sha256 FROM registry_attestations WHERE camera = ? ORDER BY seq DESC LIMIT 1", (camera,)
    ).fetchone()
    if row is None:
        return None
    path = data_dir / "evidence" / str(row[0])[:2] / str(row[0])
    return path if path.is_file() else None


def _status(request: web.Request, camera: str) -> CameraStatus:
    config = config_of(request)
    if camera not in config.cameras:
        raise web.HTTPNotFound(text=translator(request)("camera.unknown", camera=camera))
    snapshot = registry_of(request).snapshot()
    (status,) = [s for s in camera_statuses(config, snapshot, clock_of(request)()) if s.camera == camera]
    return status


def _words(status: CameraStatus, t: Translator) -> list[dict[str, object]]:
    return [
        {"program": p.program.value, "shared": p.shared,
         "state": t("share.shared") if p.shared else t("share.held"),
         "reasons": [t(f"reason.{r}") for r in p.reasons]}
        for p in status.programs
    ]


def _may(operator: Operator, operation_id: str) -> bool:
    return operator.role in roles_of(operation_id)


@page("listCameras")
async def _get_cameras(request: web.Request, operator: Operator) -> web.StreamResponse:
    audit_read(request, operator)
    t = translator(request)
    config = config_of(request)
    db = store_of(request).db
    statuses = camera_statuses(config, registry_of(request).snapshot(), clock_of(request)())
    rows = [
        {"camera": s.camera, "client": s.client, "programs": _words(s, t),
         "snapshot": masked_snapshot(config.storage.data_dir, db, s.camera) is not None}
        for s in statuses
    ]
    return await render(request, "cameras.html", {"title": t("nav.cameras"), "rows": rows,
                                                  "may_invite": _may(operator, "grantConsent")}, operator=operator)


async def _camera_page(request: web.Request, operator: Operator, *, message: str | None = None,
                       error: str | None = None, status_code: int = 200) -> web.Response:
    camera = request.match_info["camera"]
    status = _status(request, camera)
    t = translator(request)
    config = config_of(request)
    return await render(request, "camera.html", {
        "title": t("camera.title", camera=camera),
        "camera": camera,
        "status": status,
        "programs": _words(status, t),
        "since": None if status.consent_since is None else local_text(status.consent_since.isoformat(), t),
        "expires": None if status.consent_expires is None else local_text(status.consent_expires.isoformat(), t),
        "revoked": None if status.consent_revoked is None else local_text(status.consent_revoked.isoformat(), t),
        "snapshot": masked_snapshot(config.storage.data_dir, store_of(request).db, camera) is not None,
        "may_revoke": _may(operator, "revokeConsent") and status.consent_since is not None
        and status.consent_revoked is None,
        "record_forms": [action for action in ACTIONS if may(operator, action)],
        "may_invite": _may(operator, "grantConsent") and "cop_bh" in {p.program.value for p in status.programs},
        "may_watch": _may(operator, "openView") and any(p.shared for p in status.programs if p.program.value == "cop_bh"),
        "message": message,
        "error": error,
        "max_reason": MAX_REASON_CHARS,
    }, operator=operator, status=status_code)


@page("listCameras")
async def _get_camera(request: web.Request, operator: Operator) -> web.StreamResponse:
    audit_read(request, operator)
    done = request.query.get("done")
    t = translator(request)
    done_keys = {"revoked": "revoke.done", **{action: f"forms.{action}.done" for action in ACTIONS}}
    return await _camera_page(request, operator, message=t(done_keys[done]) if done in done_keys else None)


@page("listCameras")
async def _get_snapshot(request: web.Request, operator: Operator) -> web.StreamResponse:
    camera = request.match_info["camera"]
    config = config_of(request)
    if camera not in config.cameras:
        raise web.HTTPNotFound()
    path = masked_snapshot(config.storage.data_dir, store_of(request).db, camera)
    if path is None:
        raise web.HTTPNotFound()
    audit_read(request, operator)
    data = path.read_bytes()
    kind = next((k for magic, k in _IMAGE_TYPES if data.startswith(magic)), None)
    if kind is None:  # not an image we can vouch for: offer it as a download, never inline
        return web.Response(body=data, content_type="application/octet-stream",
                            headers={"Content-Disposition": f'attachment; filename="{camera}-snapshot"'})
    return web.Response(body=data, content_type=kind)


@page("revokeConsent")
async def _post_revoke(request: web.Request, operator: Operator) -> web.StreamResponse:
    """First the confirmation page; with ``confirm=yes``, the revocation itself."""
    camera = request.match_info["camera"]
    _status(request, camera)
    form = await request.post()
    t = translator(request)
    reason = str(form.get("reason", "")).strip()[:MAX_REASON_CHARS]
    if not reason:
        return await _camera_page(request, operator, error=t("revoke.reason.missing"), status_code=400)
    if form.get("confirm") != "yes":
        return await render(request, "revoke_confirm.html", {
            "title": t("revoke.confirm.title", camera=camera), "camera": camera, "reason": reason,
        }, operator=operator)
    try:
        registry_of(request).revoke(camera, by=operator.name, reason=reason)
    except RegistryRefusal as exc:
        return await _camera_page(request, operator, error=str(exc), status_code=409)
    raise web.HTTPSeeOther(f"{CONSOLE_PREFIX}/cameras/{camera}?done=revoked")


@page("openView")
async def _get_live(request: web.Request, operator: Operator) -> web.StreamResponse:
    camera = request.match_info["camera"]
    _status(request, camera)
    t = translator(request)
    return await render(request, "live.html", {"title": t("live.title", camera=camera), "camera": camera,
                                               "view": None, "max_reason": MAX_REASON_CHARS}, operator=operator)


@page("openView")
async def _post_live(request: web.Request, operator: Operator) -> web.StreamResponse:
    camera = request.match_info["camera"]
    _status(request, camera)
    t = translator(request)
    form = await request.post()
    reason = str(form.get("reason", "")).strip()
    context: dict[str, object] = {"title": t("live.title", camera=camera), "camera": camera, "view": None,
                                  "max_reason": MAX_REASON_CHARS}
    if not reason or len(reason) > MAX_REASON_CHARS:
        return await render(request, "live.html", {**context, "error": t("live.reason.missing")},
                            operator=operator, status=400)
    hub = api_of(request)[API_VIDEO]
    try:
        check_view_camera(config_of(request), hub, camera, operator.agency)
        view = hub.book.open(camera, reason, holder=operator.name, role=operator.role.value, agency=operator.agency)
    except ApiProblem as problem:
        reasons = hub.gate_reasons(camera) if problem.status == 403 else ()
        error = t("live.not_shared", reasons="; ".join(t(f"reason.{r.value}") for r in reasons)) if reasons \
            else problem.error
        return await render(request, "live.html", {**context, "error": error}, operator=operator,
                            status=problem.status)
    except ViewLimitReached as exc:
        return await render(request, "live.html", {**context, "error": str(exc)}, operator=operator, status=429)
    return await render(request, "live.html", {
        **context, "view": view, "stream": stream_path(view),
        "expires": local_text(_iso(view.expires), t),
    }, operator=operator)


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat()


@page("endView")
async def _post_end_view(request: web.Request, operator: Operator) -> web.StreamResponse:
    hub = api_of(request)[API_VIDEO]
    view = hub.book.get(request.match_info["id"])
    if view is None or (view.holder != operator.name and operator.role is not ApiRole.ADMIN):
        raise web.HTTPNotFound()
    hub.book.end(view, f"ended by {operator.name}")
    raise web.HTTPSeeOther(f"{CONSOLE_PREFIX}/cameras/{view.camera}")


def add_camera_routes(app: web.Application) -> None:
    """The camera pages and forms."""
    app.router.add_get("/cameras", _get_cameras)
    app.router.add_get("/cameras/{camera}", _get_camera)
    app.router.add_get("/cameras/{camera}/snapshot", _get_snapshot)
    app.router.add_post("/cameras/{camera}/revoke", _post_revoke)
    app.router.add_get("/cameras/{camera}/live", _get_live)
    app.router.add_post("/cameras/{camera}/live", _post_live)
    app.router.add_post("/views/{id}/end", _post_end_view)
