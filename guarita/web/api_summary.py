"""``GET /api/v1/summary``: the whole state a dashboard polls, in one read.

Home Assistant's integration (``custom_components/guarita``) asks for this once per poll
instead of one request per camera, uplink and vehicle: every configured camera with the
share gate's decision per program (as ``GET /cameras``), each enabled uplink with its link
state, outbox depth, messages delivered since the process started and the last delivery,
the Frigate link, the quarantine, the audit chain's state (entries, intact, first broken
entry), each vehicle's last DVR sync (files, hours archived, coverage gaps, quarantined
files) and the open sensor events. Every role may read it; like ``GET /cameras`` it reads
registry data, so it appends an ``api.read`` entry first (coalesced per minute).

Link states and delivery counts exist only in a running ``guarita run``: it hands
``make_api_app`` a ``live`` callable returning a ``LiveState``. An API served without one
(tests, a tool reading the store) answers ``running: false`` and ``up: null`` links.

Covers: DT-16, BH-03, BH-09, PB-08.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from guarita import __version__, audit
from guarita.web.api_http import API_CLOCK, API_CONFIG, API_REGISTRY, API_STORE, Caller, Handler, audit_read, json_answer
from guarita.web.api_models import CameraStatusModel, ConsentModel, ProgramShare
from guarita.web.api_openapi import ApiOperation
from guarita.web.api_vehicle_events import API_OUTBOX, VehicleEventModel, event_model
from guarita.adapters.dvr.report import vehicle_status
from guarita.config import ApiRole, GuaritaConfig
from guarita.consent.registry import RegistrySnapshot
from guarita.consent.status import camera_statuses
from guarita.vehicle_events import list_events

__all__ = [
    "API_LIVE",
    "OPEN_EVENTS_LISTED",
    "SUMMARY_ROUTES",
    "LiveLink",
    "LiveState",
    "SummaryReport",
    "audit_state",
    "camera_models",
    "link_model",
    "uplink_models",
]

OPEN_EVENTS_LISTED = 100
_DATE_TIME: JsonDict = {"format": "date-time"}


@dataclass(frozen=True)
class LiveLink:
    """One MQTT link of a running process."""

    up: bool
    detail: str


@dataclass(frozen=True)
class LiveState:
    """What only the running process knows: links by name (``frigate``, ``uplink:<program>``, ``telemetry``)
    and messages delivered per uplink since it started."""

    links: dict[str, LiveLink] = field(default_factory=dict)
    delivered: dict[str, int] = field(default_factory=dict)


API_LIVE: web.AppKey[Callable[[], LiveState]] = web.AppKey("api_live", Callable[[], LiveState])  # type: ignore[arg-type]


class _Response(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LinkModel(_Response):
    """An MQTT link."""

    up: bool | None = Field(description="True when connected; null when no running process reports it.")
    detail: str | None = Field(description="The last state change, e.g. the error that dropped it; or null.")


class UplinkModel(_Response):
    """A program's uplink (its MQTT broker) and its outbox."""

    program: str = Field(description="`cop_bh` or `detro`.")
    link: LinkModel = Field(description="The connection to the program's broker.")
    outbox_depth: int = Field(description="Messages waiting for the broker's acknowledgement.")
    delivered: int | None = Field(
        description="Messages the broker acknowledged since the process started (null when not running)."
    )
    last_delivery: str | None = Field(
        json_schema_extra=_DATE_TIME, description="The last acknowledged message still in the outbox (UTC), or null."
    )


class AuditStateModel(_Response):
    """The audit log's hash chain."""

    entries: int = Field(description="Entries checked.")
    intact: bool = Field(description="True when every entry follows the one before it.")
    broken_at: int | None = Field(description="The first broken entry, or null.")


class VehicleSummaryModel(_Response):
    """A bus of the fleet: its last DVR sync and its open sensor events."""

    vehicle: str = Field(description="Order number.")
    plate: str = Field(description="Licence plate.")
    line: str | None = Field(description="The line it runs, or null.")
    last_sync: str | None = Field(
        json_schema_extra=_DATE_TIME, description="When the last DVR sync finished (or started, if unfinished), or null."
    )
    last_sync_status: str | None = Field(description="`ok`, `partial`, `failed`...; null when never synced.")
    last_sync_files: int | None = Field(description="Files archived by the last sync, or null.")
    last_sync_hours: float | None = Field(description="Hours of footage archived by the last sync, or null.")
    gaps: int = Field(description="Holes in the archive's coverage, all cameras together.")
    quarantined_files: int = Field(description="DVR files quarantined.")
    open_events: int = Field(description="Sensor events nobody has acknowledged.")


class SummaryReport(_Response):
    """``GET /summary``."""

    provider: str = Field(description="The provider's id.")
    version: str = Field(description="Guarita's version.")
    at: str = Field(json_schema_extra=_DATE_TIME, description="When the summary was taken (UTC).")
    running: bool = Field(description="True when served by `guarita run` (link states and counts are live).")
    accredited: bool = Field(description="Whether the provider is accredited (BH + Segura).")
    registry_version: int = Field(description="Registry version read.")
    frigate: LinkModel = Field(description="The link to Frigate's MQTT broker.")
    uplinks: list[UplinkModel] = Field(description="Each enabled program's uplink.")
    quarantined: int = Field(description="Messages kept in the quarantine (bad input set aside).")
    audit: AuditStateModel = Field(description="The audit chain's state.")
    cameras: list[CameraStatusModel] = Field(description="Every configured camera, as `GET /cameras`.")
    vehicles: list[VehicleSummaryModel] = Field(description="Every vehicle of the fleet (empty without a fleet).")
    open_events: list[VehicleEventModel] = Field(
        description=f"The newest open sensor events (at most {OPEN_EVENTS_LISTED}), newest first."
    )
    open_events_total: int = Field(description="All open sensor events.")


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment is not None else None


def _epoch_iso(moment: float | None) -> str | None:
    return None if moment is None else datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")


def camera_models(config: GuaritaConfig, snapshot: RegistrySnapshot, now: datetime) -> list[CameraStatusModel]:
    """Every configured camera's share status as the API shows it."""
    return [
        CameraStatusModel(
            camera=s.camera,
            programs={p.program.value: ProgramShare(shared=p.shared, reasons=list(p.reasons)) for p in s.programs},
            client=s.client,
            consent=None if s.consent_since is None else ConsentModel(
                programs=list(s.consent_programs),
                since=s.consent_since.astimezone(UTC).isoformat(timespec="seconds"),
                expires=_iso(s.consent_expires),
                revoked=_iso(s.consent_revoked),
            ),
            public_facing=s.public_facing,
            sign_plate=s.sign_plate,
        )
        for s in camera_statuses(config, snapshot, now)
    ]


def _link(live: LiveState | None, name: str) -> LinkModel:
    if live is None or name not in live.links:
        return LinkModel(up=None, detail=None)
    link = live.links[name]
    return LinkModel(up=link.up, detail=link.detail or None)


def _vehicle(config: GuaritaConfig, db: sqlite3.Connection, vehicle: str) -> VehicleSummaryModel:
    assert config.fleet is not None
    settings = config.fleet.vehicles[vehicle]
    status = vehicle_status(config, db, vehicle)
    last = db.execute(
        "SELECT started_at, finished_at, status, files FROM dvr_syncs WHERE vehicle = ? ORDER BY id DESC LIMIT 1",
        (vehicle,),
    ).fetchone()
    hours: float | None = None
    if last is not None:
        until = last[1] if last[1] is not None else datetime.now(UTC).timestamp()
        seconds = db.execute(
            "SELECT COALESCE(SUM(duration_s), 0) FROM dvr_segments WHERE vehicle = ? AND synced_at BETWEEN ? AND ?",
            (vehicle, last[0], until),
        ).fetchone()[0]
        hours = round(float(seconds) / 3600.0, 3)
    open_count = db.execute(
        "SELECT COUNT(*) FROM vehicle_events e WHERE e.vehicle = ? "
        "AND NOT EXISTS (SELECT 1 FROM vehicle_event_acks a WHERE a.event_id = e.id)",
        (vehicle,),
    ).fetchone()[0]
    return VehicleSummaryModel(
        vehicle=vehicle,
        plate=settings.plate,
        line=settings.line,
        last_sync=None if last is None else _epoch_iso(last[1] if last[1] is not None else last[0]),
        last_sync_status=None if last is None else str(last[2]),
        last_sync_files=None if last is None else int(last[3]),
        last_sync_hours=hours,
        gaps=sum(len(camera["gaps"]) for camera in status["cameras"]),
        quarantined_files=len(status["quarantined"]),
        open_events=int(open_count),
    )


def link_model(live: LiveState | None, name: str) -> LinkModel:
    """The link ``name`` (``frigate``, ``uplink:<program>``) as the running process reports it."""
    return _link(live, name)


def uplink_models(app: web.Application, live: LiveState | None) -> list[UplinkModel]:
    """Each enabled program's uplink: link, outbox depth, deliveries (also the web console's overview)."""
    config = app[API_CONFIG]
    db = app[API_STORE].db
    outbox = app[API_OUTBOX]
    uplinks = []
    for program, settings in sorted(config.programs.items()):
        if not settings.enabled:
            continue
        name = program.value
        last = db.execute(
            "SELECT MAX(delivered_at) FROM outbox WHERE uplink = ? AND delivered_at IS NOT NULL", (name,)
        ).fetchone()[0]
        uplinks.append(UplinkModel(
            program=name,
            link=_link(live, f"uplink:{name}"),
            outbox_depth=outbox.depth(name),
            delivered=None if live is None else live.delivered.get(name, 0),
            last_delivery=_epoch_iso(last),
        ))
    return uplinks


def audit_state(db: sqlite3.Connection) -> AuditStateModel:
    """The audit chain's state, checked now."""
    checked = audit.check(db)
    return AuditStateModel(
        entries=checked.entries,
        intact=checked.broken is None,
        broken_at=None if checked.broken is None else checked.broken.seq,
    )


async def _get_summary(request: web.Request, caller: Caller) -> web.Response:
    audit_read(request, caller)
    app = request.app
    config = app[API_CONFIG]
    db = app[API_STORE].db
    live = app[API_LIVE]() if API_LIVE in app else None
    snapshot = app[API_REGISTRY].snapshot()
    now = app[API_CLOCK]()
    open_events = list_events(db, open_only=True, vehicle=None, limit=OPEN_EVENTS_LISTED)
    open_total = db.execute(
        "SELECT COUNT(*) FROM vehicle_events e "
        "WHERE NOT EXISTS (SELECT 1 FROM vehicle_event_acks a WHERE a.event_id = e.id)"
    ).fetchone()[0]
    vehicles = sorted(config.fleet.vehicles) if config.fleet is not None else []
    return json_answer(SummaryReport(
        provider=config.provider.id,
        version=__version__,
        at=now.astimezone(UTC).isoformat(timespec="seconds"),
        running=live is not None,
        accredited=snapshot.accredited,
        registry_version=snapshot.version,
        frigate=_link(live, "frigate"),
        uplinks=uplink_models(app, live),
        quarantined=int(db.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0]),
        audit=audit_state(db),
        cameras=camera_models(config, snapshot, now),
        vehicles=[_vehicle(config, db, vehicle) for vehicle in vehicles],
        open_events=[event_model(e) for e in open_events],
        open_events_total=int(open_total),
    ))


SUMMARY_ROUTES: tuple[tuple[ApiOperation, Handler], ...] = (
    (ApiOperation("GET", "/summary", "readSummary", "Read the whole state in one request",
                  "Cameras with the share gate's decision per program, uplinks (link, outbox depth, deliveries), "
                  "the Frigate link, the quarantine, the audit chain's state, each vehicle's last DVR sync and "
                  "the open sensor events: what a dashboard (Home Assistant) polls. Recorded in the audit log as "
                  "`api.read`.", tuple(ApiRole), {200: SummaryReport}),
     _get_summary),
)
