"""The Frigate stand-in's export files: real MP4s, made on first download, served like nginx's ``/exports/``.

Frigate's exporter writes ``/media/frigate/exports/<camera>_<start>-<end>_<rand6>.mp4`` and
nginx serves that folder at ``/exports/<file name>`` (and a JSON autoindex at ``/exports/``).
The stand-in makes the MP4 with ffmpeg (:func:`guarita.standin.dvr_media.make_segment`: a
160x120, 5 fps ``testsrc2`` picture as long as the exported range, a 25th of it for
``timelapse_25x``) the first time it is fetched, so exports nobody downloads cost nothing.
A real-time export runs :data:`KEYFRAME_OVERRUN_S` past the asked end, as Frigate's does
(it copies whole key-frame intervals: a 20 s request gave a 20.9 s file on Frigate 0.17.2).

Covers: PB-01, BH-06.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from guarita.standin.dvr_media import make_segment
from guarita.standin.frigate_events import JsonObject

__all__ = ["KEYFRAME_OVERRUN_S", "ExportVideos", "export_file_name"]

_TIMELAPSE = 25.0
KEYFRAME_OVERRUN_S = 0.9
"""How far past the asked window a real-time export runs (seen on Frigate 0.17.2)."""


def export_file_name(row: JsonObject) -> str:
    """The file name under ``/exports/`` of an export row (the last part of its ``video_path``)."""
    return PurePosixPath(str(row["video_path"])).name


class ExportVideos:
    """How long each export's video is, and its bytes once made."""

    def __init__(self) -> None:
        self._seconds: dict[str, float] = {}
        self._made: dict[str, bytes] = {}

    def planned(self, row: JsonObject, start: int, end: int, playback: str) -> None:
        """Note an export's length: its range and the key-frame overrun, or a 25th of it for ``timelapse_25x``."""
        seconds = float(end - start)
        planned = seconds / _TIMELAPSE if playback == "timelapse_25x" else seconds + KEYFRAME_OVERRUN_S
        self._seconds[export_file_name(row)] = max(1.0, planned)

    def video(self, name: str) -> bytes:
        """The MP4 of file ``name`` (made with ffmpeg on first call; blocking, run it in a thread)."""
        if name not in self._made:
            with tempfile.TemporaryDirectory(prefix="guarita-standin-export-") as work:
                self._made[name] = make_segment(Path(work) / name, self._seconds[name]).read_bytes()
        return self._made[name]

    def forget(self, name: str) -> None:
        """Delete file ``name`` (its export was deleted)."""
        self._seconds.pop(name, None)
        self._made.pop(name, None)

    def index(self, rows: list[JsonObject]) -> list[JsonObject]:
        """nginx's JSON autoindex of ``/exports/`` for the finished ``rows``."""
        return [
            {"name": export_file_name(row), "type": "file",
             "mtime": datetime.fromtimestamp(float(row["date"]), UTC).strftime("%a, %d %b %Y %H:%M:%S GMT"),
             "size": len(self._made.get(export_file_name(row), b""))}
            for row in rows
        ]
