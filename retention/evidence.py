"""Evidence requests: footage leaves Guarita only on a legal request, recorded and approved by two people.

BH-08 lets images go to anyone outside the provider only at the request of the Judiciary,
the Ministério Público, a police authority leading an inquiry, or to instruct an
administrative or judicial proceeding; DT-04 never lets bus footage go to the media. So a
request names one of those four types (anything else is refused), an operator records it,
a *different* person approves it, and only then can it be exported
(``retention.evidence_export``). Every step is a row of the request's chain of custody
(append-only) and an audit log entry, written in one transaction.

Covers: BH-07, BH-08, BH-11, DT-04, DT-06.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from guarita import audit
from guarita.retention.footage import FootageSource, RetentionError, TimeWindow, iso
from guarita.store import Store

__all__ = ["CustodyStep", "EvidenceError", "EvidenceRefused", "EvidenceRequest", "RequestType", "add_custody",
           "approve_request", "get_request", "list_requests", "parse_request_type", "record_request"]

log = logging.getLogger(__name__)


class EvidenceError(RetentionError):
    """An evidence request, approval, export or verification cannot proceed."""


class EvidenceRefused(EvidenceError):
    """The request is not one the law allows, or the same person would approve their own request."""


class RequestType(StrEnum):
    """Who may ask for footage (BH-08, DT-04)."""

    JUDICIARY = "judiciary"
    PUBLIC_PROSECUTOR = "public_prosecutor"
    POLICE_AUTHORITY = "police_authority"
    ADMINISTRATIVE_PROCEEDING = "administrative_proceeding"


def parse_request_type(text: str) -> RequestType:
    """The request type named by ``text``.

    Raises:
        EvidenceRefused: any other requester (press, public, another company, ...).
    """
    try:
        return RequestType(text.strip().lower())
    except ValueError:
        allowed = ", ".join(t.value for t in RequestType)
        raise EvidenceRefused(
            f"request type {text!r} refused: footage is released only at the request of the Judiciary, the "
            "Ministério Público, a police authority leading an inquiry, or to instruct an administrative or "
            f"judicial proceeding (BH-08), and bus footage never to the media (DT-04); use one of: {allowed}"
        ) from None


@dataclass(frozen=True)
class CustodyStep:
    """One step of a request's chain of custody."""

    seq: int
    action: str
    at: float
    by: str
    details: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        """The step as the manifest and the reports show it."""
        return {"step": self.seq, "action": self.action, "at": iso(self.at), "by": self.by, **self.details}


@dataclass(frozen=True)
class EvidenceRequest:
    """A recorded request with its chain of custody so far."""

    id: int
    type: RequestType
    ref: str
    requester: str
    sources: tuple[FootageSource, ...]
    window: TimeWindow
    recorded_at: float
    recorded_by: str
    custody: tuple[CustodyStep, ...]

    @property
    def approved_by(self) -> str | None:
        """Who approved it, or None while it waits."""
        return next((step.by for step in self.custody if step.action == "approve"), None)

    @property
    def status(self) -> str:
        """``requested``, ``approved`` or ``exported``."""
        actions = {step.action for step in self.custody}
        return "exported" if "export" in actions else "approved" if "approve" in actions else "requested"

    def as_json(self) -> dict[str, Any]:
        """The request as the manifest and ``guarita evidence list --json`` show it."""
        return {
            "id": self.id, "type": self.type.value, "ref": self.ref, "requester": self.requester,
            "sources": [s.as_json() for s in self.sources], "window": self.window.as_json(),
            "recorded_at": iso(self.recorded_at), "recorded_by": self.recorded_by, "status": self.status,
            "custody": [step.as_json() for step in self.custody],
        }


def add_custody(db: sqlite3.Connection, request_id: int, action: str, *, by: str, at: float,
                details: dict[str, Any]) -> None:
    """Append a custody step and its audit entry inside the caller's open transaction."""
    db.execute("INSERT INTO evidence_custody (request_id, action, at, by, details) VALUES (?, ?, ?, ?, ?)",
               (request_id, action, at, by, json.dumps(details, sort_keys=True, ensure_ascii=False)))
    audit.append(db, at=at, actor=by, action=f"evidence.{action}", subject=f"evidence:{request_id}", details=details)


def _request(db: sqlite3.Connection, row: Sequence[Any]) -> EvidenceRequest:
    request_id, kind, ref, requester, sources, start, end, at, by = row
    steps = tuple(
        CustodyStep(int(seq), action, float(when), who, json.loads(details))
        for seq, action, when, who, details in db.execute(
            "SELECT seq, action, at, by, details FROM evidence_custody WHERE request_id = ? ORDER BY seq",
            (request_id,))
    )
    return EvidenceRequest(
        id=int(request_id), type=RequestType(kind), ref=ref, requester=requester,
        sources=tuple(FootageSource.from_json(s) for s in json.loads(sources)),
        window=TimeWindow(float(start), float(end)), recorded_at=float(at), recorded_by=by, custody=steps,
    )


_SELECT = "SELECT id, type, ref, requester, sources, start_utc, end_utc, recorded_at, recorded_by FROM evidence_requests"


def get_request(db: sqlite3.Connection, request_id: int) -> EvidenceRequest:
    """One request by id.

    Raises:
        EvidenceError: there is no such request.
    """
    row = db.execute(f"{_SELECT} WHERE id = ?", (request_id,)).fetchone()
    if row is None:
        raise EvidenceError(f"there is no evidence request {request_id}")
    return _request(db, row)


def list_requests(db: sqlite3.Connection) -> list[EvidenceRequest]:
    """Every request, oldest first."""
    return [_request(db, row) for row in db.execute(f"{_SELECT} ORDER BY id").fetchall()]


def record_request(
    store: Store, *, request_type: RequestType, ref: str, requester: str, sources: Sequence[FootageSource],
    window: TimeWindow, by: str, at: float,
) -> EvidenceRequest:
    """Record a request (first custody step, audited)."""
    if not ref.strip() or not requester.strip() or not by.strip():
        raise EvidenceError("a request needs its reference (--ref), the requester (--requester) and who records it (--by)")
    if not sources:
        raise EvidenceError("name at least one camera (--camera) or vehicle camera (--vehicle --camera-number)")
    with store.transaction() as db:
        cursor = db.execute(
            "INSERT INTO evidence_requests (type, ref, requester, sources, start_utc, end_utc, recorded_at, "
            "recorded_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (request_type.value, ref, requester, json.dumps([s.as_json() for s in sources]), window.start,
             window.end, at, by),
        )
        request_id = int(cursor.lastrowid or 0)
        add_custody(db, request_id, "request", by=by, at=at, details={
            "type": request_type.value, "ref": ref, "requester": requester,
            "sources": [s.label for s in sources], **window.as_json(),
        })
    log.info("evidence request %d (%s, %s) recorded by %s", request_id, request_type.value, ref, by)
    return get_request(store.db, request_id)


def approve_request(store: Store, request_id: int, *, by: str, at: float) -> EvidenceRequest:
    """Approve a request; the approver must not be who recorded it.

    Raises:
        EvidenceRefused: same person as the one who recorded it.
        EvidenceError: no such request, or already approved.
    """
    with store.transaction() as db:
        request = get_request(db, request_id)
        if by.strip().casefold() == request.recorded_by.strip().casefold():
            raise EvidenceRefused(
                f"{by} recorded request {request_id}, so someone else must approve it (two people, BH-08)"
            )
        if request.approved_by is not None:
            raise EvidenceError(f"request {request_id} was already approved by {request.approved_by}")
        add_custody(db, request_id, "approve", by=by, at=at, details={"ref": request.ref})
    log.info("evidence request %d approved by %s", request_id, by)
    return get_request(store.db, request_id)
