"""``guarita events list | ack``: the fleet's sensor events and their handling trail from a shell.

``events list`` prints a summary table, newest first (id, vehicle, type, local time in
``fleet.timezone``, value/threshold, open or acked, last action and its note), or one JSON document with
``--json``; ``--open`` leaves out acknowledged events. ``events ack EVENT --action TEXT --by
USER [--note TEXT]`` records what was done about an event, with an optional free-text note:
kept in the store (append-only), audited and, when DETRO is configured, forwarded to it by
the running ``guarita run`` (through the outbox in ``data_dir``). Exit 0 on success; 1 with the reason on stderr (unknown event,
blank action, blank or too long note, bad config, store unusable); 2 on a usage error.

Covers: DT-16, DT-17.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from datetime import UTC, datetime

from guarita.cli.common import SubParsers, cli_config, guarded, open_store
from guarita.local_time import DEFAULT_ZONE, local_zone
from guarita.outbox import Outbox
from guarita.telemetry.detro import detro_enabled
from guarita.vehicle_events import EventAck, VehicleEvent, ack_event, list_events

__all__ = ["add_events_commands", "event_document", "event_table"]

def _now() -> datetime:
    return datetime.now(UTC)


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def event_document(event: VehicleEvent) -> dict[str, object]:
    """An event as ``--json`` prints it (times in UTC)."""
    return {
        "id": event.id,
        "vehicle": event.vehicle,
        "line": event.line,
        "type": event.type.value,
        "ts": event.ts.isoformat(timespec="milliseconds"),
        "lat": event.lat,
        "lon": event.lon,
        "speed_kmh": event.speed_kmh,
        "value": event.value,
        "threshold": event.threshold,
        "unit": event.unit,
        "source": event.source,
        "status": "open" if event.is_open else "acked",
        "acks": [
            {"seq": a.seq, "action": a.action, "by": a.by, "at": a.at.isoformat(timespec="seconds"), "note": a.note}
            for a in event.acks
        ],
    }


def _last_ack(ack: EventAck) -> str:
    note = "" if ack.note is None else f" [note: {' '.join(ack.note.split())}]"
    return f"{ack.action} ({ack.by}){note}"


def event_table(events: Sequence[VehicleEvent], zone_name: str = DEFAULT_ZONE) -> str:
    """The summary table, times in ``zone_name``."""
    zone = local_zone(zone_name)
    header = ("ID", "VEHICLE", "TYPE", f"TIME ({zone_name})", "VALUE/THRESHOLD", "STATUS", "LAST ACTION")
    rows = [header]
    for e in events:
        measure = f"{_number(e.value)}/{_number(e.threshold)} {e.unit}" if e.unit else "-"
        status = "open" if e.is_open else f"acked ({len(e.acks)})"
        last = "-" if e.last_action is None else _last_ack(e.acks[-1])
        when = e.ts.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
        rows.append((e.id, e.vehicle, e.type.value, when, measure, status, last))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
        for row in rows
    )


@guarded
def _cmd_list(args: argparse.Namespace) -> int:
    config = cli_config(args)
    with open_store(config) as store:
        events = list_events(store.db, open_only=args.open, vehicle=args.vehicle, limit=args.limit or None)
    if args.json:
        print(json.dumps([event_document(e) for e in events], ensure_ascii=False, indent=2))
    elif events:
        print(event_table(events, config.fleet.timezone if config.fleet is not None else DEFAULT_ZONE))
    else:
        print("no open events" if args.open else "no events")
    return 0


@guarded
def _cmd_ack(args: argparse.Namespace) -> int:
    config = cli_config(args)
    with open_store(config) as store:
        # This process's own view of the outbox; `guarita run` picks the message up from the store.
        outbox = Outbox.for_config(store, config.outbox, lambda: _now().timestamp())
        ack = ack_event(store, outbox, config, args.event, args.action, args.by, _now, note=args.note)
    queued = detro_enabled(config)
    where = "queued for DETRO" if queued else "kept locally (DETRO is not configured)"
    if args.json:
        print(json.dumps({"event": args.event, "seq": ack.seq, "action": ack.action, "by": ack.by,
                          "at": ack.at.isoformat(timespec="seconds"), "note": ack.note, "forwarded": queued},
                         ensure_ascii=False))
    else:
        print(f"event {args.event}: ack {ack.seq} by {ack.by} at {ack.at.isoformat(timespec='seconds')}, {where}")
    return 0


def add_events_commands(sub: SubParsers, common: argparse.ArgumentParser) -> None:
    """Register the `events` commands."""
    output = argparse.ArgumentParser(add_help=False)
    output.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    group = sub.add_parser("events", help="sensor events of the fleet (harsh braking, overspeed, ...)").add_subparsers(
        dest="events_command", required=True
    )
    listing = group.add_parser("list", parents=[common, output], help="summary of events, newest first")
    listing.add_argument("--open", action="store_true", help="only events nobody has acknowledged")
    listing.add_argument("--vehicle", metavar="V", help="only this vehicle (order number)")
    listing.add_argument(
        "--limit", type=_count, default=200, metavar="N", help="at most N events (0: all; default 200)"
    )
    listing.set_defaults(func=_cmd_list)
    ack = group.add_parser("ack", parents=[common, output], help="record what was done about an event")
    ack.add_argument("event", metavar="EVENT", help="the event id, as `events list` shows it")
    ack.add_argument("--action", required=True, help="what was done, e.g. 'called the driver'")
    ack.add_argument("--by", required=True, metavar="USER", help="the operator's login (user id), not a full name; recorded and sent to DETRO")
    ack.add_argument(
        "--note", metavar="TEXT", help="optional free text kept with the ack and sent to DETRO, e.g. a ticket number"
    )
    ack.set_defaults(func=_cmd_ack)
