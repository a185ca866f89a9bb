"""Deleting DVR footage past ``fleet.archive_days``, index first.

A segment may go once it ENDED more than ``archive_days`` ago (DT-12 asks the DVR for at
least two days; the archive keeps at least what the config says, never below two). The
expired rows come from the index by its ``start_utc`` index, so a sweep costs in proportion
to what expires, not to the archive's size: it never walks the tree.

Index first: a batch of rows moves to ``dvr_deletions`` in one transaction, then the files
are unlinked, then the batch is cleared. A crash in between leaves names to unlink on the
next sweep, never an index row pointing at a missing file. Positions older than the cutoff
go too. Every sweep that deletes something is in the audit log.

Covers: PB-06, DT-06, DT-12, DT-21.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from guarita import audit
from guarita.adapters.dvr.archive import archive_dir, telemetry_dir
from guarita.adapters.dvr.names import parse_start
from guarita.retention.footage import iso
from guarita.store import Store

__all__ = ["ArchiveSweep", "HeldCheck", "sweep_archive"]

log = logging.getLogger(__name__)

BATCH = 5000
DAY_S = 86400.0

# (vehicle, camera, start_utc, end_utc) → True when a legal hold protects that footage.
HeldCheck = Callable[[str, int, float, float], bool]


@dataclass
class ArchiveSweep:
    """What a sweep deleted (or, in a dry run, would delete)."""

    now: float
    cutoff: float
    dry_run: bool
    segments: int = 0
    bytes: int = 0
    held: int = 0
    missing_files: int = 0
    telemetry_files: int = 0
    positions: int = 0
    oldest_kept: float | None = None
    errors: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The JSON form ``guarita retention sweep --json`` prints."""
        return {
            "now": iso(self.now), "cutoff": iso(self.cutoff), "dry_run": self.dry_run,
            "deleted_segments": self.segments, "deleted_bytes": self.bytes, "held_segments": self.held,
            "missing_files": self.missing_files, "deleted_telemetry_files": self.telemetry_files,
            "deleted_positions": self.positions, "oldest_kept": None if self.oldest_kept is None else iso(self.oldest_kept), "errors": self.errors,
        }


def _unlink(paths: Sequence[str], report: ArchiveSweep) -> None:
    """Unlink ``paths`` folder by folder, each name relative to its open folder (no path walks)."""
    by_folder: dict[str, list[str]] = {}
    for path in paths:
        folder, _, name = path.rpartition("/")
        by_folder.setdefault(folder, []).append(name)
    for folder, names in sorted(by_folder.items()):
        try:
            descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:
            report.missing_files += len(names)
            continue
        except OSError as exc:
            report.errors.append(f"{folder}: {exc.strerror or exc}")
            continue
        try:
            for name in names:
                try:
                    os.unlink(name, dir_fd=descriptor)
                except FileNotFoundError:
                    report.missing_files += 1
                except OSError as exc:
                    report.errors.append(f"{folder}/{name}: {exc.strerror or exc}")
        finally:
            os.close(descriptor)


def _finish_pending(store: Store, report: ArchiveSweep) -> None:
    """Unlink what an interrupted sweep had already removed from the index."""
    pending = [row[0] for row in store.db.execute("SELECT path FROM dvr_deletions")]
    if pending:
        log.info("finishing %d deletions of an interrupted sweep", len(pending))
        _unlink(pending, report)
        with store.transaction() as db:
            db.executemany("DELETE FROM dvr_deletions WHERE path = ?", [(p,) for p in pending])


def sweep_archive(
    store: Store,
    data_dir: Path,
    *,
    now: dt.datetime,
    archive_days: int,
    dry_run: bool = False,
    is_held: HeldCheck | None = None,
    actor: str = "guarita",
) -> ArchiveSweep:
    """Delete archive segments, telemetry files and positions older than ``archive_days``."""
    if archive_days < 2:
        raise ValueError("archive_days below 2 would break DT-12")
    stamp = now.timestamp()
    cutoff = stamp - archive_days * DAY_S
    report = ArchiveSweep(now=stamp, cutoff=cutoff, dry_run=dry_run)
    if not dry_run:
        _finish_pending(store, report)
    rows = store.db.execute(
        "SELECT vehicle, camera, name, size, start_utc, duration_s FROM dvr_segments "
        "WHERE start_utc < ? AND start_utc + duration_s < ? ORDER BY start_utc",
        (cutoff, cutoff),
    ).fetchall()
    doomed = []
    for vehicle, camera, name, size, start, duration in rows:
        if is_held is not None and is_held(vehicle, camera, start, start + duration):
            report.held += 1
            continue
        doomed.append((vehicle, camera, name, size))
    report.segments = len(doomed)
    report.bytes = sum(row[3] for row in doomed)
    report.telemetry_files, telemetry = _expired_telemetry(store, data_dir, cutoff)
    report.positions = int(store.db.execute("SELECT COUNT(*) FROM vehicle_positions WHERE ts < ?", (cutoff,)).fetchone()[0])
    if not dry_run:
        for begin in range(0, len(doomed), BATCH):
            _delete_batch(store, data_dir, doomed[begin : begin + BATCH], stamp, report)
        _delete_telemetry(store, telemetry, stamp, report)
        with store.transaction() as db:
            db.execute("DELETE FROM vehicle_positions WHERE ts < ?", (cutoff,))
            if report.segments or report.telemetry_files or report.positions:
                audit.append(db, at=stamp, actor=actor, action="retention.sweep", subject="dvr_archive",
                             details=report.as_json())
    oldest = store.db.execute("SELECT MIN(start_utc) FROM dvr_segments").fetchone()[0]
    report.oldest_kept = None if oldest is None else float(oldest)
    log.info("archive sweep%s: %d segments (%.1f MB), %d held, %d positions, cutoff %s",
             " (dry run)" if dry_run else "", report.segments, report.bytes / 1e6, report.held, report.positions,
             report.as_json()["cutoff"])
    return report


def _delete_batch(
    store: Store, data_dir: Path, batch: Sequence[tuple[str, int, str, int]], stamp: float, report: ArchiveSweep
) -> None:
    root = str(archive_dir(data_dir))  # string paths: pathlib costs more than the unlink's own work here
    paths = [f"{root}/{vehicle}/{camera}/{name}" for vehicle, camera, name, _ in batch]
    with store.transaction() as db:
        db.executemany("INSERT OR IGNORE INTO dvr_deletions (path, queued_at) VALUES (?, ?)", [(p, stamp) for p in paths])
        db.executemany(
            "DELETE FROM dvr_segments WHERE vehicle = ? AND camera = ? AND name = ?",
            [(vehicle, camera, name) for vehicle, camera, name, _ in batch],
        )
    _unlink(paths, report)
    with store.transaction() as db:
        db.executemany("DELETE FROM dvr_deletions WHERE path = ?", [(p,) for p in paths])


def _expired_telemetry(store: Store, data_dir: Path, cutoff: float) -> tuple[int, list[tuple[str, str, str]]]:
    """Telemetry files that started over a day before the cutoff (a file spans up to a day)."""
    expired = []
    for vehicle, name in store.db.execute("SELECT vehicle, name FROM dvr_telemetry_files"):
        start = parse_start(name, dt.UTC)  # a day of margin covers any local offset
        if start is not None and start.timestamp() < cutoff - DAY_S:
            expired.append((vehicle, name, str(telemetry_dir(data_dir, vehicle) / name)))
    return len(expired), expired


def _delete_telemetry(store: Store, files: list[tuple[str, str, str]], stamp: float, report: ArchiveSweep) -> None:
    if not files:
        return
    with store.transaction() as db:
        db.executemany("INSERT OR IGNORE INTO dvr_deletions (path, queued_at) VALUES (?, ?)", [(f[2], stamp) for f in files])
        db.executemany("DELETE FROM dvr_telemetry_files WHERE vehicle = ? AND name = ?", [(f[0], f[1]) for f in files])
    _unlink([f[2] for f in files], report)
    with store.transaction() as db:
        db.executemany("DELETE FROM dvr_deletions WHERE path = ?", [(f[2],) for f in files])
