"""What a DVR sync pass did, recorded in ``dvr_syncs`` and reported to DETRO.

The report goes to ``<detro root>/<provider>/vehicles/<vehicle>/dvr`` through the durable
outbox (so it survives a dead uplink), as ``guarita.dvr_sync/1``: files and bytes synced per
camera, the first and last moment the archive covers, the gaps as ``[start, end]`` pairs,
and the files quarantined or refused with their reasons. ``guarita dvr status`` prints the
same from the store.

Covers: PB-06, DT-06, DT-10, DT-14, DT-15.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from guarita.adapters.dvr.archive import Coverage, camera_coverage, utc_iso
from guarita.config import GuaritaConfig, ProgramName
from guarita.outbox import Outbox, OutboxMessage
from guarita.store import Store

__all__ = ["REPORT_SCHEMA", "SyncResult", "finish_sync", "report_topic", "start_sync", "vehicle_status"]

REPORT_SCHEMA = "guarita.dvr_sync/1"


@dataclass
class SyncResult:
    """One pass, as it goes: counts per camera, quarantined files, the outcome."""

    vehicle: str
    dvr_serial: str
    sync_id: int
    started_at: float
    status: str = "ok"  # ok | partial
    detail: str | None = None
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

    def as_json(self, provider: str, roles: dict[int, str]) -> dict[str, Any]:
        """The ``guarita.dvr_sync/1`` payload (also what ``--json`` prints)."""
        cameras = []
        for cover in self.coverage:
            files, size = self.per_camera.get(cover.camera, [0, 0])
            cameras.append({"role": roles.get(cover.camera), "files": files, "bytes": size, **cover.as_json()})
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
            "quarantined": self.quarantined,
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


def _roles(config: GuaritaConfig, vehicle: str) -> dict[int, str]:
    assert config.fleet is not None
    dvr = config.fleet.vehicles[vehicle].dvr
    return {number: role.value for number, role in dvr.cameras.items()} if dvr else {}


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
        "SELECT id, started_at, finished_at, status, files, bytes, quarantined FROM dvr_syncs "
        "WHERE vehicle = ? ORDER BY id DESC LIMIT 1",
        (vehicle,),
    ).fetchone()
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
            "files": last[4], "bytes": last[5], "quarantined": last[6],
        },
        "cameras": [
            {"role": roles[number], **camera_coverage(db, vehicle, number).as_json()} for number in sorted(roles)
        ],
        "quarantined": quarantined,
    }
