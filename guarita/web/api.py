"""The REST API under ``/api/v1``: the consent registry's operations, as the CLI has them.

Mounted on the health and metrics server (``guarita.web.server``) as a sub-application whose
state lives in typed ``web.AppKey``s. Every call but ``GET /openapi.json`` needs
``Authorization: Bearer <token>``; the token's SHA-256 must match one of ``web.tokens``
(compared in constant time), and that entry's name is the actor in the registry and the
audit log. Roles:

=========  =======================================================================
admin      everything
operator   registry writes, event acks, ``GET /cameras``, ``/clients``, ``/vehicle-events``, ``/summary``
auditor    ``GET /cameras``, ``/clients``, ``/audit/verify``, ``/vehicle-events``, ``/summary``
viewer     ``GET /cameras``, ``/vehicle-events``, ``/summary``
=========  =======================================================================

Writes go through the same ``Registry`` methods as the CLI (so they are audited there);
reads of registry data append an ``api.read`` entry before answering, and are refused if
that entry cannot be written. Evidence bytes are spooled to a temporary file under
``data_dir/uploads`` and kept by the registry by SHA-256. Neither tokens nor bodies are
logged (BH-07). Errors are JSON: ``{"error", "status"}`` (400 adds ``fields``).

Covers: BH-03, BH-07, BH-09, PB-03, DT-16, DT-17.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

from aiohttp import web

from guarita import __version__, audit
from guarita.masked_evidence import CameraCommandError, masked_evidence
from guarita.web.api_vehicle_events import VEHICLE_EVENT_OPERATIONS, add_vehicle_event_routes
from guarita.web.api_dvr_video import DVR_VIDEO_OPERATIONS, add_dvr_video_routes
from guarita.web.api_views import VIEW_OPERATIONS, add_view_routes
from guarita.web.api_playback import PLAYBACK_OPERATIONS, add_playback_routes
from guarita.web.api_read_audit import ReadAudit
from guarita.web.api_summary import API_LIVE, SUMMARY_ROUTES, LiveState, camera_models
from guarita.web.api_http import (
    API_CLOCK,
    API_CONFIG,
    API_READS,
    API_REGISTRY,
    API_STORE,
    MAX_BODY_BYTES,
    ApiProblem,
    Caller,
    Handler,
    audit_read,
    configured_camera,
    evidence_file,
    guarded,
    invalid,
    json_answer,
    json_errors,
    read_body,
)
from guarita.web.api_models import (
    AssignBody,
    AssignDone,
    AttestationBody,
    AttestationDone,
    AuditBreakModel,
    AuditVerifyReport,
    CamerasReport,
    ClientBody,
    ClientDone,
    ClientModel,
    ClientsReport,
    ConsentBody,
    ConsentDone,
    RevokeBody,
    RevokeDone,
    SignageBody,
    SignageDone,
)
from guarita.web.api_openapi import API_PREFIX, ApiOperation, QueryParam, openapi_document
from guarita.config import ApiRole, GuaritaConfig
from guarita.consent.registry import Registry, RegistryRefusal
from guarita.registry_input import parse_expiry, parse_installed
from guarita.outbox import Outbox
from guarita.store import Store
from guarita.local_time import local_zone
from guarita.video import VideoHub

__all__ = [
    "API_CLOCK",
    "API_CONFIG",
    "API_PREFIX",
    "API_REGISTRY",
    "API_STORE",
    "MAX_BODY_BYTES",
    "OPERATIONS",
    "Caller",
    "make_api_app",
]

_DOCUMENT: web.AppKey[str] = web.AppKey("api_openapi_json", str)
_HEAD = re.compile(r"^[0-9a-fA-F]{64}$")


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment is not None else None


# ---- reads ------------------------------------------------------------------------------
async def _get_cameras(request: web.Request, caller: Caller) -> web.Response:
    audit_read(request, caller)
    config = request.app[API_CONFIG]
    snapshot = request.app[API_REGISTRY].snapshot()
    now = request.app[API_CLOCK]()
    return json_answer(CamerasReport(
        provider=config.provider.id,
        accredited=snapshot.accredited,
        registry_version=snapshot.version,
        at=now.astimezone(UTC).isoformat(timespec="seconds"),
        cameras=camera_models(config, snapshot, now),
        unconfigured_cameras=sorted(set(snapshot.cameras) - set(config.cameras)),
    ))


async def _get_clients(request: web.Request, caller: Caller) -> web.Response:
    audit_read(request, caller)
    clients = [
        ClientModel(
            client=c.client_id, name=c.name, contact=c.contact, has_document=c.has_document,
            recorded_at=c.recorded_at.astimezone(UTC).isoformat(timespec="seconds"), recorded_by=c.recorded_by,
        )
        for c in request.app[API_REGISTRY].clients()
    ]
    return json_answer(ClientsReport(clients=clients))


async def _get_audit_verify(request: web.Request, caller: Caller) -> web.Response:
    given = request.query.get("head")
    if given is not None and not _HEAD.fullmatch(given):  # fullmatch: `$` would let a trailing newline by
        raise invalid("head", "must be 64 hex digits")
    db = request.app[API_STORE].db
    result = audit.check(db)
    count, broken = result.entries, result.broken
    last = db.execute("SELECT hash FROM audit_log ORDER BY rowid DESC LIMIT 1").fetchone()
    known = given is None or db.execute(
        "SELECT 1 FROM audit_log WHERE hash = ?", (given.lower(),)
    ).fetchone() is not None
    problem = str(broken) if broken else None
    if problem is None and not known:
        problem = f"head {given} is no longer in the chain: the log was cut or rewritten after it"
    return json_answer(AuditVerifyReport(
        entries=count,
        intact=problem is None,
        head=str(last[0]) if last else audit.GENESIS,
        broken=None if broken is None else AuditBreakModel(seq=broken.seq, problem=broken.problem),
        problem=problem,
        keying=result.describe_keying(),
    ))


# ---- writes -----------------------------------------------------------------------------
async def _post_client(request: web.Request, caller: Caller) -> web.Response:
    body = await read_body(request, ClientBody)
    registry = request.app[API_REGISTRY]
    existed = any(c.client_id == body.id for c in registry.clients())
    registry.add_client(body.id, body.name, by=caller.name, document=body.document, contact=body.contact)
    done = ClientDone(
        client=body.id, updated=existed, has_document=body.document is not None, registry_version=registry.version()
    )
    return json_answer(done, 200 if existed else 201)


async def _post_assign(request: web.Request, caller: Caller) -> web.Response:
    camera = configured_camera(request)
    body = await read_body(request, AssignBody)
    registry = request.app[API_REGISTRY]
    registry.assign(camera, client_id=body.client, by=caller.name)
    return json_answer(AssignDone(camera=camera, client=body.client, registry_version=registry.version()), 201)


async def _post_consent(request: web.Request, caller: Caller) -> web.Response:
    camera = configured_camera(request)
    body = await read_body(request, ConsentBody)
    registry = request.app[API_REGISTRY]
    expires = parse_expiry(body.expires) if body.expires is not None else None
    programs = frozenset(body.programs)
    with evidence_file(request, body.evidence_base64, body.evidence_sha256, "evidence_base64") as evidence:
        digest = registry.grant(
            camera, client_id=body.client, evidence=evidence, by=caller.name, programs=programs, expires_at=expires
        )
    return json_answer(ConsentDone(
        camera=camera, client=body.client, programs=sorted(p.value for p in programs), expires_at=_iso(expires),
        evidence_sha256=digest, registry_version=registry.version(),
    ), 201)


async def _post_revoke(request: web.Request, caller: Caller) -> web.Response:
    camera = request.match_info["camera"]
    registry = request.app[API_REGISTRY]
    # A withdrawal is never blocked: a camera since removed from the config may still be revoked.
    if camera not in request.app[API_CONFIG].cameras and camera not in registry.snapshot().cameras:
        raise ApiProblem(404, f"camera {camera!r} is neither in the config nor in the registry")
    body = await read_body(request, RevokeBody)
    registry.revoke(camera, by=caller.name, reason=body.reason)
    return json_answer(RevokeDone(camera=camera, revoked=True, registry_version=registry.version()))


async def _post_attestation(request: web.Request, caller: Caller) -> web.Response:
    camera = configured_camera(request)
    body = await read_body(request, AttestationBody)
    registry = request.app[API_REGISTRY]
    config = request.app[API_CONFIG]
    with evidence_file(request, body.evidence_base64, None, "evidence_base64") as evidence:
        # As from the CLI: the evidence may be shown outside the provider, so it is kept masked.
        with tempfile.TemporaryDirectory(prefix="attest-", dir=evidence.parent) as scratch:
            try:
                recorded = await masked_evidence(config, camera, evidence, Path(scratch))
            except CameraCommandError as exc:
                raise invalid("evidence_base64", str(exc)) from None
            digest = registry.attest(camera, public_facing=body.public_facing, evidence=recorded, by=caller.name)
    return json_answer(AttestationDone(
        camera=camera, public_facing=body.public_facing, evidence_sha256=digest, registry_version=registry.version()
    ), 201)


async def _post_signage(request: web.Request, caller: Caller) -> web.Response:
    camera = configured_camera(request)
    body = await read_body(request, SignageBody)
    today: date = request.app[API_CLOCK]().astimezone(local_zone()).date()
    installed = today
    if body.installed is not None:
        try:
            installed = parse_installed(body.installed.isoformat(), today)
        except RegistryRefusal as exc:
            raise invalid("installed", str(exc)) from None
    registry = request.app[API_REGISTRY]
    with evidence_file(request, body.photo_base64, None, "photo_base64") as photo:
        digest = registry.record_signage(camera, plate=body.plate, photo=photo, by=caller.name, installed_on=installed)
    return json_answer(SignageDone(
        camera=camera, plate=body.plate.strip(), installed_on=installed, photo_sha256=digest,
        registry_version=registry.version(),
    ), 201)


async def _get_openapi(request: web.Request) -> web.Response:
    return web.Response(text=request.app[_DOCUMENT], content_type="application/json")


# ---- the route table ---------------------------------------------------------------------
_READERS = (ApiRole.ADMIN, ApiRole.OPERATOR, ApiRole.AUDITOR)
_WRITERS = (ApiRole.ADMIN, ApiRole.OPERATOR)

_ROUTES: tuple[tuple[ApiOperation, Handler], ...] = (
    (ApiOperation("GET", "/cameras", "listCameras", "Read every camera's share status",
                  "Each configured camera with the share gate's decision per program and its reasons "
                  "(`guarita cameras status --json`). Recorded in the audit log as `api.read`.",
                  (*_READERS, ApiRole.VIEWER), {200: CamerasReport}), _get_cameras),
    (ApiOperation("GET", "/clients", "listClients", "Read the clients",
                  "Every client as last recorded (`guarita clients list --json`); the CPF/CNPJ is never "
                  "returned. Recorded in the audit log as `api.read`.", _READERS, {200: ClientsReport}), _get_clients),
    (ApiOperation("POST", "/clients", "addClient", "Record a client",
                  "`guarita clients add`. 201 when new, 200 when its details were recorded again.",
                  _WRITERS, {200: ClientDone, 201: ClientDone}, ClientBody, writes=True), _post_client),
    (ApiOperation("POST", "/cameras/{camera}/assign", "assignCamera", "Record which client owns a camera",
                  "`guarita cameras assign`. Only the owner's consent counts; the first consent names the owner.",
                  _WRITERS, {201: AssignDone}, AssignBody, writes=True), _post_assign),
    (ApiOperation("POST", "/cameras/{camera}/consent", "grantConsent", "Record a client's consent",
                  "`guarita consent grant`. Send the evidence's bytes (`evidence_base64`) or the SHA-256 of "
                  "evidence already kept (`evidence_sha256`).",
                  _WRITERS, {201: ConsentDone}, ConsentBody, writes=True, uploads=True), _post_consent),
    (ApiOperation("POST", "/cameras/{camera}/consent/revoke", "revokeConsent", "Revoke a camera's consent",
                  "`guarita consent revoke`. Also for a camera no longer in the config, while the registry "
                  "has it.", _WRITERS, {200: RevokeDone}, RevokeBody, writes=True), _post_revoke),
    (ApiOperation("POST", "/cameras/{camera}/attestation", "attestCamera", "Attest what a camera sees",
                  "`guarita cameras attest`.", _WRITERS, {201: AttestationDone}, AttestationBody,
                  writes=True, uploads=True), _post_attestation),
    (ApiOperation("POST", "/cameras/{camera}/signage", "recordSignage", "Record a camera's sign",
                  "`guarita signage record`.", _WRITERS, {201: SignageDone}, SignageBody,
                  writes=True, uploads=True), _post_signage),
    (ApiOperation("GET", "/audit/verify", "verifyAudit", "Check the audit log's hash chain",
                  "`guarita audit verify --json`: 200 with `intact` false when the chain is broken.",
                  (ApiRole.ADMIN, ApiRole.AUDITOR), {200: AuditVerifyReport},
                  query=(QueryParam("head", "A head from an earlier check: also fail if it is no longer in "
                                    "the chain.", {"type": "string", "pattern": _HEAD.pattern}),)),
     _get_audit_verify),
)
_OPENAPI = ApiOperation("GET", "/openapi.json", "openapi", "Read this OpenAPI document",
                        "The OpenAPI 3.1 document of this API.", (), {200: None})

OPERATIONS: tuple[ApiOperation, ...] = (
    *(op for op, _ in (*_ROUTES, *SUMMARY_ROUTES)), *VEHICLE_EVENT_OPERATIONS, *VIEW_OPERATIONS, *PLAYBACK_OPERATIONS,
    *DVR_VIDEO_OPERATIONS, _OPENAPI
)


def _openapi_text() -> str:
    return json.dumps(openapi_document(list(OPERATIONS), version=__version__), indent=1, ensure_ascii=False)


async def _flush_reads(app: web.Application) -> None:
    """Write the counts of coalesced reads before the server goes away."""
    app[API_READS].flush()


def make_api_app(
    config: GuaritaConfig,
    registry: Registry,
    store: Store,
    clock: Callable[[], datetime],
    outbox: Outbox | None = None,
    live: Callable[[], LiveState] | None = None,
    video: VideoHub | None = None,
) -> web.Application:
    """The ``/api/v1`` sub-application; mount it with ``app.add_subapp(API_PREFIX, api)``.

    ``live`` is the running process's link states and delivery counts (``GET /summary``);
    ``video`` the live views' hub ``guarita run`` supervises (without it, the app makes its own).
    """
    app = web.Application(middlewares=[json_errors])
    app[API_CONFIG] = config
    app[API_REGISTRY] = registry
    app[API_STORE] = store
    app[API_CLOCK] = clock
    app[API_READS] = ReadAudit(store, clock)
    app.on_cleanup.append(_flush_reads)
    app[_DOCUMENT] = _openapi_text()
    for operation, handler in _ROUTES:
        app.router.add_route(operation.method, operation.path, guarded(operation, handler))
    add_vehicle_event_routes(app, outbox)
    add_view_routes(app, video)  # live views of shared cameras (docs/video.md)
    add_playback_routes(app)  # playback of their past shared windows (docs/video.md)
    add_dvr_video_routes(app)  # a bus's cameras for DETRO: live views and archive playback
    if live is not None:
        app[API_LIVE] = live
    for operation, handler in SUMMARY_ROUTES:
        app.router.add_route(operation.method, operation.path, guarded(operation, handler))
    app.router.add_get(_OPENAPI.path, _get_openapi)
    return app
