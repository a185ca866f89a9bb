"""``guarita dvr sync | status`` and ``guarita retention sweep | check``: the DETRO archive from a shell.

``dvr sync VEHICLE`` runs one pass now, with a progress bar on a terminal; its report is
queued in the outbox, so a running ``guarita run`` sends it to DETRO. ``retention sweep``
deletes archive footage past ``fleet.archive_days`` and cloud objects past
``retention.cloud.days`` (``--dry-run`` only counts; ``--now`` evaluates the policy at another
instant) and never touches footage under a legal hold.
``retention check [--fix]`` compares Frigate's retention of cop_bh cameras with the policy.

Covers: PB-04, PB-06, BH-06, DT-06, DT-12, DT-14.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from typing import Any

import aiohttp

from guarita.frigate_check import frigate_client
from guarita.adapters.dvr.report import SyncResult, vehicle_status
from guarita.adapters.dvr.sync import DvrSync
from guarita.cli.common import SubParsers, cli_config, emit, guarded, json_option, open_store
from guarita.config import FleetConfig, GuaritaConfig
from guarita.consent.registry import Registry
from guarita.errors import DvrError
from guarita.frigate import FrigateVersion
from guarita.local_time import local_zone, shown
from guarita.metrics import Metrics
from guarita.outbox import Outbox
from guarita.quarantine import Quarantine
from guarita.retention.archive_sweep import sweep_archive
from guarita.retention.footage import RetentionError
from guarita.retention.frigate_retention import RetentionReport, check_retention, fix_retention
from guarita.retention.holds import HoldBook
from guarita.retention._s3 import S3Access
from guarita.retention.cloud_sweep import sweep_cloud
from guarita.retention.policy import RetentionPolicy, archive_hold_check
from guarita.telemetry import TelemetryIngest

__all__ = ["add_fleet_commands"]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _fleet(config: GuaritaConfig) -> FleetConfig:
    if config.fleet is None:
        raise DvrError("this config has no `fleet` section: add the vehicles and their DVRs (docs/fleet.md)")
    return config.fleet


class _Bar:
    """A rich progress bar fed by a sync pass."""

    def __init__(self, vehicle: str) -> None:
        from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

        self._progress = Progress(
            "[bold]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
            transient=False,
        )
        self._task = self._progress.add_task(f"DVR {vehicle}", total=None)

    def __enter__(self) -> _Bar:
        self._progress.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._progress.stop()

    def planned(self, files: int, size: int) -> None:
        self._progress.update(self._task, total=size, description=f"{files} files")

    def advanced(self, size: int) -> None:
        self._progress.advance(self._task, size)


def _sync_text(result: SyncResult, document: dict[str, Any], zone: dt.tzinfo) -> str:
    lines = [
        f"vehicle {result.vehicle} (DVR {result.dvr_serial}): {result.status}, {result.files} files archived, "
        f"{result.bytes / 1e6:.1f} MB ({result.transferred / 1e6:.1f} MB transferred), "
        f"{len(result.quarantined)} quarantined, {result.telemetry_files} telemetry files"
    ]
    if result.detail:
        lines.append(f"  {'failed' if result.status == 'failed' else 'stopped'}: {result.detail}")
    lines += _coverage_lines(document["cameras"], zone)
    lines += [f"  quarantined {q['folder']}/{q['name']}: {q['reason']}" for q in document["quarantined"]]
    if document["quarantined_more"]:
        kinds = ", ".join(f"{count} × {kind}" for kind, count in document["quarantined_by_reason"].items())
        lines.append(f"  … and {document['quarantined_more']} more quarantined ({kinds})")
    return "\n".join(lines)


def _local(iso: str | None, zone: dt.tzinfo) -> str:
    """An ISO 8601 instant as local time with its UTC offset: ``2026-11-20 08:00:00 -03:00``."""
    return "-" if iso is None else shown(dt.datetime.fromisoformat(iso), zone)


def _coverage_lines(cameras: list[dict[str, Any]], zone: dt.tzinfo) -> list[str]:
    lines = []
    for camera in cameras:
        span = f"{_local(camera['first'], zone)} → {_local(camera['last'], zone)}"
        gaps = len(camera['gaps']) + camera.get('gaps_more', 0)
        files = camera['archived_files']
        lines.append(
            f"  camera {camera['camera']} ({camera['role']}): {files} file{'' if files == 1 else 's'} in the archive, "
            f"{span}, {gaps} gap{'' if gaps == 1 else 's'}"
        )
        if camera.get("error"):
            lines.append(f"    NOT LISTED: {camera['error']}")
        lines += [f"    gap {_local(start, zone)} → {_local(end, zone)}" for start, end in camera["gaps"]]
    return lines


def _cmd_dvr_sync(args: argparse.Namespace) -> int:
    config = cli_config(args)
    zone = local_zone(_fleet(config).timezone)
    with open_store(config) as store:
        outbox = Outbox.for_config(store, config.outbox, lambda: _now().timestamp())
        ingest = TelemetryIngest(config, store, outbox, Quarantine.for_config(Metrics(), config.storage), _now)
        syncer = DvrSync.for_config(config, store, outbox, clock=_now, telemetry=ingest.ingest_file)
        syncer.dvr(args.vehicle)  # an unknown vehicle fails before any progress bar
        if sys.stderr.isatty() and not args.json:
            with _Bar(args.vehicle) as bar:
                result = asyncio.run(syncer.sync(args.vehicle, bar))
        else:
            result = asyncio.run(syncer.sync(args.vehicle, None))
        assert result is not None  # record_empty defaults to on
    document = _sync_document(config, result)
    emit(args, _sync_text(result, document, zone), document)
    return {"ok": 0, "partial": 3}.get(result.status, 4)


def _sync_document(config: GuaritaConfig, result: SyncResult) -> dict[str, Any]:
    assert config.fleet is not None
    dvr = config.fleet.vehicles[result.vehicle].dvr
    roles = {n: r.value for n, r in dvr.roles().items()} if dvr else {}
    return result.as_json(config.provider.id, roles)


def _cmd_dvr_status(args: argparse.Namespace) -> int:
    config = cli_config(args)
    fleet = _fleet(config)
    zone = local_zone(fleet.timezone)
    vehicles = [args.vehicle] if args.vehicle else sorted(fleet.vehicles)
    if args.vehicle and args.vehicle not in fleet.vehicles:
        raise DvrError(f"vehicle {args.vehicle!r} is not under fleet.vehicles")
    with open_store(config) as store:
        documents = [vehicle_status(config, store.db, vehicle) for vehicle in vehicles]
    lines = []
    for doc in documents:
        last = doc["last_sync"]
        when = "never synced" if last is None else (
            f"last sync {_local(last['finished_at'] or last['started_at'], zone)} {last['status']}, "
            f"{last['files']} files"
        )
        lines.append(f"vehicle {doc['vehicle']} (DVR {doc['dvr_serial'] or 'none'}): {when}, "
                     f"{len(doc['quarantined'])} quarantined")
        if last is not None and last["status"] != "ok" and last["detail"]:
            lines.append(f"  {last['status']}: {last['detail']}")
        lines += _coverage_lines(doc["cameras"], zone)
    emit(args, "\n".join(lines), documents if not args.vehicle else documents[0])
    return 0


def _instant(text: str | None) -> dt.datetime:
    if text is None:
        return _now()
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=local_zone())


def _cmd_retention_sweep(args: argparse.Namespace) -> int:
    config = cli_config(args)
    if config.retention.cloud is None:
        _fleet(config)  # nothing to sweep: say what is missing
    try:
        now = _instant(args.now)
    except ValueError:
        raise DvrError(f"--now {args.now!r} is not an ISO 8601 date and time") from None
    lines: list[str] = []
    document: dict[str, Any] = {}
    errors: list[str] = []
    actor = args.by or "guarita"
    with open_store(config) as store:
        holds = HoldBook.load(store.db)
        if config.fleet is not None:
            report = sweep_archive(store, config.storage.data_dir, now=now, archive_days=config.fleet.archive_days,
                                   dry_run=args.dry_run, is_held=archive_hold_check(holds), actor=actor)
            verb = "would delete" if args.dry_run else "deleted"
            lines.append(
                f"DVR archive (keep {config.fleet.archive_days} days, cutoff {report.as_json()['cutoff']}): {verb} "
                f"{report.segments} segments ({report.bytes / 1e6:.1f} MB), {report.telemetry_files} telemetry "
                f"files, {report.positions} positions; {report.held} held"
            )
            document["archive"] = report.as_json()
            errors += report.errors
        if config.retention.cloud is not None:
            cloud = asyncio.run(sweep_cloud(store, RetentionPolicy.for_config(config),
                                            S3Access.for_config(config.retention.cloud), now=now, holds=holds,
                                            registry=Registry.for_config(config, store), dry_run=args.dry_run,
                                            actor=actor))
            lines.append(cloud.text())
            document["cloud"] = cloud.as_json()
            errors += cloud.errors
    text = "\n".join(lines + [f"  error: {e}" for e in errors])
    emit(args, text, document)
    return 1 if errors else 0


def _retention_text(version: FrigateVersion, report: RetentionReport) -> str:
    lines = [f"Frigate {version.raw}: cop_bh footage must live {report.required_days} days"]
    for camera in report.cameras:
        verdict = "ok" if camera.compliant else "NOT OK: " + "; ".join(camera.problems)
        reviews = ", ".join(f"{k} {v:g}" for k, v in camera.review_days.items())
        lines.append(f"  {camera.camera}: recording {'on' if camera.recording else 'off'}, footage without motion "
                     f"{camera.continuous_days:g} days, with motion {camera.motion_days:g} days"
                     f"{', ' + reviews if reviews else ''}: {verdict}")
    if not report.cameras:
        lines.append("  no camera is shared with cop_bh")
    return "\n".join(lines)


async def _retention_check(config: GuaritaConfig, fix: bool) -> tuple[FrigateVersion, RetentionReport, str | None, str | None]:
    """Frigate's version, the verdict, and with ``fix`` Frigate's answer or why the fix was refused."""
    async with aiohttp.ClientSession() as session:
        client = frigate_client(config, session)
        version, report = await check_retention(client, config)
        if not fix:
            return version, report, None, None
        try:
            return version, report, await fix_retention(client, version, report), None
        except RetentionError as exc:
            return version, report, None, str(exc)


def _cmd_retention_check(args: argparse.Namespace) -> int:
    config = cli_config(args)
    version, report, answer, refused = asyncio.run(_retention_check(config, args.fix))
    text = _retention_text(version, report)
    if args.fix and refused is None:
        text += f"\nfix: {answer or 'nothing to change'}"
    emit(args, text, {**report.as_json(), "fix_answer": answer, "fix_refused": refused})
    if refused is not None:
        print(f"error: {refused}", file=sys.stderr)
        return 1
    return 0 if report.compliant or answer is not None else 1


def add_fleet_commands(sub: SubParsers, common: argparse.ArgumentParser) -> None:
    """Register ``dvr`` and ``retention``."""
    leaf = [common, json_option()]
    dvr = sub.add_parser("dvr", help="bus DVRs: sync into the DETRO archive, and its status")
    dvr_sub = dvr.add_subparsers(dest="dvr_command", required=True)
    sync = dvr_sub.add_parser("sync", parents=leaf, help="one sync pass of VEHICLE's DVR now")
    sync.add_argument("vehicle", metavar="VEHICLE", help="order number under fleet.vehicles")
    sync.set_defaults(func=guarded(_cmd_dvr_sync))
    status = dvr_sub.add_parser("status", parents=leaf, help="last sync, coverage, gaps and quarantine")
    status.add_argument("vehicle", metavar="VEHICLE", nargs="?", help="one vehicle (default: all)")
    status.set_defaults(func=guarded(_cmd_dvr_status))
    retention = sub.add_parser("retention", help="how long footage is kept")
    retention_sub = retention.add_subparsers(dest="retention_command", required=True)
    sweep = retention_sub.add_parser("sweep", parents=leaf, help="delete DVR archive footage past fleet.archive_days and cloud objects past "
                                     "retention.cloud.days")
    sweep.add_argument("--dry-run", action="store_true", help="count what would go; delete nothing")
    sweep.add_argument("--now", metavar="ISO8601", help="evaluate the policy at this instant (default: now)")
    sweep.add_argument("--by", metavar="USER", help="who runs the sweep (for the audit log; default guarita)")
    sweep.set_defaults(func=guarded(_cmd_retention_sweep))
    check = retention_sub.add_parser("check", parents=leaf,
                                     help="does Frigate keep every cop_bh camera's footage retention.cop_bh_days?")
    check.add_argument("--fix", action="store_true", help="write the version-correct keys to Frigate")
    check.set_defaults(func=_cmd_retention_check)

