"""``guarita report equipment | events | route | compliance``: Portaria 958/2009 reports from a shell.

Every command takes ``-c FILE`` (or ``$GUARITA_CONFIG``), needs the config's ``fleet``
section and reads the store in ``storage.data_dir``. Dates are ISO 8601 (``2025-07-01`` or
``2025-07-01T08:30``), local time in ``fleet.timezone`` unless they carry an offset; a bare
date as ``--to`` includes that whole day. A report goes to stdout, or to ``-o FILE``.
Exit 0 on success; 1 with the reason on stderr (no fleet, unknown vehicle, store or
file problem); 2 for a malformed date.

Covers: DT-03, DT-15, DT-16, DT-17, DT-18, DT-19.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from guarita.cli.common import SubParsers, cli_config, guarded, open_store
from guarita.cli.evidence import add_client_report_command
from guarita.config import FleetConfig, GuaritaConfig
from guarita.local_time import local_zone
from guarita.reports import (
    Moment,
    ReportError,
    compliance_json,
    compliance_report,
    compliance_text,
    equipment_csv,
    equipment_json,
    equipment_rows,
    events_csv,
    events_html,
    load_events,
    load_route,
    parse_moment,
    period_between,
    route_geojson,
    route_html,
)
from guarita.reports._format import order_key

__all__ = ["add_reports_commands"]

def _fleet(args: argparse.Namespace) -> tuple[GuaritaConfig, FleetConfig]:
    config = cli_config(args)
    if config.fleet is None:
        raise ReportError(
            "this config has no `fleet` section; reports are about a bus fleet (add `fleet:` with its vehicles)"
        )
    return config, config.fleet


def _moment(text: str) -> Moment:
    try:
        return parse_moment(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO date such as 2025-07-01") from None


def _emit(args: argparse.Namespace, content: str, summary: str) -> None:
    """``content`` to stdout, or to ``-o FILE`` with a one-line note of what was written."""
    if args.output is None:
        print(content, end="" if content.endswith("\n") else "\n")
        return
    path = Path(args.output)
    try:
        path.write_text(content, encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"cannot write {path}: {exc.strerror or exc}") from exc
    print(f"wrote {path}: {summary}")


def _check_vehicle(fleet: FleetConfig, vehicle: str, found: int) -> None:
    """An unknown order number with nothing recorded is a typo, not an empty report."""
    if vehicle not in fleet.vehicles and not found:
        known = ", ".join(sorted(fleet.vehicles, key=order_key)) or "none"
        raise ReportError(f"vehicle {vehicle!r} is not in fleet.vehicles (known: {known}) and has no records")


def _cmd_equipment(args: argparse.Namespace) -> int:
    _, fleet = _fleet(args)
    rows = equipment_rows(fleet)
    content = equipment_json(rows) if args.format == "json" else equipment_csv(rows)
    _emit(args, content, f"{len(rows)} vehicles")
    return 0


def _cmd_events(args: argparse.Namespace) -> int:
    config, fleet = _fleet(args)
    period = period_between(args.start, args.end, local_zone(fleet.timezone))
    with open_store(config) as store:
        history = load_events(store.db, period, args.vehicle)
    if args.vehicle is not None:
        _check_vehicle(fleet, args.vehicle, len(history.events))
    if args.format == "html":
        content = events_html(history, company=config.provider.name, generated_at=dt.datetime.now(dt.UTC))
    else:
        content = events_csv(history)
    handled = sum(1 for e in history.events if e.handled)
    _emit(args, content, f"{len(history.events)} events ({handled} handled), {period.label()}")
    return 0


def _cmd_route(args: argparse.Namespace) -> int:
    config, fleet = _fleet(args)
    period = period_between(args.start, args.end, local_zone(fleet.timezone))
    with open_store(config) as store:
        route = load_route(store.db, args.vehicle, period)
    _check_vehicle(fleet, args.vehicle, len(route.points) + len(route.events))
    if args.format == "html":
        settings = fleet.vehicles.get(args.vehicle)
        content = route_html(
            route, company=config.provider.name, plate=settings.plate if settings else None,
            generated_at=dt.datetime.now(dt.UTC),
        )
    else:
        content = route_geojson(route)
    summary = f"{len(route.points)} positions, {route.distance_km:.1f} km, {len(route.events)} events"
    _emit(args, content, f"{summary}, {period.label()}" if route.points else f"no positions, {period.label()}")
    return 0


def _cmd_compliance(args: argparse.Namespace) -> int:
    config, fleet = _fleet(args)
    day = args.date or dt.datetime.now(local_zone(fleet.timezone)).date()
    with open_store(config) as store:
        report = compliance_report(config, store.db, day)
    print(compliance_json(report) if args.json else compliance_text(report))
    return 0


def add_reports_commands(sub: SubParsers, common: argparse.ArgumentParser) -> None:
    """Register ``guarita report equipment | events | route | compliance``."""
    output = argparse.ArgumentParser(add_help=False)
    output.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE instead of stdout")
    period = argparse.ArgumentParser(add_help=False)
    period.add_argument("--from", dest="start", required=True, type=_moment, metavar="WHEN",
                        help="start: 2025-07-01 or 2025-07-01T08:30 (local time unless an offset is given)")
    period.add_argument("--to", dest="end", required=True, type=_moment, metavar="WHEN",
                        help="end, excluded; a bare date includes that whole day")
    report = sub.add_parser("report", help="reports: equipment, events, route, compliance (Portaria 958/2009); client (LGPD)")
    kinds = report.add_subparsers(dest="report_kind", required=True)

    equipment = kinds.add_parser("equipment", parents=[common, output],
                                 help="vehicles, DVR serials and numbered cameras, for DETRO (DT-15)")
    equipment.add_argument("--format", choices=["csv", "json"], default="csv", help="default csv")
    equipment.set_defaults(func=guarded(_cmd_equipment))

    events = kinds.add_parser("events", parents=[common, period, output],
                              help="sensor events over a period with their handling trail")
    events.add_argument("--vehicle", help="only this vehicle (order number)")
    events.add_argument("--format", choices=["csv", "html"], default="csv", help="default csv")
    events.set_defaults(func=guarded(_cmd_events))

    route = kinds.add_parser("route", parents=[common, period, output],
                             help="a vehicle's track and events over a period (replay)")
    route.add_argument("vehicle", metavar="VEHICLE", help="order number")
    route.add_argument("--format", choices=["geojson", "html"], default="geojson", help="default geojson")
    route.set_defaults(func=guarded(_cmd_route))

    compliance = kinds.add_parser("compliance", parents=[common],
                                  help="monitored vehicles against the Art. 2/3 rollout tables (DT-03)")
    compliance.add_argument("--date", type=_day, help="the day to check (default: today, local time)")
    compliance.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    compliance.set_defaults(func=guarded(_cmd_compliance))
    add_client_report_command(kinds, common)
