"""Legal holds: footage in a window that no sweep may delete until the hold is released.

A hold names a Frigate camera or a vehicle's DVR camera(s) and a window. It protects the
archive segments and the cloud objects that overlap its window. Frigate deletes
its recordings on its own schedule whatever Guarita says, so a hold on a Frigate camera also
asks Frigate for an export of the window (exports are never deleted by Frigate) and records
the export id; when Frigate cannot be reached the hold is still recorded, marked "export
pending". An accepted export is only "in progress": Frigate may still fail it, so the hold's
export state (:mod:`guarita.retention.hold_exports`) is followed until the export is done or
failed (:mod:`guarita.retention.hold_followup`). Holds and releases are rows that are never
updated; each goes to the audit log in the same transaction.

Covers: PB-04, BH-06, BH-08, BH-11, DT-06, DT-12.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from guarita import audit
from guarita.errors import FrigateError, FrigateHttpError
from guarita.frigate import FrigateClient
from guarita.retention.footage import FootageSource, RetentionError, TimeWindow, iso
from guarita.retention.hold_exports import ExportState, HoldExport, current_exports, record_export
from guarita.store import Store

__all__ = ["HoldBook", "HoldError", "LegalHold", "add_hold", "get_hold", "insert_hold", "list_holds",
           "place_hold", "release_hold"]

log = logging.getLogger(__name__)

_SELECT = (
    "SELECT h.id, h.camera, h.vehicle, h.camera_number, h.start_utc, h.end_utc, h.ref, h.evidence_request, "
    "h.frigate_export_id, h.export_note, h.created_at, h.created_by, r.released_at, r.released_by, r.reason "
    "FROM legal_holds h LEFT JOIN legal_hold_releases r ON r.hold_id = h.id"
)


class HoldError(RetentionError):
    """A hold cannot be placed or released as asked."""


@dataclass(frozen=True)
class LegalHold:
    """One hold and, once released, who released it and why."""

    id: int
    source: FootageSource
    window: TimeWindow
    ref: str
    created_at: float
    created_by: str
    evidence_request: int | None = None
    frigate_export_id: str | None = None
    export_note: str | None = None
    released_at: float | None = None
    released_by: str | None = None
    release_reason: str | None = None
    export: HoldExport | None = None
    """The state of the Frigate export of a camera hold (None for a vehicle's hold)."""

    @property
    def active(self) -> bool:
        """True until released."""
        return self.released_at is None

    def as_json(self) -> dict[str, Any]:
        """What ``guarita hold list --json`` prints."""
        return {
            "id": self.id, **self.source.as_json(), "window": self.window.as_json(), "ref": self.ref,
            "created_at": iso(self.created_at), "created_by": self.created_by,
            "evidence_request": self.evidence_request, "frigate_export_id": self.frigate_export_id,
            "export_note": self.export_note, "export": None if self.export is None else self.export.as_json(),
            "active": self.active,
            "released_at": None if self.released_at is None else iso(self.released_at),
            "released_by": self.released_by, "release_reason": self.release_reason,
        }


def _legacy_export(camera: str | None, export_id: str | None, note: str | None, at: float) -> HoldExport | None:
    """The export state of a hold recorded without one (None: the hold relies on no Frigate export).

    An evidence bundle that took a camera's footage from the cloud copy records neither an
    export id nor a note: nothing to follow up.
    """
    if camera is None or (export_id is None and note is None):
        return None
    if export_id is not None:
        return HoldExport(ExportState.IN_PROGRESS, at, 1, export_id)
    return HoldExport(ExportState.PENDING, at, 0, reason=(note or "").removeprefix("export pending: ") or None)


def _hold(row: Sequence[Any], exports: dict[int, HoldExport]) -> LegalHold:
    (hold_id, camera, vehicle, number, start, end, ref, request, export_id, note, at, by,
     released_at, released_by, reason) = row
    export = exports.get(int(hold_id)) or _legacy_export(camera, export_id, note, float(at))
    return LegalHold(
        id=int(hold_id), source=FootageSource(camera=camera, vehicle=vehicle, camera_number=number),
        window=TimeWindow(float(start), float(end)), ref=ref, created_at=float(at), created_by=by,
        evidence_request=request, frigate_export_id=export_id, export_note=note,
        released_at=None if released_at is None else float(released_at), released_by=released_by,
        release_reason=reason, export=export,
    )


def list_holds(db: sqlite3.Connection, *, active_only: bool = False) -> list[LegalHold]:
    """Every hold, oldest first (only those not released with ``active_only``)."""
    where = " WHERE r.hold_id IS NULL" if active_only else ""
    exports = current_exports(db)
    return [_hold(row, exports) for row in db.execute(f"{_SELECT}{where} ORDER BY h.id")]


def get_hold(db: sqlite3.Connection, hold_id: int) -> LegalHold:
    """One hold by id.

    Raises:
        HoldError: there is no such hold.
    """
    row = db.execute(f"{_SELECT} WHERE h.id = ?", (hold_id,)).fetchone()
    if row is None:
        raise HoldError(f"there is no hold {hold_id}")
    return _hold(row, current_exports(db))


def insert_hold(
    db: sqlite3.Connection, source: FootageSource, window: TimeWindow, *, ref: str, by: str, at: float,
    evidence_request: int | None = None, export_id: str | None = None, export_note: str | None = None,
    export: HoldExport | None = None,
) -> int:
    """Insert a hold, its export state and its audit entry inside the caller's open transaction; return its id.

    A camera hold without ``export`` gets the state its ``export_id`` implies (in progress, or pending).
    """
    cursor = db.execute(
        "INSERT INTO legal_holds (camera, vehicle, camera_number, start_utc, end_utc, ref, evidence_request, "
        "frigate_export_id, export_note, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (source.camera, source.vehicle, source.camera_number, window.start, window.end, ref, evidence_request,
         export_id, export_note, at, by),
    )
    hold_id = int(cursor.lastrowid or 0)
    if export is None:
        export = _legacy_export(source.camera, export_id, export_note, at)
    if export is not None:
        record_export(db, hold_id, export)
    audit.append(db, at=at, actor=by, action="hold.add", subject=f"hold:{hold_id}", details={
        **source.as_json(), **window.as_json(), "ref": ref, "evidence_request": evidence_request,
        "frigate_export_id": export_id, "export_note": export_note,
    })
    return hold_id


def add_hold(
    store: Store, source: FootageSource, window: TimeWindow, *, ref: str, by: str, at: float,
    evidence_request: int | None = None, export_id: str | None = None, export_note: str | None = None,
    export: HoldExport | None = None,
) -> LegalHold:
    """Record a hold (audited) and return it."""
    if not ref.strip() or not by.strip():
        raise HoldError("a hold needs a reference (--ref) and who places it (--by)")
    with store.transaction() as db:
        hold_id = insert_hold(db, source, window, ref=ref, by=by, at=at, evidence_request=evidence_request,
                              export_id=export_id, export_note=export_note, export=export)
    log.info("hold %d placed on %s %s → %s", hold_id, source.label, iso(window.start), iso(window.end))
    return get_hold(store.db, hold_id)


async def place_hold(
    store: Store, source: FootageSource, window: TimeWindow, *, ref: str, by: str, at: float,
    frigate: FrigateClient | None, evidence_request: int | None = None,
) -> LegalHold:
    """Record a hold; for a Frigate camera, first ask Frigate to export the window.

    Frigate not answering does not stop the hold: it is recorded with the export pending. An
    accepted export is recorded in progress (attempt 1); a refused one (HTTP error) counts as a
    failed attempt and waits, pending, for its retry. Follow it with
    :func:`guarita.retention.hold_followup.follow_up_exports`.
    """
    export_id: str | None = None
    note: str | None = None
    export: HoldExport | None = None
    if source.camera is not None:
        if frigate is None:
            note = "export pending: no Frigate client"
        else:
            try:
                export_id = await frigate.start_export(source.camera, window.start, window.end, name=f"hold {ref}"[:60])
            except FrigateError as exc:
                note = f"export pending: {exc}"
                attempt = 1 if isinstance(exc, FrigateHttpError) else 0
                export = HoldExport(ExportState.PENDING, at, attempt, reason=str(exc))
                log.info("hold on %s recorded without a Frigate export: %s", source.label, exc)
            else:
                export = HoldExport(ExportState.IN_PROGRESS, at, 1, export_id)
    return add_hold(store, source, window, ref=ref, by=by, at=at, evidence_request=evidence_request,
                    export_id=export_id, export_note=note, export=export)


def release_hold(store: Store, hold_id: int, *, by: str, reason: str, at: float) -> LegalHold:
    """Release a hold (audited); its footage falls back under the policy.

    Raises:
        HoldError: no such hold, already released, or no reason given.
    """
    if not reason.strip() or not by.strip():
        raise HoldError("releasing a hold needs who (--by) and why (--reason)")
    with store.transaction() as db:
        hold = get_hold(db, hold_id)
        if not hold.active:
            raise HoldError(f"hold {hold_id} was already released by {hold.released_by} at {iso(hold.released_at or 0)}")
        db.execute("INSERT INTO legal_hold_releases (hold_id, reason, released_at, released_by) VALUES (?, ?, ?, ?)",
                   (hold_id, reason, at, by))
        audit.append(db, at=at, actor=by, action="hold.release", subject=f"hold:{hold_id}",
                     details={"reason": reason, "ref": hold.ref})
    log.info("hold %d released by %s", hold_id, by)
    return get_hold(store.db, hold_id)


class HoldBook:
    """The active holds, read once, answering "is this footage held, and by which holds?"."""

    def __init__(self, holds: Sequence[LegalHold]) -> None:
        self.holds = tuple(hold for hold in holds if hold.active)

    @classmethod
    def load(cls, db: sqlite3.Connection) -> HoldBook:
        """The active holds in the store."""
        return cls(list_holds(db, active_only=True))

    def holding(self, source: FootageSource, start: float, end: float) -> tuple[int, ...]:
        """Ids of the holds protecting footage of ``source`` in ``[start, end)``."""
        return tuple(h.id for h in self.holds if h.source.covers(source) and h.window.overlaps(start, end))

