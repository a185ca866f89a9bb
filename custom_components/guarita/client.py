"""A small typed client for Guarita's REST API (``/api/v1``) over Home Assistant's aiohttp session.

Two calls: ``summary()`` (``GET /summary``, the whole state in one request) and
``acknowledge()`` (``POST /vehicle-events/{id}/ack``, what ``guarita events ack`` records).
Answers are parsed into frozen dataclasses; a refused token raises ``GuaritaAuthError``, an
unreachable server ``GuaritaConnectionError``, anything else ``GuaritaApiError``. The token
is sent as a bearer token and never logged.

Covers: PB-08, DT-16, DT-17.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import aiohttp

from .const import REQUEST_TIMEOUT

API_PATH = "/api/v1"


class GuaritaApiError(Exception):
    """Guarita answered, but not with what was asked for."""


class GuaritaConnectionError(GuaritaApiError):
    """Guarita could not be reached (refused, timed out, not HTTP)."""


class GuaritaAuthError(GuaritaApiError):
    """The token was refused (401) or its role may not make this call (403)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def base_url(url: str) -> str:
    """The server's root as the user typed it, without a trailing ``/`` or ``/api/v1``, nor a user or password."""
    url = url.strip().rstrip("/")
    if url.endswith(API_PATH):
        url = url[: -len(API_PATH)]
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("the URL must start with http:// or https:// and name a host")
    if parts.username is not None or parts.password is not None:
        # The bearer token is the credential: a user and password in the URL are neither kept nor sent.
        netloc = parts.netloc.rpartition("@")[2]
        url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return url


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


@dataclass(frozen=True)
class Link:
    """An MQTT link of the running Guarita; ``up`` is None when Guarita does not report it."""

    up: bool | None
    detail: str | None

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Link:
        return cls(up=data["up"], detail=data["detail"])


@dataclass(frozen=True)
class ProgramShare:
    """The share gate's decision for one program."""

    shared: bool
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Camera:
    """A configured camera and its share state (never the client's document: the API has none)."""

    name: str
    programs: dict[str, ProgramShare]
    client: str | None
    consent: dict[str, Any] | None
    public_facing: bool
    sign_plate: str | None

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Camera:
        programs = {
            name: ProgramShare(shared=bool(p["shared"]), reasons=tuple(p["reasons"]))
            for name, p in data["programs"].items()
        }
        return cls(
            name=data["camera"], programs=programs, client=data["client"], consent=data["consent"],
            public_facing=bool(data["public_facing"]), sign_plate=data["sign_plate"],
        )


@dataclass(frozen=True)
class Uplink:
    """A program's uplink and its outbox."""

    program: str
    link: Link
    outbox_depth: int
    delivered: int | None
    last_delivery: datetime | None

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Uplink:
        return cls(
            program=data["program"], link=Link.parse(data["link"]), outbox_depth=int(data["outbox_depth"]),
            delivered=data["delivered"], last_delivery=_time(data["last_delivery"]),
        )


@dataclass(frozen=True)
class Vehicle:
    """A bus: its last DVR sync and its open sensor events."""

    vehicle: str
    plate: str
    line: str | None
    last_sync: datetime | None
    last_sync_status: str | None
    last_sync_files: int | None
    last_sync_hours: float | None
    gaps: int
    quarantined_files: int
    open_events: int

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Vehicle:
        return cls(
            vehicle=data["vehicle"], plate=data["plate"], line=data["line"], last_sync=_time(data["last_sync"]),
            last_sync_status=data["last_sync_status"], last_sync_files=data["last_sync_files"],
            last_sync_hours=data["last_sync_hours"], gaps=int(data["gaps"]),
            quarantined_files=int(data["quarantined_files"]), open_events=int(data["open_events"]),
        )


@dataclass(frozen=True)
class VehicleEvent:
    """An open sensor event (harsh braking, overspeed...)."""

    id: str
    vehicle: str
    line: str | None
    type: str
    ts: str
    value: float | None
    threshold: float | None
    unit: str | None

    @classmethod
    def parse(cls, data: dict[str, Any]) -> VehicleEvent:
        return cls(
            id=data["id"], vehicle=data["vehicle"], line=data["line"], type=data["type"], ts=data["ts"],
            value=data["value"], threshold=data["threshold"], unit=data["unit"],
        )


@dataclass(frozen=True)
class Summary:
    """``GET /summary``: everything the integration shows, from one request."""

    provider: str
    version: str
    running: bool
    frigate: Link
    uplinks: dict[str, Uplink]
    quarantined: int
    audit_entries: int
    audit_intact: bool
    audit_broken_at: int | None
    cameras: dict[str, Camera]
    vehicles: dict[str, Vehicle]
    open_events: tuple[VehicleEvent, ...]
    open_events_total: int
    raw: dict[str, Any]

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Summary:
        audit = data["audit"]
        return cls(
            provider=data["provider"], version=data["version"], running=bool(data["running"]),
            frigate=Link.parse(data["frigate"]),
            uplinks={u["program"]: Uplink.parse(u) for u in data["uplinks"]},
            quarantined=int(data["quarantined"]),
            audit_entries=int(audit["entries"]), audit_intact=bool(audit["intact"]), audit_broken_at=audit["broken_at"],
            cameras={c["camera"]: Camera.parse(c) for c in data["cameras"]},
            vehicles={v["vehicle"]: Vehicle.parse(v) for v in data["vehicles"]},
            open_events=tuple(VehicleEvent.parse(e) for e in data["open_events"]),
            open_events_total=int(data["open_events_total"]), raw=data,
        )


@dataclass(frozen=True)
class Ack:
    """An acknowledgement Guarita recorded."""

    event: str
    seq: int
    action: str
    by: str
    at: str
    note: str | None


class GuaritaClient:
    """Guarita's REST API at ``url`` with ``token``, over ``session`` (Home Assistant's shared one)."""

    def __init__(self, session: aiohttp.ClientSession, url: str, token: str) -> None:
        self._session = session
        self.root = base_url(url)
        self._root = self.root + API_PATH
        self._token = token

    async def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self._token}"}
        try:
            async with self._session.request(
                method, self._root + path, json=body, headers=headers,
                timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT.total_seconds()),
            ) as response:
                try:
                    answer = await response.json(content_type=None)
                except ValueError:
                    answer = None
                status = response.status
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise GuaritaConnectionError(f"cannot reach Guarita at {self._root}: {type(exc).__name__}") from exc
        message = answer.get("error", "") if isinstance(answer, dict) else ""
        if status in (401, 403):
            raise GuaritaAuthError(status, f"Guarita refused the token ({status}): {message}")
        if status >= 400 or not isinstance(answer, dict):
            raise GuaritaApiError(f"Guarita answered {method} {path} with {status}: {message or 'not JSON'}")
        return answer

    async def summary(self) -> Summary:
        """The whole state (``GET /summary``)."""
        data = await self._request("GET", "/summary")
        try:
            return Summary.parse(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise GuaritaApiError(f"Guarita's summary is not what this integration reads: {exc!r}") from exc

    async def acknowledge(self, event_id: str, action: str, by: str, *, note: str | None = None) -> Ack:
        """Record what was done about a sensor event, with an optional note (``guarita events ack``)."""
        body: dict[str, Any] = {"action": action, "by": by}
        if note is not None:
            body["note"] = note
        data = await self._request("POST", f"/vehicle-events/{quote(event_id, safe='')}/ack", body)
        ack = data["ack"]
        return Ack(
            event=data["event"], seq=int(ack["seq"]), action=ack["action"], by=ack["by"], at=ack["at"],
            note=ack.get("note"),
        )
