"""What a DVR sync pass did, recorded in ``dvr_syncs`` and reported to DETRO.

The report goes to ``<detro root>/<provider>/vehicles/<vehicle>/dvr`` through the durable
outbox (so it survives a dead uplink), as ``guarita.dvr_sync/1``: files and bytes synced per
camera, the first and last moment the archive covers, the gaps as ``[start, end]`` pairs,
the reason a camera folder could not be listed, and the files quarantined or refused with
their reasons. ``guarita dvr status`` prints the same from the store.

A report never grows past ``REPORT_MAX_BYTES``, whatever a DVR lists: it names at most
``LISTED_QUARANTINED`` quarantined files, counts all of them per kind of reason, and says
how many more there were (a broker refuses an oversized packet, and a refused report would
block every later one of the uplink).

A pass ends ``ok``, ``partial`` (a transfer broke off; the next visit resumes) or ``failed``
(a camera folder could not be listed, or the pass stopped on an error): a failed pass does
not count the bus as monitored (``guarita.reports.compliance``). ``dvr_syncs`` rows are
closed however a pass ends; a row left ``running`` by a process that died is closed as
``failed`` by ``close_interrupted`` when the next one starts.

Covers: PB-06, DT-03, DT-06, DT-10, DT-14, DT-15.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from guarita.adapters.dvr.archive import Coverage, camera_coverage, utc_iso
from guarita.config import GuaritaConfig, ProgramName
from guarita.outbox import Outbox, OutboxMessage
from guarita.store import Store

__all__ = [
    "LISTED_QUARANTINED",
    "REPORT_MAX_BYTES",
    "REPORT_SCHEMA",
    "SyncResult",
    "close_interrupted",
    "finish_sync",
    "report_topic",
    "start_sync",
    "vehicle_status",
]

log = logging.getLogger(__name__)

REPORT_SCHEMA = "guarita.dvr_sync/1"
REPORT_MAX_BYTES = 64 * 1024  # a report as sent (compact JSON, UTF-8) never exceeds this
LISTED_QUARANTINED = 100  # quarantined files named one by one; the rest are counted
REASON_KINDS = 20  # distinct kinds of reason counted one by one; the rest are "other"
TEXT_CHARS = 300  # a name, a folder or a reason in the report is cut to this many characters
DETAIL_CHARS = 2000
GAPS_WHEN_SHORT = (50, 10, 0)  # gaps kept per camera (the newest), in turn, while the report is too large
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_HEX = re.compile(r"\b[0-9a-f]{16,}\b")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def reason_kind(reason: str) -> str:
    """A reason with its names, digests and numbers blanked, so like reasons count together."""
    kind = _QUOTED.sub("'…'", reason)
    kind = _HEX.sub("…", kind)
    return _cut(_NUMBER.sub("N", kind))


def _cut(text: str, limit: int = TEXT_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _size(document: dict[str, Any]) -> int:
    return len(json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode())


@dataclass
class SyncResult:
    """One pass, as it goes: counts per camera, quarantined files, the outcome."""

    vehicle: str
    dvr_serial: str
    sync_id: int
    started_at: float
    status: str = "ok"  # ok | partial | failed
    detail: str | None = None
    camera_errors: dict[int, str] = field(default_factory=dict)  # camera → why its folder was not listed
    finished_at: float | None = None
    files: int = 0
    bytes: int = 0
    transferred: int = 0  # bytes that crossed the network in this pass
    telemetry_files: int = 0
    per_camera: dict[int, list[int]] = field(default_factory=dict)  # camera → [files, bytes]
    quarantined: list[dict[str, Any]] = field(default_factory=list)
    coverage: list[Coverage] = field(default_factory=list)

    def count_file(self, camera: int, size: int, transferred: int) -> None:
        """A file entered the archive."""
        counts = self.per_camera.setdefault(camera, [0, 0])
        counts[0] += 1
        counts[1] += size
        self.files += 1
        self.bytes += size
        self.transferred += transferred

    def add_quarantined(self, folder: str, name: str, reason: str, size: int | None) -> None:
        """A file was quarantined, or a listing entry refused."""
        self.quarantined.append({"folder": folder, "name": name, "reason": reason, "size": size})

    def _explain(self, reason: str) -> None:
        self.detail = _cut(reason if self.detail is None else f"{self.detail}; {reason}", DETAIL_CHARS)

    def cut_short(self, reason: str) -> None:
        """The pass stopped early for ``reason`` (the next visit resumes): ``partial`` unless failed."""
        if self.status != "failed":
            self.status = "partial"
        self._explain(reason)

    def fail(self, reason: str) -> None:
        """The pass failed for ``reason``."""
        self.status = "failed"
        self._explain(reason)

    def camera_unlisted(self, camera: int, folder: str, reason: str) -> None:
        """``camera``'s folder could not be listed: the pass failed for that camera."""
        self.camera_errors[camera] = reason
        self.fail(f"camera {camera} (folder {folder!r}) could not be listed: {reason}")

    def as_json(self, provider: str, roles: dict[int, str]) -> dict[str, Any]:
        """The ``guarita.dvr_sync/1`` payload (also what ``--json`` prints), at most ``REPORT_MAX_BYTES``."""
        document = self._document(provider, roles, LISTED_QUARANTINED, None)
        listed = LISTED_QUARANTINED
        while _size(document) > REPORT_MAX_BYTES and listed > 0:
            listed //= 2
            document = self._document(provider, roles, listed, None)
        for gaps in GAPS_WHEN_SHORT:
            if _size(document) <= REPORT_MAX_BYTES:
                break
            document = self._document(provider, roles, 0, gaps)
        return document

    def _document(self, provider: str, roles: dict[int, str], listed: int, gaps: int | None) -> dict[str, Any]:
        cameras = []
        for cover in self.coverage:
            files, size = self.per_camera.get(cover.camera, [0, 0])
            entry: dict[str, Any] = {"role": roles.get(cover.camera), "files": files, "bytes": size, **cover.as_json()}
            all_gaps = entry["gaps"]
            if gaps is not None and len(all_gaps) > gaps:
                entry["gaps"] = all_gaps[len(all_gaps) - gaps :]  # the newest
            entry["gaps_more"] = len(all_gaps) - len(entry["gaps"])
            error = self.camera_errors.get(cover.camera)
            entry["error"] = None if error is None else _cut(error)
            cameras.append(entry)
        kinds = Counter(reason_kind(q["reason"]) for q in self.quarantined)
        by_reason = dict(kinds.most_common(REASON_KINDS))
        other = sum(kinds.values()) - sum(by_reason.values())
        if other:
            by_reason["other"] = by_reason.get("other", 0) + other
        shown = [
            {"folder": _cut(q["folder"]), "name": _cut(q["name"]), "reason": _cut(q["reason"]), "size": q["size"]}
            for q in self.quarantined[:listed]
        ]
        return {
            "schema": REPORT_SCHEMA,
            "provider": provider,
            "vehicle": self.vehicle,
            "dvr_serial": self.dvr_serial,
            "sync_id": self.sync_id,
            "status": self.status,
            "detail": self.detail,
            "started_at": utc_iso(self.started_at),
            "finished_at": utc_iso(self.finished_at),
            "files": self.files,
            "bytes": self.bytes,
            "transferred_bytes": self.transferred,
            "telemetry_files": self.telemetry_files,
            "cameras": cameras,
            "quarantined": shown,
            "quarantined_total": len(self.quarantined),
            "quarantined_more": len(self.quarantined) - len(shown),
            "quarantined_by_reason": by_reason,
        }


def report_topic(config: GuaritaConfig, vehicle: str) -> str:
    """``<detro root>/<provider>/vehicles/<vehicle>/dvr``."""
    root = config.topic_root(ProgramName.DETRO) if ProgramName.DETRO in config.programs else "detro/v1"
    return f"{root}/{config.provider.id}/vehicles/{vehicle}/dvr"


def start_sync(store: Store, vehicle: str, serial: str, now: dt.datetime) -> SyncResult:
    """Record a pass as running; returns its result to fill in."""
    stamp = now.timestamp()
    with store.transaction() as db:
        cursor = db.execute(
            "INSERT INTO dvr_syncs (vehicle, started_at, status) VALUES (?, ?, 'running')", (vehicle, stamp)
        )
    return SyncResult(vehicle=vehicle, dvr_serial=serial, sync_id=int(cursor.lastrowid or 0), started_at=stamp)


def close_interrupted(store: Store, now: dt.datetime) -> int:
    """Close as ``failed`` every pass still ``running`` (its process died); returns how many."""
    detail = "interrupted: Guarita stopped before this pass ended"
    with store.transaction() as db:
        cursor = db.execute(
            "UPDATE dvr_syncs SET status = 'failed', finished_at = ?, detail = ? WHERE status = 'running'",
            (now.timestamp(), json.dumps({"status": "failed", "detail": detail})),
        )
    if cursor.rowcount:
        log.warning("closed %d DVR sync pass(es) left running by an earlier process as failed", cursor.rowcount)
    return cursor.rowcount


def _roles(config: GuaritaConfig, vehicle: str) -> dict[int, str]:
    assert config.fleet is not None
    dvr = config.fleet.vehicles[vehicle].dvr
    return {number: role.value for number, role in dvr.roles().items()} if dvr else {}


def finish_sync(
    config: GuaritaConfig, store: Store, outbox: Outbox | None, result: SyncResult, now: dt.datetime
) -> SyncResult:
    """Close the pass: coverage from the index, the ``dvr_syncs`` row, the report to DETRO."""
    result.finished_at = now.timestamp()
    roles = _roles(config, result.vehicle)
    result.coverage = [camera_coverage(store.db, result.vehicle, number) for number in sorted(roles)]
    payload = result.as_json(config.provider.id, roles)
    program = config.programs.get(ProgramName.DETRO)
    messages = []
    if outbox is not None and program is not None and program.enabled:
        messages.append(
            OutboxMessage(
                uplink=ProgramName.DETRO.value,
                idem_key=f"dvr-sync:{result.vehicle}:{result.sync_id}",
                order_key=f"dvr:{result.vehicle}",
                topic=report_topic(config, result.vehicle),
                payload=json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode(),
            )
        )
    with store.transaction() as db:
        db.execute(
            "UPDATE dvr_syncs SET finished_at = ?, status = ?, files = ?, bytes = ?, quarantined = ?, detail = ? "
            "WHERE id = ?",
            (result.finished_at, result.status, result.files, result.bytes, len(result.quarantined),
             json.dumps(payload, ensure_ascii=False), result.sync_id),
        )
        if messages and outbox is not None:
            outbox.insert(db, messages)
    if messages and outbox is not None:
        outbox.committed(messages)
    return result


def vehicle_status(config: GuaritaConfig, db: sqlite3.Connection, vehicle: str) -> dict[str, Any]:
    """What ``guarita dvr status`` shows of one vehicle: last pass, coverage, quarantine."""
    roles = _roles(config, vehicle)
    last = db.execute(
        "SELECT id, started_at, finished_at, status, files, bytes, quarantined, detail FROM dvr_syncs "
        "WHERE vehicle = ? ORDER BY id DESC LIMIT 1",
        (vehicle,),
    ).fetchone()
    report = _stored_report(last[7]) if last is not None else {}
    errors = {c.get("camera"): c.get("error") for c in report.get("cameras", []) if isinstance(c, dict)}
    quarantined = [
        {"folder": row[0], "name": row[1], "size": row[2], "reason": row[3], "at": utc_iso(row[4])}
        for row in db.execute(
            "SELECT folder, name, size, reason, quarantined_at FROM dvr_quarantine WHERE vehicle = ? ORDER BY id",
            (vehicle,),
        )
    ]
    assert config.fleet is not None
    dvr = config.fleet.vehicles[vehicle].dvr
    return {
        "vehicle": vehicle,
        "dvr_serial": dvr.serial if dvr else None,
        "last_sync": None if last is None else {
            "sync_id": last[0], "started_at": utc_iso(last[1]), "finished_at": utc_iso(last[2]), "status": last[3],
            "files": last[4], "bytes": last[5], "quarantined": last[6], "detail": report.get("detail"),
        },
        "cameras": [
            {"role": roles[number], **camera_coverage(db, vehicle, number).as_json(), "error": errors.get(number)}
            for number in sorted(roles)
        ],
        "quarantined": quarantined,
    }


def _stored_report(text: str | None) -> dict[str, Any]:
    """The report a ``dvr_syncs`` row keeps in ``detail`` ({} when there is none)."""
    try:
        document = json.loads(text) if text else {}
    except json.JSONDecodeError:
        return {}
    return document if isinstance(document, dict) else {}
