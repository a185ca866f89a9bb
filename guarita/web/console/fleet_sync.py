"""The console's "sync now": one DVR pass run in the running ``guarita run`` and its progress.

The pass is the scheduled poller's own (``DvrPoller.sync_now``, the same ``DvrSync`` as
``guarita dvr sync``): recorded in ``dvr_syncs``, reported to DETRO through the outbox, and
never run twice at once for a vehicle. ``SyncJobs`` keeps each vehicle's latest pass asked
for from the console and its progress (files and bytes planned, bytes done), which the
vehicle page shows and its server-sent event stream sends while the pass runs.

Covers: PB-06, DT-06, BH-09.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from aiohttp import web

from guarita.adapters.dvr.arrival import DvrPoller
from guarita.errors import DvrError

__all__ = ["API_DVR_POLLER", "CONSOLE_SYNCS", "SyncJob", "SyncJobs"]

log = logging.getLogger(__name__)

API_DVR_POLLER: web.AppKey[DvrPoller] = web.AppKey("api_dvr_poller", DvrPoller)


@dataclass
class SyncJob:
    """One pass asked for from the console, as it goes."""

    vehicle: str
    by: str
    started: float = field(default_factory=time.time)
    files: int | None = None
    size: int | None = None
    done: int = 0
    state: str = "running"  # running, then the pass's status (ok, partial, failed) or "error"
    detail: str = ""
    archived: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def planned(self, files: int, size: int) -> None:
        self.files, self.size = files, size
        self._touch()

    def advanced(self, size: int) -> None:
        self.done += size
        self._touch()

    def _touch(self) -> None:
        self.changed.set()

    @property
    def running(self) -> bool:
        return self.state == "running"

    def percent(self) -> int | None:
        if self.size is None:
            return None
        return 100 if self.size == 0 else min(100, round(self.done * 100 / self.size))


class SyncJobs:
    """Each vehicle's latest console pass; the tasks are kept so none is collected mid-way."""

    def __init__(self) -> None:
        self.latest: dict[str, SyncJob] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, poller: DvrPoller, vehicle: str, by: str) -> SyncJob:
        """Start a pass now; ``RuntimeError`` when one from the console is still running."""
        current = self.latest.get(vehicle)
        if current is not None and current.running:
            raise RuntimeError(f"a pass of vehicle {vehicle} is already running")
        job = SyncJob(vehicle, by)
        self.latest[vehicle] = job
        task = asyncio.get_running_loop().create_task(self._run(poller, job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    async def _run(self, poller: DvrPoller, job: SyncJob) -> None:
        try:
            result = await poller.sync_now(job.vehicle, job)
        except (DvrError, RuntimeError) as exc:
            job.state, job.detail = "error", str(exc)
        except Exception as exc:  # noqa: BLE001 - shown on the page, logged with its trace
            log.exception("console sync of %s", job.vehicle)
            job.state, job.detail = "error", f"{type(exc).__name__}: {exc}"
        else:
            if result is None:
                job.state = "ok"
            else:
                job.state, job.detail, job.archived = result.status, result.detail or "", result.files
        job.changed.set()

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


CONSOLE_SYNCS: web.AppKey[SyncJobs] = web.AppKey("console_syncs", SyncJobs)
