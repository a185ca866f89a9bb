"""``guarita hold …``, ``guarita evidence …`` and ``guarita report client``: legal holds and evidence from a shell.

``hold add | list | release`` keeps footage past its policy for a legal reason;
``evidence request | approve | export | verify | pubkey | list`` releases footage only on a
legal request approved by a second person, as a signed bundle (``verify`` exits 0 verified
with ``--pubkey``, 1 failed, 3 consistent but signed by a key only the bundle vouches for);
``report client`` is the LGPD access report. Every write goes to the audit log.

Covers: PB-04, BH-06, BH-07, BH-08, BH-11, DT-04, DT-06.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import getpass
import sys
import tempfile
from pathlib import Path

import aiohttp

from guarita.frigate_check import frigate_client
from guarita.cli.common import SubParsers, cli_config, emit, guarded, json_option, open_store
from guarita.config import GuaritaConfig
from guarita.retention._s3 import S3Access
from guarita.retention._signing import fingerprint, public_pem, signing_key
from guarita.retention.bundle import verify_bundle
from guarita.retention.client_report import client_report, client_report_markdown
from guarita.retention.evidence import approve_request, list_requests, parse_request_type, record_request
from guarita.retention.evidence_export import ExportResult, export_request
from guarita.retention.footage import FootageSource, RetentionError, check_source, iso, parse_window
from guarita.retention.hold_followup import ExportFollowUp, wait_for_hold_export
from guarita.retention.holds import LegalHold, list_holds, place_hold, release_hold
from guarita.store import Store

__all__ = ["SIGNER_UNPROVEN", "VERIFIED", "add_client_report_command", "add_evidence_commands"]

# Exit statuses of ``guarita evidence verify`` (1 is a failed check, 2 a usage error).
VERIFIED = 0
SIGNER_UNPROVEN = 3


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _sources(config: GuaritaConfig, args: argparse.Namespace) -> list[FootageSource]:
    cameras: list[str] = args.camera or []
    vehicles: list[str] = args.vehicle or []
    numbers: list[int] = args.camera_number or []
    if len(numbers) > len(vehicles):
        raise RetentionError("each --camera-number follows the --vehicle it belongs to")
    sources = [FootageSource(camera=name) for name in cameras]
    sources += [FootageSource(vehicle=v, camera_number=numbers[i] if i < len(numbers) else None)
                for i, v in enumerate(vehicles)]
    for source in sources:
        check_source(config, source)
    return sources


def _hold_line(hold: LegalHold) -> str:
    state = "active" if hold.active else f"released {iso(hold.released_at or 0)} by {hold.released_by}: {hold.release_reason}"
    export = f", {hold.export.describe()}" if hold.export is not None else ""
    return (f"hold {hold.id}: {hold.source.label} {hold.window.as_json()['from']} → {hold.window.as_json()['to']}, "
            f"ref {hold.ref}, by {hold.created_by} {iso(hold.created_at)}{export}; {state}")


async def _place(config: GuaritaConfig, store: Store, args: argparse.Namespace, source: FootageSource) -> LegalHold:
    window = parse_window(args.start, args.end, config)
    async with aiohttp.ClientSession() as session:
        frigate = frigate_client(config, session)
        hold = await place_hold(store, source, window, ref=args.ref, by=args.by, at=_now().timestamp(),
                                frigate=frigate)
        if hold.export is None or args.wait <= 0:
            return hold
        with tempfile.TemporaryDirectory(prefix="guarita-hold-export-", dir=config.storage.data_dir) as scratch:
            return await wait_for_hold_export(store, frigate, hold.id, now=lambda: _now().timestamp(),
                                              scratch=Path(scratch), wait_s=args.wait,
                                              settings=ExportFollowUp(poll_s=1.0))


def _cmd_hold_add(args: argparse.Namespace) -> int:
    config = cli_config(args)
    sources = _sources(config, args)
    if len(sources) != 1:
        raise RetentionError("a hold names one camera (--camera) or one vehicle (--vehicle [--camera-number])")
    source = sources[0]
    with open_store(config) as store:
        hold = asyncio.run(_place(config, store, args, source))
    line = _hold_line(hold)
    if hold.export is not None and hold.export.state.value in ("pending", "in_progress"):
        line += "\n`guarita run` keeps following the export; see `guarita hold list`"
    emit(args, line, hold.as_json())
    return 0


def _cmd_hold_list(args: argparse.Namespace) -> int:
    config = cli_config(args)
    with open_store(config) as store:
        holds = list_holds(store.db, active_only=not args.all)
    emit(args, "\n".join(_hold_line(h) for h in holds) or "no holds", [h.as_json() for h in holds])
    return 0


def _cmd_hold_release(args: argparse.Namespace) -> int:
    config = cli_config(args)
    with open_store(config) as store:
        hold = release_hold(store, args.id, by=args.by, reason=args.reason, at=_now().timestamp())
    emit(args, _hold_line(hold), hold.as_json())
    return 0


def _cmd_request(args: argparse.Namespace) -> int:
    request_type = parse_request_type(args.type)  # refused before the config is even read
    config = cli_config(args)
    sources = _sources(config, args)
    window = parse_window(args.start, args.end, config)
    with open_store(config) as store:
        request = record_request(store, request_type=request_type, ref=args.ref, requester=args.requester,
                                 sources=sources, window=window, by=args.by, at=_now().timestamp())
    emit(args, f"request {request.id} recorded ({request.type.value}, {request.ref}); it needs approval by someone "
               f"other than {request.recorded_by}: guarita evidence approve {request.id} --by USER", request.as_json())
    return 0


def _cmd_approve(args: argparse.Namespace) -> int:
    config = cli_config(args)
    with open_store(config) as store:
        request = approve_request(store, args.id, by=args.by, at=_now().timestamp())
    emit(args, f"request {request.id} approved by {args.by}; export it: guarita evidence export {request.id} -o DIR",
         request.as_json())
    return 0


async def _export(config: GuaritaConfig, store: Store, args: argparse.Namespace) -> ExportResult:
    cloud = S3Access.for_config(config.retention.cloud) if config.retention.cloud is not None else None
    async with aiohttp.ClientSession() as session:
        return await export_request(store, config, args.id, Path(args.output), by=args.by, now=_now(),
                                    frigate=frigate_client(config, session), cloud=cloud)


def _cmd_export(args: argparse.Namespace) -> int:
    config = cli_config(args)
    with open_store(config) as store:
        result = asyncio.run(_export(config, store, args))
    emit(args, f"request {args.id}: {result.files} files ({result.bytes / 1e6:.1f} MB) in {result.folder}, "
               f"holds {', '.join(map(str, result.holds))}; manifest SHA-256 {result.manifest_sha256}",
         {"folder": str(result.folder), "files": result.files, "bytes": result.bytes, "holds": list(result.holds),
          "manifest_sha256": result.manifest_sha256})
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    try:
        key = Path(args.pubkey).read_bytes() if args.pubkey else None
    except OSError as exc:
        raise RetentionError(f"cannot read the provider's public key {args.pubkey} (--pubkey): {exc.strerror}") from exc
    folder = Path(args.folder)
    check = verify_bundle(folder, key, args.pubkey or "--pubkey")
    # A missing folder has no key and no files to speak of: say only that it is missing
    lines = [f"key: {check.key_source} (SHA-256 {check.key_fingerprint or '-'})",
             f"{check.files_ok} files match the manifest"] if folder.is_dir() else []
    lines += [f"FAILED {problem}" for problem in check.problems]
    if check.verified:
        lines.append("bundle verified")
    elif check.ok:
        lines += [
            "signature consistent, signer UNPROVEN: it was checked only with the key inside the bundle,",
            f"which anyone editing the bundle can replace. Confirm SHA-256 {check.key_fingerprint} with the",
            "provider (`guarita evidence pubkey` prints theirs), or pass their key with --pubkey.",
        ]
    else:
        lines.append("bundle NOT verified")
    emit(args, "\n".join(lines), check.as_json())
    return VERIFIED if check.verified else (SIGNER_UNPROVEN if check.ok else 1)


def _cmd_pubkey(args: argparse.Namespace) -> int:
    key = signing_key(cli_config(args).storage.data_dir)
    sys.stdout.write(public_pem(key).decode())
    print(f"SHA-256 of the raw key: {fingerprint(key.public_key())}", file=sys.stderr)
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    config = cli_config(args)
    with open_store(config) as store:
        requests = list_requests(store.db)
    lines = [f"request {r.id}: {r.type.value} {r.ref} from {r.requester}, {r.status}, "
             f"{', '.join(s.label for s in r.sources)}" for r in requests]
    emit(args, "\n".join(lines) or "no evidence requests", [r.as_json() for r in requests])
    return 0


def _cmd_client(args: argparse.Namespace) -> int:
    config = cli_config(args)
    with open_store(config) as store:
        report = client_report(store.db, args.client_id)
    args.json = args.format == "json"
    emit(args, client_report_markdown(report), report)
    return 0


def _source_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--camera", action="append", metavar="NAME", help="a Frigate camera")
    parser.add_argument("--vehicle", action="append", metavar="ID", help="a vehicle's DVR")
    parser.add_argument("--camera-number", action="append", type=int, metavar="N",
                        help="the DVR camera number (after its --vehicle)")


def _window_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="start", required=True, metavar="ISO", help="start (fleet time zone if no offset)")
    parser.add_argument("--to", dest="end", required=True, metavar="ISO", help="end")


def add_evidence_commands(sub: SubParsers, common: argparse.ArgumentParser) -> None:
    """Register ``hold`` and ``evidence``."""
    leaf = [common, json_option()]
    hold = sub.add_parser("hold", help="legal holds: footage no sweep may delete")
    holds = hold.add_subparsers(dest="hold_command", required=True)
    add = holds.add_parser("add", parents=leaf, help="hold a camera's or a vehicle's footage in a window")
    _source_options(add)
    _window_options(add)
    add.add_argument("--ref", required=True, help="the legal reference (case or inquiry number)")
    add.add_argument("--by", required=True, metavar="USER", help="who places the hold")
    add.add_argument("--wait", type=float, default=60.0, metavar="S",
                     help="seconds to follow a camera hold's Frigate export until it is done or failed (60)")
    add.set_defaults(func=guarded(_cmd_hold_add))
    listing = holds.add_parser("list", parents=leaf, help="active holds (--all: released ones too)")
    listing.add_argument("--all", action="store_true", help="include released holds")
    listing.set_defaults(func=guarded(_cmd_hold_list))
    release = holds.add_parser("release", parents=leaf, help="release a hold")
    release.add_argument("id", type=int, metavar="ID")
    release.add_argument("--by", required=True, metavar="USER")
    release.add_argument("--reason", required=True, metavar="TEXT")
    release.set_defaults(func=guarded(_cmd_hold_release))

    evidence = sub.add_parser("evidence", help="footage released only on a legal request (BH-08, DT-04)")
    steps = evidence.add_subparsers(dest="evidence_command", required=True)
    request = steps.add_parser("request", parents=leaf, help="record a legal request for footage")
    request.add_argument("--type", required=True, metavar="TYPE",
                         help="judiciary | public_prosecutor | police_authority | administrative_proceeding")
    request.add_argument("--ref", required=True, help="the request's reference (process, inquiry, office number)")
    request.add_argument("--requester", required=True, help="who asks (authority, court, office)")
    _source_options(request)
    _window_options(request)
    request.add_argument("--by", required=True, metavar="USER", help="who records the request")
    request.set_defaults(func=guarded(_cmd_request))
    approve = steps.add_parser("approve", parents=leaf, help="approve a request (not by who recorded it)")
    approve.add_argument("id", type=int, metavar="ID")
    approve.add_argument("--by", required=True, metavar="USER")
    approve.set_defaults(func=guarded(_cmd_approve))
    export = steps.add_parser("export", parents=leaf, help="write an approved request's signed bundle")
    export.add_argument("id", type=int, metavar="ID")
    export.add_argument("-o", "--output", required=True, metavar="DIR", help="a new or empty folder")
    export.add_argument("--by", default=getpass.getuser(), metavar="USER", help="who exports (default: you)")
    export.set_defaults(func=guarded(_cmd_export))
    verify = steps.add_parser("verify", parents=[json_option()], help="check a bundle's hashes and signature")
    verify.add_argument("folder", metavar="DIR")
    verify.add_argument("--pubkey", metavar="FILE",
                        help="the provider's public key PEM; without it the signer is unproven (exit 3)")
    verify.set_defaults(func=_cmd_verify)
    pubkey = steps.add_parser("pubkey", parents=[common], help="print the public key that signs bundles")
    pubkey.set_defaults(func=guarded(_cmd_pubkey))
    requests = steps.add_parser("list", parents=leaf, help="every request and its status")
    requests.set_defaults(func=guarded(_cmd_list))


def add_client_report_command(kinds: SubParsers, common: argparse.ArgumentParser) -> None:
    """Register ``guarita report client`` under the ``report`` group."""
    client = kinds.add_parser("client", parents=[common], help="LGPD: everything Guarita holds about a client")
    client.add_argument("client_id", metavar="CLIENT_ID")
    client.add_argument("--format", choices=["md", "json"], default="md", help="default md")
    client.set_defaults(func=guarded(_cmd_client))
