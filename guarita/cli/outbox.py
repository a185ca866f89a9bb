"""``guarita outbox``: the dead letters, messages an uplink could not deliver and set aside.

``dead-letters`` lists them (``--json`` for one document), ``show ID`` writes one payload to
standard output as it was kept (a message over ``outbox.max_message_bytes`` only in part),
``requeue ID --by USER`` puts it back at the end of its uplink's queue (after the broker's
limit was raised, say) and ``discard ID --by USER`` forgets it; both are recorded in the
audit log. A running ``guarita run`` sends a requeued message within a second, and its
counts (/healthz, metrics, the quota) catch up within a minute.

Covers: PB-05, DT-02, DT-06.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any

from guarita.cli.common import SubParsers, cli_config, emit, guarded, json_option, open_store
from guarita.errors import GuaritaError
from guarita.outbox import DeadLetter, Outbox

__all__ = ["add_outbox_commands", "dead_letter_document"]

PREVIEW_CHARS = 120


def _now() -> float:
    return dt.datetime.now(dt.UTC).timestamp()


def _iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat(timespec="seconds")


def dead_letter_document(letter: DeadLetter) -> dict[str, Any]:
    """A dead letter for ``--json``: everything but the payload, which ``show`` prints whole."""
    return {
        "id": letter.id,
        "uplink": letter.uplink,
        "topic": letter.topic,
        "bytes": letter.size,
        "kept_bytes": len(letter.payload),
        "sha256": letter.sha256,
        "queued_at": _iso(letter.created_at),
        "dead_at": _iso(letter.dead_at),
        "reason": letter.reason,
        "preview": letter.payload[:PREVIEW_CHARS].decode("utf-8", "replace"),
    }


def _text(letters: list[DeadLetter]) -> str:
    if not letters:
        return "no dead letters"
    lines = [f"{len(letters)} dead letter(s); `guarita outbox show ID` prints one, `requeue` or `discard` settles it:"]
    for letter in letters:
        lines.append(
            f"  {letter.id}  {letter.uplink}  {letter.topic}  {letter.size} bytes"
            f"{'' if letter.whole else f' (first {len(letter.payload)} kept)'}  "
            f"set aside {_iso(letter.dead_at)}\n      {letter.reason}"
        )
    return "\n".join(lines)


def _outbox(store: Any, config: Any) -> Outbox:
    # This process's own view; `guarita run` reads the store again on its own.
    return Outbox.for_config(store, config.outbox, _now)


@guarded
def _cmd_list(args: argparse.Namespace) -> int:
    config = cli_config(args)
    with open_store(config) as store:
        letters = _outbox(store, config).dead_letters(args.uplink)
    emit(args, _text(letters), {"dead_letters": [dead_letter_document(letter) for letter in letters]})
    return 0


def _find(outbox: Outbox, dead_letter_id: int) -> DeadLetter:
    for letter in outbox.dead_letters():
        if letter.id == dead_letter_id:
            return letter
    raise GuaritaError(f"no dead letter has id {dead_letter_id}; `guarita outbox dead-letters` lists them")


@guarded
def _cmd_show(args: argparse.Namespace) -> int:
    config = cli_config(args)
    with open_store(config) as store:
        letter = _find(_outbox(store, config), args.id)
    sys.stdout.buffer.write(letter.payload)
    sys.stdout.buffer.flush()
    return 0


@guarded
def _cmd_settle(args: argparse.Namespace) -> int:
    config = cli_config(args)
    with open_store(config) as store:
        outbox = _outbox(store, config)
        _find(outbox, args.id)
        try:
            letter = outbox.requeue(args.id, args.by) if args.requeue else outbox.discard(args.id, args.by)
        except ValueError as exc:
            raise GuaritaError(str(exc)) from exc
    done = "queued again at the end of" if args.requeue else "discarded from"
    emit(args, f"dead letter {letter.id} ({letter.topic}) {done} uplink {letter.uplink}",
         {"id": letter.id, "uplink": letter.uplink, "topic": letter.topic, "requeued": args.requeue, "by": args.by})
    return 0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a dead letter id (a whole number ≥ 1)")
    return value


def add_outbox_commands(sub: SubParsers, common: argparse.ArgumentParser) -> None:
    """Register ``outbox dead-letters``, ``show``, ``requeue`` and ``discard``."""
    outbox = sub.add_parser("outbox", help="the outbox's dead letters: list, show, requeue, discard")
    outbox_sub = outbox.add_subparsers(dest="outbox_command", required=True)
    listing = outbox_sub.add_parser("dead-letters", parents=[common, json_option()],
                                    help="messages set aside because an uplink could not deliver them")
    listing.add_argument("--uplink", metavar="PROGRAM", help="only this uplink (cop_bh, detro)")
    listing.set_defaults(func=_cmd_list)
    show = outbox_sub.add_parser("show", parents=[common], help="write one dead letter's payload to stdout")
    show.add_argument("id", type=_positive, metavar="ID")
    show.set_defaults(func=_cmd_show)
    for name, requeue, text in (("requeue", True, "put a dead letter back at the end of its uplink's queue"),
                                ("discard", False, "forget a dead letter for good")):
        command = outbox_sub.add_parser(name, parents=[common, json_option()], help=text)
        command.add_argument("id", type=_positive, metavar="ID")
        command.add_argument("--by", required=True, metavar="USER", help="who decides (recorded in the audit log)")
        command.set_defaults(func=_cmd_settle, requeue=requeue)
