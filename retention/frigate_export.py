"""Footage only Frigate has, for an evidence bundle: a Frigate export of the window, downloaded.

Frigate never deletes its exports, so an export is the copy a bundle starts from. When an
active legal hold on the camera already recorded a Frigate export whose window covers the
request's (``guarita hold add --camera``), that export is reused; otherwise Frigate is asked
for a new one (``POST /api/export/...``) and followed until it finishes. The MP4 is fetched
from nginx's ``/exports/<file>`` and always cut to the request's window with ffmpeg
(``cut_clip``, also used for the cloud copy) when it is longer: a reused export may be wider,
and every Frigate export runs past its end at key frames (a 20 s request gave 20.9 s), so
nothing outside the window leaves. The cut starts ``window.start - export.date`` into the
export (Frigate starts it at the asked second) and lasts exactly the window. A reused export is
one a hold recorded done (or still in progress, then waited for); a hold whose export failed
is not reused. Masks are burned in afterwards by :mod:`guarita.retention.evidence_export`,
like the DVR clips'.

A playback (:mod:`guarita.video.playback`) asks for the same clips with ``exact=False``: the cut
is then a stream copy from the first key frame at or after the window's start (``copy_cut``),
so nothing before the window leaves and nothing is re-encoded. Both take any ``FootageAsk``
(an id, a reference and a window): an evidence request or a playback.

Covers: PB-04, BH-06, BH-07, BH-08.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import ffmpeg  # type: ignore[import-untyped]

from guarita.errors import FrigateError, FrigateHttpError
from guarita.frigate import Export, FrigateClient
from guarita.quiet_ffmpeg import run_quietly
from guarita.retention.bundle import file_sha256
from guarita.retention.evidence import EvidenceError
from guarita.retention.footage import TimeWindow
from guarita.retention.hold_exports import ExportState
from guarita.retention.holds import LegalHold, list_holds
from guarita.store import Store

__all__ = ["FootageAsk", "FrigateClip", "copy_cut", "cut_clip", "fetch_frigate_clip", "keyframe_at_or_after", "reusable_hold",
           "run_ffmpeg", "video_seconds"]

log = logging.getLogger(__name__)

_SLACK_S = 1.0
"""Frigate truncates an export's start and end to whole seconds."""
_LENGTH_TOLERANCE_S = 0.1
"""An export at most this much longer than the window is kept as Frigate made it."""


class FootageAsk(Protocol):
    """What footage is asked for: an evidence request, or a playback."""

    @property
    def id(self) -> int | str: ...

    @property
    def ref(self) -> str: ...

    @property
    def window(self) -> TimeWindow: ...


@dataclass(frozen=True)
class FrigateClip:
    """A downloaded Frigate export, cut to the request's window when it was wider.

    Attributes:
        camera: The Frigate camera.
        export_id: Frigate's export id.
        path: The clip in the scratch folder.
        export_sha256: SHA-256 of the file as Frigate served it (before any cut or mask).
        reused_hold: The hold whose export was reused, or None when the export is new.
        video_path: The export's file as Frigate names it.
        export_seconds: Length of the export as Frigate made it.
        cut: Whether the clip was cut to the window (False: the export was the window's length).
    """

    camera: str
    export_id: str
    path: Path
    export_sha256: str
    reused_hold: int | None
    video_path: str = ""
    export_seconds: float = 0.0
    cut: bool = False


def reusable_hold(store: Store, camera: str, window: TimeWindow) -> LegalHold | None:
    """The active hold on ``camera`` with a usable Frigate export covering ``window`` (the tightest one).

    Usable: done, or still in progress; never one that failed or is pending.
    """
    covering = [hold for hold in list_holds(store.db, active_only=True)
                if hold.source.camera == camera and hold.export is not None and hold.export.export_id is not None
                and hold.export.state in (ExportState.DONE, ExportState.IN_PROGRESS)
                and hold.window.start <= window.start and hold.window.end >= window.end]
    return min(covering, key=lambda hold: hold.window.end - hold.window.start, default=None)


async def _finished(frigate: FrigateClient, export_id: str, poll_s: float) -> Export:
    return await frigate.wait_export(export_id, poll_s=poll_s, timeout_s=1800.0)


async def _export(
    store: Store, frigate: FrigateClient, request: FootageAsk, camera: str, poll_s: float, name: str
) -> tuple[Export, TimeWindow, int | None]:
    hold = reusable_hold(store, camera, request.window)
    export_id = hold.export.export_id if hold is not None and hold.export is not None else None
    if hold is not None and export_id is not None:
        try:
            return await _finished(frigate, export_id, poll_s), hold.window, hold.id
        except FrigateHttpError as exc:
            if exc.status != 404:
                raise
            log.warning("hold %d's Frigate export %s is gone (%s); asking for a new one", hold.id, export_id, exc)
    export_id = await frigate.start_export(camera, request.window.start, request.window.end,
                                           name=name[:256])
    return await _finished(frigate, export_id, poll_s), request.window, None


async def run_ffmpeg(args: Sequence[str], failure: str) -> None:
    """Run ``ffmpeg`` quietly with ``args``.

    Raises:
        EvidenceError: ffmpeg failed; the message is ``failure`` followed by ffmpeg's last words.
    """
    await run_quietly(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args],
                      lambda words: EvidenceError(f"{failure}: {words}"))


def video_seconds(path: Path) -> float:
    """Length of a video file in seconds (ffprobe; blocking, run it in a thread).

    Raises:
        EvidenceError: ffprobe cannot read it.
    """
    try:
        return round(float(ffmpeg.probe(str(path), v="error")["format"]["duration"]), 3)
    except (ffmpeg.Error, KeyError, ValueError) as exc:
        raise EvidenceError(f"{path.name} is not a readable video: {exc}") from exc


def keyframe_at_or_after(path: Path, offset: float, end: float) -> float | None:
    """Time (from the file's start) of the first video key frame in ``[offset, end)``; None if there is none.

    Blocking (ffprobe reads the packets of that stretch only); run it in a thread.

    Raises:
        EvidenceError: ffprobe cannot read the file.
    """
    try:
        info = ffmpeg.probe(str(path), v="error", select_streams="v:0",
                            read_intervals=f"{max(0.0, offset - 5):.3f}%{end:.3f}",
                            show_entries="packet=pts_time,flags:format=start_time")
    except ffmpeg.Error as exc:
        raise EvidenceError(f"{path.name} is not a readable video: {exc}") from exc
    origin = float(info.get("format", {}).get("start_time", 0) or 0)
    for packet in info.get("packets", []):
        if "K" not in str(packet.get("flags", "")) or "pts_time" not in packet:
            continue
        moment = float(packet["pts_time"]) - origin
        if offset - 0.0005 <= moment < end:
            return moment
    return None


async def copy_cut(source: Path, dest: Path, offset: float, seconds: float) -> None:
    """Copy (no re-encoding) ``source`` from its first key frame at or after ``offset`` to ``offset + seconds``.

    Nothing before ``offset`` is written: the cut never starts at an earlier key frame.

    Raises:
        EvidenceError: no key frame in the stretch, or ffmpeg failed.
    """
    end = offset + seconds
    start = await asyncio.to_thread(keyframe_at_or_after, source, offset, end)
    if start is None:
        raise EvidenceError(f"{source.name} has no key frame between {offset:.3f} s and {end:.3f} s: nothing to copy")
    # Just past the key frame, so the input seek lands on it and not on the one before.
    begin = start + 0.001
    await run_ffmpeg(["-ss", f"{begin:.3f}", "-i", str(source), "-t", f"{end - begin:.3f}", "-map", "0:v:0",
                      "-c", "copy", "-movflags", "+faststart", str(dest)],
                     f"ffmpeg could not copy {source.name}'s window")


async def cut_clip(source: Path, dest: Path, offset: float, seconds: float, *, exact: bool = True) -> None:
    """Write ``seconds`` of ``source`` from ``offset`` to ``dest``, re-encoded so the cut is frame-exact.

    With ``exact=False`` the cut is ``copy_cut``'s (no re-encoding; it starts at a key frame).

    Raises:
        EvidenceError: ffmpeg failed.
    """
    if not exact:
        await copy_cut(source, dest, offset, seconds)
        return
    await run_ffmpeg(["-ss", f"{offset:.3f}", "-i", str(source), "-t", f"{seconds:.3f}", "-c:v", "libx264",
                      "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-movflags", "+faststart",
                      str(dest)], f"ffmpeg could not cut {source.name} to the request's window")


async def fetch_frigate_clip(
    store: Store, frigate: FrigateClient, request: FootageAsk, camera: str, scratch: Path, *,
    poll_s: float = 0.5, exact: bool = True, name: str | None = None,
) -> FrigateClip:
    """Get ``camera``'s footage of the request's window from a Frigate export into ``scratch``.

    ``name`` is the export's name in Frigate (default ``evidence <id>: <ref>``); ``exact`` is
    ``cut_clip``'s.

    Raises:
        EvidenceError: Frigate cannot be reached, has no recordings of the window, or its
            export failed; nothing is written outside ``scratch``.
    """
    try:
        export, covered, hold_id = await _export(store, frigate, request, camera, poll_s,
                                                 name or f"evidence {request.id}: {request.ref}")
        downloaded = scratch / f"{export.id}.download.mp4"
        await frigate.download_export(export, downloaded)
    except FrigateError as exc:
        raise EvidenceError(f"Frigate could not export camera {camera} for request {request.id}: {exc}") from exc
    digest = await asyncio.to_thread(file_sha256, downloaded)
    seconds = await asyncio.to_thread(video_seconds, downloaded)
    clip = downloaded
    window = request.window
    wider = covered.start < window.start - _SLACK_S or covered.end > window.end + _SLACK_S
    cut = wider or seconds > window.end - window.start + _LENGTH_TOLERANCE_S
    if cut:
        clip = scratch / f"{export.id}.mp4"
        await cut_clip(downloaded, clip, max(0.0, window.start - export.date), window.end - window.start, exact=exact)
    log.info("Frigate export %s of %s fetched for request %s (%.1f s%s)%s", export.id, camera, request.id, seconds,
             ", cut to the window" if cut else "", f", reused from hold {hold_id}" if hold_id is not None else "")
    return FrigateClip(camera, export.id, clip, digest, hold_id, export.video_path, seconds, cut)
