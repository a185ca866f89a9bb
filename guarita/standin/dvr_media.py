"""What a bus DVR records, made with ffmpeg: segments, whole DVR trees and bad files.

Segments are tiny and quick to make (``testsrc2``, 160x120, 5 fps, libx264 ``ultrafast``).
Each distinct (seconds, codec, container, size, fps) is encoded once per process and then
copied, so a tree of many 1-minute files costs one encode. ``make_dvr_tree`` lays out the
DT-10 tree (one folder per camera, files named by their start ``yyyymmddhhmmss.mp4``);
``make_invalid_set`` makes one file for each way a DT-11 check can fail.

Covers: DT-10, DT-11.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

__all__ = [
    "Codec",
    "Container",
    "make_dvr_tree",
    "make_invalid_set",
    "make_segment",
    "make_telemetry_lines",
    "stamp_name",
    "truncate",
    "write_checksum_sidecar",
]

Codec = Literal["h264", "mpeg4"]
Container = Literal["mp4", "matroska"]

_ENCODERS: dict[str, list[str]] = {
    "h264": ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"],
    "mpeg4": ["-c:v", "mpeg4", "-q:v", "10"],
}


@functools.cache
def _encoded(seconds: float, codec: Codec, container: Container, size: str, fps: int) -> bytes:
    """The bytes of one encoded segment; cached for the life of the process."""
    with tempfile.TemporaryDirectory(prefix="guarita-media-") as work:
        out = Path(work) / "segment"
        command = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "lavfi"]
        command += ["-i", f"testsrc2=size={size}:rate={fps}:duration={seconds:g}"]
        command += [*_ENCODERS[codec], "-g", str(fps * 2), "-an", "-f", container, str(out)]
        result = subprocess.run(command, capture_output=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"ffmpeg failed ({result.returncode}): {result.stderr.decode(errors='replace')[-800:]}")
        return out.read_bytes()


def make_segment(
    path: Path,
    seconds: float,
    *,
    codec: Codec = "h264",
    container: Container = "mp4",
    size: str = "160x120",
    fps: int = 5,
) -> Path:
    """Write a ``seconds``-long test video to ``path`` (parents created); returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_encoded(seconds, codec, container, size, fps))
    return path


def truncate(path: Path, keep_ratio: float) -> Path:
    """Cut ``path`` to ``keep_ratio`` of its bytes, as a copy interrupted mid-file would."""
    if not 0 <= keep_ratio < 1:
        raise ValueError("keep_ratio must be in [0, 1)")
    os.truncate(path, int(path.stat().st_size * keep_ratio))
    return path


def stamp_name(start: datetime, suffix: str = ".mp4") -> str:
    """The DT-10 file name of a recording starting at ``start`` (naive, DVR local clock)."""
    return start.strftime("%Y%m%d%H%M%S") + suffix


def make_dvr_tree(
    root: Path,
    vehicle_start: datetime,
    cameras: Mapping[int, str],
    count: int,
    seconds: int = 60,
    gap_after: int | None = None,
) -> list[Path]:
    """Write ``count`` consecutive segments per camera under ``root/<folder>/``.

    Args:
        root: The DVR's root (created).
        vehicle_start: Start of the first segment, naive, in the DVR's local clock.
        cameras: Camera number → its DVR folder.
        count: Segments per camera.
        seconds: Length of each segment; the next one starts when it ends.
        gap_after: Leave one slot empty after this many segments (a recording gap).

    Returns:
        Every file written, camera by camera, in time order.
    """
    written: list[Path] = []
    for camera in sorted(cameras):
        for index in range(count):
            slot = index + (1 if gap_after is not None and index >= gap_after else 0)
            start = vehicle_start + timedelta(seconds=slot * seconds)
            written.append(make_segment(root / cameras[camera] / stamp_name(start), seconds))
    return written


def write_checksum_sidecar(path: Path) -> Path:
    """Write ``<name>.sha256`` beside ``path`` as ``"<hex>  <name>\\n"``; returns the sidecar."""
    with path.open("rb") as stream:
        digest = hashlib.file_digest(stream, "sha256").hexdigest()
    sidecar = path.with_name(path.name + ".sha256")
    sidecar.write_text(f"{digest}  {path.name}\n")
    return sidecar


def make_telemetry_lines(path: Path, samples: Sequence[Mapping[str, object]]) -> Path:
    """Write ``samples`` as JSON lines (one object a line) to ``path``; returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(dict(sample), separators=(",", ":")) + "\n" for sample in samples))
    return path


def make_invalid_set(folder: Path, start: datetime) -> dict[Path, str]:
    """One file per DT-10/DT-11 failure, named from ``start`` on in 1-minute steps.

    Returns:
        Each file → a keyword its rejection reason contains: ``codec`` (MPEG-4 Part 2),
        ``Matroska`` (an H.264 MKV renamed ``.mp4``), ``truncated`` (a 1-minute file cut to
        60 %), ``duration`` (30 s, and 6 min), ``name`` (``clip.mp4``, a valid video whose
        name is not a date).
    """
    def at(minute: int) -> Path:
        return folder / stamp_name(start + timedelta(minutes=minute))

    expected = {
        make_segment(at(0), 60, codec="mpeg4"): "codec",
        make_segment(at(1), 60, container="matroska"): "Matroska",
        truncate(make_segment(at(2), 60), 0.6): "truncated",
        make_segment(at(3), 30): "duration",
        make_segment(at(4), 360): "duration",
        make_segment(folder / "clip.mp4", 60): "name",
    }
    return expected
