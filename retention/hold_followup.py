"""Following camera holds' Frigate exports until each is done, retrying and alarming on failure.

Frigate accepts an export at once and may fail it later (the row disappears and no file is
left) or never finish it. ``follow_up_exports`` makes one pass over the active camera holds
whose export is pending or in progress:

* pending: start an export of the hold's window (attempt N+1); Frigate unreachable leaves it
  pending without counting an attempt, a refusal (HTTP error) counts as a failed attempt;
* in progress: ask ``GET /api/exports/<id>``; a finished export's file is fetched, measured with
  ffprobe and hashed, then recorded ``done`` (file, duration, SHA-256; audited ``hold.export``);
  a row that disappeared (after Frigate's few seconds to insert it), a file Frigate does not
  serve or cannot be read as video, or an export still running after ``timeout_s`` is a
  failed attempt.

A failed attempt is retried up to ``max_attempts`` exports in all; the last failure records the
hold ``failed`` with the reason, logs an ERROR, is audited, and counts in the
``guarita_hold_exports_failed`` gauge (``guarita hold list`` shows ``export failed: ...``).
``guarita hold add`` follows its new hold for a while; ``guarita run`` keeps following every
hold (``run_hold_exports``).

Covers: PB-04, BH-06, BH-08, DT-06.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

import aiohttp

from guarita import audit
from guarita.config import GuaritaConfig
from guarita.errors import FrigateError, FrigateHttpError, FrigateUnavailable, StoreError
from guarita.frigate import Export, FrigateClient
from guarita.frigate_check import frigate_client
from guarita.link_state import wait_or_stop
from guarita.metrics import Metrics
from guarita.retention.bundle import file_sha256
from guarita.retention.evidence import EvidenceError
from guarita.retention.frigate_export import video_seconds
from guarita.retention.hold_exports import ExportState, HoldExport, failed_export_count, record_export
from guarita.retention.holds import LegalHold, get_hold, list_holds
from guarita.store import Store

__all__ = ["ExportFollowUp", "follow_up_exports", "follow_up_hold", "run_hold_exports", "wait_for_hold_export"]

log = logging.getLogger(__name__)

ACTOR = "guarita"
"""Who the audit log says recorded an export's outcome."""


@dataclass(frozen=True)
class ExportFollowUp:
    """How hold exports are followed.

    Attributes:
        poll_s: Seconds between passes of ``guarita run`` (and between polls of ``hold add``).
        timeout_s: An export still in progress this long after it was started has failed.
        appear_s: Frigate inserts an export's row just after answering the POST: a 404 this
            soon after the start is not yet a failure.
        max_attempts: Exports started for one hold before it is marked failed.
    """

    poll_s: float = 30.0
    timeout_s: float = 3600.0
    appear_s: float = 10.0
    max_attempts: int = 3


async def _measure(frigate: FrigateClient, export: Export, scratch: Path) -> tuple[str, float, str] | str:
    """Fetch a finished export and measure it: (file, duration, sha256), or why it is not usable."""
    dest = scratch / (PurePosixPath(export.video_path).name or f"{export.id}.mp4")
    try:
        await frigate.download_export(export, dest)
    except FrigateUnavailable:
        raise
    except FrigateError as exc:
        return f"Frigate export {export.id} finished but its file cannot be fetched: {exc}"
    try:
        seconds = await asyncio.to_thread(video_seconds, dest)
        digest = await asyncio.to_thread(file_sha256, dest)
    except EvidenceError as exc:
        return f"Frigate export {export.id}'s file {export.video_path}: {exc}"
    finally:
        dest.unlink(missing_ok=True)
    return export.video_path, seconds, digest


def _record(store: Store, hold: LegalHold, export: HoldExport) -> HoldExport:
    with store.transaction() as db:
        record_export(db, hold.id, export)
        if export.state in (ExportState.DONE, ExportState.FAILED):
            audit.append(db, at=export.at, actor=ACTOR, action="hold.export", subject=f"hold:{hold.id}",
                         details=export.as_json())
    return export


def _failed(store: Store, hold: LegalHold, attempt: int, reason: str, now: float,
            settings: ExportFollowUp) -> HoldExport:
    """Record a failed attempt: pending for a retry, or failed for good after the last one."""
    if attempt < settings.max_attempts:
        log.warning("hold %d: Frigate export of %s failed (attempt %d of %d): %s; retrying", hold.id,
                    hold.source.label, attempt, settings.max_attempts, reason)
        return _record(store, hold, HoldExport(ExportState.PENDING, now, attempt,
                                               reason=f"{reason}; retry {attempt + 1} of {settings.max_attempts}"))
    log.error("hold %d (ref %s): Frigate export of %s failed %d times, last: %s. The held footage is NOT "
              "secured: Frigate will delete it on its own schedule; export it by hand in Frigate or fix "
              "Frigate's exports, then place the hold again", hold.id, hold.ref, hold.source.label, attempt, reason)
    return _record(store, hold, HoldExport(ExportState.FAILED, now, attempt,
                                           reason=f"{reason} (gave up after {attempt} attempts)"))


async def _start(store: Store, frigate: FrigateClient, hold: LegalHold, current: HoldExport, now: float,
                 settings: ExportFollowUp) -> HoldExport:
    assert hold.source.camera is not None
    attempt = current.attempt + 1
    try:
        export_id = await frigate.start_export(hold.source.camera, hold.window.start, hold.window.end,
                                               name=f"hold {hold.ref}"[:60])
    except FrigateHttpError as exc:
        return _failed(store, hold, attempt, f"Frigate refused the export: {exc}", now, settings)
    log.info("hold %d: Frigate export %s of %s started (attempt %d)", hold.id, export_id, hold.source.label, attempt)
    return _record(store, hold, HoldExport(ExportState.IN_PROGRESS, now, attempt, export_id))


async def _check(store: Store, frigate: FrigateClient, hold: LegalHold, current: HoldExport, now: float,
                 settings: ExportFollowUp, scratch: Path) -> HoldExport:
    export_id = current.export_id or ""
    try:
        export = await frigate.export(export_id)
    except FrigateHttpError as exc:
        if exc.status != 404:
            raise
        if now - current.at < settings.appear_s:
            return current
        reason = (f"Frigate export {export_id} disappeared before it finished (Frigate's export failed and left "
                  "no file; its log says why)")
        return _failed(store, hold, current.attempt, reason, now, settings)
    if export.in_progress:
        if now - current.at < settings.timeout_s:
            return current
        reason = f"Frigate export {export_id} still in progress {settings.timeout_s:g} s after it started"
        return _failed(store, hold, current.attempt, reason, now, settings)
    measured = await _measure(frigate, export, scratch)
    if isinstance(measured, str):
        return _failed(store, hold, current.attempt, measured, now, settings)
    file, seconds, digest = measured
    log.info("hold %d: Frigate export %s of %s done: %s, %.1f s", hold.id, export_id, hold.source.label, file, seconds)
    return _record(store, hold, replace(current, state=ExportState.DONE, at=now, file=file, duration_s=seconds,
                                        sha256=digest, reason=None))


async def follow_up_hold(store: Store, frigate: FrigateClient, hold: LegalHold, *, now: float, scratch: Path,
                         settings: ExportFollowUp = ExportFollowUp()) -> HoldExport | None:
    """Move one hold's export one step (start, check, retry); return its state (None: not a camera hold).

    Raises:
        FrigateUnavailable: Frigate could not be reached; nothing was recorded.
    """
    current = hold.export
    if current is None or hold.source.camera is None or not hold.active:
        return current
    if current.state is ExportState.PENDING:
        return await _start(store, frigate, hold, current, now, settings)
    if current.state is ExportState.IN_PROGRESS:
        return await _check(store, frigate, hold, current, now, settings, scratch)
    return current


async def follow_up_exports(store: Store, frigate: FrigateClient, *, now: Callable[[], float], scratch: Path,
                            settings: ExportFollowUp = ExportFollowUp()) -> dict[int, HoldExport]:
    """One pass over the active holds whose export is pending or in progress; their new states.

    Frigate unreachable ends the pass quietly (the next one tries again).
    """
    states: dict[int, HoldExport] = {}
    for hold in list_holds(store.db, active_only=True):
        if hold.export is None or hold.export.state in (ExportState.DONE, ExportState.FAILED):
            continue
        try:
            state = await follow_up_hold(store, frigate, hold, now=now(), scratch=scratch, settings=settings)
        except FrigateError as exc:
            log.info("hold exports: cannot follow up now (%s); next pass in %g s", exc, settings.poll_s)
            break
        if state is not None:
            states[hold.id] = state
    return states


async def wait_for_hold_export(store: Store, frigate: FrigateClient, hold_id: int, *, now: Callable[[], float],
                               scratch: Path, wait_s: float,
                               settings: ExportFollowUp = ExportFollowUp()) -> LegalHold:
    """Follow one hold's export until it is done or failed, ``wait_s`` passed, or Frigate cannot be reached.

    Returns the hold as it then stands (``guarita run`` follows up what is left).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        hold = get_hold(store.db, hold_id)
        if hold.export is None or hold.export.state in (ExportState.DONE, ExportState.FAILED):
            return hold
        try:
            await follow_up_hold(store, frigate, hold, now=now(), scratch=scratch, settings=settings)
        except FrigateError as exc:
            log.info("hold %d: cannot follow its export now (%s)", hold_id, exc)
            return get_hold(store.db, hold_id)
        if loop.time() >= deadline:
            return get_hold(store.db, hold_id)
        await asyncio.sleep(min(settings.poll_s, max(0.0, deadline - loop.time())))


async def run_hold_exports(config: GuaritaConfig, store: Store, metrics: Metrics, stop: asyncio.Event,
                           *, now: Callable[[], float], settings: ExportFollowUp = ExportFollowUp()) -> None:
    """``guarita run``'s service: follow every hold's export every ``poll_s`` until ``stop``.

    Sets the ``guarita_hold_exports_failed`` gauge (active holds whose export failed for good).
    """
    metrics.hold_exports_failed.source = lambda: {(): float(failed_export_count(store.db))}
    async with aiohttp.ClientSession() as session:
        frigate = frigate_client(config, session)
        while not stop.is_set():
            try:
                with tempfile.TemporaryDirectory(prefix="guarita-hold-export-", dir=config.storage.data_dir) as scratch:
                    await follow_up_exports(store, frigate, now=now, scratch=Path(scratch), settings=settings)
            except (StoreError, OSError) as exc:
                log.error("hold exports: the follow-up pass failed (%s); next pass in %g s", exc, settings.poll_s)
            await wait_or_stop(stop, settings.poll_s)
