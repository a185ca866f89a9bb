"""The cloud copy: shared cameras' recording segments uploaded to an S3-compatible bucket.

Only footage of a period in which the camera was shared goes up. The config names the
candidates (``cop_bh_cameras``: listed in ``cop_bh``, the program enabled, the provider
accredited); the registry's history (``consent.share_history.shared_periods``) gives, at
each pass, the periods in which the share gate passed for each of them. A segment is
uploaded only if ``[start, end)`` lies wholly inside one of those periods; one that straddles
a boundary, or lies outside, is skipped and counted (``unshared``), never retried, and the
cursor moves past it like past any other. A camera with no shared period is not even listed.

A pass walks the source (Frigate's recordings folder, or its API) from the cursor's hour on,
skips what the store says is already in the bucket, and uploads the rest with
``retention.cloud.concurrency`` workers under the shared bandwidth cap (``RateLimiter``).
Each object carries its SHA-256 in its metadata (``x-amz-meta-sha256``). An object is
recorded in ``cloud_objects`` only once the store answered its PUT; a single PUT is all or
nothing, so an upload cut short (crash, cancel, lost link) is simply redone on the next
pass, and nothing recorded complete is sent twice. The cursor moves past an hour once the
hour is over (plus ``HOUR_GRACE_S``) and every segment in it is recorded.

A camera with ``privacy_masks`` (``masks``) never goes up as Frigate recorded it: each of its
segments is masked first (``cloud_mask.SegmentMasker``, an ffmpeg subprocess), and the masked
bytes are what is uploaded, hashed and recorded, with ``masked = 1``; a segment that cannot be
masked is counted failed, not uploaded. The other cameras' segments go up byte for byte.

Covers: BH-03, BH-06, BH-07, BH-10.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import sqlite3
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from guarita.adapters.dvr.rate import RateLimiter
from guarita.config import CloudConfig, GuaritaConfig, ProgramName
from guarita.consent.registry import Registry
from guarita.consent.share_history import SharedPeriod, inside_shared_period, shared_periods
from guarita.errors import StoreError
from guarita.privacy_mask import PrivacyMaskError
from guarita.link_state import wait_or_stop
from guarita.retention._s3 import CloudBucket, CloudError, S3Access, open_bucket
from guarita.retention.cloud_mask import SegmentMasker
from guarita.retention.cloud_segments import Segment, SegmentSource, hour_of, hour_start
from guarita.store import Store

__all__ = ["CloudPass", "CloudUploader", "cop_bh_cameras"]

log = logging.getLogger(__name__)

PASS_INTERVAL_S = 30.0
HOUR_GRACE_S = 300.0  # Frigate moves a segment out of its cache within seconds; wait well past that


def cop_bh_cameras(config: GuaritaConfig) -> list[str]:
    """The cameras the config lets the cloud copy take now: listed in an enabled cop_bh, provider accredited.

    Which of their footage goes up is the registry's history's to say (``shared_periods``).
    """
    program = config.programs.get(ProgramName.COP_BH)
    if program is None or not program.enabled or config.provider.accreditation is None:
        return []
    return sorted(name for name, camera in config.cameras.items() if ProgramName.COP_BH in camera.programs)


@dataclass
class CloudPass:
    """What one pass uploaded."""

    uploaded: int = 0
    masked: int = 0  # of ``uploaded``: masked before upload (a camera with privacy masks)
    bytes: int = 0
    already: int = 0
    unshared: int = 0  # segments outside every shared period of their camera: skipped
    failed: list[str] = field(default_factory=list)
    cursor: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {"uploaded": self.uploaded, "masked": self.masked, "bytes": self.bytes, "already_there": self.already,
                "unshared_skipped": self.unshared, "failed": self.failed, "cursor": self.cursor}


class CloudUploader:
    """Copies new segments to the bucket; ``run`` is the ``guarita run`` service."""

    def __init__(
        self,
        cloud: CloudConfig,
        provider: str,
        store: Store,
        source: SegmentSource,
        clock: Callable[[], datetime],
        *,
        cameras: Collection[str],
        registry: Registry,
        access: S3Access | None = None,
        observer: Callable[[str], None] | None = None,
        pass_interval_s: float = PASS_INTERVAL_S,
        masks: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.cloud = cloud
        self.provider = provider
        self.store = store
        self.source = source
        self.clock = clock
        self.cameras = sorted(cameras)  # what the config allows (``cop_bh_cameras``)
        self.registry = registry
        self.access = access or S3Access.for_config(cloud)
        self.limiter = RateLimiter.from_mbps(cloud.bandwidth_mbps)
        self.observer = observer  # told each key once it is recorded complete (tests, progress)
        self.pass_interval_s = pass_interval_s
        self.masks = dict(masks or {})  # camera -> its privacy_masks: burnt in before upload (BH-07)

    def _cursor(self) -> str | None:
        row = self.store.db.execute("SELECT hour FROM cloud_cursor WHERE source = ?", (self.source.name,)).fetchone()
        return None if row is None else str(row[0])

    def _known(self, segments: list[Segment]) -> set[str]:
        if not segments:
            return set()
        low, high = min(s.start for s in segments), max(s.start for s in segments)
        rows = self.store.db.execute("SELECT key FROM cloud_objects WHERE start_utc >= ? AND start_utc <= ?", (low, high))
        return {row[0] for row in rows}

    async def run_pass(self) -> CloudPass:
        """Upload what the source has and the bucket lacks.

        Raises:
            CloudError: the bucket cannot be opened (wrong keys, missing bucket, unreachable).
        """
        report = CloudPass()
        now = self.clock().timestamp()
        cursor = self._cursor()
        periods = {camera: shared_periods(self.registry, camera) for camera in self.cameras}
        listed = [camera for camera, spans in periods.items() if spans]
        advance = True
        with SegmentMasker(self.masks) as masker:
            async with open_bucket(self.access) as bucket:
                await bucket.check()
                async for hour, found in self.source.hours(cursor, now, listed):
                    segments = self._shared(found, periods, now, report)
                    known = self._known(segments)
                    todo = [s for s in segments if s.key(self.provider) not in known]
                    report.already += len(segments) - len(todo)
                    failed_before = len(report.failed)
                    await self._upload_all(bucket, masker, todo, report)
                    closed = now > hour_start(hour) + 3600 + HOUR_GRACE_S and len(report.failed) == failed_before
                    if advance and closed:
                        cursor = hour_of(hour_start(hour) + 3600)
                        with self.store.transaction() as db:
                            db.execute("INSERT INTO cloud_cursor (source, hour) VALUES (?, ?) "
                                       "ON CONFLICT (source) DO UPDATE SET hour = excluded.hour", (self.source.name, cursor))
                    advance = advance and closed
        report.cursor = cursor
        if report.uploaded or report.failed:
            log.info("cloud copy: %d segments uploaded (%.1f MB), %d failed", report.uploaded, report.bytes / 1e6,
                     len(report.failed))
        if report.unshared:
            log.info("cloud copy: %d segments skipped: not wholly inside a period their camera was shared",
                     report.unshared)
        return report

    @staticmethod
    def _shared(
        found: list[Segment], periods: dict[str, tuple[SharedPeriod, ...]], now: float, report: CloudPass
    ) -> list[Segment]:
        """The segments that are over and lie wholly inside a shared period; the others counted."""
        over = [s for s in found if s.end <= now]  # one still running waits for the next pass
        shared = [s for s in over if inside_shared_period(periods.get(s.camera, ()), s.start, s.end)]
        report.unshared += len(over) - len(shared)
        return shared

    async def _upload_all(self, bucket: CloudBucket, masker: SegmentMasker, todo: list[Segment],
                          report: CloudPass) -> None:
        queue: asyncio.Queue[Segment] = asyncio.Queue()
        for segment in todo:
            queue.put_nowait(segment)

        async def worker() -> None:
            while not queue.empty():
                await self._upload(bucket, masker, queue.get_nowait(), report)

        async with asyncio.TaskGroup() as group:
            for _ in range(min(self.cloud.concurrency, len(todo))):
                group.create_task(worker())

    async def _upload(self, bucket: CloudBucket, masker: SegmentMasker, segment: Segment, report: CloudPass) -> None:
        key = segment.key(self.provider)
        try:
            body = await self.source.read(segment)
        except OSError as exc:  # gone since the listing (Frigate's own retention), or unreadable
            log.info("cloud copy: %s not read: %s", key, exc.strerror or exc)
            report.failed.append(key)
            return
        masked = masker.masked(segment.camera)
        if masked:
            try:
                body = await masker.mask(segment.camera, key, body)
            except PrivacyMaskError as exc:  # never the unmasked segment in its place
                log.warning("cloud copy: %s not masked, not uploaded: %s", key, exc)
                report.failed.append(key)
                return
        digest = hashlib.sha256(body).hexdigest()
        if self.limiter is not None:
            await self.limiter.take(len(body))
        try:
            await bucket.put(key, body, digest)
        except CloudError as exc:
            log.info("cloud copy: %s not uploaded: %s", key, exc)
            report.failed.append(key)
            return
        with self.store.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO cloud_objects (key, camera, start_utc, end_utc, size, sha256, uploaded_at, masked) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (key, segment.camera, segment.start, segment.end, len(body), digest, self.clock().timestamp(),
                 int(masked)),
            )
        report.uploaded += 1
        report.masked += int(masked)
        report.bytes += len(body)
        if self.observer is not None:
            self.observer(key)

    async def run(self, stop: asyncio.Event) -> None:
        """A pass every ``pass_interval_s`` until ``stop``; a failing store is logged once, and its recovery.

        Frigate failing to answer is not caught here: the supervisor of ``guarita run`` logs it,
        restarts this service with backoff and shows it in ``/healthz``.
        """
        failing = False
        while not stop.is_set():
            try:
                await self.run_pass()
                if failing:
                    log.info("cloud copy: the bucket answers again")
                failing = False
            except (CloudError, StoreError, sqlite3.Error) as exc:
                if not failing:  # the bucket, or the store holding the registry and the index
                    log.info("cloud copy paused: %s", exc)
                failing = True
            await wait_or_stop(stop, self.pass_interval_s)

