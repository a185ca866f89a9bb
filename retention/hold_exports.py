"""The state of a camera hold's Frigate export: pending, in progress, done (file, duration) or failed.

Frigate answers ``POST /api/export/...`` at once with an id, but the export may still fail
(its row then disappears and no file is left) or never finish, so an accepted id secures
nothing. Each hold on a Frigate camera therefore carries the state of its export, one
append-only row per change in ``legal_hold_exports`` (the latest row is the state):

* ``pending``: no export is running (Frigate unreachable, or a failed attempt waits for its retry);
* ``in_progress``: Frigate accepted export ``export_id`` (attempt N) and has not finished it;
* ``done``: the export finished and its file was fetched and measured (``file``, ``duration_s``, ``sha256``);
* ``failed``: every attempt failed; ``reason`` says why.

:mod:`guarita.retention.hold_followup` moves holds along; holds made before this table existed
read as ``in_progress`` (an export id was recorded) or ``pending``.

Covers: PB-04, BH-06, DT-06.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["ExportState", "HoldExport", "current_exports", "failed_export_count", "record_export"]


class ExportState(StrEnum):
    """Where a hold's Frigate export stands."""

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class HoldExport:
    """The latest state of one hold's Frigate export.

    Attributes:
        state: Where it stands.
        at: When this state was recorded (epoch seconds).
        attempt: How many Frigate exports were started for the hold so far (0: none yet).
        export_id: Frigate's export id of the current attempt (in progress or done).
        file: ``video_path`` of the finished export, as Frigate names it.
        duration_s: Length of the finished export's video, measured with ffprobe.
        sha256: SHA-256 of the finished export's file as Frigate served it.
        reason: Why it is pending or failed.
    """

    state: ExportState
    at: float
    attempt: int = 0
    export_id: str | None = None
    file: str | None = None
    duration_s: float | None = None
    sha256: str | None = None
    reason: str | None = None

    def describe(self) -> str:
        """One phrase for ``guarita hold list``."""
        if self.state is ExportState.DONE:
            length = f"{self.duration_s:.1f} s, " if self.duration_s is not None else ""
            return f"export done: {self.file} ({length}Frigate export {self.export_id})"
        if self.state is ExportState.IN_PROGRESS:
            return f"export in progress: Frigate export {self.export_id} (attempt {self.attempt})"
        if self.state is ExportState.FAILED:
            return f"export failed: {self.reason}"
        return f"export pending: {self.reason}" if self.reason else "export pending"

    def as_json(self) -> dict[str, Any]:
        """The ``export`` object of ``guarita hold list --json``."""
        return {"state": self.state.value, "attempt": self.attempt, "export_id": self.export_id,
                "file": self.file, "duration_s": self.duration_s, "sha256": self.sha256, "reason": self.reason}


def record_export(db: sqlite3.Connection, hold_id: int, export: HoldExport) -> HoldExport:
    """Append ``export`` as hold ``hold_id``'s new state (inside the caller's transaction, if any)."""
    db.execute(
        "INSERT INTO legal_hold_exports (hold_id, state, at, attempt, export_id, file, duration_s, sha256, reason) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (hold_id, export.state.value, export.at, export.attempt, export.export_id, export.file, export.duration_s,
         export.sha256, export.reason),
    )
    return export


def current_exports(db: sqlite3.Connection) -> dict[int, HoldExport]:
    """The latest export state of every hold that has one."""
    rows = db.execute(
        "SELECT hold_id, state, at, attempt, export_id, file, duration_s, sha256, reason FROM legal_hold_exports "
        "WHERE seq IN (SELECT MAX(seq) FROM legal_hold_exports GROUP BY hold_id)"
    )
    return {
        int(hold_id): HoldExport(ExportState(state), float(at), int(attempt), export_id, file,
                                 None if duration is None else float(duration), sha256, reason)
        for hold_id, state, at, attempt, export_id, file, duration, sha256, reason in rows
    }


def failed_export_count(db: sqlite3.Connection) -> int:
    """Active holds whose Frigate export failed for good (the alarm gauge)."""
    held = {row[0] for row in db.execute(
        "SELECT id FROM legal_holds WHERE id NOT IN (SELECT hold_id FROM legal_hold_releases)")}
    return sum(1 for hold_id, export in current_exports(db).items()
               if hold_id in held and export.state is ExportState.FAILED)
