"""``guarita clients | consent | cameras | signage | registry``: the consent registry from a shell.

Every command takes ``-c FILE`` (or ``$GUARITA_CONFIG``), writes to the store in the
config's ``data_dir`` (the one ``guarita run`` uses, which applies a change within 0.25 s),
prints text, or one JSON document with ``--json``. Exit 0 on success; 1 with the reason on
stderr when the registry refuses, the config is bad or a camera is unknown. Every change
names who made it (``--by USER``, required: the audit log records a person, not an OS
account). Value formats and the import file are described in ``guarita.registry_input``.

Covers: BH-01, BH-02, BH-03, BH-04, BH-07, BH-13, PB-03, PB-07.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

from guarita.cli.cameras import add_cameras_commands
from guarita.cli.common import SubParsers, cli_config, emit, guarded, json_option
from guarita.cli.audit import add_audit_commands
from guarita.cli.invite import add_invite_command
from guarita.config import GuaritaConfig, ProgramName
from guarita.consent.registry import Registry, RegistrySnapshot
from guarita.consent.status import CameraStatus, camera_statuses
from guarita.registry_input import (
    apply_import,
    known_camera,
    operator,
    parse_expiry,
    parse_installed,
    parse_programs,
    read_import_file,
)
from guarita.store import Store
from guarita.local_time import local_zone

__all__ = ["add_registry_commands"]



@contextmanager
def _registry(config: GuaritaConfig) -> Iterator[Registry]:
    store = Store.open(config.storage.data_dir)
    try:
        yield Registry(
            store, config.storage.data_dir, accredited=config.provider.accreditation is not None, clock=_now
        )
    finally:
        store.close()


def _now() -> datetime:
    return datetime.now(UTC)


def _today() -> date:
    return datetime.now(local_zone()).date()


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment is not None else None


def _document(given: str | None) -> str | None:
    """``--document -`` reads the number from stdin, keeping it out of shell history."""
    return sys.stdin.readline().strip() if given == "-" else given


# ---- clients ---------------------------------------------------------------------------
def _cmd_clients_add(args: argparse.Namespace) -> int:
    by = operator(args.by)
    document = _document(args.document)
    with _registry(cli_config(args)) as registry:
        existed = any(c.client_id == args.client_id for c in registry.clients())
        registry.add_client(args.client_id, args.name, by=by, document=document, contact=args.contact)
        version = registry.version()
    what = "updated" if existed else "added"
    text = f"client {args.client_id} {what}" + (" (document kept only as a keyed hash)" if document else "")
    emit(args, text, {"client": args.client_id, "updated": existed, "has_document": document is not None,
                       "registry_version": version})
    return 0


def _cmd_clients_list(args: argparse.Namespace) -> int:
    with _registry(cli_config(args)) as registry:
        clients = registry.clients()
    rows = [
        {"client": c.client_id, "name": c.name, "contact": c.contact, "has_document": c.has_document,
         "recorded_at": _iso(c.recorded_at), "recorded_by": c.recorded_by}
        for c in clients
    ]
    lines = [
        f"{c.client_id}: {c.name}; contact {c.contact or '-'}; document {'on file' if c.has_document else '-'}; "
        f"recorded {_iso(c.recorded_at)} by {c.recorded_by}"
        for c in clients
    ]
    emit(args, "\n".join(lines) or "no clients", rows)
    return 0


# ---- consent, attestation, signage -----------------------------------------------------
def _cmd_consent_grant(args: argparse.Namespace) -> int:
    by = operator(args.by)
    config = cli_config(args)
    camera = known_camera(config, args.camera)
    programs = parse_programs(args.programs)
    expires = parse_expiry(args.expires) if args.expires else None
    with _registry(config) as registry:
        digest = registry.grant(
            camera, client_id=args.client, evidence=Path(args.evidence), by=by, programs=programs, expires_at=expires
        )
        version = registry.version()
    names = sorted(p.value for p in programs)
    text = (
        f"consent recorded: {camera} for client {args.client} ({', '.join(names)}), "
        f"expires {_iso(expires) or 'never'}, evidence sha256 {digest}"
    )
    emit(args, text, {"camera": camera, "client": args.client, "programs": names, "expires_at": _iso(expires),
                       "evidence_sha256": digest, "registry_version": version})
    return 0


def _cmd_consent_revoke(args: argparse.Namespace) -> int:
    # A camera no longer in the config may still be revoked: a withdrawal is never blocked.
    by = operator(args.by)
    with _registry(cli_config(args)) as registry:
        registry.revoke(args.camera, by=by, reason=args.reason)
        version = registry.version()
    emit(args, f"consent for {args.camera} revoked", {"camera": args.camera, "revoked": True,
                                                         "registry_version": version})
    return 0


def _cmd_cameras_attest(args: argparse.Namespace) -> int:
    # The evidence may be shown outside the provider: it is recorded with the camera's privacy masks blanked.
    from guarita.masked_evidence import masked_evidence

    by = operator(args.by)
    config = cli_config(args)
    camera = known_camera(config, args.camera)
    given = Path(args.evidence) if args.evidence else None
    with tempfile.TemporaryDirectory(prefix="guarita-attest-") as scratch:
        evidence = asyncio.run(masked_evidence(config, camera, given, Path(scratch)))
        with _registry(config) as registry:
            digest = registry.attest(camera, public_facing=args.public_facing, evidence=evidence, by=by)
            version = registry.version()
    facing = "public-facing" if args.public_facing else "NOT public-facing"
    emit(args, f"{camera} attested {facing}, evidence sha256 {digest}",
          {"camera": camera, "public_facing": args.public_facing, "evidence_sha256": digest,
           "registry_version": version})
    return 0


def _cmd_cameras_assign(args: argparse.Namespace) -> int:
    by = operator(args.by)
    config = cli_config(args)
    camera = known_camera(config, args.camera)
    with _registry(config) as registry:
        registry.assign(camera, client_id=args.client, by=by)
        version = registry.version()
    emit(args, f"{camera} belongs to client {args.client}",
          {"camera": camera, "client": args.client, "registry_version": version})
    return 0


def _cmd_signage_record(args: argparse.Namespace) -> int:
    by = operator(args.by)
    config = cli_config(args)
    camera = known_camera(config, args.camera)
    installed = parse_installed(args.installed, _today()) if args.installed else _today()
    with _registry(config) as registry:
        digest = registry.record_signage(
            camera, plate=args.plate, photo=Path(args.photo), by=by, installed_on=installed
        )
        version = registry.version()
    plate = args.plate.strip()
    emit(args, f"sign {plate} recorded at {camera}, installed {installed.isoformat()}, photo sha256 {digest}",
          {"camera": camera, "plate": plate, "installed_on": installed.isoformat(), "photo_sha256": digest,
           "registry_version": version})
    return 0


# ---- status ----------------------------------------------------------------------------
def _status_lines(config: GuaritaConfig, statuses: list[CameraStatus], strays: list[str]) -> list[str]:
    accreditation = config.provider.accreditation
    lines = [
        f"provider {config.provider.id}: "
        + (f"accredited ({accreditation.reference}, {accreditation.date})" if accreditation else "NOT accredited")
    ]
    for status in statuses:
        names = ", ".join(p.program.value for p in status.programs)
        lines.append(f"{status.camera} [{names or 'no programs: never leaves'}]")
        for program in status.programs:
            verdict = "shared" if program.shared else f"held back: {', '.join(program.reasons)}"
            lines.append(f"  {program.program.value}: {verdict}")
        if status.consent_since is None:
            consent = "-"
        else:
            consent = f"since {_iso(status.consent_since)} ({', '.join(status.consent_programs)})"
            consent += f", expires {_iso(status.consent_expires) or 'never'}"
            consent += f", revoked {_iso(status.consent_revoked)}" if status.consent_revoked else ""
        lines.append(
            f"  client {status.client or '-'}; consent {consent}; "
            f"public-facing {'yes' if status.public_facing else 'no'}; sign {status.sign_plate or '-'}"
        )
    if strays:
        lines.append(f"registry records for cameras not in the config: {', '.join(strays)}")
    return lines


def _status_json(config: GuaritaConfig, snapshot: RegistrySnapshot, now: datetime,
                 statuses: list[CameraStatus], strays: list[str]) -> dict[str, object]:
    return {
        "provider": config.provider.id,
        "accredited": snapshot.accredited,
        "registry_version": snapshot.version,
        "at": _iso(now),
        "cameras": [
            {
                "camera": s.camera,
                "programs": {p.program.value: {"shared": p.shared, "reasons": list(p.reasons)} for p in s.programs},
                "client": s.client,
                "consent": None if s.consent_since is None else {
                    "programs": list(s.consent_programs),
                    "since": _iso(s.consent_since),
                    "expires": _iso(s.consent_expires),
                    "revoked": _iso(s.consent_revoked),
                },
                "public_facing": s.public_facing,
                "sign_plate": s.sign_plate,
            }
            for s in statuses
        ],
        "unconfigured_cameras": strays,
    }


def _cmd_cameras_status(args: argparse.Namespace) -> int:
    config = cli_config(args)
    with _registry(config) as registry:
        snapshot = registry.snapshot()
    now = _now()
    statuses = camera_statuses(config, snapshot, now)
    strays = sorted(set(snapshot.cameras) - set(config.cameras))
    emit(args, "\n".join(_status_lines(config, statuses, strays)),
          _status_json(config, snapshot, now, statuses, strays))
    return 0


# ---- bulk import -----------------------------------------------------------------------
def _cmd_registry_import(args: argparse.Namespace) -> int:
    config = cli_config(args)
    path = Path(args.file)
    rows = read_import_file(path)
    with _registry(config) as registry:
        outcomes = apply_import(
            rows, registry=registry, config=config, base_dir=path.resolve().parent, default_by=args.by, today=_today()
        )
    refused = [o for o in outcomes if not o.applied]
    summary = f"{path}: {len(outcomes)} rows, {len(outcomes) - len(refused)} applied, {len(refused)} refused"
    lines = [summary] + [
        f"  line {o.line}: {'applied' if o.applied else 'REFUSED'}: {o.message}" for o in outcomes
    ]
    emit(args, "\n".join(lines), {
        "file": str(path),
        "applied": len(outcomes) - len(refused),
        "refused": len(refused),
        "rows": [{"line": o.line, "kind": o.kind, "subject": o.subject, "applied": o.applied,
                  ("detail" if o.applied else "reason"): o.message} for o in outcomes],
    })
    if refused:
        where = ", ".join(str(o.line) for o in refused)
        print(f"error: {len(refused)} of {len(outcomes)} rows refused (lines {where})", file=sys.stderr)
        return 1
    return 0


# ---- wiring ----------------------------------------------------------------------------
def _group(sub: SubParsers, name: str, help_text: str) -> SubParsers:
    parser = sub.add_parser(name, help=help_text)
    return parser.add_subparsers(dest=f"{name}_command", required=True)


def _by(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--by", required=True, metavar="USER",
                        help="who records this: required, a person's name or login (not taken from the OS "
                             "account), kept with the record and in the audit log")


def add_registry_commands(sub: SubParsers, common: argparse.ArgumentParser) -> None:
    """Add the registry and audit commands to ``guarita``'s subparsers."""
    leaf = [common, json_option()]
    clients = _group(sub, "clients", "the provider's clients (who may authorise sharing)")
    add = clients.add_parser("add", parents=leaf, help="add a client, or record new details for it")
    add.add_argument("client_id", metavar="ID", help="lowercase id: letters, digits, '.', '_', '-'")
    add.add_argument("--name", required=True, help="display name (person, condominium or shop)")
    add.add_argument("--document", metavar="CPF_OR_CNPJ",
                     help="CPF or CNPJ, checked and kept only as a keyed hash; '-' reads it from stdin")
    add.add_argument("--contact", metavar="TEXT", help="how to reach the client")
    _by(add)
    add.set_defaults(func=guarded(_cmd_clients_add))
    listing = clients.add_parser("list", parents=leaf, help="list clients as last recorded")
    listing.set_defaults(func=guarded(_cmd_clients_list))

    consent = _group(sub, "consent", "a client's authorisation to share a camera")
    grant = consent.add_parser("grant", parents=leaf, help="record a client's consent to share CAMERA")
    grant.add_argument("camera", metavar="CAMERA", help="a camera of the config")
    grant.add_argument("--client", required=True, metavar="ID", help="the client who consents (owns the camera)")
    grant.add_argument("--evidence", required=True, metavar="FILE", help="the signed form; kept by SHA-256")
    _by(grant)
    grant.add_argument("--expires", metavar="DATE_OR_ISO",
                       help="YYYY-MM-DD: valid through that day, Belo Horizonte time; or ISO 8601 with a zone")
    grant.add_argument("--programs", default=ProgramName.COP_BH.value, metavar="cop_bh[,detro]",
                       help="programs consented to (default: cop_bh)")
    grant.set_defaults(func=guarded(_cmd_consent_grant))
    revoke = consent.add_parser("revoke", parents=leaf, help="record that the client withdrew consent")
    revoke.add_argument("camera", metavar="CAMERA", help="camera with an active consent (even if no longer configured)")
    _by(revoke)
    revoke.add_argument("--reason", required=True, metavar="TEXT", help="why (kept in the registry and audit log)")
    revoke.set_defaults(func=guarded(_cmd_consent_revoke))
    add_invite_command(consent, common)

    cameras = _group(sub, "cameras", "cameras: public-facing attestation and share status")
    attest = cameras.add_parser("attest", parents=leaf, help="record whether CAMERA looks only at public space")
    attest.add_argument("camera", metavar="CAMERA", help="a camera of the config")
    facing = attest.add_mutually_exclusive_group(required=True)
    facing.add_argument("--public-facing", dest="public_facing", action="store_true",
                        help="it sees only streets, squares and other public space")
    facing.add_argument("--not-public-facing", dest="public_facing", action="store_false",
                        help="it sees private space too (it will not be shared)")
    evidence = attest.add_mutually_exclusive_group(required=True)
    evidence.add_argument("--evidence", metavar="FILE",
                          help="a snapshot of the view; kept by SHA-256, with the camera's privacy_masks blanked")
    evidence.add_argument("--snapshot-from-frigate", action="store_true",
                          help="take Frigate's latest.jpg of CAMERA, blank its privacy_masks and keep that")
    _by(attest)
    attest.set_defaults(func=guarded(_cmd_cameras_attest))
    assign = cameras.add_parser("assign", parents=leaf, help="record which client CAMERA belongs to")
    assign.add_argument("camera", metavar="CAMERA", help="a camera of the config")
    assign.add_argument("--client", required=True, metavar="ID", help="the owner; only its consent counts")
    _by(assign)
    assign.set_defaults(func=guarded(_cmd_cameras_assign))
    status = cameras.add_parser("status", parents=leaf, help="each camera: shared per program, and why not")
    status.set_defaults(func=guarded(_cmd_cameras_status))
    add_cameras_commands(cameras, common)

    signage = _group(sub, "signage", "the BH + Segura signs at shared cameras")
    record = signage.add_parser("record", parents=leaf, help="record the sign installed at CAMERA")
    record.add_argument("camera", metavar="CAMERA", help="a camera of the config")
    record.add_argument("--plate", required=True, metavar="CODE", help="the sign's plate code")
    record.add_argument("--photo", required=True, metavar="FILE", help="a photo of the sign; kept by SHA-256")
    _by(record)
    record.add_argument("--installed", metavar="DATE", help="YYYY-MM-DD (default: today, Belo Horizonte time)")
    record.set_defaults(func=guarded(_cmd_signage_record))

    registry = _group(sub, "registry", "bulk changes to the registry")
    bulk = registry.add_parser("import", parents=leaf, help="apply rows from a CSV or YAML file (see docs/registry.md)")
    bulk.add_argument("file", metavar="FILE", help="FILE.csv, FILE.yaml or FILE.yml; paths inside are relative to it")
    bulk.add_argument("--by", metavar="USER", help="who records rows that have no `by` column")
    bulk.set_defaults(func=guarded(_cmd_registry_import))

    add_audit_commands(sub, leaf)
