"""The telemetry tables (``vehicle_positions``, ``vehicle_events``) read and written inside a transaction.

Positions are upserted by (vehicle, ts); ``extra`` holds ``main_power`` and the fields
Guarita does not know, as one JSON object. An event row keeps its first sample's place and
speed in columns and ``peak_ts``/``last_ts``/``ended_ts`` in ``details``.

Covers: DT-13, DT-21, DT-22.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Sequence

from guarita.telemetry.detect import Episode, SensorEventType
from guarita.telemetry.sample import Sample

__all__ = [
    "bucket",
    "insert_episode",
    "occupied_buckets",
    "open_episodes",
    "stored_episodes",
    "update_episode",
    "upsert_positions",
]

_IN_CHUNK = 500
_EVENT_COLUMNS = "id, vehicle, type, ts, lat, lon, speed_kmh, value, threshold, details"


def _extra(sample: Sample) -> str | None:
    fields: dict[str, object] = json.loads(sample.extra) if sample.extra else {}
    if sample.main_power is not None:
        fields["main_power"] = sample.main_power
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False) if fields else None


def upsert_positions(db: sqlite3.Connection, vehicle: str, samples: Sequence[Sample]) -> None:
    """Store ``samples``; a sample at a time already stored replaces it."""
    db.executemany(
        "INSERT INTO vehicle_positions (vehicle, ts, lat, lon, speed_kmh, heading, odometer_km, rpm, "
        "accel_long_mps2, accel_lat_mps2, extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (vehicle, ts) DO UPDATE SET lat = excluded.lat, lon = excluded.lon, "
        "speed_kmh = excluded.speed_kmh, heading = excluded.heading, odometer_km = excluded.odometer_km, "
        "rpm = excluded.rpm, accel_long_mps2 = excluded.accel_long_mps2, "
        "accel_lat_mps2 = excluded.accel_lat_mps2, extra = excluded.extra",
        [
            (vehicle, s.ts, s.lat, s.lon, s.speed_kmh, s.heading, s.odometer_km, s.rpm, s.accel_long_mps2,
             s.accel_lat_mps2, _extra(s))
            for s in samples
        ],
    )


def bucket(ts: float, interval_s: float) -> float:
    """The forwarding slot of ``ts``: epoch-aligned windows of ``interval_s`` (each time its own when 0)."""
    return float(math.floor(ts / interval_s)) if interval_s > 0 else ts


def occupied_buckets(db: sqlite3.Connection, vehicle: str, samples: Sequence[Sample], interval_s: float) -> set[float]:
    """Slots between the first and last of ``samples`` that already hold a stored position (call before storing)."""
    if not samples:
        return set()
    first, last = samples[0].ts, samples[-1].ts
    low = math.floor(first / interval_s) * interval_s if interval_s > 0 else first
    high = (math.floor(last / interval_s) + 1) * interval_s if interval_s > 0 else math.nextafter(last, math.inf)
    rows = db.execute(
        "SELECT ts FROM vehicle_positions WHERE vehicle = ? AND ts >= ? AND ts < ?", (vehicle, low, high)
    )
    return {bucket(float(row[0]), interval_s) for row in rows}


def _episode(row: Sequence[object]) -> Episode:
    details = json.loads(str(row[9]))
    return Episode(
        id=str(row[0]), vehicle=str(row[1]), type=SensorEventType(str(row[2])), ts=_float(row[3]),
        lat=_real(row[4]), lon=_real(row[5]), speed_kmh=_real(row[6]), value=_real(row[7]), threshold=_real(row[8]),
        peak_ts=_float(details.get("peak_ts", row[3])), last_ts=_float(details.get("last_ts", row[3])),
        ended_ts=details.get("ended_ts"),
    )


def _float(value: object) -> float:
    if not isinstance(value, int | float):
        raise TypeError(f"expected a number in vehicle_events, found {value!r}")
    return float(value)


def _real(value: object) -> float | None:
    return None if value is None else _float(value)


def open_episodes(db: sqlite3.Connection, vehicle: str, until: float) -> list[Episode]:
    """The latest stored event of each type that began at or before ``until``."""
    found: list[Episode] = []
    for kind in SensorEventType:
        row = db.execute(
            f"SELECT {_EVENT_COLUMNS} FROM vehicle_events WHERE vehicle = ? AND type = ? AND ts <= ? "
            "ORDER BY ts DESC LIMIT 1",
            (vehicle, kind.value, until),
        ).fetchone()
        if row is not None:
            found.append(_episode(row))
    return found


def stored_episodes(db: sqlite3.Connection, ids: Iterable[str]) -> dict[str, Episode]:
    """The stored events among ``ids``, by id."""
    wanted = list(set(ids))
    found: dict[str, Episode] = {}
    for start in range(0, len(wanted), _IN_CHUNK):
        chunk = wanted[start : start + _IN_CHUNK]
        marks = ",".join("?" * len(chunk))
        for row in db.execute(f"SELECT {_EVENT_COLUMNS} FROM vehicle_events WHERE id IN ({marks})", chunk):
            episode = _episode(row)
            found[episode.id] = episode
    return found


def _details(episode: Episode, line: str | None) -> str:
    details = {"peak_ts": episode.peak_ts, "last_ts": episode.last_ts, "ended_ts": episode.ended_ts, "line": line}
    return json.dumps(details, sort_keys=True, separators=(",", ":"))


def insert_episode(db: sqlite3.Connection, episode: Episode, *, line: str | None, source: str, now: float) -> None:
    """Store a new event (a row with this id already there is left alone)."""
    e = episode
    db.execute(
        "INSERT OR IGNORE INTO vehicle_events (id, vehicle, type, ts, lat, lon, speed_kmh, value, threshold, source, "
        "details, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (e.id, e.vehicle, e.type.value, e.ts, e.lat, e.lon, e.speed_kmh, e.value, e.threshold, source,
         _details(e, line), now),
    )


def update_episode(db: sqlite3.Connection, episode: Episode, *, line: str | None) -> None:
    """Record an event's new peak, last sample or end."""
    db.execute(
        "UPDATE vehicle_events SET value = ?, details = ? WHERE id = ?",
        (episode.value, _details(episode, line), episode.id),
    )
