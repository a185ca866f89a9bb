"""The console's evidence requests: the list, recording a request, the second person's
approval, the export, the download of the signed bundle and its verification.

Every step calls what ``guarita evidence …`` calls: ``record_request``, ``approve_request``
(which refuses the person who recorded the request: the page says so, 409),
``export_request`` (into ``data_dir/evidence-bundles/<id>``) and ``verify_bundle`` with the
provider's own public key (as ``guarita evidence verify --pubkey``). Each write has a
confirmation step and is audited there (``evidence.request``, ``evidence.approve``,
``evidence.export``, ``evidence.manifest``). The API has no evidence operation, so the
console uses the registry's roles: reading as ``listClients`` (admin, operator, auditor),
writing and downloading footage as ``addClient`` (admin, operator).

Covers: BH-07, BH-08, BH-09, BH-11, DT-04, DT-06.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from guarita.config import GuaritaConfig
from guarita.frigate_check import frigate_client
from guarita.retention._s3 import S3Access
from guarita.retention._signing import public_pem, signing_key
from guarita.retention.bundle import BundleCheck, verify_bundle
from guarita.retention.evidence import (
    EvidenceError,
    EvidenceRefused,
    EvidenceRequest,
    RequestType,
    approve_request,
    get_request,
    list_requests,
    parse_request_type,
    record_request,
)
from guarita.retention.evidence_export import export_request
from guarita.retention.footage import FootageSource, RetentionError, check_source, parse_window
from guarita.store import Store
from guarita.web.console.auth import page
from guarita.web.console.clients import MAX_FIELD, confirm_page
from guarita.web.console.overview import local_text
from guarita.web.console.render import SECURITY_HEADERS, render, translator
from guarita.web.console.session import Operator
from guarita.web.console.state import CONSOLE_PREFIX, config_of, roles_of, store_of, audit_read

__all__ = ["add_evidence_routes", "bundle_folder"]

READ = "listClients"
WRITE = "addClient"
_FIELDS = ("type", "ref", "requester", "vehicles", "from", "to")
_VEHICLE = re.compile(r"^([^/\s]+)(?:/(\d+))?$")


def bundle_folder(config: GuaritaConfig, request_id: int) -> Path:
    """Where the console exports a request's bundle."""
    return config.storage.data_dir / "evidence-bundles" / str(request_id)


def _sources(config: GuaritaConfig, cameras: list[str], vehicles: str) -> list[FootageSource]:
    sources = [FootageSource(camera=c) for c in cameras]
    for item in re.split(r"[,\s]+", vehicles.strip()):
        if not item:
            continue
        found = _VEHICLE.match(item)
        if found is None:
            raise RetentionError(f"vehicle camera {item!r}: write VEHICLE or VEHICLE/NUMBER")
        number = int(found.group(2)) if found.group(2) else None
        sources.append(FootageSource(vehicle=found.group(1), camera_number=number))
    for source in sources:
        check_source(config, source)
    return sources


def _row(request: EvidenceRequest, t: Any) -> dict[str, Any]:
    return {"id": request.id, "type": t(f"evidence.type.{request.type.value}"), "ref": request.ref,
            "requester": request.requester, "status": t(f"evidence.status.{request.status}"),
            "sources": ", ".join(s.label for s in request.sources),
            "window": f"{local_text(request.window.as_json()['from'], t)} → {local_text(request.window.as_json()['to'], t)}",
            "recorded_by": request.recorded_by, "approved_by": request.approved_by}


async def _list_page(request: web.Request, operator: Operator, *, error: str | None = None,
                     form: dict[str, Any] | None = None, status: int = 200) -> web.Response:
    t = translator(request)
    config = config_of(request)
    return await render(request, "evidence.html", {
        "title": t("nav.evidence"), "rows": [_row(r, t) for r in list_requests(store_of(request).db)],
        "may_write": operator.role in roles_of(WRITE), "types": [k.value for k in RequestType],
        "cameras": sorted(config.cameras), "fleet": config.fleet is not None, "error": error,
        "form": form or {"cameras": []},
    }, operator=operator, status=status)


@page(READ)
async def _get_list(request: web.Request, operator: Operator) -> web.StreamResponse:
    audit_read(request, operator)
    return await _list_page(request, operator)


@page(WRITE)
async def _post_record(request: web.Request, operator: Operator) -> web.StreamResponse:
    """First the confirmation page; with ``confirm=yes``, ``record_request``."""
    form = await request.post()
    t = translator(request)
    config = config_of(request)
    given: dict[str, Any] = {name: str(form.get(name, "")).strip()[:MAX_FIELD] for name in _FIELDS}
    given["cameras"] = [str(c) for c in form.getall("cameras", [])]
    try:
        kind = parse_request_type(given["type"])
        sources = _sources(config, given["cameras"], given["vehicles"])
        if not sources:
            raise EvidenceError(t("evidence.no_source"))
        window = parse_window(given["from"], given["to"], config)
        if not given["ref"] or not given["requester"]:
            raise EvidenceError(t("evidence.missing"))
    except (RetentionError, ValueError) as exc:
        return await _list_page(request, operator, error=str(exc), form=given, status=400)
    if form.get("confirm") != "yes":
        return await confirm_page(
            request, operator, title=t("evidence.confirm.title"),
            text=t("evidence.confirm.record", type=t(f"evidence.type.{kind.value}"), ref=given["ref"],
                   requester=given["requester"], sources=", ".join(s.label for s in sources),
                   start=local_text(window.as_json()["from"], t), end=local_text(window.as_json()["to"], t)),
            action=f"{CONSOLE_PREFIX}/evidence", fields=given, submit=t("evidence.confirm.submit"),
            cancel=f"{CONSOLE_PREFIX}/evidence")
    recorded = record_request(store_of(request), request_type=kind, ref=given["ref"], requester=given["requester"],
                              sources=sources, window=window, by=operator.name, at=dt.datetime.now(dt.UTC).timestamp())
    raise web.HTTPSeeOther(f"{CONSOLE_PREFIX}/evidence/{recorded.id}?done=recorded")


def _request_of(request: web.Request) -> EvidenceRequest:
    try:
        return get_request(store_of(request).db, int(request.match_info["id"]))
    except (EvidenceError, ValueError):
        raise web.HTTPNotFound(text=translator(request)("evidence.unknown")) from None


def _verify(config: GuaritaConfig, request_id: int) -> BundleCheck:
    key = public_pem(signing_key(config.storage.data_dir))
    return verify_bundle(bundle_folder(config, request_id), key, "the provider's public key")


async def _detail_page(request: web.Request, operator: Operator, *, error: str | None = None,
                       check: BundleCheck | None = None, status: int = 200) -> web.Response:
    t = translator(request)
    evidence = _request_of(request)
    config = config_of(request)
    writer = operator.role in roles_of(WRITE)
    done = request.query.get("done")
    custody = [{"action": t(f"evidence.step.{s.action}"), "at": local_text(s.as_json()["at"], t), "by": s.by}
               for s in evidence.custody]
    return await render(request, "evidence_request.html", {
        "title": t("evidence.title", id=evidence.id), "row": _row(evidence, t), "custody": custody,
        "may_approve": writer and evidence.approved_by is None,
        "may_export": writer and evidence.status == "approved",
        "bundle": evidence.status == "exported" and bundle_folder(config, evidence.id).is_dir(),
        "may_download": writer, "check": check, "error": error,
        "message": t(f"evidence.done.{done}") if done in ("recorded", "approved", "exported") else None,
    }, operator=operator, status=status)


@page(READ)
async def _get_request(request: web.Request, operator: Operator) -> web.StreamResponse:
    _request_of(request)
    audit_read(request, operator)
    return await _detail_page(request, operator)


@page(READ)
async def _get_verify(request: web.Request, operator: Operator) -> web.StreamResponse:
    """The bundle checked as ``guarita evidence verify --pubkey`` (hashes, then the signature)."""
    evidence = _request_of(request)
    audit_read(request, operator)
    check = await asyncio.to_thread(_verify, config_of(request), evidence.id)
    return await _detail_page(request, operator, check=check)


@page(WRITE)
async def _post_approve(request: web.Request, operator: Operator) -> web.StreamResponse:
    evidence = _request_of(request)
    form = await request.post()
    t = translator(request)
    if form.get("confirm") != "yes":
        return await confirm_page(
            request, operator, title=t("evidence.approve.title", id=evidence.id),
            text=t("evidence.confirm.approve", id=evidence.id, ref=evidence.ref, by=evidence.recorded_by),
            action=f"{CONSOLE_PREFIX}/evidence/{evidence.id}/approve", fields={},
            submit=t("evidence.approve.submit"), cancel=f"{CONSOLE_PREFIX}/evidence/{evidence.id}")
    try:
        approve_request(store_of(request), evidence.id, by=operator.name, at=dt.datetime.now(dt.UTC).timestamp())
    except EvidenceRefused as exc:
        return await _detail_page(request, operator, error=t("evidence.approve.same", why=str(exc)), status=409)
    except EvidenceError as exc:
        return await _detail_page(request, operator, error=str(exc), status=409)
    raise web.HTTPSeeOther(f"{CONSOLE_PREFIX}/evidence/{evidence.id}?done=approved")


async def _export(config: GuaritaConfig, store: Store, request_id: int, by: str) -> None:
    cloud = S3Access.for_config(config.retention.cloud) if config.retention.cloud is not None else None
    async with aiohttp.ClientSession() as session:
        await export_request(store, config, request_id, bundle_folder(config, request_id), by=by,
                             now=dt.datetime.now(dt.UTC), frigate=frigate_client(config, session), cloud=cloud)


@page(WRITE)
async def _post_export(request: web.Request, operator: Operator) -> web.StreamResponse:
    evidence = _request_of(request)
    form = await request.post()
    t = translator(request)
    if form.get("confirm") != "yes":
        return await confirm_page(
            request, operator, title=t("evidence.export.title", id=evidence.id),
            text=t("evidence.confirm.export", id=evidence.id, sources=", ".join(s.label for s in evidence.sources)),
            action=f"{CONSOLE_PREFIX}/evidence/{evidence.id}/export", fields={},
            submit=t("evidence.export.submit"), cancel=f"{CONSOLE_PREFIX}/evidence/{evidence.id}")
    try:
        await _export(config_of(request), store_of(request), evidence.id, operator.name)
    except RetentionError as exc:
        return await _detail_page(request, operator, error=str(exc), status=409)
    raise web.HTTPSeeOther(f"{CONSOLE_PREFIX}/evidence/{evidence.id}?done=exported")


def _zip(folder: Path, target: Path) -> None:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            archive.write(path, Path(folder.name) / path.relative_to(folder))


@page(WRITE)
async def _get_bundle(request: web.Request, operator: Operator) -> web.StreamResponse:
    """The bundle as one ZIP (the folder as exported: manifest, signature, public key, clips)."""
    evidence = _request_of(request)
    folder = bundle_folder(config_of(request), evidence.id)
    if evidence.status != "exported" or not folder.is_dir():
        raise web.HTTPNotFound(text=translator(request)("evidence.no_bundle"))
    audit_read(request, operator)
    response = web.StreamResponse(headers={
        **SECURITY_HEADERS, "Content-Type": "application/zip",
        "Content-Disposition": f'attachment; filename="evidence-{evidence.id}.zip"'})
    with tempfile.TemporaryDirectory(prefix="bundle-zip-", dir=config_of(request).storage.data_dir) as scratch:
        target = Path(scratch) / "bundle.zip"
        await asyncio.to_thread(_zip, folder, target)
        response.content_length = target.stat().st_size
        await response.prepare(request)
        with target.open("rb") as data:
            while chunk := await asyncio.to_thread(data.read, 1 << 20):
                await response.write(chunk)
    await response.write_eof()
    return response


def add_evidence_routes(app: web.Application) -> None:
    """The evidence pages and forms."""
    app.router.add_get("/evidence", _get_list)
    app.router.add_post("/evidence", _post_record)
    app.router.add_get(r"/evidence/{id:\d+}", _get_request)
    app.router.add_get(r"/evidence/{id:\d+}/verify", _get_verify)
    app.router.add_post(r"/evidence/{id:\d+}/approve", _post_approve)
    app.router.add_post(r"/evidence/{id:\d+}/export", _post_export)
    app.router.add_get(r"/evidence/{id:\d+}/bundle.zip", _get_bundle)
