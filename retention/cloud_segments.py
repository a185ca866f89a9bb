"""Which recording segments the cloud copy takes, and what each object is called.

Frigate files a segment as ``recordings/YYYY-MM-DD/HH/<camera>/MM.SS.mp4`` (UTC, the segment's
start); the object key is ``<provider>/<camera>/<YYYY-MM-DD>/<HH>/<MM.SS>.mp4``. The uploader
names the cameras to list on each pass (only those with a shared period). Two sources:

* ``MediaDirSource`` reads Frigate's recordings folder (``frigate.media_dir``), walking only
  the hour folders from the cursor on (never the whole tree);
* ``FrigateApiSource`` asks ``GET /api/<camera>/recordings`` from the cursor on and fetches
  each segment with the clip download (a remux: same frames, not the same bytes).

Frigate's segments last 10 s; a segment read from the folder is taken to end 10 s after its
start (``SEGMENT_S``), which can only keep it longer.

Covers: BH-06.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
import time
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from guarita.frigate import FrigateClient

__all__ = ["FrigateApiSource", "HOUR_FORMAT", "MediaDirSource", "Segment", "SegmentSource", "hour_of", "hour_start"]

SEGMENT_S = 10.0
HOUR_FORMAT = "%Y-%m-%d/%H"
_NAME = re.compile(r"^(\d{2})\.(\d{2})\.mp4$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_HOUR = re.compile(r"^\d{2}$")


def hour_of(moment: float) -> str:
    """``YYYY-MM-DD/HH`` (UTC) of ``moment``, the order the folders sort in."""
    return dt.datetime.fromtimestamp(moment, dt.UTC).strftime(HOUR_FORMAT)


def hour_start(hour: str) -> float:
    """The epoch second an ``YYYY-MM-DD/HH`` (UTC) hour begins."""
    return dt.datetime.strptime(hour, HOUR_FORMAT).replace(tzinfo=dt.UTC).timestamp()


@dataclass(frozen=True)
class Segment:
    """One recording segment of a camera, from the folder (``path``) or the API."""

    camera: str
    start: float
    end: float
    path: Path | None = None

    def key(self, provider: str) -> str:
        """The object key: ``<provider>/<camera>/<YYYY-MM-DD>/<HH>/<MM.SS>.mp4`` (UTC)."""
        moment = dt.datetime.fromtimestamp(self.start, dt.UTC)
        return f"{provider}/{self.camera}/{moment:%Y-%m-%d/%H/%M.%S}.mp4"


class SegmentSource(Protocol):
    """Where segments come from: listed hour by hour, read one at a time."""

    name: str

    def hours(
        self, cursor: str | None, now: float, cameras: Collection[str]
    ) -> AsyncIterator[tuple[str, list[Segment]]]:
        """Each hour from ``cursor`` (inclusive) to ``now``, oldest first, with ``cameras``' settled segments."""
        ...

    async def read(self, segment: Segment) -> bytes:
        """The segment's bytes."""
        ...


class MediaDirSource:
    """Frigate's ``recordings`` folder under ``frigate.media_dir``."""

    name = "media_dir"

    def __init__(self, media_dir: Path, *, settle_s: float = 15.0) -> None:
        self.root = media_dir / "recordings"
        self.settle_s = settle_s  # a file written in the last seconds may still be growing

    def _folders(self, path: Path, pattern: re.Pattern[str]) -> list[str]:
        try:
            return sorted(entry.name for entry in os.scandir(path) if entry.is_dir() and pattern.match(entry.name))
        except FileNotFoundError:
            return []

    def _segments(self, hour: str, wall: float, cameras: frozenset[str]) -> list[Segment]:
        start_of_hour = hour_start(hour)
        found = []
        for camera in sorted(cameras.intersection(self._folders(self.root / hour, re.compile(".+")))):
            folder = self.root / hour / camera
            for entry in sorted(os.scandir(folder), key=lambda e: e.name):
                match = _NAME.match(entry.name)
                if match is None or not entry.is_file(follow_symlinks=False):
                    continue
                if entry.stat().st_mtime > wall - self.settle_s:
                    continue
                start = start_of_hour + int(match[1]) * 60 + int(match[2])
                found.append(Segment(camera, start, start + SEGMENT_S, Path(entry.path)))
        return found

    async def hours(
        self, cursor: str | None, now: float, cameras: Collection[str]
    ) -> AsyncIterator[tuple[str, list[Segment]]]:
        """The hour folders at or after ``cursor``; the dates before its date are not opened."""
        wanted = frozenset(cameras)
        last = hour_of(now)
        wall = time.time()
        for date in self._folders(self.root, _DATE):
            if cursor is not None and date < cursor[:10]:
                continue
            for hh in self._folders(self.root / date, _HOUR):
                hour = f"{date}/{hh}"
                if (cursor is None or hour >= cursor) and hour <= last:
                    yield hour, self._segments(hour, wall, wanted)

    async def read(self, segment: Segment) -> bytes:
        """The file's bytes (a few MB: read on the loop)."""
        assert segment.path is not None
        return segment.path.read_bytes()


class FrigateApiSource:
    """Frigate's recordings API, for when its media folder is not mounted here."""

    name = "frigate_api"

    def __init__(self, client: FrigateClient, scratch: Path, *, first_days: int) -> None:
        self.client = client
        self.scratch = scratch
        self.first_days = first_days  # how far back the very first pass looks

    async def hours(
        self, cursor: str | None, now: float, cameras: Collection[str]
    ) -> AsyncIterator[tuple[str, list[Segment]]]:
        """The API's segments of ``cameras`` from the cursor's hour on, grouped by hour."""
        after = hour_start(cursor) if cursor else now - self.first_days * 86400.0
        by_hour: dict[str, list[Segment]] = {}
        for camera in sorted(cameras):
            for item in await self.client.recordings(camera, after, now):
                if item.end_time <= now:
                    segment = Segment(camera, item.start_time, item.end_time)
                    by_hour.setdefault(hour_of(segment.start), []).append(segment)
        for hour in sorted(by_hour):
            yield hour, by_hour[hour]

    async def read(self, segment: Segment) -> bytes:
        """Fetch the segment through the clip download, via a scratch file."""
        self.scratch.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.scratch) as folder:
            dest = Path(folder) / "segment.mp4"
            await self.client.download_clip(segment.camera, segment.start, segment.end, dest)
            return dest.read_bytes()
