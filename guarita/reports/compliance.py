"""How much of the fleet Portaria DETRO/RJ 958/2009 requires to be monitored, and how much is.

Art. 2 (regular service) and Art. 3 (charter, *fretamento*) each give a rollout table:
by fleet size, the percentage of vehicles monitored by each date. A ``-`` in the
Portaria means the band had already reached 100%, so the requirement stays at 100%
after a band's last listed date; before the first date (31.01.2010) nothing was required.

A vehicle counts as monitored when the config binds a DVR to it (DT-14) and that DVR has
been synced at least once by the end of the report's day: an archived segment, or a sync
run that ended ``ok`` or ``partial``. A run that ended ``failed`` (a camera folder could
not be listed, or the run stopped on an error) never counts; when it is the latest run of
the day, its reason is shown beside the vehicle.

Covers: DT-03, DT-14.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from dataclasses import dataclass

from guarita.config import FleetRegime, GuaritaConfig
from guarita.local_time import local_zone
from guarita.reports._format import local_text, order_key, text_table
from guarita.reports.period import ReportError

__all__ = [
    "ROLLOUT_DATES",
    "ROLLOUT_TABLES",
    "ComplianceReport",
    "RolloutBand",
    "ScheduleStep",
    "VehicleCompliance",
    "band_for",
    "compliance_json",
    "compliance_report",
    "compliance_text",
    "required_on",
]

ROLLOUT_DATES: tuple[dt.date, ...] = tuple(
    dt.date(2010, month, day) for month, day in ((1, 31), (2, 28), (3, 31), (4, 30), (5, 31), (6, 30))
)


@dataclass(frozen=True)
class RolloutBand:
    """One row of a rollout table: a fleet-size band and its percentage per date (None = ``-``)."""

    smallest: int
    largest: int | None
    percentages: tuple[int | None, ...]

    def label(self) -> str:
        """``up to 10 vehicles``, ``11 to 50 vehicles``, ``over 300 vehicles``."""
        if self.largest is None:
            return f"over {self.smallest - 1} vehicles"
        if self.smallest <= 1:
            return f"up to {self.largest} vehicles"
        return f"{self.smallest} to {self.largest} vehicles"

    def percent_on(self, day: dt.date) -> int:
        """The percentage in force on ``day``: that of the last date on or before it (0 before the first)."""
        percent = 0
        for deadline, listed in zip(ROLLOUT_DATES, self.percentages, strict=True):
            if deadline > day:
                break
            percent = 100 if listed is None else listed
        return percent


_DASH = None  # the Portaria's "-": 100% already reached
ROLLOUT_TABLES: dict[FleetRegime, tuple[RolloutBand, ...]] = {
    FleetRegime.REGULAR: (  # Art. 2
        RolloutBand(0, 10, (50, 100, _DASH, _DASH, _DASH, _DASH)),
        RolloutBand(11, 50, (30, 60, 100, _DASH, _DASH, _DASH)),
        RolloutBand(51, 100, (20, 40, 60, 100, _DASH, _DASH)),
        RolloutBand(101, 300, (20, 40, 60, 80, 100, _DASH)),
        RolloutBand(301, None, (15, 30, 45, 60, 75, 100)),
    ),
    FleetRegime.CHARTER: (  # Art. 3
        RolloutBand(0, 10, (50, 100, _DASH, _DASH, _DASH, _DASH)),
        RolloutBand(11, 30, (30, 60, 100, _DASH, _DASH, _DASH)),
        RolloutBand(31, 50, (20, 40, 60, 100, _DASH, _DASH)),
        RolloutBand(51, 100, (20, 40, 60, 80, 100, _DASH)),
        RolloutBand(101, None, (15, 30, 45, 60, 75, 100)),
    ),
}
_ARTICLE = {FleetRegime.REGULAR: "Art. 2, regular service", FleetRegime.CHARTER: "Art. 3, charter (fretamento)"}


def band_for(regime: FleetRegime, fleet_size: int) -> RolloutBand:
    """The band of ``regime``'s table that a fleet of ``fleet_size`` vehicles falls in."""
    if fleet_size < 0:
        raise ValueError("a fleet cannot have fewer than 0 vehicles")
    return next(b for b in ROLLOUT_TABLES[regime] if b.largest is None or fleet_size <= b.largest)


def _vehicles_for(fleet_size: int, percent: int) -> int:
    return (fleet_size * percent + 99) // 100  # math.ceil(fleet * pct / 100) in exact integers


def required_on(regime: FleetRegime, fleet_size: int, day: dt.date) -> tuple[int, int]:
    """(percent, vehicles) the Portaria requires monitored on ``day`` for this fleet.

    The vehicle count is rounded UP: ``math.ceil(fleet_size * percent / 100)``, because a
    company meets 15% of 301 buses (45.15) only with 46 of them. Before 31.01.2010 the
    requirement is 0%; after a band's last listed date it is 100%.
    """
    percent = band_for(regime, fleet_size).percent_on(day)
    return percent, _vehicles_for(fleet_size, percent)


@dataclass(frozen=True)
class ScheduleStep:
    """One date of the fleet's band: the percentage and vehicles required from then on."""

    deadline: dt.date
    percent: int
    vehicles: int
    listed: bool  # False where the Portaria prints "-" (already 100%)


@dataclass(frozen=True)
class VehicleCompliance:
    """One vehicle: its DVR and whether it counts as monitored."""

    vehicle: str
    plate: str
    dvr_serial: str | None
    first_synced_at: float | None
    last_synced_at: float | None
    last_failure: str | None = None  # why the latest pass failed, when no good pass came after it

    @property
    def monitored(self) -> bool:
        """A DVR is bound and has synced at least once."""
        return self.dvr_serial is not None and self.first_synced_at is not None

    @property
    def status(self) -> str:
        """``yes``, or why not; a failed latest pass is named either way."""
        if self.dvr_serial is None:
            return "no: no DVR configured"
        failure = None if self.last_failure is None else _failure_text(self.last_failure)
        if self.first_synced_at is not None:
            return "yes" if failure is None else f"yes; the last pass failed: {failure}"
        return "no: DVR never synced" if failure is None else f"no: every DVR pass failed: {failure}"


@dataclass(frozen=True)
class ComplianceReport:
    """The fleet's standing under Portaria 958/2009 on one day."""

    day: dt.date
    regime: FleetRegime
    band: RolloutBand
    required_percent: int
    required_vehicles: int
    vehicles: tuple[VehicleCompliance, ...]
    schedule: tuple[ScheduleStep, ...]
    zone: dt.tzinfo

    @property
    def fleet_size(self) -> int:
        """Vehicles in the fleet."""
        return len(self.vehicles)

    @property
    def monitored(self) -> int:
        """Vehicles that count as monitored."""
        return sum(1 for v in self.vehicles if v.monitored)

    @property
    def compliant(self) -> bool:
        """At least the required number of vehicles is monitored."""
        return self.monitored >= self.required_vehicles

    @property
    def article(self) -> str:
        """``Art. 2, regular service`` or ``Art. 3, charter (fretamento)``."""
        return _ARTICLE[self.regime]


def _failure_text(reason: str, limit: int = 160) -> str:
    return reason if len(reason) <= limit else reason[: limit - 1] + "…"


def _failed_passes(db: sqlite3.Connection, before: float) -> dict[str, tuple[float, str]]:
    """Each vehicle's latest failed pass before ``before``: when it ended and why."""
    found: dict[str, tuple[float, str]] = {}
    rows = db.execute(
        "SELECT vehicle, COALESCE(finished_at, started_at), detail FROM dvr_syncs "
        "WHERE status = 'failed' AND COALESCE(finished_at, started_at) < ? ORDER BY id",
        (before,),
    )
    for vehicle, at, detail in rows:
        found[vehicle] = (at, _failure_reason(detail))
    return found


def _failure_reason(detail: str | None) -> str:
    """The reason a failed pass's stored report gives."""
    try:
        document = json.loads(detail) if detail else None
    except json.JSONDecodeError:
        return detail or "no reason recorded"
    reason = document.get("detail") if isinstance(document, dict) else None
    return reason if isinstance(reason, str) and reason else "no reason recorded"


def _first_last_syncs(db: sqlite3.Connection, before: float) -> dict[str, tuple[float, float]]:
    found: dict[str, tuple[float, float]] = {}
    queries = (
        "SELECT vehicle, MIN(synced_at), MAX(synced_at) FROM dvr_segments WHERE synced_at < ? GROUP BY vehicle",
        "SELECT vehicle, MIN(COALESCE(finished_at, started_at)), MAX(COALESCE(finished_at, started_at)) "
        "FROM dvr_syncs WHERE status IN ('ok', 'partial') AND COALESCE(finished_at, started_at) < ? GROUP BY vehicle",
    )
    for query in queries:
        for vehicle, first, last in db.execute(query, (before,)):
            known = found.get(vehicle)
            found[vehicle] = (first, last) if known is None else (min(known[0], first), max(known[1], last))
    return found


def compliance_report(config: GuaritaConfig, db: sqlite3.Connection, day: dt.date) -> ComplianceReport:
    """The fleet's compliance on ``day`` (syncs up to the end of that local day count).

    Raises:
        ReportError: the config has no ``fleet`` section.
    """
    if config.fleet is None:
        raise ReportError("the config has no `fleet` section: compliance is about a bus fleet")
    zone = local_zone(config.fleet.timezone)
    end_of_day = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone).timestamp()
    syncs = _first_last_syncs(db, end_of_day)
    failures = _failed_passes(db, end_of_day)
    vehicles = []
    for number in sorted(config.fleet.vehicles, key=order_key):
        settings = config.fleet.vehicles[number]
        first, last = syncs.get(number, (None, None)) if settings.dvr is not None else (None, None)
        serial = settings.dvr.serial if settings.dvr is not None else None
        failed_at, reason = failures.get(number, (None, None))
        failure = reason if failed_at is not None and (last is None or failed_at > last) else None
        vehicles.append(VehicleCompliance(number, settings.plate, serial, first, last, failure))
    regime, size = config.fleet.regime, len(vehicles)
    band = band_for(regime, size)
    percent, required = required_on(regime, size, day)
    schedule = tuple(
        ScheduleStep(deadline, band.percent_on(deadline), required_on(regime, size, deadline)[1], listed is not None)
        for deadline, listed in zip(ROLLOUT_DATES, band.percentages, strict=True)
    )
    return ComplianceReport(day, regime, band, percent, required, tuple(vehicles), schedule, zone)


def compliance_text(report: ComplianceReport) -> str:
    """The report as text a garage operator or an auditor reads in a terminal."""
    shortfall = report.required_vehicles - report.monitored
    verdict = "COMPLIANT" if report.compliant else f"NOT COMPLIANT: {shortfall} more vehicle(s) must be monitored"
    lines = [
        f"Portaria DETRO/RJ 958/2009 ({report.article}): compliance on {report.day.isoformat()}",
        f"Fleet:     {report.fleet_size} vehicles (band: {report.band.label()})",
        f"Required:  {report.required_percent}% = {report.required_vehicles} vehicles (rounded up)",
        f"Monitored: {report.monitored} of {report.fleet_size} (DVR bound and synced at least once "
        f"by the end of {report.day.isoformat()})",
        f"Result:    {verdict}",
        "",
    ]

    def when(epoch: float | None) -> str:
        return "-" if epoch is None else local_text(epoch, report.zone)

    rows = [
        (v.vehicle, v.plate, v.dvr_serial or "-", when(v.first_synced_at), when(v.last_synced_at), v.status)
        for v in report.vehicles
    ]
    lines += [text_table(("Vehicle", "Plate", "DVR serial", "First sync", "Last sync", "Monitored"), rows), ""]
    lines.append(f"Rollout for a fleet of {report.fleet_size} ({report.band.label()}):")
    steps = [
        (s.deadline.isoformat(), f"{s.percent}%" + ("" if s.listed else " (-)"), str(s.vehicles))
        for s in report.schedule
    ]
    lines.append(text_table(("By", "Required", "Vehicles"), steps))
    lines.append("(-) the Portaria prints '-': 100% already reached. Times are local (" + str(report.zone) + ").")
    return "\n".join(lines)


def compliance_json(report: ComplianceReport) -> str:
    """The report as one JSON document (times in local ISO 8601 with offset)."""

    def when(epoch: float | None) -> str | None:
        return None if epoch is None else dt.datetime.fromtimestamp(epoch, report.zone).isoformat(timespec="seconds")

    document = {
        "date": report.day.isoformat(),
        "regime": report.regime.value,
        "article": report.article,
        "fleet_size": report.fleet_size,
        "band": report.band.label(),
        "required_percent": report.required_percent,
        "required_vehicles": report.required_vehicles,
        "monitored_vehicles": report.monitored,
        "compliant": report.compliant,
        "vehicles": [
            {"vehicle": v.vehicle, "plate": v.plate, "dvr_serial": v.dvr_serial, "monitored": v.monitored,
             "status": v.status, "first_synced_at": when(v.first_synced_at), "last_synced_at": when(v.last_synced_at),
             "last_failure": v.last_failure}
            for v in report.vehicles
        ],
        "schedule": [
            {"date": s.deadline.isoformat(), "percent": s.percent, "vehicles": s.vehicles, "listed": s.listed}
            for s in report.schedule
        ],
    }
    return json.dumps(document, ensure_ascii=False, indent=2)
