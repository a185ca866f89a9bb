"""The DETRO archive on disk and its index in the store.

Layout: ``data_dir/archive/<vehicle>/<camera number>/<yyyymmddhhmmss>.mp4`` (the DVR's own
name, local clock) with the UTC start in the index beside it; telemetry files under
``data_dir/archive/<vehicle>/telemetry/``. Transfers in progress live in
``data_dir/dvr_partial/`` and rejected files in ``data_dir/quarantine/dvr/``, never in the
archive: only a complete, verified file is renamed into it.

Covers: DT-06, DT-10, DT-12.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ArchivedSegment",
    "Coverage",
    "GAP_TOLERANCE_S",
    "archive_dir",
    "camera_coverage",
    "fsync_dir",
    "move_into",
    "partial_dir",
    "quarantine_dir",
    "reason_sidecar",
    "segment_path",
    "telemetry_dir",
    "utc_iso",
]

# Consecutive segments closer than this are continuous (DVRs restart a file within a frame or two).
GAP_TOLERANCE_S = 2.0


def archive_dir(data_dir: Path) -> Path:
    """Root of the DETRO archive."""
    return data_dir / "archive"


def segment_path(data_dir: Path, vehicle: str, camera: int, name: str) -> Path:
    """Where an archived segment lives."""
    return archive_dir(data_dir) / vehicle / str(camera) / name


def telemetry_dir(data_dir: Path, vehicle: str) -> Path:
    """Where a vehicle's synced telemetry files live."""
    return archive_dir(data_dir) / vehicle / "telemetry"


def partial_dir(data_dir: Path, vehicle: str, folder: str) -> Path:
    """Where transfers of one DVR folder in progress are kept between visits."""
    return data_dir / "dvr_partial" / vehicle / folder


def quarantine_dir(data_dir: Path, vehicle: str, folder: str) -> Path:
    """Where rejected files of one DVR folder go, each with a ``.reason.json`` sidecar."""
    return data_dir / "quarantine" / "dvr" / vehicle / folder


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink in ``path`` durable."""
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def move_into(source: Path, target: Path) -> None:
    """Rename ``source`` to ``target`` (same file system) and make the rename durable.

    Blocking (the folder's fsync waits for the disk): call it through ``asyncio.to_thread``.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)
    fsync_dir(target.parent)


@dataclass(frozen=True)
class ArchivedSegment:
    """One row of the archive index."""

    vehicle: str
    camera: int
    name: str
    start_utc: float
    duration_s: float
    size: int
    sha256: str


@dataclass(frozen=True)
class Coverage:
    """What the archive holds of one camera: files, span, and the holes in it."""

    camera: int
    files: int
    bytes: int
    first: float | None
    last: float | None
    gaps: tuple[tuple[float, float], ...]

    def as_json(self) -> dict[str, object]:
        """The JSON form used in reports (times as ISO 8601 UTC)."""
        return {
            "camera": self.camera,
            "archived_files": self.files,
            "archived_bytes": self.bytes,
            "first": utc_iso(self.first),
            "last": utc_iso(self.last),
            "gaps": [[utc_iso(start), utc_iso(end)] for start, end in self.gaps],
        }


def utc_iso(moment: float | None) -> str | None:
    """Epoch seconds as ISO 8601 UTC to the second with ``Z`` (None stays None), as reports carry it."""
    if moment is None:
        return None
    return dt.datetime.fromtimestamp(moment, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def camera_coverage(db: sqlite3.Connection, vehicle: str, camera: int) -> Coverage:
    """Coverage of one camera, from the index (in start order)."""
    rows: Sequence[tuple[float, float, int]] = db.execute(
        "SELECT start_utc, duration_s, size FROM dvr_segments WHERE vehicle = ? AND camera = ? ORDER BY start_utc",
        (vehicle, camera),
    ).fetchall()
    gaps: list[tuple[float, float]] = []
    covered_to: float | None = None
    for start, duration, _size in rows:
        if covered_to is not None and start > covered_to + GAP_TOLERANCE_S:
            gaps.append((covered_to, start))
        end = start + duration
        covered_to = end if covered_to is None else max(covered_to, end)
    return Coverage(
        camera=camera,
        files=len(rows),
        bytes=sum(row[2] for row in rows),
        first=rows[0][0] if rows else None,
        last=covered_to,
        gaps=tuple(gaps),
    )


def reason_sidecar(path: Path, details: dict[str, object]) -> Path:
    """Write ``<file>.reason.json`` beside a quarantined file."""
    sidecar = path.with_name(path.name + ".reason.json")
    sidecar.write_text(json.dumps(details, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return sidecar
