"""The console's fleet pages for bus operators (DETRO): vehicles and their DVRs, "sync now",
the open sensor events queue with acknowledgement, and the reports as downloads.

Everything goes through the code the CLI and the API use: ``vehicle_status`` (as ``guarita
dvr status``), the poller's ``DvrSync`` (as ``guarita dvr sync``, see ``fleet_sync``),
``list_events``/``get_event``/``ack_event`` (as ``guarita events list | ack`` and
``/api/v1/vehicle-events``) and ``guarita.reports`` (as ``guarita report route | events``).
Reads are audited like the API's (``api.read``); an acknowledgement is audited by
``ack_event``; a "sync now" as ``console.dvr.sync``. Who may read is the role table of
``listVehicleEvents``; who may sync or acknowledge, of ``ackVehicleEvent``. Times are shown
in ``fleet.timezone`` with the zone's name.

Covers: PB-06, DT-03, DT-06, DT-16, DT-17, DT-18, BH-09.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from typing import Any

from aiohttp import web

from guarita.adapters.dvr.report import vehicle_status
from guarita.config import FleetConfig
from guarita.errors import OutboxFullError
from guarita.local_time import local_zone
from guarita.reports import (
    ReportError,
    events_csv,
    events_html,
    load_events,
    load_route,
    parse_moment,
    period_between,
    route_html,
)
from guarita.vehicle_events import (
    MAX_ACTION_CHARS,
    MAX_NOTE_CHARS,
    UnknownVehicleEvent,
    VehicleEvent,
    VehicleEventRefusal,
    ack_event,
    get_event,
    list_events,
)
from guarita.web.api_http import API_READS
from guarita.web.api_vehicle_events import API_OUTBOX
from guarita.web.console.auth import audit_console, page
from guarita.web.console.fleet_sync import API_DVR_POLLER, CONSOLE_SYNCS, SyncJob, SyncJobs
from guarita.web.console.render import SECURITY_HEADERS, render, translator
from guarita.web.console.session import Operator, get_session, operator_of, session_expired
from guarita.web.console.state import CONSOLE_PREFIX, CONSOLE_STOP, api_of, clock_of, config_of, roles_of, store_of, audit_read
from guarita.web.i18n import Translator

__all__ = ["add_fleet_routes", "timeline"]

READ, WRITE = "listVehicleEvents", "ackVehicleEvent"
_WIDTH = 600.0


def _fleet(request: web.Request) -> FleetConfig:
    fleet = config_of(request).fleet
    if fleet is None:
        raise web.HTTPNotFound(text=translator(request)("fleet.none"))
    return fleet


def _may_write(operator: Operator) -> bool:
    return operator.role in roles_of(WRITE)


def _zoned(moment: dt.datetime | str | None, zone_name: str, t: Translator) -> str:
    """A time in ``fleet.timezone`` with the zone: ``2026-11-20 08:00:00 (America/Sao_Paulo)``."""
    if moment is None:
        return t("never")
    when = dt.datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return f"{when.astimezone(local_zone(zone_name)):%Y-%m-%d %H:%M:%S} ({zone_name})"


def timeline(cameras: list[dict[str, Any]]) -> dict[str, Any]:
    """Coverage bars (x and width on a ``_WIDTH`` scale) of each camera over the common span."""
    moments = [dt.datetime.fromisoformat(c[k]).timestamp() for c in cameras for k in ("first", "last") if c.get(k)]
    if not moments:
        return {"start": None, "end": None, "rows": []}
    start, end = min(moments), max(moments)
    scale = _WIDTH / max(end - start, 1.0)

    def x(iso: str) -> float:
        return round((dt.datetime.fromisoformat(iso).timestamp() - start) * scale, 1)

    rows = []
    for index, camera in enumerate(cameras):
        covered = None
        if camera.get("first") and camera.get("last"):
            covered = (x(camera["first"]), max(x(camera["last"]) - x(camera["first"]), 1.0))
        gaps = [(x(a), max(x(b) - x(a), 1.0)) for a, b in camera["gaps"]]
        rows.append({"y": index * 32 + 4, "covered": covered, "gaps": gaps, "camera": camera})
    return {"start": start, "end": end, "rows": rows, "height": len(cameras) * 32 + 8}


@page(READ)
async def _get_vehicles(request: web.Request, operator: Operator) -> web.StreamResponse:
    fleet = _fleet(request)
    audit_read(request, operator)
    t = translator(request)
    db = store_of(request).db
    rows = []
    for vehicle in sorted(fleet.vehicles):
        doc = vehicle_status(config_of(request), db, vehicle)
        last = doc["last_sync"]
        rows.append({
            "vehicle": vehicle, "plate": fleet.vehicles[vehicle].plate, "serial": doc["dvr_serial"],
            "last": None if last is None else _zoned(last["finished_at"] or last["started_at"], fleet.timezone, t),
            "status": None if last is None else last["status"], "files": None if last is None else last["files"],
            "quarantined": len(doc["quarantined"]),
        })
    return await render(request, "fleet.html", {"title": t("nav.fleet"), "rows": rows}, operator=operator)


def _job_cells(job: SyncJob | None, t: Translator) -> dict[str, str]:
    """The progress of the console's latest pass, as words by element id."""
    if job is None:
        return {}
    if job.running:
        state = t("sync.running")
        if job.files is not None and job.size is not None:
            state = t("sync.progress", files=job.files, done=f"{job.done / 1e6:.1f}", size=f"{job.size / 1e6:.1f}",
                      percent=job.percent())
    else:
        state = t("sync.ended", status=t(f"sync.status.{job.state}"), files=job.archived)
    return {"sync-state": state, "sync-detail": job.detail}


async def _vehicle_page(request: web.Request, operator: Operator, *, error: str | None = None,
                        status_code: int = 200) -> web.Response:
    fleet = _fleet(request)
    vehicle = request.match_info["vehicle"]
    t = translator(request)
    if vehicle not in fleet.vehicles:
        raise web.HTTPNotFound(text=t("fleet.unknown", vehicle=vehicle))
    doc = vehicle_status(config_of(request), store_of(request).db, vehicle)
    zone = fleet.timezone
    cameras = [
        {**c, "first_text": _zoned(c["first"], zone, t), "last_text": _zoned(c["last"], zone, t),
         "gap_texts": [(_zoned(a, zone, t), _zoned(b, zone, t)) for a, b in c["gaps"]]}
        for c in doc["cameras"]
    ]
    last = doc["last_sync"]
    job = request.app[CONSOLE_SYNCS].latest.get(vehicle)
    today = dt.datetime.now(local_zone(zone)).date()
    drawn = timeline(cameras)
    span = [None if drawn[k] is None else dt.datetime.fromtimestamp(drawn[k], dt.UTC) for k in ("start", "end")]
    return await render(request, "fleet_vehicle.html", {
        "title": t("fleet.vehicle.title", vehicle=vehicle),
        "vehicle": vehicle, "settings": fleet.vehicles[vehicle], "doc": doc, "cameras": cameras,
        "timeline": drawn, "span_start": _zoned(span[0], zone, t), "span_end": _zoned(span[1], zone, t),
        "last": None if last is None else {**last, "when": _zoned(last["finished_at"] or last["started_at"], zone, t)},
        "quarantined": [{**q, "when": _zoned(q["at"], zone, t)} for q in doc["quarantined"]],
        "may_sync": _may_write(operator) and API_DVR_POLLER in api_of(request)
        and fleet.vehicles[vehicle].dvr is not None,
        "job": job, "job_cells": _job_cells(job, t), "zone": zone,
        "today": today.isoformat(), "week_ago": (today - dt.timedelta(days=7)).isoformat(),
        "error": error,
    }, operator=operator, status=status_code)


@page(READ)
async def _get_vehicle(request: web.Request, operator: Operator) -> web.StreamResponse:
    audit_read(request, operator)
    return await _vehicle_page(request, operator)


@page(WRITE)
async def _post_sync(request: web.Request, operator: Operator) -> web.StreamResponse:
    vehicle = request.match_info["vehicle"]
    fleet = _fleet(request)
    t = translator(request)
    if vehicle not in fleet.vehicles:
        raise web.HTTPNotFound(text=t("fleet.unknown", vehicle=vehicle))
    api = api_of(request)
    if API_DVR_POLLER not in api:
        return await _vehicle_page(request, operator, error=t("sync.unavailable"), status_code=409)
    try:
        request.app[CONSOLE_SYNCS].start(api[API_DVR_POLLER], vehicle, operator.name)
    except RuntimeError:
        return await _vehicle_page(request, operator, error=t("sync.busy", vehicle=vehicle), status_code=409)
    audit_console(request, operator.name, "console.dvr.sync", {"vehicle": vehicle})
    raise web.HTTPSeeOther(f"{CONSOLE_PREFIX}/fleet/vehicles/{vehicle}#sync")


async def _get_sync_events(request: web.Request) -> web.StreamResponse:
    """While the console's pass runs: ``event: sync`` with its words by id; ``event: done`` at its end."""
    config = config_of(request)
    operator = await operator_of(request, config, touch=False)
    if operator is None or operator.role not in roles_of(READ):
        raise web.HTTPUnauthorized(text="sign in first")
    session = await get_session(request)
    job = request.app[CONSOLE_SYNCS].latest.get(request.match_info["vehicle"])
    t = translator(request)
    stop = request.app[CONSOLE_STOP]
    response = web.StreamResponse(headers={**SECURITY_HEADERS, "Content-Type": "text/event-stream",
                                           "X-Accel-Buffering": "no"})
    await response.prepare(request)
    with contextlib.suppress(ConnectionError):
        while job is not None and not stop.is_set() and not session_expired(session, config):
            job.changed.clear()
            text = json.dumps({"cells": _job_cells(job, t)}, ensure_ascii=False)
            await response.write(f"event: {'sync' if job.running else 'done'}\ndata: {text}\n\n".encode())
            if not job.running:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(job.changed.wait(), 0.5)
    return response


def _event_row(event: VehicleEvent, zone: str, t: Translator) -> dict[str, Any]:
    measure = "" if event.value is None else f"{event.value:g}"
    if event.threshold is not None:
        measure += f" / {event.threshold:g}"
    return {
        "event": event, "when": _zoned(event.ts, zone, t), "type": t(f"event.type.{event.type.value}"),
        "measure": f"{measure} {event.unit or ''}".strip(),
        "acks": [{"ack": a, "when": _zoned(a.at, zone, t)} for a in event.acks],
    }


@page(READ)
async def _get_events(request: web.Request, operator: Operator) -> web.StreamResponse:
    fleet = _fleet(request)
    audit_read(request, operator)
    t = translator(request)
    show_all = request.query.get("all") == "1"
    events = list_events(store_of(request).db, open_only=not show_all, limit=200)
    today = dt.datetime.now(local_zone(fleet.timezone)).date()
    return await render(request, "fleet_events.html", {
        "title": t("nav.events"), "rows": [_event_row(e, fleet.timezone, t) for e in events], "all": show_all,
        "today": today.isoformat(), "week_ago": (today - dt.timedelta(days=7)).isoformat(),
    }, operator=operator)


async def _event_page(request: web.Request, operator: Operator, *, error: str | None = None,
                      status_code: int = 200, action: str = "", note: str = "") -> web.Response:
    fleet = _fleet(request)
    t = translator(request)
    try:
        event = get_event(store_of(request).db, request.match_info["id"])
    except UnknownVehicleEvent as exc:
        raise web.HTTPNotFound(text=str(exc)) from None
    return await render(request, "fleet_event.html", {
        "title": t("event.title", id=event.id), "row": _event_row(event, fleet.timezone, t),
        "may_ack": _may_write(operator), "error": error, "action": action, "note": note,
        "max_action": MAX_ACTION_CHARS, "max_note": MAX_NOTE_CHARS,
        "done": request.query.get("done") == "acked",
    }, operator=operator, status=status_code)


@page(READ)
async def _get_event(request: web.Request, operator: Operator) -> web.StreamResponse:
    audit_read(request, operator)
    return await _event_page(request, operator)


@page(WRITE)
async def _post_ack(request: web.Request, operator: Operator) -> web.StreamResponse:
    """First the confirmation page; with ``confirm=yes``, ``ack_event`` itself (as the CLI and API)."""
    _fleet(request)
    event_id = request.match_info["id"]
    form = await request.post()
    t = translator(request)
    action = str(form.get("action", "")).strip()
    note_text = str(form.get("note", "")).strip()
    note = note_text or None
    if not action:
        return await _event_page(request, operator, error=t("ack.action.missing"), status_code=400, note=note_text)
    if form.get("confirm") != "yes":
        return await render(request, "fleet_ack_confirm.html", {
            "title": t("ack.confirm.title", id=event_id), "id": event_id, "action": action, "note": note_text,
        }, operator=operator)
    api = api_of(request)
    try:
        ack_event(store_of(request), api[API_OUTBOX], config_of(request), event_id, action, operator.name,
                  clock_of(request), note=note, actor=operator.name)
    except UnknownVehicleEvent as exc:
        raise web.HTTPNotFound(text=str(exc)) from None
    except VehicleEventRefusal as exc:
        return await _event_page(request, operator, error=str(exc), status_code=400, action=action, note=note_text)
    except OutboxFullError as exc:
        return await _event_page(request, operator, error=t("ack.outbox.full", problem=str(exc)), status_code=503,
                                 action=action, note=note_text)
    raise web.HTTPSeeOther(f"{CONSOLE_PREFIX}/fleet/events/{event_id}?done=acked")


def _period(request: web.Request, fleet: FleetConfig) -> Any:
    t = translator(request)
    try:
        start = parse_moment(request.query.get("from", ""))
        end = parse_moment(request.query.get("to", ""))
        return period_between(start, end, local_zone(fleet.timezone))
    except (ValueError, ReportError) as exc:
        raise web.HTTPBadRequest(text=t("report.period.wrong", problem=str(exc))) from None


def _download(content: str, name: str, kind: str) -> web.Response:
    return web.Response(text=content, content_type=kind, charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})


@page(READ)
async def _get_route_report(request: web.Request, operator: Operator) -> web.StreamResponse:
    fleet = _fleet(request)
    vehicle = request.match_info["vehicle"]
    if vehicle not in fleet.vehicles:
        raise web.HTTPNotFound(text=translator(request)("fleet.unknown", vehicle=vehicle))
    period = _period(request, fleet)
    audit_read(request, operator)
    route = load_route(store_of(request).db, vehicle, period)
    config = config_of(request)
    content = route_html(route, company=config.provider.name, plate=fleet.vehicles[vehicle].plate,
                         generated_at=dt.datetime.now(dt.UTC))
    return _download(content, f"route-{vehicle}-{period.start:%Y%m%d}.html", "text/html")


@page(READ)
async def _get_events_report(request: web.Request, operator: Operator) -> web.StreamResponse:
    fleet = _fleet(request)
    period = _period(request, fleet)
    audit_read(request, operator)
    history = load_events(store_of(request).db, period, request.query.get("vehicle") or None)
    if request.query.get("format") == "csv":
        return _download(events_csv(history), f"events-{period.start:%Y%m%d}.csv", "text/csv")
    content = events_html(history, company=config_of(request).provider.name, generated_at=dt.datetime.now(dt.UTC))
    return _download(content, f"events-{period.start:%Y%m%d}.html", "text/html")


async def _stop_syncs(app: web.Application) -> None:
    await app[CONSOLE_SYNCS].stop()


def add_fleet_routes(app: web.Application) -> None:
    """The fleet pages and forms (they answer 404 when the config has no ``fleet``)."""
    app[CONSOLE_SYNCS] = SyncJobs()
    app.on_shutdown.append(_stop_syncs)
    app.router.add_get("/fleet/vehicles", _get_vehicles)
    app.router.add_get("/fleet/vehicles/{vehicle}", _get_vehicle)
    app.router.add_post("/fleet/vehicles/{vehicle}/sync", _post_sync)
    app.router.add_get("/fleet/vehicles/{vehicle}/sync/events", _get_sync_events)
    app.router.add_get("/fleet/vehicles/{vehicle}/route.html", _get_route_report)
    app.router.add_get("/fleet/events", _get_events)
    app.router.add_get("/fleet/events/history", _get_events_report)
    app.router.add_get("/fleet/events/{id}", _get_event)
    app.router.add_post("/fleet/events/{id}/ack", _post_ack)
