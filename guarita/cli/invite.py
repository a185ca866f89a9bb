"""``guarita consent invite``: a one-time link (and QR code) for a client to consent online.

Prints the link once (only its token's SHA-256 is kept), and writes a QR code of it with
``--qr FILE.svg|FILE.png`` to print for the client. The link opens the homeowner page
served by ``guarita run`` (``/h/i/<token>``, docs/homeowner.md); it works once and expires
after ``--days`` (default 7). Creating it is recorded in the audit log.

Covers: PB-07, BH-03, BH-07.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from guarita.cli.common import SubParsers, cli_config, emit, guarded, json_option, open_store
from guarita.consent.registry import Registry
from guarita.registry_input import operator
from guarita.web.homeowner.invitations import DEFAULT_DAYS, create_invitation, write_qr

__all__ = ["add_invite_command"]


def _cmd_consent_invite(args: argparse.Namespace) -> int:
    by = operator(args.by)
    config = cli_config(args)
    cameras = [c for c in args.cameras.split(",") if c.strip()]
    with open_store(config) as store:
        registry = Registry.for_config(config, store)
        made = create_invitation(config, store, registry, client_id=args.client, cameras=cameras, by=by,
                                 clock=lambda: datetime.now(UTC), days=args.days)
    qr = Path(args.qr) if args.qr else None
    if qr is not None:
        write_qr(made.link, qr)
    invitation = made.invitation
    expires = invitation.expires_at.isoformat(timespec="seconds")
    text = "\n".join([
        f"invitation {invitation.id} for client {invitation.client_id}: {', '.join(invitation.cameras)}",
        f"expires {expires}; works once; shown only now:",
        made.link,
    ] + ([f"QR code written to {qr}"] if qr is not None else []))
    emit(args, text, {"invitation": invitation.id, "client": invitation.client_id, "cameras": list(invitation.cameras),
                       "expires_at": expires, "link": made.link, "qr": str(qr) if qr is not None else None})
    return 0


def _days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of days: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def add_invite_command(consent: SubParsers, common: argparse.ArgumentParser) -> None:
    """Add ``invite`` to the ``guarita consent`` group."""
    invite = consent.add_parser("invite", parents=[common, json_option()],
                                help="a one-time link for CLIENT to consent online (and a QR code to print)")
    invite.add_argument("client", metavar="CLIENT", help="the client invited (see `guarita clients list`)")
    invite.add_argument("--cameras", required=True, metavar="A,B",
                        help="the client's cameras to consent for (cop_bh cameras of the config)")
    invite.add_argument("--days", type=_days, default=DEFAULT_DAYS, metavar="N",
                        help=f"the link expires after N days (default {DEFAULT_DAYS:g}; fractions allowed)")
    invite.add_argument("--qr", metavar="FILE", help="also write the link as a QR code: FILE.svg or FILE.png")
    invite.add_argument("--by", required=True, metavar="USER",
                        help="who creates the invitation: kept in the audit log")
    invite.set_defaults(func=guarded(_cmd_consent_invite))
