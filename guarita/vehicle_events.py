"""Sensor events of the fleet as operators see them, and their handling trail.

``list_events`` reads ``vehicle_events`` with each event's acknowledgements (newest event
first): the online summary (DT-16). ``ack_event`` records what an operator did about an
event (the action, who, when, and an optional free-text note: DT-17) as a new row of the append-only
``vehicle_event_acks``, with its audit entry (``vehicle_event.ack``) and, when DETRO is
configured, a ``guarita.vehicle_event_ack/1`` message on the vehicle's events topic, all in
one transaction. An event can be acknowledged more than once; each ack is kept. Who did it
is the operator's login (user id), never a full name: it is what DETRO receives (BH-07).

Covers: DT-16, DT-17, DT-13, BH-07.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from guarita import audit
from guarita.config import GuaritaConfig
from guarita.errors import GuaritaError, StoreError
from guarita.outbox import Outbox, OutboxMessage
from guarita.store import Store
from guarita.telemetry.detect import SensorEventType, unit_of
from guarita.telemetry.detro import ack_message, detro_enabled

__all__ = [
    "MAX_ACTION_CHARS",
    "LOGIN_PATTERN",
    "MAX_BY_CHARS",
    "MAX_NOTE_CHARS",
    "EventAck",
    "UnknownVehicleEvent",
    "VehicleEvent",
    "VehicleEventRefusal",
    "ack_event",
    "get_event",
    "list_events",
]

MAX_ACTION_CHARS = 500
MAX_BY_CHARS = 64
MAX_NOTE_CHARS = 1000
# A login: letters, digits, `.`, `_`, `-`; no spaces (a full name) and no `@` (an e-mail address).
LOGIN_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_LOGIN = re.compile(LOGIN_PATTERN)


class VehicleEventRefusal(GuaritaError):
    """An acknowledgement was refused (no action or no user given, a blank or too long note)."""


class UnknownVehicleEvent(VehicleEventRefusal):
    """No sensor event has this id."""

    def __init__(self, event_id: str) -> None:
        self.event_id = event_id
        super().__init__(f"no vehicle event {event_id!r}; `guarita events list` shows the ids")


@dataclass(frozen=True)
class EventAck:
    """One handling of an event: its number among the event's acks, the action, who, when and a note."""

    seq: int
    action: str
    by: str
    at: datetime
    note: str | None = None


@dataclass(frozen=True)
class VehicleEvent:
    """A sensor event with its handling trail (oldest ack first)."""

    id: str
    vehicle: str
    type: SensorEventType
    ts: datetime
    lat: float | None
    lon: float | None
    speed_kmh: float | None
    value: float | None
    threshold: float | None
    source: str
    line: str | None
    acks: tuple[EventAck, ...]

    @property
    def unit(self) -> str | None:
        """Unit of ``value`` and ``threshold``."""
        return unit_of(self.type)

    @property
    def is_open(self) -> bool:
        """True until someone acknowledges it."""
        return not self.acks

    @property
    def last_action(self) -> str | None:
        """The latest ack's action, or None."""
        return self.acks[-1].action if self.acks else None


def _moment(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def _acks(db: sqlite3.Connection, ids: list[str]) -> dict[str, list[EventAck]]:
    found: dict[str, list[EventAck]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows = db.execute(
            f"SELECT event_id, action, acked_by, acked_at, note FROM vehicle_event_acks WHERE event_id IN ({marks}) "
            "ORDER BY seq",
            chunk,
        )
        for event_id, action, by, at, note in rows:
            trail = found.setdefault(str(event_id), [])
            trail.append(EventAck(
                len(trail) + 1, str(action), str(by), _moment(float(at)), None if note is None else str(note)
            ))
    return found


def _select(db: sqlite3.Connection, where: list[str], params: list[object], limit: int | None) -> list[VehicleEvent]:
    sql = (
        "SELECT id, vehicle, type, ts, lat, lon, speed_kmh, value, threshold, source, details "
        f"FROM vehicle_events e WHERE {' AND '.join(where) or '1 = 1'} ORDER BY ts DESC, id"
    )
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    try:
        rows = db.execute(sql, params).fetchall()
        trails = _acks(db, [str(row[0]) for row in rows])
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read vehicle events: {exc}") from exc
    return [
        VehicleEvent(
            id=str(r[0]), vehicle=str(r[1]), type=SensorEventType(str(r[2])), ts=_moment(float(r[3])),
            lat=r[4], lon=r[5], speed_kmh=r[6], value=r[7], threshold=r[8], source=str(r[9]),
            line=json.loads(str(r[10])).get("line"), acks=tuple(trails.get(str(r[0]), ())),
        )
        for r in rows
    ]


def list_events(
    db: sqlite3.Connection,
    *,
    open_only: bool = False,
    vehicle: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
) -> list[VehicleEvent]:
    """Events (newest first) with their acks; ``open_only`` leaves out acknowledged ones.

    Raises:
        StoreError: the store cannot be read.
    """
    where: list[str] = []
    params: list[object] = []
    if open_only:
        where.append("NOT EXISTS (SELECT 1 FROM vehicle_event_acks a WHERE a.event_id = e.id)")
    if vehicle is not None:
        where.append("e.vehicle = ?")
        params.append(vehicle)
    if since is not None:
        where.append("e.ts >= ?")
        params.append(since.timestamp())
    if until is not None:
        where.append("e.ts < ?")
        params.append(until.timestamp())
    return _select(db, where, params, limit)


def get_event(db: sqlite3.Connection, event_id: str) -> VehicleEvent:
    """One event with its acks.

    Raises:
        UnknownVehicleEvent: no event has this id.
        StoreError: the store cannot be read.
    """
    found = _select(db, ["e.id = ?"], [event_id], 1)
    if not found:
        raise UnknownVehicleEvent(event_id)
    return found[0]


def _text(value: str, name: str, flag: str, limit: int) -> str:
    text = value.strip()
    if not text:
        raise VehicleEventRefusal(f"say {name}: {flag}")
    if len(text) > limit:
        raise VehicleEventRefusal(f"{name} is longer than {limit} characters")
    return text


def _login(value: str) -> str:
    login = _text(value, "who did it", "--by USER", MAX_BY_CHARS)
    if not _LOGIN.fullmatch(login):
        raise VehicleEventRefusal(
            f"--by takes the operator's login (user id, e.g. `ana.souza`), not a full name or an e-mail "
            f"address: {login!r} has characters other than letters, digits, `.`, `_` and `-`"
        )
    return login


def ack_event(
    store: Store,
    outbox: Outbox,
    config: GuaritaConfig,
    event_id: str,
    action: str,
    by: str,
    clock: Callable[[], datetime],
    *,
    note: str | None = None,
    actor: str | None = None,
) -> EventAck:
    """Record an operator's action on an event, audit it and forward it to DETRO (one transaction).

    ``note`` is optional free text (what the driver said, a ticket number); when given it is
    kept, audited and forwarded with the ack. ``actor`` is who the audit log names (default
    ``by``; the API passes its token's holder).

    Raises:
        UnknownVehicleEvent: no event has this id.
        VehicleEventRefusal: ``action`` is blank or too long, ``by`` is not a login, or ``note``
            is given but blank or too long.
        OutboxFullError: the outbox is full; nothing was recorded.
        StoreError: the store cannot be written.
    """
    action = _text(action, "what was done", "--action TEXT", MAX_ACTION_CHARS)
    by = _login(by)
    if note is not None:
        note = _text(note, "the note", "--note TEXT (or leave it out)", MAX_NOTE_CHARS)
    now = clock().timestamp()
    messages: list[OutboxMessage] = []
    with store.transaction() as db:
        row = db.execute("SELECT vehicle, type FROM vehicle_events WHERE id = ?", (event_id,)).fetchone()
        if row is None:
            raise UnknownVehicleEvent(event_id)
        vehicle, kind = str(row[0]), str(row[1])
        db.execute(
            "INSERT INTO vehicle_event_acks (event_id, action, acked_by, acked_at, note) VALUES (?, ?, ?, ?, ?)",
            (event_id, action, by, now, note),
        )
        (seq,) = db.execute("SELECT COUNT(*) FROM vehicle_event_acks WHERE event_id = ?", (event_id,)).fetchone()
        details: dict[str, object] = {"vehicle": vehicle, "type": kind, "seq": int(seq), "action": action, "by": by}
        if note is not None:
            details["note"] = note
        audit.append(db, at=now, actor=actor or by, action="vehicle_event.ack", subject=event_id, details=details)
        if detro_enabled(config):
            messages.append(ack_message(
                config, event_id=event_id, vehicle=vehicle, kind=kind, seq=int(seq), action=action, by=by, at=now,
                note=note,
            ))
            outbox.insert(db, messages)
    outbox.committed(messages)
    return EventAck(int(seq), action, by, _moment(now), note)
