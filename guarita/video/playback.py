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

Each Frigate export a piece made is deleted once its clip is copied out, and the playback's
other exports after the build (``playback_exports.ExportCleaner``): Frigate keeps exports forever.

The ``PlaybackBook`` keeps open playbacks (id 128 random bits, key 256), their files under
``<data_dir>/playback/``, at most ``video.max_playbacks`` open and
``video.max_playbacks_per_camera`` of one camera (``PlaybackLimitReached``). ``open`` writes
``video.playback.start`` (who, role, agency, camera, reason, window, the shared parts and the
``not_shared`` gaps) and builds the file in the background, ``_BUILDS`` at once: the playback is
``building``, then ``ready`` (``video.playback.ready``: served periods and gaps, new expiry) or
``failed``, which ends it. ``video.playback.end`` says why (``failed: <error>`` for a failed
build), its state, bytes sent and requests. A playback lasts ``video.view_minutes`` plus its
window's length from when it is ready (from when it was asked, while it builds); its file is
deleted when it ends. ``open_with`` opens a playback whose file another builder writes: a
bus camera's DVR archive for DETRO (``guarita.video.dvr_playback``), built, listed, served,
ended and audited the same way, with its ``details`` (program, vehicle, channel) in every entry.

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
from guarita.errors import FrigateError, GuaritaError, StoreError
from guarita.frigate import FrigateClient
from guarita.privacy_mask import mask_clip
from guarita.retention._s3 import S3Access
from guarita.retention.cloud_export import CloudClip, coverage_gaps, covering_objects
from guarita.retention.evidence import EvidenceError
from guarita.retention.evidence_export import camera_clip
from guarita.retention.footage import TimeWindow, iso
from guarita.video.holdings import Holding, LimitReached, check_limits, remember_ended
from guarita.retention.frigate_export import FrigateClip, run_ffmpeg, video_seconds
from guarita.store import Store
from guarita.video.playback_exports import ExportCleaner, export_name

__all__ = ["Gap", "Playback", "PlaybackAsk", "PlaybackBook", "PlaybackError", "PlaybackLimitReached", "Served",
           "build_playback",
           "split_by_coverage", "split_shared"]

log = logging.getLogger(__name__)

_SLACK_S = 1.0
"""Recordings less than this apart count as one; pieces shorter than this are not served."""
_BUILDS = 2
"""Playbacks built at once (each runs ffmpeg); the others wait their turn."""
_SWEEP_AT_STOP_S = 5.0
"""How long a stopping server waits for Frigate to delete the exports of the builds it stopped."""


class PlaybackError(EvidenceError):
    """Nothing of the window can be served: the playback fails, with the gaps (``gaps``)."""

    def __init__(self, message: str, gaps: Sequence[Gap] = ()) -> None:
        super().__init__(message)
        self.gaps = list(gaps)


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
    exports: ExportCleaner | None = None,
) -> tuple[list[Served], list[Gap]]:
    """Write the served pieces of ``shared`` into ``dest`` (one MP4, faststart, masked when the camera has masks).

    With ``exports``, each new Frigate export is deleted once its clip is copied out (one a hold
    recorded is kept).

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
                                             folder, exact=False, name=export_name(playback_id, reason))
                except EvidenceError as exc:
                    log.warning("playback %s of camera %s: %s → %s not served: %s", playback_id, camera,
                                iso(window.start), iso(window.end), exc)
                    gaps.append(Gap(window.start, window.end, "unavailable"))
                    continue
                if exports is not None and frigate is not None and isinstance(clip, FrigateClip) \
                        and clip.reused_hold is None:
                    await exports.delete(frigate, clip.export_id, playback_id)
                clips.append(clip.path)
                source = "cloud" if isinstance(clip, CloudClip) else "frigate"
                served.append(Served(window.start, window.end, source, await _duration(clip.path)))
        gaps.sort(key=lambda gap: gap.start)
        if not clips:
            raise PlaybackError(f"no footage of camera {camera} in the shared parts of the window: "
                                + ", ".join(f"{iso(g.start)} → {iso(g.end)} {g.reason}" for g in gaps), gaps)
        listing = Path(scratch) / "pieces.txt"
        listing.write_text("".join(f"file '{clip.resolve()}'\n" for clip in clips))
        masks = list(config.cameras[camera].privacy_masks)
        joined = Path(scratch) / "joined.mp4" if masks else dest
        await run_ffmpeg(["-f", "concat", "-safe", "0", "-i", str(listing), "-map", "0:v:0", "-c", "copy",
                          "-movflags", "+faststart", str(joined)], f"ffmpeg could not join camera {camera}'s pieces")
        if masks:
            await mask_clip(joined, dest, masks)
    return served, gaps


class PlaybackLimitReached(LimitReached):
    """Too many playbacks open, in all or of one camera (answered 429)."""


@dataclass(eq=False)
class Playback(Holding):
    """One open playback: ``building`` until its file is made, then ``ready`` (or ``failed``, and ended)."""

    window: TimeWindow
    opened: float
    expires: float
    path: Path
    shared: list[TimeWindow]
    served: list[Served]
    gaps: list[Gap]
    state: str = "building"
    failure: str | None = None
    bytes_sent: int = 0
    requests: int = 0
    details: dict[str, object] = field(default_factory=dict)  # more for every audit entry (a bus's vehicle)


Builder = Callable[[Playback], Awaitable[tuple[list[Served], list[Gap]]]]
"""Writes a playback's file at its ``path``; gives the served pieces and the gaps it found."""


class PlaybackBook:
    """Open playbacks by id, their builds (in the background, ``_BUILDS`` at once), files and audit entries."""

    def __init__(self, store: Store, config: GuaritaConfig, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._config = config
        self._clock = clock
        self.folder = config.storage.data_dir / "playback"
        self._playbacks: dict[str, Playback] = {}
        self.ended: OrderedDict[str, str] = OrderedDict()
        self.failed: OrderedDict[str, Playback] = OrderedDict()
        """Playbacks whose build failed (kept so ``GET /playback/{id}`` can say why)."""
        self.exports = ExportCleaner()
        self._builds = asyncio.Semaphore(_BUILDS)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._sweeps: set[asyncio.Task[None]] = set()

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

    def _lifetime(self, window: TimeWindow) -> float:
        return self._config.video.view_minutes * 60.0 + (window.end - window.start)

    def _check_limits(self, camera: str) -> None:
        settings = self._config.video
        check_limits([p.camera for p in self._playbacks.values()], camera, noun="playbacks",
                     setting="max_playbacks", per_camera=settings.max_playbacks_per_camera,
                     in_all=settings.max_playbacks, error=PlaybackLimitReached)

    def open(self, camera: str, window: TimeWindow, shared: Sequence[TimeWindow], not_shared: Sequence[Gap],
             reason: str, *, holder: str, role: str, agency: str | None, frigate: FrigateClient | None,
             cloud: S3Access | None) -> Playback:
        """Write the start entry and start building the playback's file in the background (call in the loop).

        Raises:
            PlaybackLimitReached: ``video.max_playbacks`` or ``video.max_playbacks_per_camera`` reached.
            StoreError, sqlite3.Error: the audit entry could not be written (nothing was started).
        """
        async def build(playback: Playback) -> tuple[list[Served], list[Gap]]:
            return await build_playback(
                self._store, self._config, playback.camera, playback.shared, playback.path,
                playback_id=playback.id, reason=playback.reason, frigate=frigate, cloud=cloud, exports=self.exports)

        return self.open_with(camera, window, shared, not_shared, build, reason, holder=holder, role=role,
                              agency=agency, frigate=frigate)

    def open_with(self, camera: str, window: TimeWindow, shared: Sequence[TimeWindow], not_shared: Sequence[Gap],
                  build: Builder, reason: str, *, holder: str, role: str, agency: str | None,
                  details: dict[str, object] | None = None, frigate: FrigateClient | None = None) -> Playback:
        """``open`` with the file written by ``build`` (``frigate``: sweep the exports it made afterwards).

        Raises:
            PlaybackLimitReached, StoreError, sqlite3.Error: as ``open``.
        """
        self._check_limits(camera)
        playback_id = secrets.token_urlsafe(16)
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        now = self.now()
        playback = Playback(id=playback_id, key=secrets.token_urlsafe(32), camera=camera, reason=reason, holder=holder,
                            role=role, agency=agency, window=window, opened=now, expires=now + self._lifetime(window),
                            path=self.folder / f"{playback_id}.mp4", shared=list(shared), served=[],
                            gaps=sorted(not_shared, key=lambda gap: gap.start), details=dict(details or {}))
        with self._store.transaction() as db:
            audit.append(db, at=now, actor=holder, action="video.playback.start", subject=camera, details={
                **playback.details, "playback": playback_id, "role": role, "agency": agency, "reason": reason, "state": "building",
                "window": window.as_json(), "expires": playback.expires,
                "shared": [w.as_json() for w in playback.shared], "gaps": [g.as_json() for g in playback.gaps],
            })
        self._playbacks[playback_id] = playback
        self._tasks[playback_id] = asyncio.create_task(self._build(playback, build, frigate),
                                                       name=f"playback {playback_id}")
        log.info("playback %s of camera %s (%s → %s) opened by %s: building", playback_id, camera,
                 iso(window.start), iso(window.end), holder)
        return playback

    async def _build(self, playback: Playback, build: Builder, frigate: FrigateClient | None) -> None:
        try:
            async with self._builds:
                served, gaps = await build(playback)
        except asyncio.CancelledError:
            playback.path.unlink(missing_ok=True)
            raise
        except Exception as exc:  # noqa: BLE001 - any failure ends this playback, never the server
            if isinstance(exc, PlaybackError):
                playback.gaps = sorted([*playback.gaps, *exc.gaps], key=lambda gap: gap.start)
            elif not isinstance(exc, GuaritaError):
                log.exception("playback %s of camera %s: unexpected failure", playback.id, playback.camera)
            self._failed(playback, str(exc) or type(exc).__name__)
        else:
            self._ready(playback, served, gaps)
        finally:
            self._tasks.pop(playback.id, None)
            if frigate is not None:
                self._sweep(frigate, playback.id)

    def _sweep(self, frigate: FrigateClient, playback_id: str) -> None:
        task = asyncio.create_task(self.exports.sweep(frigate, playback_id), name=f"playback {playback_id} exports")
        self._sweeps.add(task)
        task.add_done_callback(self._sweeps.discard)

    def _ready(self, playback: Playback, served: list[Served], gaps: list[Gap]) -> None:
        if playback.id not in self._playbacks:
            playback.path.unlink(missing_ok=True)
            return
        now = self.now()
        playback.served = served
        playback.gaps = sorted([*playback.gaps, *gaps], key=lambda gap: gap.start)
        playback.state = "ready"
        playback.expires = now + self._lifetime(playback.window)
        try:
            with self._store.transaction() as db:
                audit.append(db, at=now, actor=playback.holder, action="video.playback.ready",
                             subject=playback.camera, details={
                                 **playback.details, "playback": playback.id, "expires": playback.expires,
                                 "periods": [s.as_json() for s in served],
                                 "gaps": [g.as_json() for g in playback.gaps]})
        except (StoreError, sqlite3.Error) as exc:
            log.error("playback %s of camera %s is built but its audit entry could not be written (%s): "
                      "it is not served", playback.id, playback.camera, exc)
            self._failed(playback, f"the audit entry could not be written: {exc}")
            return
        log.info("playback %s of camera %s ready: %d pieces, %d gaps", playback.id, playback.camera, len(served),
                 len(playback.gaps))

    def _failed(self, playback: Playback, why: str) -> None:
        log.warning("playback %s of camera %s failed: %s", playback.id, playback.camera, why)
        playback.state = "failed"
        playback.failure = why
        self.failed[playback.id] = playback
        while len(self.failed) > 100:
            self.failed.popitem(last=False)
        self.end(playback, f"failed: {why}")

    def end(self, playback: Playback, why: str) -> None:
        """End the playback: its build stops, its file goes, and its end entry is written (a failure is logged)."""
        if self._playbacks.pop(playback.id, None) is None:
            return
        task = self._tasks.pop(playback.id, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        playback.path.unlink(missing_ok=True)
        remember_ended(self.ended, playback.id, why)
        now = self.now()
        details: dict[str, Any] = {**playback.details, "playback": playback.id, "why": why, "state": playback.state,
                                   "duration_s": round(now - playback.opened, 3), "bytes_sent": playback.bytes_sent,
                                   "requests": playback.requests}
        if playback.failure is not None:
            details |= {"error": playback.failure, "gaps": [g.as_json() for g in playback.gaps]}
        try:
            with self._store.transaction() as db:
                audit.append(db, at=now, actor=playback.holder, action="video.playback.end", subject=playback.camera,
                             details=details)
        except (StoreError, sqlite3.Error) as exc:
            log.error("playback %s of camera %s ended (%s) but its audit entry could not be written: %s",
                      playback.id, playback.camera, why, exc)
        log.info("playback %s of camera %s ended: %s (%d bytes sent)", playback.id, playback.camera, why,
                 playback.bytes_sent)

    async def check(self) -> None:
        """End every playback past its expiry; try again the exports Frigate could not delete yet."""
        now = self.now()
        for playback in self.active():
            if playback.expires <= now:
                self.end(playback, "expired")
        await self.exports.retry()

    async def close(self) -> None:
        """End every playback and wait for their builds and export sweeps to stop (the server is stopping)."""
        tasks = list(self._tasks.values())
        for playback in self.active():
            self.end(playback, "guarita is stopping")
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._sweeps:  # a stopped build's exports: deleted if Frigate answers soon
            await asyncio.wait(list(self._sweeps), timeout=_SWEEP_AT_STOP_S)
