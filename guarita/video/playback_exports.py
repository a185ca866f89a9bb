"""Deleting the Frigate exports a playback made, once their clip is copied out.

Frigate keeps every export forever, so each Frigate piece of a playback (an export named
``playback <id>: <reason>``) would pile up on Frigate's disk. The ``ExportCleaner`` deletes a
piece's export (``DELETE /api/export/<id>``) as soon as its clip is in the playback's scratch
folder, and after the build sweeps Frigate's list for any other export of that playback (a
piece whose download failed leaves its export behind). Frigate answers 400 while its ffmpeg
still writes an export, and Frigate may be unreachable for a while: such exports are tried
again every ``retry_s`` until ``give_up_s`` has passed. A deletion that fails for good is
logged and counted (``guarita_playback_export_cleanup_failures_total``); it never fails the
playback. Exports a legal hold recorded (reused by a playback) are never deleted: only those
named after the playback are.

Evidence exports are kept on purpose: the hold an evidence export places on the window records
that export's id and reuses it (docs/evidence.md, docs/retention.md).

Covers: BH-06, BH-11.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from guarita.errors import FrigateError, FrigateHttpError, FrigateUnavailable
from guarita.frigate import FrigateClient

__all__ = ["ExportCleaner", "export_name"]

log = logging.getLogger(__name__)


def export_name(playback_id: str, reason: str) -> str:
    """The name of a playback's Frigate exports (Frigate allows 256 characters)."""
    return f"playback {playback_id}: {reason}"[:256]


@dataclass
class _Pending:
    frigate: FrigateClient
    playback_id: str
    first_try: float
    next_try: float


class ExportCleaner:
    """Deletes playbacks' Frigate exports; retries those Frigate cannot delete yet."""

    def __init__(self, *, retry_s: float = 30.0, give_up_s: float = 7200.0) -> None:
        self.retry_s = retry_s
        self.give_up_s = give_up_s
        self.deleted = 0
        self.failures = 0
        self.on_failure: Callable[[], None] | None = None
        """Called once per export given up on (feeds the failure counter of ``/metrics``)."""
        self._pending: dict[str, _Pending] = {}

    def pending(self) -> list[str]:
        """Ids of the exports waiting to be deleted again."""
        return sorted(self._pending)

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _failed(self, export_id: str, playback_id: str, why: str) -> None:
        self._pending.pop(export_id, None)
        self.failures += 1
        if self.on_failure is not None:
            self.on_failure()
        log.error("Frigate export %s of playback %s could not be deleted: %s; delete it in Frigate's Exports page",
                  export_id, playback_id, why)

    async def delete(self, frigate: FrigateClient, export_id: str, playback_id: str) -> bool:
        """Delete one export; True when it is gone (or was already), False when it waits for a retry."""
        now = self._now()
        try:
            await frigate.delete_export(export_id)
        except FrigateHttpError as exc:
            if exc.status == 404:
                self._pending.pop(export_id, None)
                return True
            if exc.status != 400:
                self._failed(export_id, playback_id, str(exc))
                return False
            why = str(exc)
        except FrigateUnavailable as exc:
            why = str(exc)
        except FrigateError as exc:
            self._failed(export_id, playback_id, str(exc))
            return False
        else:
            self._pending.pop(export_id, None)
            self.deleted += 1
            log.info("Frigate export %s of playback %s deleted", export_id, playback_id)
            return True
        waiting = self._pending.get(export_id)
        first = waiting.first_try if waiting is not None else now
        if now - first >= self.give_up_s:
            self._failed(export_id, playback_id, f"still refused after {self.give_up_s:g} s ({why})")
            return False
        self._pending[export_id] = _Pending(frigate, playback_id, first, now + self.retry_s)
        log.info("Frigate export %s of playback %s not deleted yet (%s); trying again in %g s", export_id,
                 playback_id, why, self.retry_s)
        return False

    async def sweep(self, frigate: FrigateClient, playback_id: str) -> None:
        """Delete every export named after ``playback_id`` that is still in Frigate's list."""
        try:
            exports = await frigate.exports()
        except FrigateError as exc:
            log.warning("Frigate's exports could not be listed to delete playback %s's: %s", playback_id, exc)
            return
        prefix = export_name(playback_id, "")
        for export in exports:
            if export.name.startswith(prefix) and export.id not in self._pending:
                await self.delete(frigate, export.id, playback_id)

    async def retry(self) -> None:
        """Try again the exports whose turn has come."""
        now = self._now()
        for export_id, waiting in list(self._pending.items()):
            if waiting.next_try <= now:
                await self.delete(waiting.frigate, export_id, waiting.playback_id)
