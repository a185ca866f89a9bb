"""The console's camera records: assign a camera to a client, record the client's consent (with
the signed form uploaded), the public-facing attestation (with its image, masked) and the
sign (with its photo), each through a confirmation step.

Every action calls what ``guarita cameras assign``, ``guarita consent grant``, ``guarita
cameras attest`` and ``guarita signage record`` call (and the API's ``assignCamera``,
``grantConsent``, ``attestCamera`` and ``recordSignage``): the registry's ``assign``,
``grant``, ``attest`` (after ``masked_evidence``) and ``record_signage``, which audit each
change. Who may use each form is that API operation's roles.

An uploaded file waits between the form and its confirmation under ``data_dir/uploads``
(a random, unguessable name, made only readable by Guarita) and is removed once used; the
registry keeps its own copy as evidence by SHA-256; one abandoned at the confirmation page
is removed at a later upload once ``ABANDONED_S`` old.

Covers: BH-03, BH-04, BH-09, BH-11, PB-03.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from guarita.config import ProgramName
from guarita.consent.registry import RegistryRefusal
from guarita.errors import GuaritaError
from guarita.masked_evidence import masked_evidence
from guarita.local_time import local_zone
from guarita.registry_input import parse_expiry, parse_installed
from guarita.web.api_models import MAX_EVIDENCE_BYTES
from guarita.web.console.auth import page
from guarita.web.console.render import render, translator
from guarita.web.console.session import CSRF_FIELD, Operator
from guarita.web.console.state import CONSOLE_PREFIX, clock_of, config_of, registry_of, roles_of

__all__ = ["ACTIONS", "MAX_UPLOAD_BYTES", "add_camera_form_routes", "upload_limit"]

MAX_UPLOAD_BYTES = MAX_EVIDENCE_BYTES
_PENDING = re.compile(r"^[0-9a-f]{32}$")
# An upload left by a form abandoned at its confirmation page is removed after this long.
ABANDONED_S = 3600.0


@dataclass(frozen=True)
class Action:
    """One camera record form: its API operation (for the roles) and its uploaded file, if any."""

    name: str
    operation_id: str
    upload: str | None


ACTIONS: Mapping[str, Action] = {
    "assign": Action("assign", "assignCamera", None),
    "consent": Action("consent", "grantConsent", "evidence"),
    "attest": Action("attest", "attestCamera", "evidence"),
    "sign": Action("sign", "recordSignage", "photo"),
}

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def upload_limit(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """Let console forms carry one evidence file (the server's default body limit is 1 MiB)."""
    multipart = request.method == "POST" and request.content_type == "multipart/form-data"
    if multipart:
        request = request.clone(client_max_size=MAX_UPLOAD_BYTES + 64 * 1024)
    try:
        return await handler(request)
    except web.HTTPRequestEntityTooLarge:
        multipart = False  # the form was never read whole: there is nothing to close
        t = translator(request)
        return await render(request, "refused.html", {
            "title": t("forms.file.large.title"), "message": t("forms.file.large", mib=MAX_UPLOAD_BYTES // 2**20),
        }, operator=None, status=413)
    finally:
        if multipart:
            await _close_files(request)


async def _close_files(request: web.Request) -> None:
    """Close the uploads' spool files aiohttp made while reading the form (it leaves them open)."""
    try:
        form = await request.post()  # read once already: this is the same form, kept by the request
    except web.HTTPException:
        return
    for value in form.values():
        if isinstance(value, web.FileField):
            value.file.close()


def may(operator: Operator, action: str) -> bool:
    """Whether ``operator``'s role may use the form ``action``."""
    return operator.role in roles_of(ACTIONS[action].operation_id)


def _uploads(request: web.Request) -> Path:
    folder = config_of(request).storage.data_dir / "uploads"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def _pending_path(request: web.Request, pending: str) -> Path:
    if not _PENDING.fullmatch(pending):
        raise RegistryRefusal("the uploaded file is missing: send the form again")
    path = _uploads(request) / f"console-{pending}"
    if not path.is_file():
        raise RegistryRefusal("the uploaded file is no longer here: send the form again")
    return path


def _keep_upload(request: web.Request, form: MultiDictProxy[Any], field: str) -> tuple[str, str]:
    """Spool the uploaded ``field`` for the confirmation: (pending id, the file's name)."""
    t = translator(request)
    upload = form.get(field)
    if not isinstance(upload, web.FileField):
        raise RegistryRefusal(t("forms.file.missing"))
    data = upload.file.read(MAX_UPLOAD_BYTES + 1)
    if not data:
        raise RegistryRefusal(t("forms.file.missing"))
    if len(data) > MAX_UPLOAD_BYTES:
        raise RegistryRefusal(t("forms.file.large", mib=MAX_UPLOAD_BYTES // (1024 * 1024)))
    folder = _uploads(request)
    for old in folder.glob("console-*"):
        with contextlib.suppress(OSError):
            if time.time() - old.stat().st_mtime > ABANDONED_S:
                old.unlink()
    pending = secrets.token_hex(16)
    path = folder / f"console-{pending}"
    with path.open("xb") as out:
        path.chmod(0o600)
        out.write(data)
    return pending, upload.filename or field


def _camera(request: web.Request) -> str:
    camera = request.match_info["camera"]
    if camera not in config_of(request).cameras:
        raise web.HTTPNotFound(text=translator(request)("camera.unknown", camera=camera))
    return camera


def _action(request: web.Request, operator: Operator) -> Action:
    name = request.match_info["action"]
    if name not in ACTIONS:
        raise web.HTTPNotFound()
    return ACTIONS[name]


async def _form_page(request: web.Request, operator: Operator, action: Action, camera: str, *,
                     values: Mapping[str, Any] | None = None, error: str | None = None,
                     status: int = 200) -> web.Response:
    t = translator(request)
    if not may(operator, action.name):
        return await render(request, "refused.html", {
            "title": t("role.refused.title"),
            "message": t("role.refused.message", role=t(f"role.{operator.role.value}")),
        }, operator=operator, status=403)
    config = config_of(request)
    registry = registry_of(request)
    return await render(request, "camera_action.html", {
        "title": t(f"forms.{action.name}.title", camera=camera),
        "camera": camera,
        "action": action.name,
        "clients": registry.clients(),
        "owner": registry.owner(camera),
        "programs": sorted(p.value for p in config.cameras[camera].programs),
        "values": values or {},
        "error": error,
        "max_mib": MAX_UPLOAD_BYTES // (1024 * 1024),
    }, operator=operator, status=status)


def _text(form: MultiDictProxy[Any], field: str) -> str:
    value = form.get(field, "")
    return value.strip() if isinstance(value, str) else ""


def _summary(request: web.Request, action: Action, form: MultiDictProxy[Any], file_name: str | None) -> list[str]:
    """What the confirmation page says will be recorded (and checks the values first)."""
    t = translator(request)
    config = config_of(request)
    lines: list[str] = []
    if action.name in ("assign", "consent"):
        client = _text(form, "client")
        if client not in {c.client_id for c in registry_of(request).clients()}:
            raise RegistryRefusal(t("forms.client.missing"))
        lines.append(t("forms.summary.client", client=client))
    if action.name == "consent":
        programs = form.getall("programs", [])
        if not programs:
            raise RegistryRefusal(t("forms.programs.missing"))
        lines.append(t("forms.summary.programs", programs=", ".join(sorted(str(p) for p in programs))))
        expires = _text(form, "expires")
        if expires and parse_expiry(expires) <= clock_of(request)():
            raise RegistryRefusal(t("forms.expires.past", expires=expires))
        lines.append(t("forms.summary.expires", expires=expires or t("forms.never")))
    if action.name == "attest":
        facing = _text(form, "public_facing")
        if facing not in ("yes", "no"):
            raise RegistryRefusal(t("forms.facing.missing"))
        lines.append(t("forms.summary.facing.yes" if facing == "yes" else "forms.summary.facing.no"))
        if config.cameras[request.match_info["camera"]].privacy_masks:
            lines.append(t("forms.summary.masked"))
    if action.name == "sign":
        plate = _text(form, "plate")
        if not plate:
            raise RegistryRefusal(t("forms.plate.missing"))
        installed = _text(form, "installed")
        today = clock_of(request)().astimezone(local_zone()).date()
        day = parse_installed(installed, today) if installed else today
        lines.append(t("forms.summary.plate", plate=plate, installed=day.isoformat()))
    if file_name is not None:
        lines.append(t("forms.summary.file", name=file_name))
    return lines


async def _record(request: web.Request, operator: Operator, action: Action, camera: str,
                  form: MultiDictProxy[Any]) -> None:
    """Do what the CLI and the API do for ``action``."""
    config = config_of(request)
    registry = registry_of(request)
    if action.name == "assign":
        registry.assign(camera, client_id=_text(form, "client"), by=operator.name)
        return
    path = _pending_path(request, _text(form, "pending"))
    try:
        if action.name == "consent":
            expires = _text(form, "expires")
            registry.grant(camera, client_id=_text(form, "client"), evidence=path, by=operator.name,
                           programs=frozenset(ProgramName(str(p)) for p in form.getall("programs", [])),
                           expires_at=parse_expiry(expires) if expires else None)
        elif action.name == "attest":
            with tempfile.TemporaryDirectory(prefix="attest-", dir=path.parent) as scratch:
                recorded = await masked_evidence(config, camera, path, Path(scratch))
                registry.attest(camera, public_facing=_text(form, "public_facing") == "yes", evidence=recorded,
                                by=operator.name)
        else:
            today = clock_of(request)().astimezone(local_zone()).date()
            installed = _text(form, "installed")
            registry.record_signage(camera, plate=_text(form, "plate"), photo=path, by=operator.name,
                                    installed_on=parse_installed(installed, today) if installed else today)
    finally:
        path.unlink(missing_ok=True)


@page("listCameras")
async def _get_form(request: web.Request, operator: Operator) -> web.StreamResponse:
    return await _form_page(request, operator, _action(request, operator), _camera(request))


@page("listCameras")
async def _post_form(request: web.Request, operator: Operator) -> web.StreamResponse:
    """First the confirmation page; with ``confirm=yes``, the record itself."""
    action = _action(request, operator)
    camera = _camera(request)
    if not may(operator, action.name):
        return await _form_page(request, operator, action, camera)
    t = translator(request)
    form = await request.post()
    values = {key: form.getall(key) if key == "programs" else _text(form, key) for key in form if key != CSRF_FIELD}
    if form.get("confirm") == "yes":
        try:
            await _record(request, operator, action, camera, form)
        except (GuaritaError, ValueError) as exc:
            return await _form_page(request, operator, action, camera, values=values, error=str(exc), status=409)
        raise web.HTTPSeeOther(f"{CONSOLE_PREFIX}/cameras/{camera}?done={action.name}")
    pending: str | None = None
    try:
        file_name = None
        summary = _summary(request, action, form, None)
        if action.upload is not None:
            pending, file_name = _keep_upload(request, form, action.upload)
            summary.append(t("forms.summary.file", name=file_name))
    except (GuaritaError, ValueError) as exc:
        return await _form_page(request, operator, action, camera, values=values, error=str(exc), status=400)
    hidden = [(key, str(v)) for key, vs in values.items() for v in (vs if isinstance(vs, list) else [vs])
              if key not in (action.upload, "pending", "confirm")]
    if pending is not None:
        hidden.append(("pending", pending))
    return await render(request, "action_confirm.html", {
        "title": t(f"forms.{action.name}.confirm", camera=camera),
        "summary": summary,
        "hidden": hidden,
        "action_url": f"{CONSOLE_PREFIX}/cameras/{camera}/record/{action.name}",
        "back": f"{CONSOLE_PREFIX}/cameras/{camera}",
    }, operator=operator)


def add_camera_form_routes(app: web.Application) -> None:
    """``GET``/``POST /cameras/{camera}/record/{assign|consent|attest|sign}``."""
    app.router.add_get("/cameras/{camera}/record/{action}", _get_form)
    app.router.add_post("/cameras/{camera}/record/{action}", _post_form)
