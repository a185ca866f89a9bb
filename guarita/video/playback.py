"""Playback of a past window of a shared camera: only its shared periods, from Frigate or the cloud copy.

A playback is asked for one camera and one window (at most ``video.playback_max_minutes``,
inside ``retention.cop_bh_days``). ``split_shared`` cuts the window along the camera's shared
periods (``consent.share_history.shared_periods``, the registry's history): only the parts
inside one are served; the rest are gaps ``not_shared``, never fetched. Each shared part is
then split by where footage exists: Frigate's recordings (``GET /api/<camera>/recordings``)
first, the cloud copy's objects (``cloud_objects``) where Frigate has none; the rest is a gap
``no_recording``. Every piece is fetched the way an evidence export fetches it
(``retention.evidence_export.camera_clip``: a Frigate export, or the cloud objects joined),
cut by stream copy from its first key frame inside the piece, so nothing outside it leaves
(a piece neither source could give is a gap ``unavailable``). The pieces are joined into
one MP4 with its index first (``+faststart``): copied when the camera has no privacy masks,
decoded and re-encoded with the masks burned in (``privacy_mask.mask_clip``) when it has.

The ``PlaybackBook`` keeps open playbacks (id 128 random bits, key 256), their files under
``<data_dir>/playback/``, and writes ``video.playback.start`` (who, role, agency, camera,
reason, window, served periods and gaps) and ``video.playback.end`` (why, bytes sent,
requests). A playback lasts ``video.view_minutes`` plus its window's length; its file is
deleted when it ends. ``open_with`` opens a playback whose file another builder writes: a
bus camera's DVR archive for DETRO (``guarita.video.dvr_playback``), listed, served, ended
and audited the same way, with its ``details`` (program, vehicle, channel) in both entries.

Covers: BH-05, BH-06, BH-07, BH-09, BH-10, BH-11.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
import sqlite3
import tempfile
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from guarita import audit
from guarita.config import GuaritaConfig
from guarita.consent.share_history import SharedPeriod
from guarita.errors import FrigateError, StoreError
from guarita.frigate import FrigateClient
from guarita.privacy_mask import mask_clip
from guarita.retention._s3 import S3Access
from guarita.retention.cloud_export import CloudClip, coverage_gaps, covering_objects
from guarita.retention.evidence import EvidenceError
from guarita.retention.evidence_export import camera_clip
from guarita.retention.footage import TimeWindow, iso
from guarita.retention.frigate_export import run_ffmpeg, video_seconds
from guarita.store import Store

__all__ = ["Gap", "Playback", "PlaybackAsk", "PlaybackBook", "PlaybackError", "Served", "build_playback",
           "split_by_coverage", "split_shared"]

log = logging.getLogger(__name__)

_SLACK_S = 1.0
"""Recordings less than this apart count as one; pieces shorter than this are not served."""
_BUILDS = 2
"""Playbacks built at once (each runs ffmpeg); the others wait their turn."""


class PlaybackError(EvidenceError):
    """Nothing of the window can be served (answered 404 with the gaps)."""


@dataclass(frozen=True)
class PlaybackAsk:
    """What ``camera_clip`` is asked for: the playback's id, its reason, one piece of its window."""

    id: str
    ref: str
    window: TimeWindow


@dataclass(frozen=True)
class Served:
    """A piece of the window in the file, in order, and where it came from (``frigate`` or ``cloud``)."""

    start: float
    end: float
    source: str
    duration_s: float

    def as_json(self) -> dict[str, Any]:
        return {"from": iso(self.start), "to": iso(self.end), "source": self.source, "duration_s": self.duration_s}


@dataclass(frozen=True)
class Gap:
    """A part of the window not served: ``not_shared``, ``no_recording`` or ``unavailable``."""

    start: float
    end: float
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {"from": iso(self.start), "to": iso(self.end), "reason": self.reason}


def _merged(spans: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1] + _SLACK_S:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def split_shared(periods: Sequence[SharedPeriod], start: float, end: float) -> tuple[list[TimeWindow], list[Gap]]:
    """``[start, end)`` cut along ``periods``: the shared parts, and the rest as ``not_shared`` gaps."""
    shared: list[TimeWindow] = []
    for period in periods:
        lo, hi = max(start, period.start), min(end, period.end if period.end is not None else end)
        if hi > lo:
            shared.append(TimeWindow(lo, hi))
    gaps = [Gap(lo, hi, "not_shared") for lo, hi in _complement([(w.start, w.end) for w in shared], start, end)]
    return shared, gaps


def _complement(spans: Sequence[tuple[float, float]], start: float, end: float) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    cursor = start
    for lo, hi in sorted(spans):
        if lo > cursor:
            out.append((cursor, min(lo, end)))
        cursor = max(cursor, hi)
    if cursor < end:
        out.append((cursor, end))
    return [(lo, hi) for lo, hi in out if hi > lo]


def split_by_coverage(window: TimeWindow, frigate: Sequence[tuple[float, float]],
                      cloud: Sequence[tuple[float, float]]) -> tuple[list[tuple[TimeWindow, str]], list[Gap]]:
    """``window`` as pieces Frigate covers (``frigate``), then the cloud copy (``cloud``); the rest ``no_recording``."""
    def clipped(spans: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
        return [(max(lo, window.start), min(hi, window.end)) for lo, hi in _merged(spans)
                if min(hi, window.end) > max(lo, window.start)]

    from_frigate = clipped(frigate)
    pieces = [(lo, hi, "frigate") for lo, hi in from_frigate]
    gaps: list[Gap] = []
    for lo, hi in _complement(from_frigate, window.start, window.end):
        inner = [(max(a, lo), min(b, hi)) for a, b in clipped(cloud) if min(b, hi) > max(a, lo)]
        pieces += [(a, b, "cloud") for a, b in inner]
        gaps += [Gap(a, b, "no_recording") for a, b in _complement(inner, lo, hi)]
    served = [(TimeWindow(lo, hi), source) for lo, hi, source in sorted(pieces) if hi - lo >= _SLACK_S]
    gaps += [Gap(lo, hi, "no_recording") for lo, hi, _ in pieces if hi - lo < _SLACK_S]
    return served, gaps


async def _frigate_spans(frigate: FrigateClient | None, camera: str, window: TimeWindow) -> list[tuple[float, float]]:
    if frigate is None:
        return []
    try:
        return [(s.start_time, s.end_time) for s in await frigate.recordings(camera, window.start, window.end)]
    except FrigateError as exc:
        log.warning("playback of camera %s: Frigate's recordings could not be listed (%s); trying the cloud copy",
                    camera, exc)
        return []


def _cloud_spans(store: Store, cloud: S3Access | None, camera: str, window: TimeWindow) -> list[tuple[float, float]]:
    if cloud is None:
        return []
    objects = covering_objects(store, camera, window)
    if not objects:
        return []
    return _complement([(g.start, g.end) for g in coverage_gaps(objects, window)], window.start, window.end)


async def _duration(path: Path) -> float:
    return await asyncio.to_thread(video_seconds, path)


async def build_playback(
    store: Store, config: GuaritaConfig, camera: str, shared: Sequence[TimeWindow], dest: Path, *,
    playback_id: str, reason: str, frigate: FrigateClient | None, cloud: S3Access | None,
) -> tuple[list[Served], list[Gap]]:
    """Write the served pieces of ``shared`` into ``dest`` (one MP4, faststart, masked when the camera has masks).

    Raises:
        PlaybackError: nothing of ``shared`` could be served (the gaps say why).
        EvidenceError, PrivacyMaskError: ffmpeg failed to join or mask the pieces.
    """
    served: list[Served] = []
    gaps: list[Gap] = []
    with tempfile.TemporaryDirectory(prefix=f"guarita-playback-{camera}-", dir=dest.parent) as scratch:
        clips: list[Path] = []
        for part in shared:
            pieces, missing = split_by_coverage(part, await _frigate_spans(frigate, camera, part),
                                                _cloud_spans(store, cloud, camera, part))
            gaps += missing
            for window, planned in pieces:
                folder = Path(scratch) / str(len(clips) + len(gaps))
                folder.mkdir()
                ask = PlaybackAsk(playback_id, reason, window)
                try:
                    clip = await camera_clip(store, frigate if planned == "frigate" else None, cloud, ask, camera,
                                             folder, exact=False, name=f"playback {playback_id}: {reason}")
                except EvidenceError as exc:
                    log.warning("playback %s of camera %s: %s → %s not served: %s", playback_id, camera,
                                iso(window.start), iso(window.end), exc)
                    gaps.append(Gap(window.start, window.end, "unavailable"))
                    continue
                clips.append(clip.path)
                source = "cloud" if isinstance(clip, CloudClip) else "frigate"
                served.append(Served(window.start, window.end, source, await _duration(clip.path)))
        gaps.sort(key=lambda gap: gap.start)
        if not clips:
            raise PlaybackError(f"no footage of camera {camera} in the shared parts of the window: "
                                + ", ".join(f"{iso(g.start)} → {iso(g.end)} {g.reason}" for g in gaps))
        listing = Path(scratch) / "pieces.txt"
        listing.write_text("".join(f"file '{clip.resolve()}'\n" for clip in clips))
        masks = list(config.cameras[camera].privacy_masks)
        joined = Path(scratch) / "joined.mp4" if masks else dest
        await run_ffmpeg(["-f", "concat", "-safe", "0", "-i", str(listing), "-map", "0:v:0", "-c", "copy",
                          "-movflags", "+faststart", str(joined)], f"ffmpeg could not join camera {camera}'s pieces")
        if masks:
            await mask_clip(joined, dest, masks)
    return served, gaps


@dataclass(eq=False)
class Playback:
    """One open playback."""

    id: str
    key: str = field(repr=False)
    camera: str
    reason: str
    holder: str
    role: str
    agency: str | None
    window: TimeWindow
    opened: float
    expires: float
    path: Path
    served: list[Served]
    gaps: list[Gap]
    bytes_sent: int = 0
    requests: int = 0
    details: dict[str, object] = field(default_factory=dict)  # more for both audit entries (a bus's vehicle)


class PlaybackBook:
    """Open playbacks by id, their files and their audit entries."""

    def __init__(self, store: Store, config: GuaritaConfig, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._config = config
        self._clock = clock
        self.folder = config.storage.data_dir / "playback"
        self._playbacks: dict[str, Playback] = {}
        self.ended: OrderedDict[str, str] = OrderedDict()
        self._builds = asyncio.Semaphore(_BUILDS)

    def now(self) -> float:
        return self._clock().timestamp()

    def active(self) -> list[Playback]:
        return sorted(self._playbacks.values(), key=lambda p: p.opened)

    def get(self, playback_id: str) -> Playback | None:
        return self._playbacks.get(playback_id)

    def clear_leftovers(self) -> None:
        """Remove the files of playbacks a stopped process left behind, and make the folder (owner only)."""
        if self.folder.exists():
            shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)

    async def open(self, camera: str, window: TimeWindow, shared: Sequence[TimeWindow], not_shared: Sequence[Gap],
                   reason: str, *, holder: str, role: str, agency: str | None, frigate: FrigateClient | None,
                   cloud: S3Access | None) -> Playback:
        """Build the playback's file and write its start entry.

        Raises:
            PlaybackError: nothing of the shared parts could be served.
            EvidenceError, PrivacyMaskError: ffmpeg failed.
            StoreError, sqlite3.Error: the audit entry could not be written (the file is removed).
        """
        async def build(path: Path, playback_id: str) -> tuple[list[Served], list[Gap]]:
            served, gaps = await build_playback(self._store, self._config, camera, shared, path,
                                                playback_id=playback_id, reason=reason, frigate=frigate, cloud=cloud)
            return served, sorted([*not_shared, *gaps], key=lambda gap: gap.start)

        return await self.open_with(camera, window, build, reason, holder=holder, role=role, agency=agency)

    async def open_with(self, camera: str, window: TimeWindow,
                        build: Callable[[Path, str], Awaitable[tuple[list[Served], list[Gap]]]], reason: str, *,
                        holder: str, role: str, agency: str | None,
                        details: dict[str, object] | None = None) -> Playback:
        """Open a playback whose file ``build(path, id)`` writes, giving its served pieces and gaps.

        Raises:
            whatever ``build`` raises (its partial file is removed);
            StoreError, sqlite3.Error: the audit entry could not be written (the file is removed).
        """
        playback_id = secrets.token_urlsafe(16)
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.folder / f"{playback_id}.mp4"
        async with self._builds:
            try:
                served, gaps = await build(path, playback_id)
            except BaseException:
                path.unlink(missing_ok=True)
                raise
        now = self.now()
        lifetime = self._config.video.view_minutes * 60.0 + (window.end - window.start)
        playback = Playback(id=playback_id, key=secrets.token_urlsafe(32), camera=camera, reason=reason, holder=holder,
                            role=role, agency=agency, window=window, opened=now, expires=now + lifetime, path=path,
                            served=served, gaps=gaps, details=dict(details or {}))
        try:
            with self._store.transaction() as db:
                audit.append(db, at=now, actor=holder, action="video.playback.start", subject=camera, details={
                    **playback.details, "playback": playback_id, "role": role, "agency": agency, "reason": reason,
                    "window": window.as_json(), "expires": playback.expires,
                    "periods": [s.as_json() for s in served], "gaps": [g.as_json() for g in gaps],
                })
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        self._playbacks[playback_id] = playback
        log.info("playback %s of camera %s (%s → %s) opened by %s: %d pieces, %d gaps", playback_id, camera,
                 iso(window.start), iso(window.end), holder, len(served), len(gaps))
        return playback

    def end(self, playback: Playback, why: str) -> None:
        """End the playback: its file goes, and its end entry is written (a failure is logged)."""
        if self._playbacks.pop(playback.id, None) is None:
            return
        playback.path.unlink(missing_ok=True)
        self.ended[playback.id] = why
        while len(self.ended) > 1000:
            self.ended.popitem(last=False)
        now = self.now()
        try:
            with self._store.transaction() as db:
                audit.append(db, at=now, actor=playback.holder, action="video.playback.end", subject=playback.camera,
                             details={**playback.details, "playback": playback.id, "why": why,
                                      "duration_s": round(now - playback.opened, 3),
                                      "bytes_sent": playback.bytes_sent, "requests": playback.requests})
        except (StoreError, sqlite3.Error) as exc:
            log.error("playback %s of camera %s ended (%s) but its audit entry could not be written: %s",
                      playback.id, playback.camera, why, exc)
        log.info("playback %s of camera %s ended: %s (%d bytes sent)", playback.id, playback.camera, why,
                 playback.bytes_sent)

    def check(self) -> None:
        """End every playback past its expiry."""
        now = self.now()
        for playback in self.active():
            if playback.expires <= now:
                self.end(playback, "expired")

    def close(self) -> None:
        """End every playback (the server is stopping)."""
        for playback in self.active():
            self.end(playback, "guarita is stopping")
