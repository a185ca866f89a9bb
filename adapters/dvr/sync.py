"""One sync pass of a bus DVR: fetch what the archive lacks, verify it, file it, report it.

For each camera folder (and the telemetry folder) of the vehicle's DVR:

1. list it; refuse names that are unsafe as paths, and symlinks (recorded, never fetched);
2. skip what the archive index already holds and what was already quarantined;
3. fetch each remaining file into ``dvr_partial/…/<name>.part`` (resuming), check its size,
   its SHA-256 against the DVR's own ``<name>.sha256`` when it publishes one, and its content
   (``validate_segment``: H.264 in MP4, 1–5 min, not truncated);
4. rename it atomically into the archive and index it, or move it to the quarantine with a
   ``.reason.json`` sidecar.

Checking a file (ffprobe) overlaps fetching the next one. A transfer that breaks off ends
the pass as ``partial``: the archive holds only complete, verified files, and the next pass
resumes the ``.part``. The pass is recorded in ``dvr_syncs`` and its report queued for
DETRO (``guarita.adapters.dvr.report``).

Every read from a DVR is bounded: a file is never written past its listed size (more is
quarantined, "served more than the listed N bytes") and has a time limit from its size and
``fleet.min_transfer_mbps``; listings are capped by the sources (``LISTING_MAX_BYTES``)
and given ``LISTING_TIME_S``; a ``.sha256`` sidecar is read up to ``CHECKSUM_MAX_BYTES``.
Empty files and special files (FIFOs, device nodes) are refused from the listing, never
read. A camera folder that cannot be listed (missing, an HTTP error, too large) fails the
pass for that camera, with the reason; the other folders are still synced. However a pass
ends, its ``dvr_syncs`` row is closed.

Covers: PB-06, DT-03, DT-06, DT-10, DT-11, DT-14.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from guarita.adapters.dvr import archive
from guarita.adapters.dvr.fetch import FetchedFile, fetch_to_part, sync_file
from guarita.adapters.dvr.names import CHECKSUM_SUFFIX, TELEMETRY_SUFFIX, VIDEO_SUFFIX, parse_start, unsafe_name_reason
from guarita.adapters.dvr.rate import RateLimiter
from guarita.adapters.dvr.report import SyncResult, close_interrupted, finish_sync, start_sync
from guarita.adapters.dvr.source import DvrSource, RemoteEntry
from guarita.adapters.dvr.sources import open_source
from guarita.adapters.dvr.validate import MAX_SEGMENT_S, validate_segment
from guarita.config import DvrConfig, FleetConfig, GuaritaConfig
from guarita.errors import DvrAuthError, DvrError, DvrFolderMissing, DvrTransferError, DvrUnreachable
from guarita.local_time import local_zone
from guarita.outbox import Outbox
from guarita.store import Store

__all__ = ["DvrSync", "SyncProgress", "TelemetryFileSink", "TelemetryIngested"]

log = logging.getLogger(__name__)

CHECKS_IN_FLIGHT = 2  # files being checked by ffprobe while the next one is fetched
LISTING_TIME_S = 120.0  # one folder listing, however slowly it comes
CHECKSUM_MAX_BYTES = 1024  # "<64 hex digits>  <name>" is under 200 bytes
CHECKSUM_TIME_S = 30.0


class _Refused(Exception):
    """A listed file will not be fetched; the message says why."""


class SyncProgress(Protocol):
    """What a progress display learns from a pass."""

    def planned(self, files: int, size: int) -> None:
        """The pass will fetch ``files`` files, ``size`` bytes in all (resumed bytes included)."""

    def advanced(self, size: int) -> None:
        """``size`` more bytes are done."""


class TelemetryIngested(Protocol):
    """What the telemetry ingest says about a file it read."""

    @property
    def samples(self) -> int:
        """Samples stored from the file."""


TelemetryFileSink = Callable[[str, Path], TelemetryIngested]


@dataclass(frozen=True)
class _Job:
    """A file to fetch: ``camera`` is None for telemetry."""

    camera: int | None
    folder: str
    entry: RemoteEntry
    size: int
    checksum: str | None


@dataclass
class _Plan:
    files: list[_Job] = field(default_factory=list)
    refused: list[tuple[str, RemoteEntry, str]] = field(default_factory=list)
    unlisted: list[tuple[int, str, str]] = field(default_factory=list)  # camera, folder, why
    telemetry_error: str | None = None

    @property
    def failures(self) -> tuple[str, ...]:
        """What could not be listed, to tell a repeated failure from a new one."""
        found = tuple(f"{camera}:{reason}" for camera, _, reason in self.unlisted)
        return found + ((self.telemetry_error,) if self.telemetry_error else ())


@dataclass
class _Pass:
    result: SyncResult
    checks: set[asyncio.Task[None]] = field(default_factory=set)


class DvrSync:
    """Syncs vehicles' DVRs into the archive; one instance per process."""

    def __init__(
        self,
        config: GuaritaConfig,
        store: Store,
        outbox: Outbox | None,
        *,
        clock: Callable[[], datetime],
        limiter: RateLimiter | None = None,
        telemetry: TelemetryFileSink | None = None,
        source_factory: Callable[[DvrConfig], DvrSource] = open_source,
    ) -> None:
        if config.fleet is None:
            raise ValueError("no `fleet` section in the config")
        self._config = config
        self._fleet = config.fleet
        self._store = store
        self._outbox = outbox
        self._clock = clock
        self._limiter = limiter
        self._telemetry = telemetry
        self._open = source_factory
        self._zone = local_zone(config.fleet.timezone)
        self._data = config.storage.data_dir
        self._check_slots = asyncio.Semaphore(CHECKS_IN_FLIGHT)
        self._min_rate = _min_rate(config.fleet)
        self._reported_failures: dict[str, tuple[str, ...]] = {}

    @classmethod
    def for_config(
        cls,
        config: GuaritaConfig,
        store: Store,
        outbox: Outbox | None,
        *,
        clock: Callable[[], datetime],
        telemetry: TelemetryFileSink | None = None,
    ) -> DvrSync:
        """The sync a config asks for: its fleet, its bandwidth cap."""
        if config.fleet is None:
            raise DvrError("this config has no `fleet` section: add the vehicles and their DVRs (docs/fleet.md)")
        limiter = RateLimiter.from_mbps(config.fleet.bandwidth_mbps)
        return cls(config, store, outbox, clock=clock, limiter=limiter, telemetry=telemetry)

    def close_interrupted(self) -> int:
        """Close as ``failed`` the passes an earlier process left ``running``; call once at start."""
        return close_interrupted(self._store, self._clock())

    def dvr(self, vehicle: str) -> DvrConfig:
        """The vehicle's DVR settings; ``DvrError`` for an unknown vehicle or one without a DVR."""
        settings = self._fleet.vehicles.get(vehicle)
        if settings is None:
            known = ", ".join(sorted(self._fleet.vehicles)) or "none"
            raise DvrError(f"vehicle {vehicle!r} is not under fleet.vehicles (known: {known})")
        if settings.dvr is None:
            raise DvrError(f"vehicle {vehicle} has no `dvr` configured")
        return settings.dvr

    async def sync(
        self, vehicle: str, progress: SyncProgress | None = None, *, record_empty: bool = True
    ) -> SyncResult | None:
        """One pass over ``vehicle``'s DVR; None when it found nothing new and ``record_empty`` is off.

        Raises:
            DvrUnreachable: the DVR did not answer the first listing (the bus is not here);
                nothing is recorded.
            DvrAuthError: the DVR refused the credentials.
        """
        dvr = self.dvr(vehicle)
        source = self._open(dvr)
        work: _Pass | None = None
        failures: tuple[str, ...] = ()
        try:
            async with source:
                jobs = await self._plan(vehicle, dvr, source)  # a DVR that is not here raises here
                failures = jobs.failures
                repeated = failures == self._reported_failures.get(vehicle, ())
                if not jobs.files and not jobs.refused and repeated and not record_empty:
                    return None
                work = _Pass(start_sync(self._store, vehicle, dvr.serial, self._clock()))
                await self._run(work, vehicle, dvr, source, jobs, progress)
        finally:
            # However the pass ended (the source closed last), its row is closed and reported.
            if work is not None:
                finish_sync(self._config, self._store, self._outbox, work.result, self._clock())
                self._reported_failures[vehicle] = failures
        return work.result

    async def _run(
        self, work: _Pass, vehicle: str, dvr: DvrConfig, source: DvrSource, jobs: _Plan, progress: SyncProgress | None
    ) -> None:
        """Fetch and file a planned pass; records why it stopped early, never raises but for cancellation."""
        try:
            self._refuse(work, vehicle, jobs.refused)
            for camera, folder, reason in jobs.unlisted:
                work.result.camera_unlisted(camera, folder, reason)
                log.error("DVR of %s: camera %d: %s", vehicle, camera, reason)
            if jobs.telemetry_error is not None:
                work.result.cut_short(jobs.telemetry_error)
            if progress is not None:
                progress.planned(len(jobs.files), sum(job.size for job in jobs.files))
            for job in jobs.files:
                fetched = await self._fetch(vehicle, source, job, progress)
                await self._check_slots.acquire()
                task = asyncio.create_task(self._file(work, vehicle, dvr, job, fetched))
                work.checks.add(task)
                task.add_done_callback(work.checks.discard)
        except DvrError as exc:
            work.result.cut_short(str(exc))
            log.warning("DVR of %s: pass cut short (%s); the next pass resumes", vehicle, exc)
        except Exception as exc:  # a bug or a full disk: the pass fails, the process goes on
            log.exception("DVR of %s: the pass failed", vehicle)
            work.result.fail(f"{type(exc).__name__}: {exc}")
        except BaseException:  # cancelled: Guarita is stopping
            work.result.cut_short("stopped before its end (Guarita stopping); the next pass resumes")
            raise
        finally:
            if work.checks:
                await asyncio.gather(*work.checks, return_exceptions=True)

    # ---- planning -------------------------------------------------------------------
    async def _plan(self, vehicle: str, dvr: DvrConfig, source: DvrSource) -> _Plan:
        plan = _Plan()
        folders: list[tuple[int | None, str]] = [(number, dvr.folder(number)) for number in sorted(dvr.cameras)]
        if dvr.telemetry_folder is not None:
            folders.append((None, dvr.telemetry_folder))
        for camera, folder in folders:
            try:
                await self._plan_folder(plan, vehicle, camera, folder, source)
            except (DvrUnreachable, DvrAuthError):
                raise  # the bus left, or the password is wrong: nothing to record
            except DvrFolderMissing as exc:
                if camera is not None:
                    plan.unlisted.append((camera, folder, str(exc)))
                # a DVR without a telemetry folder keeps no telemetry
            except DvrError as exc:
                if camera is None:
                    plan.telemetry_error = f"telemetry folder {folder!r} could not be listed: {exc}"
                else:
                    plan.unlisted.append((camera, folder, str(exc)))
        return plan

    async def _plan_folder(
        self, plan: _Plan, vehicle: str, camera: int | None, folder: str, source: DvrSource
    ) -> None:
        db = self._store.db
        try:
            async with asyncio.timeout(LISTING_TIME_S):
                entries = await source.list_folder(folder)
        except TimeoutError:
            raise DvrTransferError(
                f"DVR {source.display}: the listing of folder {folder!r} took longer than {LISTING_TIME_S:g} s"
            ) from None
        if camera is None:
            have = {row[0] for row in db.execute("SELECT name FROM dvr_telemetry_files WHERE vehicle = ?", (vehicle,))}
        else:
            have = {
                row[0]
                for row in db.execute("SELECT name FROM dvr_segments WHERE vehicle = ? AND camera = ?", (vehicle, camera))
            }
        rejected = {
            (row[0], row[1])
            for row in db.execute("SELECT name, size FROM dvr_quarantine WHERE vehicle = ? AND folder = ?", (vehicle, folder))
        }
        sidecars = {e.name: e for e in entries if e.name.endswith(CHECKSUM_SUFFIX) and not e.is_link}
        recording = self._still_recording(entries) if camera is not None else None
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.is_dir or entry.name in sidecars or entry.name in have:
                continue
            reason = unsafe_name_reason(entry.name)
            if reason is None and entry.is_link:
                reason = f"{entry.name!r} is a symbolic link; links are never followed"
            if reason is None and entry.special is not None:
                reason = f"{entry.name!r} is {entry.special}, not a regular file; never read"
            if reason is not None:
                if (entry.name, entry.size) not in rejected:
                    plan.refused.append((folder, entry, reason))
                continue
            if entry.name == recording:
                log.debug("DVR of %s: %s/%s is still being recorded; next visit", vehicle, folder, entry.name)
                continue
            size = entry.size if entry.size is not None else await source.size(folder, entry.name)
            if (entry.name, size) in rejected:
                continue
            sized = RemoteEntry(entry.name, size=size)
            if size == 0:
                plan.refused.append((folder, sized, "empty file (0 bytes): no recording in it"))
                continue
            checksum = None
            sidecar = sidecars.get(entry.name + CHECKSUM_SUFFIX)
            if sidecar is not None:
                try:
                    checksum = await self._checksum(source, folder, sidecar)
                except _Refused as exc:
                    plan.refused.append((folder, sized, str(exc)))
                    continue
            plan.files.append(_Job(camera, folder, entry, size, checksum))

    def _still_recording(self, entries: list[RemoteEntry]) -> str | None:
        """The newest segment's name when it may still be growing (a parked bus keeps recording)."""
        stamped = [e.name for e in entries if not e.is_dir and parse_start(e.name, self._zone) is not None]
        if not stamped:
            return None
        newest = max(stamped)
        start = parse_start(newest, self._zone)
        assert start is not None
        open_for = MAX_SEGMENT_S + self._fleet.duration_tolerance_s
        return newest if (self._clock() - start).total_seconds() < open_for else None

    @staticmethod
    async def _checksum(source: DvrSource, folder: str, sidecar: RemoteEntry) -> str | None:
        """The DVR's own SHA-256 from ``<name>.sha256`` (``<hex>  <name>`` or ``<hex>``).

        Raises:
            _Refused: the sidecar is larger than ``CHECKSUM_MAX_BYTES``: its file is refused.
        """
        too_big = _Refused(
            f"its checksum file {sidecar.name!r} is larger than {CHECKSUM_MAX_BYTES} bytes (a SHA-256 line is "
            "under 200); refused, not fetched"
        )
        if sidecar.size is not None and sidecar.size > CHECKSUM_MAX_BYTES:
            raise too_big
        body = bytearray()
        chunks = source.fetch(folder, sidecar.name, 0)
        try:
            async with asyncio.timeout(CHECKSUM_TIME_S):
                async for chunk in chunks:
                    body += chunk[: CHECKSUM_MAX_BYTES + 1 - len(body)]
                    if len(body) > CHECKSUM_MAX_BYTES:
                        raise too_big
        except TimeoutError:
            raise DvrTransferError(
                f"DVR {source.display}: {folder}/{sidecar.name} took longer than {CHECKSUM_TIME_S:g} s"
            ) from None
        finally:
            close = getattr(chunks, "aclose", None)
            if close is not None:
                await close()
        words = bytes(body).decode("ascii", "replace").split()
        return words[0].lower() if words and len(words[0]) == 64 else None

    # ---- fetching and filing ---------------------------------------------------------
    async def _fetch(self, vehicle: str, source: DvrSource, job: _Job, progress: SyncProgress | None) -> FetchedFile:
        part = archive.partial_dir(self._data, vehicle, job.folder) / f"{job.entry.name}.part"
        if progress is not None and part.exists():
            progress.advanced(min(part.stat().st_size, job.size))
        fetched = await fetch_to_part(
            source,
            job.folder,
            job.entry.name,
            part,
            job.size,
            limiter=self._limiter,
            on_bytes=progress.advanced if progress is not None else None,
            min_rate=self._min_rate,
        )
        if fetched.size != job.size:
            raise DvrTransferError(
                f"{source.display}{job.folder}/{job.entry.name}: got {fetched.size} bytes, the DVR listed {job.size}"
            )
        return fetched

    async def _file(self, work: _Pass, vehicle: str, dvr: DvrConfig, job: _Job, fetched: FetchedFile) -> None:
        try:
            # fsync blocks for as long as the disk takes: a worker thread, so the next file keeps coming.
            await asyncio.to_thread(sync_file, fetched.part)
            reason, duration = await self._verdict(job, fetched)
            if reason is not None:
                self._quarantine(work, vehicle, job, fetched, reason)
            elif job.camera is None:
                await self._file_telemetry(work, vehicle, job, fetched)
            else:
                await self._archive(work, vehicle, job, fetched, duration or 0.0)
        except Exception as exc:  # one bad file must not end the pass
            log.exception("DVR of %s: could not file %s/%s", vehicle, job.folder, job.entry.name)
            work.result.cut_short(f"{job.folder}/{job.entry.name}: {exc}")
        finally:
            self._check_slots.release()

    async def _verdict(self, job: _Job, fetched: FetchedFile) -> tuple[str | None, float | None]:
        if fetched.overlong:
            return f"served more than the listed {job.size} bytes (kept: the first {job.size})", None
        if job.checksum is not None and job.checksum != fetched.sha256:
            return f"SHA-256 {fetched.sha256} differs from the DVR's own checksum {job.checksum}", None
        suffix = TELEMETRY_SUFFIX if job.camera is None else VIDEO_SUFFIX
        if parse_start(job.entry.name, self._zone) is None or not job.entry.name.endswith(suffix):
            return f"name is not yyyymmddhhmmss{suffix} with a real date and time (DT-10)", None
        if job.camera is None:
            return None, None
        check = await validate_segment(fetched.part, tolerance_s=self._fleet.duration_tolerance_s)
        return check.reason, check.duration_s

    async def _archive(self, work: _Pass, vehicle: str, job: _Job, fetched: FetchedFile, duration: float) -> None:
        assert job.camera is not None
        start = parse_start(job.entry.name, self._zone)
        assert start is not None
        target = archive.segment_path(self._data, vehicle, job.camera, job.entry.name)
        await asyncio.to_thread(archive.move_into, fetched.part, target)
        with self._store.transaction() as db:
            # A copy taken while the DVR was still writing it was quarantined as truncated: superseded now.
            db.execute("DELETE FROM dvr_quarantine WHERE vehicle = ? AND folder = ? AND name = ?",
                       (vehicle, job.folder, job.entry.name))
            db.execute(
                "INSERT OR REPLACE INTO dvr_segments (vehicle, camera, name, start_utc, duration_s, size, sha256, "
                "synced_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (vehicle, job.camera, job.entry.name, start.timestamp(), duration, fetched.size, fetched.sha256,
                 self._clock().timestamp()),
            )
        work.result.count_file(job.camera, fetched.size, fetched.transferred)
        log.info("DVR of %s: archived camera %d %s (%d bytes, %.0f s)", vehicle, job.camera, job.entry.name,
                 fetched.size, duration)

    async def _file_telemetry(self, work: _Pass, vehicle: str, job: _Job, fetched: FetchedFile) -> None:
        target = archive.telemetry_dir(self._data, vehicle) / job.entry.name
        await asyncio.to_thread(archive.move_into, fetched.part, target)
        samples = 0
        if self._telemetry is not None:
            samples = self._telemetry(vehicle, target).samples
        with self._store.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO dvr_telemetry_files (vehicle, name, size, sha256, samples, synced_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (vehicle, job.entry.name, fetched.size, fetched.sha256, samples, self._clock().timestamp()),
            )
        work.result.telemetry_files += 1
        work.result.transferred += fetched.transferred

    def _quarantine(self, work: _Pass, vehicle: str, job: _Job, fetched: FetchedFile, reason: str) -> None:
        folder = archive.quarantine_dir(self._data, vehicle, job.folder)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / job.entry.name
        os.replace(fetched.part, target)
        at = self._clock().timestamp()
        archive.reason_sidecar(target, {
            "vehicle": vehicle, "folder": job.folder, "name": job.entry.name, "size": fetched.size,
            "sha256": fetched.sha256, "reason": reason, "quarantined_at": at,
        })
        archive.fsync_dir(folder)
        self._record_rejection(vehicle, job.folder, job.entry.name, fetched.size, fetched.sha256, reason, str(target), at)
        work.result.add_quarantined(job.folder, job.entry.name, reason, fetched.size)
        work.result.transferred += fetched.transferred
        log.warning("DVR of %s: quarantined %s/%s: %s", vehicle, job.folder, job.entry.name, reason)

    def _refuse(self, work: _Pass, vehicle: str, refused: list[tuple[str, RemoteEntry, str]]) -> None:
        at = self._clock().timestamp()
        for folder, entry, reason in refused:
            self._record_rejection(vehicle, folder, entry.name, entry.size, None, reason, None, at)
            work.result.add_quarantined(folder, entry.name, reason, entry.size)
            log.warning("DVR of %s: refused %s/%r: %s", vehicle, folder, entry.name, reason)

    def _record_rejection(
        self, vehicle: str, folder: str, name: str, size: int | None, sha256: str | None, reason: str,
        path: str | None, at: float,
    ) -> None:
        with self._store.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO dvr_quarantine (vehicle, folder, name, size, sha256, reason, path, "
                "quarantined_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (vehicle, folder, name, size, sha256, reason, path, at),
            )


def _min_rate(fleet: FleetConfig) -> float:
    """Bytes per second a file must at least arrive at: ``min_transfer_mbps``, capped by the bandwidth share."""
    mbps = fleet.min_transfer_mbps
    if fleet.bandwidth_mbps is not None:
        mbps = min(mbps, fleet.bandwidth_mbps / fleet.max_concurrent_syncs / 2)
    return mbps * 1_000_000 / 8
