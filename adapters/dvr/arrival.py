"""``guarita run`` notices a bus arriving: each DVR is looked for on a schedule and synced.

An APScheduler job per vehicle with a DVR, every ``fleet.poll_interval_s``. A visit tries a
pass; a DVR that does not answer means the bus is away (logged once when it leaves). While a
bus stays parked, later passes that find nothing new record nothing. At most
``fleet.max_concurrent_syncs`` buses sync at once; a vehicle is never synced twice at once.

Covers: PB-06, DT-03, DT-06.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]

from guarita.adapters.dvr.report import SyncResult
from guarita.adapters.dvr.sync import DvrSync, SyncProgress
from guarita.config import FleetConfig
from guarita.errors import DvrError, DvrUnreachable

__all__ = ["DvrPoller"]

log = logging.getLogger(__name__)
# APScheduler logs every run at INFO: once a second per bus is noise in `guarita run`'s log.
logging.getLogger("apscheduler").setLevel(logging.WARNING)


class DvrPoller:
    """Looks for every configured DVR on a schedule and syncs the ones that answer."""

    def __init__(self, sync: DvrSync, fleet: FleetConfig) -> None:
        self._sync = sync
        self._fleet = fleet
        self._slots = asyncio.Semaphore(fleet.max_concurrent_syncs)
        self._running: dict[str, asyncio.Task[SyncResult | None]] = {}
        self.present: dict[str, bool] = {}
        self.results: dict[str, SyncResult] = {}  # the last recorded pass per vehicle
        self._failing: dict[str, str] = {}
        # Set by a front end (the demo) that shows each pass's progress.
        self.progress_for: Callable[[str], SyncProgress] | None = None

    @property
    def vehicles(self) -> list[str]:
        """Vehicles with a DVR, in order."""
        return sorted(v for v, settings in self._fleet.vehicles.items() if settings.dvr is not None)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set; passes in progress are cancelled (their ``.part`` files stay)."""
        self._sync.close_interrupted()  # rows a killed process left "running"
        if not self.vehicles:
            await stop.wait()
            return
        scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop(), timezone=dt.UTC)
        first = dt.datetime.now(dt.UTC)
        for vehicle in self.vehicles:
            scheduler.add_job(
                self._spawn, "interval", seconds=self._fleet.poll_interval_s, args=[vehicle], id=f"dvr-{vehicle}",
                next_run_time=first, max_instances=1, coalesce=True,
            )
        scheduler.start()
        log.info("looking for %d DVRs every %g s", len(self.vehicles), self._fleet.poll_interval_s)
        try:
            await stop.wait()
        finally:
            scheduler.shutdown(wait=False)
            for task in list(self._running.values()):
                task.cancel()
            await asyncio.gather(*self._running.values(), return_exceptions=True)

    async def _spawn(self, vehicle: str) -> None:
        # A coroutine, so APScheduler's asyncio executor runs it on the loop, not in a thread.
        if vehicle in self._running:
            return  # still syncing from an earlier visit
        task = asyncio.get_running_loop().create_task(self.visit(vehicle))
        self._running[vehicle] = task
        task.add_done_callback(lambda _: self._running.pop(vehicle, None))

    async def sync_now(self, vehicle: str, progress: SyncProgress | None) -> SyncResult | None:
        """A pass an operator asked for (the console's "sync now"), as ``guarita dvr sync`` runs it.

        Always recorded, even when nothing is new; the scheduled visits skip the vehicle while
        it runs. ``DvrError`` (unknown vehicle, DVR away, refused) is the caller's to show;
        ``RuntimeError`` when a pass of the vehicle is already running.
        """
        self._sync.dvr(vehicle)  # an unknown vehicle fails before anything starts
        if vehicle in self._running:
            raise RuntimeError(f"a pass of vehicle {vehicle} is already running")

        async def one_pass() -> SyncResult | None:
            async with self._slots:
                return await self._sync.sync(vehicle, progress)

        task = asyncio.get_running_loop().create_task(one_pass())
        self._running[vehicle] = task
        task.add_done_callback(lambda _: self._running.pop(vehicle, None))
        result = await task
        if result is not None:
            self.results[vehicle] = result
        return result

    async def visit(self, vehicle: str) -> SyncResult | None:
        """One look at ``vehicle``'s DVR: sync it if it answers."""
        async with self._slots:
            arrived = not self.present.get(vehicle, False)
            try:
                progress = self.progress_for(vehicle) if self.progress_for is not None else None
                result = await self._sync.sync(vehicle, progress, record_empty=arrived)
            except DvrUnreachable as exc:
                if self.present.get(vehicle):
                    log.info("vehicle %s left the garage (DVR unreachable: %s)", vehicle, exc)
                self.present[vehicle] = False
                return None
            except DvrError as exc:
                if self._failing.get(vehicle) != str(exc):
                    log.error("DVR of %s: %s", vehicle, exc)
                self._failing[vehicle] = str(exc)
                return None
            self._failing.pop(vehicle, None)
            if arrived:
                log.info("vehicle %s arrived: its DVR answers", vehicle)
            self.present[vehicle] = True
            if result is not None:
                self.results[vehicle] = result
                log.log(
                    logging.WARNING if result.status == "failed" else logging.INFO,
                    "DVR of %s: pass %s: %d files, %.1f MB, %d quarantined%s",
                    vehicle, result.status, result.files, result.bytes / 1e6, len(result.quarantined),
                    f" ({result.detail})" if result.detail else "",
                )
            return result
