"""Archive sweep benchmark: Guarita's ``sweep_archive`` against ``find -delete``, in one run.

The ratio on the last line, ``find/guarita``, is find's seconds divided by Guarita's: how many
times faster Guarita's sweep is. Above 1 Guarita wins; below 1 find does.

Two identical archives of ``--segments`` one-minute segments (files of a few bytes at
``archive/<vehicle>/<camera>/<yyyymmddhhmmss>.mp4``, ``--vehicles`` vehicles x 2 cameras)
cover the 7 days before now, evenly spaced per camera. Each file's mtime is the moment its
segment ended, as on a DVR card. The policy keeps 6 days (``archive_days=6``), so the oldest
1/7 of the segments are past it. The cutoff falls midway between two segment ends, so the
two selections cannot differ by a segment straddling it.

  (a) Guarita: ``sweep_archive(store, data_dir, now=…, archive_days=6)`` over the first
      copy, whose SQLite index holds every segment (built untimed): expired rows come from
      the ``start_utc`` index, are moved to ``dvr_deletions``, unlinked, and audited;
  (b) find: ``find <archive> -type f -mmin +M -delete`` over the second copy, with M the
      whole minutes from the cutoff to the moment find starts (the cutoff is
      ``step/2`` from the nearest segment end on both sides, so a minute's rounding selects
      the same files).

Both must leave the same files behind. Building the trees is not timed.

    python bench/sweep.py [--segments 201600] [--vehicles 50] [--workdir DIR]

Covers: DT-12, PB-06.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from guarita.retention.archive_sweep import sweep_archive
from guarita.store import Store

CAMERAS = (1, 2)
SPAN_DAYS = 7
ARCHIVE_DAYS = 6  # the oldest 1 of the 7 days is past the policy
SEGMENT_S = 60
DAY_S = 86400
BODY = b"mp4\n"  # a few bytes: the sweep's cost is per file, not per byte


def layout(segments: int, vehicles: int, now: int) -> tuple[list[str], int, list[int]]:
    """Vehicle ids, segments per camera (a multiple of 7) and each segment's start (epoch s)."""
    per_camera = math.ceil(segments / (vehicles * len(CAMERAS)) / SPAN_DAYS) * SPAN_DAYS
    step = SPAN_DAYS * DAY_S / per_camera
    if step < 2 * SEGMENT_S + 60:
        raise SystemExit(f"{per_camera} one-minute segments per camera do not fit in {SPAN_DAYS} days: add --vehicles")
    # Offset so the cutoff (now - 6 days) is step/2 from the segment ends on either side of it.
    offset = (step - 2 * SEGMENT_S) / 2
    base = now - SPAN_DAYS * DAY_S
    starts = [int(base + k * step + offset) for k in range(per_camera)]
    return [f"{10000 + n}" for n in range(vehicles)], per_camera, starts


def build(copies: list[Path], vehicles: list[str], starts: list[int]) -> int:
    """Write every segment file into each copy's archive, mtime = segment end; returns files per copy."""
    names = [(dt.datetime.fromtimestamp(s, dt.UTC).strftime("%Y%m%d%H%M%S.mp4"), (s + SEGMENT_S) * 10**9) for s in starts]
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    count = 0
    for vehicle in vehicles:
        for camera in CAMERAS:
            folders = []
            for copy in copies:
                folder = copy / "archive" / vehicle / str(camera)
                folder.mkdir(parents=True)
                folders.append(os.open(folder, os.O_RDONLY | os.O_DIRECTORY))
            try:
                for name, ended_ns in names:
                    for folder_fd in folders:
                        fd = os.open(name, flags, 0o644, dir_fd=folder_fd)
                        os.write(fd, BODY)
                        os.utime(fd, ns=(ended_ns, ended_ns))
                        os.close(fd)
            finally:
                for folder_fd in folders:
                    os.close(folder_fd)
            count += len(names)
    return count


def index(data_dir: Path, vehicles: list[str], starts: list[int]) -> None:
    """The archive index Guarita would have after syncing these segments."""
    store = Store.open(data_dir)
    try:
        with store.transaction() as db:
            for vehicle in vehicles:
                for camera in CAMERAS:
                    db.executemany(
                        "INSERT INTO dvr_segments (vehicle, camera, name, start_utc, duration_s, size, sha256, "
                        "synced_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [
                            (vehicle, camera, dt.datetime.fromtimestamp(s, dt.UTC).strftime("%Y%m%d%H%M%S.mp4"),
                             float(s), float(SEGMENT_S), len(BODY), "0" * 64, float(s + SEGMENT_S))
                            for s in starts
                        ],
                    )
    finally:
        store.close()


def remaining(archive: Path) -> set[str]:
    """Relative paths of the files left in an archive."""
    left: set[str] = set()
    for folder, _, files in os.walk(archive):
        relative = os.path.relpath(folder, archive)
        left.update(f"{relative}/{name}" for name in files)
    return left


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--segments", type=int, default=201_600, help="segments in each archive (rounded up)")
    parser.add_argument("--vehicles", type=int, default=50, help="vehicles, two cameras each")
    parser.add_argument("--workdir", type=Path, default=None, help="where the two archives are built (default: /tmp)")
    args = parser.parse_args()
    if shutil.which("find") is None:
        raise SystemExit("find is not installed")
    now = int(time.time())
    vehicles, per_camera, starts = layout(args.segments, args.vehicles, now)
    cutoff = now - ARCHIVE_DAYS * DAY_S
    with tempfile.TemporaryDirectory(prefix="guarita-bench-sweep-", dir=args.workdir) as tmp:
        guarita_dir, find_dir = Path(tmp) / "guarita", Path(tmp) / "find"
        total = build([guarita_dir, find_dir], vehicles, starts)
        index(guarita_dir, vehicles, starts)
        expired = sum(1 for s in starts if s + SEGMENT_S < cutoff) * len(vehicles) * len(CAMERAS)
        print(
            f"archive: {total} segments per copy ({len(vehicles)} vehicles x {len(CAMERAS)} cameras x {per_camera}, "
            f"one every {SPAN_DAYS * DAY_S / per_camera:.0f} s over {SPAN_DAYS} days); archive_days={ARCHIVE_DAYS}: "
            f"{expired} expired; {find_version()}",
            flush=True,
        )
        os.sync()  # neither run pays for the build's write-back

        store = Store.open(guarita_dir)
        try:
            started = time.perf_counter()
            report = sweep_archive(store, guarita_dir, now=dt.datetime.fromtimestamp(now, dt.UTC), archive_days=ARCHIVE_DAYS)
            guarita_s = time.perf_counter() - started
        finally:
            store.close()
        os.sync()

        archive = find_dir / "archive"
        minutes = int((time.time() - cutoff) // 60)
        command = ["find", str(archive), "-type", "f", "-mmin", f"+{minutes}", "-delete"]
        started = time.perf_counter()
        subprocess.run(command, check=True)
        find_s = time.perf_counter() - started

        left_guarita, left_find = remaining(guarita_dir / "archive"), remaining(archive)
        deleted_guarita, deleted_find = total - len(left_guarita), total - len(left_find)
        if report.missing_files or report.errors or report.segments != deleted_guarita:
            raise SystemExit(f"Guarita's sweep reported {report.segments} segments but {deleted_guarita} files went")
        if left_guarita != left_find or deleted_guarita != expired:
            raise SystemExit(f"the sweeps differ: Guarita deleted {deleted_guarita}, find {deleted_find}, expected {expired}")

    print(f"   find: deleted {deleted_find} of {total} files in {find_s:.3f} s "
          f"({' '.join(command[:1] + ['<archive>'] + command[2:])})")
    print(f"guarita: deleted {deleted_guarita} of {total} files in {guarita_s:.3f} s "
          f"(sweep_archive, archive_days={ARCHIVE_DAYS}; same files left as find)")
    print(f"ratio find/guarita: {find_s / guarita_s:.2f}")
    return 0


def find_version() -> str:
    first = subprocess.run(["find", "--version"], capture_output=True, text=True, check=True).stdout.splitlines()
    return first[0] if first else "find"


if __name__ == "__main__":
    sys.exit(main())
