"""The REST API's vehicle (sensor) events: the online summary (DT-16) and the handling trail (DT-17).

* ``GET /vehicle-events?open=true&vehicle=V&limit=N``: events, newest first, with their acks
  (roles admin, operator, auditor, viewer);
* ``POST /vehicle-events/{id}/ack`` with ``{"action", "by"}`` and an optional ``"note"``: record what was done
  (admin, operator). The audit entry names the token's holder as actor and ``by`` in its
  details; the ack goes to DETRO through the outbox when DETRO is configured.

``VEHICLE_EVENT_ROUTES`` is a route table like ``guarita.web.api``'s; ``add_vehicle_event_routes``
registers it on an API application and gives it the outbox.

Covers: DT-16, DT-17, BH-09.
"""

from __future__ import annotations

import re

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from guarita.web.api_http import (
    API_CLOCK,
    API_CONFIG,
    API_STORE,
    ApiProblem,
    Caller,
    Handler,
    guarded,
    invalid,
    json_answer,
    read_body,
)
from guarita.web.api_openapi import ApiOperation, QueryParam
from guarita.config import VEHICLE_ID_PATTERN, ApiRole
from guarita.errors import OutboxFullError
from guarita.outbox import Outbox
from guarita.telemetry.detro import detro_enabled
from guarita.vehicle_events import (
    LOGIN_PATTERN,
    MAX_ACTION_CHARS,
    MAX_BY_CHARS,
    MAX_NOTE_CHARS,
    EventAck,
    UnknownVehicleEvent,
    VehicleEvent,
    VehicleEventRefusal,
    ack_event,
    list_events,
)

__all__ = [
    "API_OUTBOX",
    "VEHICLE_EVENT_OPERATIONS",
    "VEHICLE_EVENT_ROUTES",
    "VehicleEventAckBody",
    "VehicleEventAckDone",
    "VehicleEventAckModel",
    "VehicleEventModel",
    "VehicleEventsReport",
    "add_vehicle_event_routes",
    "event_model",
]

API_OUTBOX: web.AppKey[Outbox] = web.AppKey("api_outbox", Outbox)
_DATE_TIME: JsonDict = {"format": "date-time"}
_NOT_BLANK = r"\S"
_VEHICLE = re.compile(VEHICLE_ID_PATTERN)
_EVENT_ID = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}-[a-z_]+-[0-9]+$"
DEFAULT_LIMIT = 200
MAX_LIMIT = 5000


class _Response(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VehicleEventAckBody(BaseModel):
    """``POST /vehicle-events/{id}/ack``: what was done about the event, by whom, and an optional note."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    action: str = Field(min_length=1, max_length=MAX_ACTION_CHARS, pattern=_NOT_BLANK, description="What was done.")
    by: str = Field(
        min_length=1, max_length=MAX_BY_CHARS, pattern=LOGIN_PATTERN,
        description="Who did it: the operator's login (user id), not a full name; sent to DETRO as is.",
    )
    note: str | None = Field(
        default=None, min_length=1, max_length=MAX_NOTE_CHARS, pattern=_NOT_BLANK,
        description="Optional free text kept with the ack and sent to DETRO (what the driver said, a ticket number).",
    )


class VehicleEventAckModel(_Response):
    """One handling of an event."""

    seq: int = Field(description="Its number among the event's acks: 1, 2, ...")
    action: str = Field(description="What was done.")
    by: str = Field(description="Who did it.")
    at: str = Field(json_schema_extra=_DATE_TIME, description="When it was recorded (UTC).")
    note: str | None = Field(description="The free-text note given with it, or null.")


class VehicleEventModel(_Response):
    """A sensor event, as `guarita events list --json` shows it."""

    id: str = Field(description="`<vehicle>-<type>-<epoch ms of the first sample>`.")
    vehicle: str = Field(description="Vehicle order number.")
    line: str | None = Field(description="The vehicle's line when the event was recorded, or null.")
    type: str = Field(description="`harsh_braking`, `harsh_acceleration`, `sharp_turn`, `overspeed` or `power_loss`.")
    ts: str = Field(json_schema_extra=_DATE_TIME, description="Time of the first sample over the threshold (UTC).")
    lat: float | None = Field(description="Latitude at the first sample.")
    lon: float | None = Field(description="Longitude at the first sample.")
    speed_kmh: float | None = Field(description="Speed at the first sample.")
    value: float | None = Field(description="The peak value (null for `power_loss`).")
    threshold: float | None = Field(description="The threshold crossed (null for `power_loss`).")
    unit: str | None = Field(description="`m/s2` or `km/h` (null for `power_loss`).")
    source: str = Field(description="`mqtt` (live) or `dvr` (the DVR's file) — where it was first seen.")
    status: str = Field(description="`open` until acknowledged, then `acked`.")
    acks: list[VehicleEventAckModel] = Field(description="The handling trail, oldest first.")


class VehicleEventsReport(_Response):
    """``GET /vehicle-events``."""

    events: list[VehicleEventModel] = Field(description="Newest first.")


class VehicleEventAckDone(_Response):
    """The ack was recorded."""

    event: str = Field(description="The event id.")
    ack: VehicleEventAckModel = Field(description="The ack recorded.")
    forwarded: bool = Field(description="True when it was queued for DETRO.")


def _ack_model(ack: EventAck) -> VehicleEventAckModel:
    return VehicleEventAckModel(
        seq=ack.seq, action=ack.action, by=ack.by, at=ack.at.isoformat(timespec="seconds"), note=ack.note
    )


def event_model(e: VehicleEvent) -> VehicleEventModel:
    return VehicleEventModel(
        id=e.id, vehicle=e.vehicle, line=e.line, type=e.type.value, ts=e.ts.isoformat(timespec="milliseconds"),
        lat=e.lat, lon=e.lon, speed_kmh=e.speed_kmh, value=e.value, threshold=e.threshold, unit=e.unit,
        source=e.source, status="open" if e.is_open else "acked",
        acks=[_ack_model(a) for a in e.acks],
    )


def _only_query(request: web.Request, *known: str) -> None:
    """Refuse query parameters the operation does not document (a typo must not widen a read)."""
    for name in request.query:
        if name not in known:
            raise invalid(name, "unknown query parameter" + (f"; use {', '.join(known)}" if known else ""))


def _flag(request: web.Request, name: str) -> bool:
    given = request.query.get(name, "false")
    if given not in ("true", "false"):
        raise invalid(name, "must be true or false")
    return given == "true"


def _limit(request: web.Request) -> int:
    given = request.query.get("limit", str(DEFAULT_LIMIT))
    if not given.isascii() or not given.isdigit() or not 1 <= int(given) <= MAX_LIMIT:
        raise invalid("limit", f"must be a whole number from 1 to {MAX_LIMIT}")
    return int(given)


async def _get_events(request: web.Request, caller: Caller) -> web.Response:
    _only_query(request, "open", "vehicle", "limit")
    open_only = _flag(request, "open")
    vehicle = request.query.get("vehicle")
    if vehicle is not None and not _VEHICLE.fullmatch(vehicle):
        raise invalid("vehicle", "must be a vehicle order number (letters, digits, `_`, `-`; up to 32)")
    limit = _limit(request)
    events = list_events(request.app[API_STORE].db, open_only=open_only, vehicle=vehicle, limit=limit)
    return json_answer(VehicleEventsReport(events=[event_model(e) for e in events]))


async def _post_ack(request: web.Request, caller: Caller) -> web.Response:
    event_id = request.match_info["id"]
    _only_query(request)
    body = await read_body(request, VehicleEventAckBody)
    app = request.app
    try:
        ack = ack_event(
            app[API_STORE], app[API_OUTBOX], app[API_CONFIG], event_id, body.action, body.by, app[API_CLOCK],
            note=body.note, actor=caller.name,
        )
    except UnknownVehicleEvent as exc:
        raise ApiProblem(404, str(exc)) from None
    except VehicleEventRefusal as exc:
        raise invalid("body", str(exc)) from None
    except OutboxFullError as exc:
        raise ApiProblem(503, f"not recorded: {exc}") from None
    forwarded = detro_enabled(app[API_CONFIG])
    done = _ack_model(ack)
    return json_answer(VehicleEventAckDone(event=event_id, ack=done, forwarded=forwarded), 201)


_ALL = tuple(ApiRole)
_WRITERS = (ApiRole.ADMIN, ApiRole.OPERATOR)

VEHICLE_EVENT_ROUTES: tuple[tuple[ApiOperation, Handler], ...] = (
    (ApiOperation("GET", "/vehicle-events", "listVehicleEvents", "Read the fleet's sensor events",
                  "Sensor events (harsh braking and acceleration, sharp turns, overspeed, power loss), newest "
                  "first, each with its handling trail (`guarita events list --json`).",
                  _ALL, {200: VehicleEventsReport},
                  query=(QueryParam("open", "`true`: only events nobody has acknowledged.", {"type": "boolean"}),
                         QueryParam("vehicle", "Only this vehicle (order number).",
                                    {"type": "string", "pattern": VEHICLE_ID_PATTERN}),
                         QueryParam("limit", f"At most this many events (default {DEFAULT_LIMIT}).",
                                    {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}))),
     _get_events),
    (ApiOperation("POST", "/vehicle-events/{id}/ack", "ackVehicleEvent", "Record the handling of a sensor event",
                  "`guarita events ack`: what was done, by whom and an optional note; kept (append-only), audited as "
                  "`vehicle_event.ack` and forwarded to DETRO when it is configured.",
                  _WRITERS, {201: VehicleEventAckDone}, VehicleEventAckBody, writes=True,
                  path_params=(QueryParam("id", "The event id, as `GET /vehicle-events` gives it.",
                                          {"type": "string", "pattern": _EVENT_ID}),)),
     _post_ack),
)
VEHICLE_EVENT_OPERATIONS: tuple[ApiOperation, ...] = tuple(op for op, _ in VEHICLE_EVENT_ROUTES)


def add_vehicle_event_routes(app: web.Application, outbox: Outbox | None = None) -> None:
    """Register the routes on an API application (after its config, store and clock are set).

    ``outbox`` is the process's outbox (``guarita run`` passes its own, so an ack wakes the
    DETRO publisher at once); without one, the API gets its own view of the store's outbox.
    """
    if outbox is None:
        config = app[API_CONFIG]
        clock = app[API_CLOCK]
        outbox = Outbox.for_config(app[API_STORE], config.outbox, lambda: clock().timestamp())
    app[API_OUTBOX] = outbox
    for operation, handler in VEHICLE_EVENT_ROUTES:
        app.router.add_route(operation.method, operation.path, guarded(operation, handler))
