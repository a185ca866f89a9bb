"""Reports a bus company gives DETRO/RJ and its own garage under Portaria 958/2009.

* ``compliance``: the Art. 2 / Art. 3 rollout tables and how much of the fleet is monitored (DT-03);
* ``equipment``: vehicle, DVR serial and numbered cameras, for DETRO (DT-15);
* ``events_history``: sensor events over a period with their handling trail, CSV or HTML (DT-16–DT-18);
* ``route``: a vehicle's track and events over a period, GeoJSON or an offline HTML replay (DT-19);
* ``period``: the span a report covers, from the dates an operator types.

Every report reads the store with plain SQL and writes times in the fleet's local zone.

Covers: DT-03, DT-15, DT-16, DT-17, DT-18, DT-19.
"""

from __future__ import annotations

from guarita.reports.compliance import (
    ROLLOUT_DATES,
    ROLLOUT_TABLES,
    ComplianceReport,
    RolloutBand,
    ScheduleStep,
    VehicleCompliance,
    band_for,
    compliance_json,
    compliance_report,
    compliance_text,
    required_on,
)
from guarita.reports.equipment import EquipmentRow, equipment_csv, equipment_json, equipment_rows
from guarita.reports.events_history import EventHistory, EventRecord, HandlingStep, events_csv, events_html, load_events
from guarita.reports.period import Moment, Period, ReportError, parse_moment, period_between
from guarita.reports.route import Route, TrackPoint, load_route, route_geojson, route_html

__all__ = [
    "ROLLOUT_DATES",
    "ROLLOUT_TABLES",
    "ComplianceReport",
    "EquipmentRow",
    "EventHistory",
    "EventRecord",
    "HandlingStep",
    "Moment",
    "Period",
    "ReportError",
    "RolloutBand",
    "Route",
    "ScheduleStep",
    "TrackPoint",
    "VehicleCompliance",
    "band_for",
    "compliance_json",
    "compliance_report",
    "compliance_text",
    "equipment_csv",
    "equipment_json",
    "equipment_rows",
    "events_csv",
    "events_html",
    "load_events",
    "load_route",
    "parse_moment",
    "period_between",
    "required_on",
    "route_geojson",
    "route_html",
]
