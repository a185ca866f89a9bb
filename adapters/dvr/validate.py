"""Is a fetched DVR file a valid DETRO segment? H.264 video in an MP4 container, 1 to 5 minutes.

Two looks, cheapest first:

1. The MP4 box walk: the file is a sequence of top-level boxes, each stating its own size.
   A file cut short (a bus that left mid-copy on the DVR's side, a card pulled while
   writing) has a last box that claims more bytes than the file holds. ffprobe alone does
   not see this when the index (``moov``) comes first, so the walk is what catches
   truncation. A Matroska file renamed ``.mp4`` is caught here too.
2. ffprobe (through ffmpeg-python): the container's brand, the video codec, the duration.

The Portaria asks for segments "between 1 and 5 minutes"; DVRs cut at key frames, so a
tolerance (``fleet.duration_tolerance_s``, default 5 s) applies on both ends.

Covers: DT-10, DT-11.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg  # type: ignore[import-untyped]

__all__ = ["MAX_SEGMENT_S", "MIN_SEGMENT_S", "SegmentCheck", "check_boxes", "validate_segment"]

MIN_SEGMENT_S = 60.0
MAX_SEGMENT_S = 300.0
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"  # Matroska / WebM
_QUICKTIME_BRAND = "qt  "


@dataclass(frozen=True)
class SegmentCheck:
    """The verdict on one file: ``reason`` is None when it may enter the archive."""

    reason: str | None
    duration_s: float | None = None
    codec: str | None = None

    @property
    def valid(self) -> bool:
        """True when the file may enter the archive."""
        return self.reason is None


def check_boxes(path: Path) -> tuple[str | None, str | None]:
    """Walk the top-level MP4 boxes; returns (problem or None, major brand or None)."""
    size = path.stat().st_size
    seen: set[str] = set()
    brand: str | None = None
    with path.open("rb") as stream:
        head = stream.read(16)
        if head[:4] == _EBML_MAGIC:
            return "not an MP4 container: it is Matroska/WebM (renamed .mp4?)", None
        offset = 0
        while offset < size:
            stream.seek(offset)
            header = stream.read(16)
            if len(header) < 8:
                return f"truncated: {size - offset} stray bytes at offset {offset}, too few for a box header", brand
            box_size, kind_bytes = struct.unpack(">I4s", header[:8])
            kind = kind_bytes.decode("latin-1")
            if box_size == 1:
                if len(header) < 16:
                    return f"truncated: box {kind!r} at offset {offset} lacks its 64-bit size", brand
                (box_size,) = struct.unpack(">Q", header[8:16])
            elif box_size == 0:  # "to the end of the file"
                box_size = size - offset
            if box_size < 8:
                return f"not an MP4 file: box {kind!r} at offset {offset} states an impossible size {box_size}", brand
            if not seen and kind != "ftyp":
                return f"not an MP4 file: it starts with {kind!r}, not an 'ftyp' box", brand
            if kind == "ftyp" and len(header) >= 12:
                brand = header[8:12].decode("latin-1")
            if offset + box_size > size:
                return (
                    f"truncated: box {kind!r} at offset {offset} needs {box_size} bytes, the file has "
                    f"{size - offset} left ({size} bytes in all)",
                    brand,
                )
            seen.add(kind)
            offset += box_size
    missing = [kind for kind in ("moov", "mdat") if kind not in seen]
    if missing:
        return f"incomplete MP4: no {' or '.join(repr(k) for k in missing)} box", brand
    return None, brand


def _probe(path: Path) -> dict[str, Any]:
    result: dict[str, Any] = ffmpeg.probe(str(path))
    return result


def _ffprobe_error(exc: Exception) -> str:
    stderr = getattr(exc, "stderr", b"") or b""
    lines = [line for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1].strip() if lines else str(exc)


async def validate_segment(path: Path, *, tolerance_s: float = 5.0) -> SegmentCheck:
    """Check one file against DT-11; never raises for a bad file (the verdict says why)."""
    try:
        problem, brand = check_boxes(path)
    except OSError as exc:
        return SegmentCheck(f"unreadable: {exc.strerror or exc}")
    if problem is not None:
        return SegmentCheck(problem)
    if brand == _QUICKTIME_BRAND:
        return SegmentCheck("not an MP4 container: QuickTime .mov (brand 'qt  ')")
    try:
        # ffmpeg-python runs ffprobe as a blocking subprocess: a worker thread keeps the loop free.
        info = await asyncio.to_thread(_probe, path)
    except ffmpeg.Error as exc:
        return SegmentCheck(f"unreadable by ffprobe: {_ffprobe_error(exc)}")
    videos = [s for s in info.get("streams", []) if s.get("codec_type") == "video"]
    if not videos:
        return SegmentCheck("no video stream")
    codec = str(videos[0].get("codec_name", "unknown"))
    if codec != "h264":
        return SegmentCheck(f"video codec is {codec}, not H.264 (DT-11)", codec=codec)
    raw = info.get("format", {}).get("duration") or videos[0].get("duration")
    try:
        duration = float(raw)
    except (TypeError, ValueError):
        return SegmentCheck("ffprobe reports no duration", codec=codec)
    low, high = MIN_SEGMENT_S - tolerance_s, MAX_SEGMENT_S + tolerance_s
    if not low <= duration <= high:
        return SegmentCheck(
            f"duration {duration:.1f} s is outside 1 to 5 minutes (DT-11; tolerance {tolerance_s:g} s)",
            duration_s=duration,
            codec=codec,
        )
    return SegmentCheck(None, duration_s=duration, codec=codec)
