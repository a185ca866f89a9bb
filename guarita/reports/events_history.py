"""The history of sensor events over a period, each with its handling trail.

Portaria 958/2009 asks for the events' history "in a format easy to see and understand"
and, for each event, the action taken, by whom, and when. The events and their
acknowledgements (with the operator's free-text note, when one was given) are read straight
from the store (``vehicle_events`` and ``vehicle_event_acks``) and written as CSV for a
spreadsheet, or as one self-contained HTML page (chart of events per day, then the table
with the trail).

Covers: DT-16, DT-17, DT-18.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import sqlite3
from dataclasses import dataclass

from guarita.reports._events_html import render_events_page
from guarita.reports._format import event_unit, local_text, number_text
from guarita.reports.period import Period

__all__ = [
    "CSV_COLUMNS",
    "EventHistory",
    "EventRecord",
    "HandlingStep",
    "event_unit",
    "events_csv",
    "events_html",
    "load_events",
    "notes_text",
    "trail_text",
]

CSV_COLUMNS = (
    "event_id", "vehicle", "type", "local_time", "latitude", "longitude", "speed_kmh", "value", "threshold",
    "unit", "source", "handled", "handling_trail", "handling_notes",
)

@dataclass(frozen=True)
class HandlingStep:
    """One action taken on an event: what, by whom, when (UTC epoch seconds), and the note given with it."""

    action: str
    by: str
    at: float
    note: str | None = None


@dataclass(frozen=True)
class EventRecord:
    """A sensor event and its handling trail, oldest step first."""

    event_id: str
    vehicle: str
    kind: str
    ts: float
    lat: float | None
    lon: float | None
    speed_kmh: float | None
    value: float | None
    threshold: float | None
    source: str
    trail: tuple[HandlingStep, ...]

    @property
    def handled(self) -> bool:
        """Someone has acted on it."""
        return bool(self.trail)


@dataclass(frozen=True)
class EventHistory:
    """The events of a period, optionally of one vehicle, in time order."""

    period: Period
    vehicle: str | None
    events: tuple[EventRecord, ...]

    def per_day(self) -> dict[dt.date, dict[str, int]]:
        """Local day → event type → count, with every day of the period present."""
        days: dict[dt.date, dict[str, int]] = {day: {} for day in self.period.days()}
        for event in self.events:
            day = dt.datetime.fromtimestamp(event.ts, self.period.zone).date()
            counts = days.setdefault(day, {})
            counts[event.kind] = counts.get(event.kind, 0) + 1
        return days

    def kinds(self) -> list[str]:
        """Event types present, the most frequent first."""
        counts: dict[str, int] = {}
        for event in self.events:
            counts[event.kind] = counts.get(event.kind, 0) + 1
        return sorted(counts, key=lambda kind: (-counts[kind], kind))


def load_events(db: sqlite3.Connection, period: Period, vehicle: str | None = None) -> EventHistory:
    """Events with ``period.start <= ts < period.end`` (of ``vehicle`` only, if given) and their trails."""
    where = "ts >= ? AND ts < ?" + (" AND vehicle = ?" if vehicle is not None else "")
    params: tuple[object, ...] = (period.start_epoch, period.end_epoch) + ((vehicle,) if vehicle is not None else ())
    trails: dict[str, list[HandlingStep]] = {}
    for event_id, action, by, at, note in db.execute(
        "SELECT event_id, action, acked_by, acked_at, note FROM vehicle_event_acks "
        f"WHERE event_id IN (SELECT id FROM vehicle_events WHERE {where}) ORDER BY acked_at, seq",
        params,
    ):
        trails.setdefault(event_id, []).append(HandlingStep(action, by, at, note))
    events = tuple(
        EventRecord(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9],
                    tuple(trails.get(row[0], ())))
        for row in db.execute(
            "SELECT id, vehicle, type, ts, lat, lon, speed_kmh, value, threshold, source "
            f"FROM vehicle_events WHERE {where} ORDER BY ts, id",
            params,
        )
    )
    return EventHistory(period, vehicle, events)


def trail_text(trail: tuple[HandlingStep, ...], zone: dt.tzinfo) -> str:
    """``2025-07-01 08:40:00 maria: called the driver | ...``."""
    return " | ".join(f"{local_text(step.at, zone)} {step.by}: {step.action}" for step in trail)


def notes_text(trail: tuple[HandlingStep, ...], zone: dt.tzinfo) -> str:
    """The notes of the steps that have one, as ``2025-07-01 08:40:00 maria: ticket 4711 | ...``."""
    return " | ".join(
        f"{local_text(step.at, zone)} {step.by}: {' '.join(step.note.split())}" for step in trail if step.note
    )


def events_csv(history: EventHistory) -> str:
    """CSV with a header row, one event per row; times are local, the trail in one cell."""
    zone = history.period.zone
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for e in history.events:
        writer.writerow((
            e.event_id, e.vehicle, e.kind, local_text(e.ts, zone), number_text(e.lat, 6), number_text(e.lon, 6),
            number_text(e.speed_kmh), number_text(e.value, 2), number_text(e.threshold, 2), event_unit(e.kind),
            e.source, "yes" if e.handled else "no", trail_text(e.trail, zone), notes_text(e.trail, zone),
        ))
    return out.getvalue()


def events_html(history: EventHistory, *, company: str, generated_at: dt.datetime) -> str:
    """One self-contained HTML page: summary, chart of events per day by type, legend, table with trails."""
    return render_events_page(history, company=company, generated_at=generated_at)
