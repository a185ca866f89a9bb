"""Replay of a vehicle's route over a period the operator picks: GeoJSON and an offline HTML page.

The track is the vehicle's ``vehicle_positions`` with a position fix, in time order; its
sensor events (with their handling trail) are the markers. GeoJSON follows RFC 7946
(coordinates are ``[lon, lat]``); per-point times go in the track's ``coordTimes``
property, the convention GPX/KML converters use. The HTML page draws the track itself
(no map tiles, nothing fetched) and moves a marker along it with a time slider.

Covers: DT-17, DT-19.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sqlite3
from dataclasses import dataclass

from guarita.reports._format import event_unit, iso_local
from guarita.reports._html import event_label
from guarita.reports._route_html import render_route_page
from guarita.reports.events_history import EventRecord, HandlingStep, load_events
from guarita.reports.period import Period

__all__ = ["Route", "TrackPoint", "load_route", "route_geojson", "route_html"]

_EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True)
class TrackPoint:
    """One position fix: UTC epoch seconds, WGS 84 degrees, km/h and heading when known."""

    ts: float
    lat: float
    lon: float
    speed_kmh: float | None
    heading: float | None


def _haversine_km(a: TrackPoint, b: TrackPoint) -> float:
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp, dl = p2 - p1, math.radians(b.lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True)
class Route:
    """A vehicle's track and events over a period."""

    vehicle: str
    period: Period
    points: tuple[TrackPoint, ...]
    events: tuple[EventRecord, ...]

    @property
    def distance_km(self) -> float:
        """Length of the track along the great circle between fixes."""
        return sum(_haversine_km(a, b) for a, b in zip(self.points, self.points[1:]))

    @property
    def max_speed_kmh(self) -> float | None:
        """Highest speed reported, if any was."""
        return max((p.speed_kmh for p in self.points if p.speed_kmh is not None), default=None)


def load_route(db: sqlite3.Connection, vehicle: str, period: Period) -> Route:
    """Positions with a fix and events of ``vehicle`` with ``period.start <= ts < period.end``."""
    rows = db.execute(
        "SELECT ts, lat, lon, speed_kmh, heading FROM vehicle_positions WHERE vehicle = ? AND ts >= ? AND ts < ? "
        "AND lat IS NOT NULL AND lon IS NOT NULL ORDER BY ts",
        (vehicle, period.start_epoch, period.end_epoch),
    )
    points = tuple(TrackPoint(*row) for row in rows)
    return Route(vehicle, period, points, load_events(db, period, vehicle).events)


def _event_feature(event: EventRecord, zone: dt.tzinfo) -> dict[str, object]:
    has_fix = event.lat is not None and event.lon is not None
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [event.lon, event.lat]} if has_fix else None,
        "properties": {
            "kind": "event",
            "id": event.event_id,
            "type": event.kind,
            "label": event_label(event.kind),
            "time": iso_local(event.ts, zone),
            "speed_kmh": event.speed_kmh,
            "value": event.value,
            "threshold": event.threshold,
            "unit": event_unit(event.kind),
            "source": event.source,
            "handled": event.handled,
            "trail": [_step_document(s, zone) for s in event.trail],
        },
    }


def _step_document(step: HandlingStep, zone: dt.tzinfo) -> dict[str, str]:
    """One step of a trail; ``note`` only when the operator gave one."""
    document = {"action": step.action, "by": step.by, "at": iso_local(step.at, zone)}
    if step.note is not None:
        document["note"] = step.note
    return document


def route_geojson(route: Route) -> str:
    """A GeoJSON FeatureCollection: the track (LineString, or a Point for a single fix) and one Point per event.

    Times are ISO 8601 local time with offset; an event without a position fix has a null geometry.
    """
    zone = route.period.zone
    features: list[dict[str, object]] = []
    if route.points:
        coordinates = [[p.lon, p.lat] for p in route.points]
        geometry = (
            {"type": "LineString", "coordinates": coordinates}
            if len(coordinates) > 1 else {"type": "Point", "coordinates": coordinates[0]}
        )
        features.append({
            "type": "Feature",
            "geometry": geometry,
            "properties": {
                "kind": "track",
                "vehicle": route.vehicle,
                "start": iso_local(route.points[0].ts, zone),
                "end": iso_local(route.points[-1].ts, zone),
                "distance_km": round(route.distance_km, 3),
                "coordTimes": [iso_local(p.ts, zone) for p in route.points],
                "speeds_kmh": [p.speed_kmh for p in route.points],
            },
        })
    features += [_event_feature(event, zone) for event in route.events]
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False) + "\n"


def route_html(route: Route, *, company: str, plate: str | None, generated_at: dt.datetime) -> str:
    """One self-contained page: the drawn track, event markers and a time slider (no internet needed)."""
    return render_route_page(route, company=company, plate=plate, generated_at=generated_at)
