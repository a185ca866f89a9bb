"""Portaria 958/2009 reports: rollout figures, monitored vehicles, equipment, events, route, CLI.

The rollout cases are computed by hand from the tables of Art. 2 and Art. 3
(Portaria DETRO/RJ n. 958/2009, see docs/requirements.md), vehicles rounded up.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
import math
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from guarita.cli.main import main
from guarita.config import FleetRegime, GuaritaConfig
from guarita.config_loader import load_config
from guarita.local_time import local_zone
from guarita.reports import (
    EventHistory,
    HandlingStep,
    ReportError,
    Route,
    TrackPoint,
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
    required_on,
    route_geojson,
    route_html,
)
from guarita.store import Store

ZONE = local_zone("America/Sao_Paulo")
REGULAR, CHARTER = FleetRegime.REGULAR, FleetRegime.CHARTER
GENERATED = dt.datetime(2025, 7, 8, 12, 0, tzinfo=dt.UTC)
EVIL = "<script>alert('x')</script> & \"quoted\""


def at(year: int, month: int, day: int, hour: int, minute: int) -> float:
    """Epoch seconds of a local (America/Sao_Paulo) time."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=ZONE).timestamp()


def dvr(serial: str, cameras: dict[int, str] | None = None) -> dict[str, Any]:
    return {"serial": serial, "source": f"file:///mnt/{serial}", "cameras": cameras or {1: "interior", 2: "front"}}


def write_fleet_config(tmp_path: Path, vehicles: dict[str, Any], regime: str = "regular") -> Path:
    """A bus operator's config (no brokers needed: reports only read the store)."""
    path = tmp_path / "guarita.yaml"
    data = {
        "provider": {"id": "viacao", "name": "Viação <Teste> Ltda", "kind": "bus_operator"},
        "storage": {"data_dir": str(tmp_path / "data")},
        "fleet": {"regime": regime, "timezone": "America/Sao_Paulo", "vehicles": vehicles},
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


FLEET = {
    "101": {"plate": "KXY1A23", "line": "110", "dvr": dvr("DVR-0001", {1: "interior", 2: "front", 3: "door"})},
    "102": {"plate": "LRT4B56", "dvr": dvr("DVR-0002")},
    "9": {"plate": "MNO7C89"},
}


@pytest.fixture
def config(tmp_path: Path) -> GuaritaConfig:
    return load_config(write_fleet_config(tmp_path, FLEET))


@pytest.fixture
def db(config: GuaritaConfig) -> Iterator[sqlite3.Connection]:
    store = Store.open(config.storage.data_dir)
    yield store.db
    store.close()


def add_event(db: sqlite3.Connection, event_id: str, vehicle: str, kind: str, ts: float, *,
              lat: float | None = -22.9, lon: float | None = -43.1, value: float | None = -3.2,
              threshold: float | None = -2.5) -> None:
    db.execute(
        "INSERT INTO vehicle_events (id, vehicle, type, ts, lat, lon, speed_kmh, value, threshold, source, details, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'telemetry', '{}', ?)",
        (event_id, vehicle, kind, ts, lat, lon, 42.0, value, threshold, ts),
    )


def add_ack(db: sqlite3.Connection, event_id: str, action: str, by: str, ts: float, note: str | None = None) -> None:
    db.execute("INSERT INTO vehicle_event_acks (event_id, action, acked_by, acked_at, note) VALUES (?, ?, ?, ?, ?)",
               (event_id, action, by, ts, note))


def add_track(db: sqlite3.Connection, vehicle: str, start: float, count: int) -> None:
    for i in range(count):
        db.execute(
            "INSERT INTO vehicle_positions (vehicle, ts, lat, lon, speed_kmh) VALUES (?, ?, ?, ?, ?)",
            (vehicle, start + 10 * i, -22.90 + 0.001 * i, -43.20 + 0.002 * i, 30.0 + i),
        )


# ---- the rollout tables ----------------------------------------------------------------
# (regime, fleet, date, percent, vehicles), each figure read off the Portaria's tables by hand.
CASES = [
    (REGULAR, 8, dt.date(2010, 1, 31), 50, 4),
    (REGULAR, 45, dt.date(2010, 2, 28), 60, 27),
    (CHARTER, 45, dt.date(2010, 3, 31), 60, 27),  # band 31–50 (in Art. 2 it would be 100%)
    (REGULAR, 45, dt.date(2010, 3, 31), 100, 45),
    (REGULAR, 301, dt.date(2010, 1, 31), 15, 46),  # 45.15 rounded up
    (REGULAR, 45, dt.date(2010, 2, 15), 30, 14),  # between dates: the last deadline's 30% (13.5 → 14)
    (REGULAR, 8, dt.date(2010, 1, 30), 0, 0),  # before the first date
    (CHARTER, 500, dt.date(2009, 12, 31), 0, 0),
    (REGULAR, 301, dt.date(2010, 7, 1), 100, 301),  # after the last date
    (CHARTER, 7, dt.date(2025, 7, 1), 100, 7),
    (REGULAR, 150, dt.date(2010, 5, 31), 100, 150),
    (REGULAR, 150, dt.date(2010, 6, 30), 100, 150),  # "-": stays at 100%
    (REGULAR, 400, dt.date(2010, 5, 31), 75, 300),
    # regular boundaries: 10/11, 50/51, 100/101, 300/301
    (REGULAR, 10, dt.date(2010, 1, 31), 50, 5),
    (REGULAR, 11, dt.date(2010, 1, 31), 30, 4),  # 3.3 → 4
    (REGULAR, 10, dt.date(2010, 2, 28), 100, 10),
    (REGULAR, 11, dt.date(2010, 2, 28), 60, 7),  # 6.6 → 7
    (REGULAR, 50, dt.date(2010, 3, 31), 100, 50),
    (REGULAR, 51, dt.date(2010, 3, 31), 60, 31),  # 30.6 → 31
    (REGULAR, 100, dt.date(2010, 4, 30), 100, 100),
    (REGULAR, 101, dt.date(2010, 4, 30), 80, 81),  # 80.8 → 81
    (REGULAR, 300, dt.date(2010, 4, 30), 80, 240),
    (REGULAR, 301, dt.date(2010, 4, 30), 60, 181),  # 180.6 → 181
    (REGULAR, 300, dt.date(2010, 5, 31), 100, 300),
    (REGULAR, 301, dt.date(2010, 5, 31), 75, 226),  # 225.75 → 226
    # charter boundaries: 10/11, 30/31, 50/51, 100/101
    (CHARTER, 10, dt.date(2010, 2, 28), 100, 10),
    (CHARTER, 11, dt.date(2010, 2, 28), 60, 7),
    (CHARTER, 30, dt.date(2010, 3, 31), 100, 30),
    (CHARTER, 31, dt.date(2010, 3, 31), 60, 19),  # 18.6 → 19
    (CHARTER, 50, dt.date(2010, 4, 30), 100, 50),
    (CHARTER, 51, dt.date(2010, 4, 30), 80, 41),  # 40.8 → 41
    (CHARTER, 100, dt.date(2010, 5, 31), 100, 100),
    (CHARTER, 101, dt.date(2010, 5, 31), 75, 76),  # 75.75 → 76
    (CHARTER, 101, dt.date(2010, 1, 31), 15, 16),  # 15.15 → 16
]


# covers DT-03
@pytest.mark.parametrize(("regime", "fleet", "day", "percent", "vehicles"), CASES)
def test_required_on_matches_the_portaria(
    regime: FleetRegime, fleet: int, day: dt.date, percent: int, vehicles: int
) -> None:
    assert required_on(regime, fleet, day) == (percent, vehicles)
    assert vehicles == math.ceil(fleet * percent / 100)


# covers DT-03
def test_every_band_reaches_100_percent_by_30_june_2010() -> None:
    for regime in FleetRegime:
        for fleet in (1, 10, 11, 30, 31, 50, 51, 100, 101, 300, 301, 1000):
            assert required_on(regime, fleet, dt.date(2010, 6, 30)) == (100, fleet)
            assert required_on(regime, fleet, dt.date(2010, 1, 30))[0] == 0


# ---- monitored vehicles ----------------------------------------------------------------
# covers DT-03, DT-14
def test_a_vehicle_is_monitored_only_with_a_dvr_that_synced(tmp_path: Path) -> None:
    vehicles = {
        "1": {"plate": "A1", "dvr": dvr("S1")},  # a segment archived
        "2": {"plate": "A2", "dvr": dvr("S2")},  # a sync run that ended ok
        "3": {"plate": "A3", "dvr": dvr("S3")},  # partial
        "4": {"plate": "A4", "dvr": dvr("S4")},  # configured, never synced
        "5": {"plate": "A5", "dvr": dvr("S5")},  # only failed / unreachable attempts
        "6": {"plate": "A6"},  # no DVR, though rows exist under its number
        "7": {"plate": "A7", "dvr": dvr("S7")},  # first synced after the report's day
    }
    config = load_config(write_fleet_config(tmp_path, vehicles))
    store = Store.open(config.storage.data_dir)
    day = dt.date(2025, 7, 1)
    noon = at(2025, 7, 1, 12, 0)
    segment = "INSERT INTO dvr_segments VALUES (?, 1, ?, ?, 300, 1000, 'ab', ?)"
    sync = "INSERT INTO dvr_syncs (vehicle, started_at, finished_at, status) VALUES (?, ?, ?, ?)"
    store.db.execute(segment, ("1", "20250701110000.mp4", noon - 3600, noon))
    store.db.execute(sync, ("2", noon, noon + 60, "ok"))
    store.db.execute(sync, ("3", noon, noon + 60, "partial"))
    store.db.execute(sync, ("5", noon, noon + 5, "failed"))
    store.db.execute(sync, ("5", noon, None, "unreachable"))
    store.db.execute(segment, ("6", "20250701110000.mp4", noon - 3600, noon))
    store.db.execute(sync, ("7", at(2025, 7, 2, 0, 30), at(2025, 7, 2, 0, 31), "ok"))
    report = compliance_report(config, store.db, day)
    later = compliance_report(config, store.db, dt.date(2025, 7, 2))
    store.close()

    status = {v.vehicle: v.status for v in report.vehicles}
    assert status == {
        "1": "yes", "2": "yes", "3": "yes", "4": "no: DVR never synced",
        "5": "no: every DVR pass failed: no reason recorded",
        "6": "no: no DVR configured", "7": "no: DVR never synced",
    }
    assert (report.fleet_size, report.monitored, report.required_percent, report.required_vehicles) == (7, 3, 100, 7)
    assert not report.compliant
    assert later.monitored == 4 and [v.vehicle for v in later.vehicles if v.monitored] == ["1", "2", "3", "7"]


# covers DT-03
def test_compliance_report_lists_the_band_schedule_and_prints(config: GuaritaConfig, db: sqlite3.Connection) -> None:
    db.execute("INSERT INTO dvr_syncs (vehicle, started_at, finished_at, status) VALUES ('101', ?, ?, 'ok')",
               (at(2025, 6, 30, 22, 0), at(2025, 6, 30, 22, 5)))
    db.execute("INSERT INTO dvr_syncs (vehicle, started_at, finished_at, status) VALUES ('102', ?, ?, 'ok')",
               (at(2025, 6, 30, 23, 0), at(2025, 6, 30, 23, 5)))
    report = compliance_report(config, db, dt.date(2010, 1, 31))
    assert [v.vehicle for v in report.vehicles] == ["9", "101", "102"]  # order numbers sort naturally
    assert report.band.label() == "up to 10 vehicles"
    assert [(s.deadline.isoformat(), s.percent, s.vehicles, s.listed) for s in report.schedule] == [
        ("2010-01-31", 50, 2, True), ("2010-02-28", 100, 3, True), ("2010-03-31", 100, 3, False),
        ("2010-04-30", 100, 3, False), ("2010-05-31", 100, 3, False), ("2010-06-30", 100, 3, False),
    ]
    assert report.monitored == 0  # the syncs happened in 2025

    today = compliance_report(config, db, dt.date(2025, 7, 1))
    text = compliance_text(today)
    assert "Required:  100% = 3 vehicles" in text
    assert "Monitored: 2 of 3" in text
    assert "NOT COMPLIANT: 1 more vehicle(s) must be monitored" in text
    assert re.search(r"^101\s+KXY1A23\s+DVR-0001\s+2025-06-30 22:05:00\s+2025-06-30 22:05:00\s+yes$", text, re.M)
    assert re.search(r"^9\s+MNO7C89\s+-\s+-\s+-\s+no: no DVR configured$", text, re.M)
    assert "2010-03-31  100% (-)  3" in text
    document = json.loads(compliance_json(today))
    assert document["compliant"] is False and document["required_vehicles"] == 3
    assert document["vehicles"][1]["first_synced_at"] == "2025-06-30T22:05:00-03:00"


# covers DT-03
def test_a_config_without_fleet_cannot_report_compliance(config: GuaritaConfig, db: sqlite3.Connection) -> None:
    with pytest.raises(ReportError, match="no `fleet` section"):
        compliance_report(config.model_copy(update={"fleet": None}), db, dt.date(2025, 7, 1))


# ---- equipment -------------------------------------------------------------------------
# covers DT-15, DT-14
def test_equipment_listing_as_csv_and_json(config: GuaritaConfig) -> None:
    assert config.fleet is not None
    rows = equipment_rows(config.fleet)
    table = list(csv.DictReader(io.StringIO(equipment_csv(rows))))
    assert [r["order_number"] for r in table] == ["9", "101", "102"]
    assert table[1] == {
        "order_number": "101", "plate": "KXY1A23", "line": "110", "dvr_serial": "DVR-0001", "camera_count": "3",
        "camera_numbers": "1 2 3", "cameras": "1=interior; 2=front; 3=door",
    }
    assert table[0]["dvr_serial"] == "" and table[0]["camera_count"] == "0"
    document = json.loads(equipment_json(rows))
    assert document[2] == {
        "order_number": "102", "plate": "LRT4B56", "line": None, "dvr_serial": "DVR-0002", "camera_count": 2,
        "cameras": [{"number": 1, "role": "interior"}, {"number": 2, "role": "front"}],
    }


# ---- events history --------------------------------------------------------------------
def seed_events(db: sqlite3.Connection) -> None:
    add_event(db, "ev-1", "101", "harsh_braking", at(2025, 7, 1, 8, 12))
    add_ack(db, "ev-1", "Called the driver", "maria", at(2025, 7, 1, 8, 17), NOTE)
    add_ack(db, "ev-1", EVIL, "joao", at(2025, 7, 1, 8, 45))
    add_event(db, "ev-2", "102", "overspeed", at(2025, 7, 2, 23, 59), value=72.0, threshold=60.0)
    add_event(db, "ev-3", "101", "power_loss", at(2025, 7, 3, 0, 0), lat=None, lon=None, value=None, threshold=None)
    add_event(db, "ev-0", "101", "sharp_turn", at(2025, 6, 30, 23, 59))  # before the period


NOTE = "Driver says a <car> cut in;\nticket 4711"


# covers DT-17, DT-18
def test_events_are_read_with_their_trail_and_written_as_csv(db: sqlite3.Connection) -> None:
    seed_events(db)
    period = period_between(dt.date(2025, 7, 1), dt.date(2025, 7, 2), ZONE)  # the 2nd included up to 23:59:59
    history = load_events(db, period)
    assert [e.event_id for e in history.events] == ["ev-1", "ev-2"]
    assert history.events[0].trail == (
        HandlingStep("Called the driver", "maria", at(2025, 7, 1, 8, 17), NOTE),
        HandlingStep(EVIL, "joao", at(2025, 7, 1, 8, 45)),
    )
    assert load_events(db, period, "102").events[0].event_id == "ev-2"
    rows = list(csv.DictReader(io.StringIO(events_csv(history))))
    assert rows[0]["local_time"] == "2025-07-01 08:12:00" and rows[0]["handled"] == "yes"
    assert rows[0]["handling_trail"] == f"2025-07-01 08:17:00 maria: Called the driver | 2025-07-01 08:45:00 joao: {EVIL}"
    assert rows[0]["handling_notes"] == "2025-07-01 08:17:00 maria: Driver says a <car> cut in; ticket 4711"
    assert rows[1]["handled"] == "no" and rows[1]["unit"] == "km/h" and rows[1]["value"] == "72.00"
    assert rows[1]["handling_notes"] == ""


# covers DT-16, DT-17, DT-18
def test_events_html_has_the_chart_legend_and_escaped_trail(db: sqlite3.Connection) -> None:
    seed_events(db)
    history = load_events(db, period_between(dt.date(2025, 7, 1), dt.date(2025, 7, 3), ZONE))
    page = events_html(history, company="Viação <Teste>", generated_at=GENERATED)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    chart = page[page.index("<svg"):page.index("</svg>")]
    assert chart.count("<rect") == 3  # one bar segment per (day, type) present
    assert ">07-01<" in chart and ">07-02<" in chart and ">07-03<" in chart
    assert "Harsh braking (1)" in page and "Overspeed (1)" in page and "Power loss (1)" in page
    assert "<b>maria</b> — Called the driver<br><span class=\"note\">Note: Driver says a &lt;car&gt; cut in;\nticket 4711</span>" in page
    assert "<b>joao</b> — " + html.escape(EVIL) + "</li>" in page  # no note, no note line
    assert "<th>Handling: action, user, date and time, note</th>" in page
    assert "<script>" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;quoted&quot;" in page
    assert "Viação &lt;Teste&gt;" in page
    assert 'class="open">Not handled' in page
    assert not re.search(r"https?://", page)


# covers DT-18
def test_an_empty_events_period_says_so(db: sqlite3.Connection) -> None:
    history = EventHistory(period_between(dt.date(2025, 1, 1), dt.date(2025, 1, 1), ZONE), "101", ())
    page = events_html(history, company="x", generated_at=GENERATED)
    assert "No events recorded for vehicle 101 in this period." in page and "<svg" not in page


# ---- route -----------------------------------------------------------------------------
# covers DT-19
def test_route_geojson_is_lon_lat_with_per_point_times(db: sqlite3.Connection) -> None:
    start = at(2025, 7, 1, 8, 0)
    add_track(db, "101", start, 5)
    add_track(db, "102", start, 3)  # another bus, not in this route
    db.execute("INSERT INTO vehicle_positions (vehicle, ts, lat, lon) VALUES ('101', ?, NULL, NULL)", (start + 15,))
    seed_events(db)
    route = load_route(db, "101", period_between(dt.date(2025, 7, 1), dt.date(2025, 7, 3), ZONE))
    document = json.loads(route_geojson(route))
    assert document["type"] == "FeatureCollection"
    track, *events = document["features"]
    assert track["geometry"]["type"] == "LineString"
    coordinates = track["geometry"]["coordinates"]
    assert coordinates[0] == [-43.20, -22.90] and len(coordinates) == 5  # [lon, lat]; the fix-less row skipped
    times = [dt.datetime.fromisoformat(t) for t in track["properties"]["coordTimes"]]
    assert len(times) == 5 and times[0] == dt.datetime(2025, 7, 1, 8, 0, tzinfo=ZONE) and times == sorted(times)
    assert track["properties"]["coordTimes"][0] == "2025-07-01T08:00:00-03:00"
    assert [e["properties"]["id"] for e in events] == ["ev-1", "ev-3"]
    assert events[0]["geometry"] == {"type": "Point", "coordinates": [-43.1, -22.9]}
    assert events[0]["properties"]["trail"] == [
        {"action": "Called the driver", "by": "maria", "at": "2025-07-01T08:17:00-03:00", "note": NOTE},
        {"action": EVIL, "by": "joao", "at": "2025-07-01T08:45:00-03:00"},
    ]
    assert events[1]["geometry"] is None  # no position fix
    assert route.distance_km == pytest.approx(4 * math.hypot(0.11119, 0.20483), abs=0.002)  # 4 steps NE


def track_data(page: str) -> list[list[Any]]:
    found = re.search(r'<script type="application/json" id="track-data">(.*?)</script>', page, re.S)
    assert found is not None
    data: list[list[Any]] = json.loads(found.group(1))
    return data


# covers DT-19
def test_route_html_draws_the_track_with_a_slider_and_no_remote_assets(db: sqlite3.Connection) -> None:
    add_track(db, "101", at(2025, 7, 1, 8, 0), 30)
    seed_events(db)
    route = load_route(db, "101", period_between(dt.date(2025, 7, 1), dt.date(2025, 7, 1), ZONE))
    page = route_html(route, company="Viação", plate="KXY1A23", generated_at=GENERATED)
    assert '<input id="slider" type="range" min="0" max="29"' in page
    assert "Route replay – vehicle 101 (KXY1A23)" in page
    assert '<polyline points="' in page and 'id="cursor"' in page and "addEventListener('input'" in page
    data = track_data(page)
    assert len(data) == 30 and data[0][2:] == ["2025-07-01 08:00:00", 30.0, -22.9, -43.2]
    assert "&lt;script&gt;alert" in page and "<script>alert" not in page
    assert not re.search(r"https?://", page) and "<link" not in page and " src=" not in page


# covers DT-19
def test_route_html_keeps_distances_true_east_and_north() -> None:
    lat, d = -22.9, 0.01
    east = -43.2 + d / math.cos(math.radians(lat))
    points = (TrackPoint(0, lat, -43.2, None, None), TrackPoint(10, lat, east, None, None),
              TrackPoint(20, lat + d, east, None, None))
    period = period_between(dt.datetime(1970, 1, 1), dt.datetime(1970, 1, 2), dt.UTC)
    data = track_data(route_html(Route("1", period, points, ()), company="x", plate=None, generated_at=GENERATED))
    east_px, north_px = abs(data[1][0] - data[0][0]), abs(data[2][1] - data[1][1])
    assert east_px == pytest.approx(north_px, rel=0.01) and data[2][1] < data[1][1]  # north is up


# covers DT-19
def test_a_long_route_is_thinned_for_the_slider_and_an_empty_one_says_so() -> None:
    period = period_between(dt.datetime(1970, 1, 1), dt.datetime(1970, 1, 2), dt.UTC)
    points = tuple(TrackPoint(i, -22.9 + i * 1e-6, -43.2, 20.0, None) for i in range(20_001))
    page = route_html(Route("1", period, points, ()), company="x", plate=None, generated_at=GENERATED)
    data = track_data(page)
    assert len(data) < 20_001 and data[-1][4] == pytest.approx(points[-1].lat)
    assert f"steps through {len(data)} of the 20001 positions" in page
    empty = route_html(Route("1", period, (), ()), company="x", plate="P1", generated_at=GENERATED)
    assert "No positions recorded for vehicle 1 (P1) in this period." in empty and "<svg" not in empty
    assert json.loads(route_geojson(Route("1", period, (), ()))) == {"type": "FeatureCollection", "features": []}


# ---- periods ---------------------------------------------------------------------------
# covers DT-18, DT-19
def test_periods_from_what_an_operator_types() -> None:
    whole_day = period_between(parse_moment("2025-07-01"), parse_moment("2025-07-01"), ZONE)
    assert whole_day.start == dt.datetime(2025, 7, 1, tzinfo=ZONE)
    assert whole_day.end == dt.datetime(2025, 7, 2, tzinfo=ZONE)
    naive = period_between(parse_moment("2025-07-01T08:30"), parse_moment("2025-07-01T12:00:00+00:00"), ZONE)
    assert naive.start_epoch == at(2025, 7, 1, 8, 30) and naive.end == dt.datetime(2025, 7, 1, 12, tzinfo=dt.UTC)
    with pytest.raises(ValueError, match="not an ISO date"):
        parse_moment("yesterday")
    with pytest.raises(ReportError, match="the period is empty"):
        period_between(parse_moment("2025-07-02"), parse_moment("2025-07-01"), ZONE)


# ---- the command line ------------------------------------------------------------------
# covers DT-15, DT-18, DT-19, DT-03
def test_report_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_fleet_config(tmp_path, FLEET)
    store = Store.open(tmp_path / "data")
    seed_events(store.db)
    add_track(store.db, "101", at(2025, 7, 1, 8, 0), 4)
    store.db.execute("INSERT INTO dvr_syncs (vehicle, started_at, finished_at, status) VALUES ('101', ?, ?, 'ok')",
                     (at(2025, 6, 30, 8, 0), at(2025, 6, 30, 8, 1)))
    store.close()
    c = ["-c", str(path)]

    assert main(["report", "equipment", *c]) == 0
    assert capsys.readouterr().out.splitlines()[2] == "101,KXY1A23,110,DVR-0001,3,1 2 3,1=interior; 2=front; 3=door"
    assert main(["report", "equipment", "--format", "json", *c]) == 0
    assert json.loads(capsys.readouterr().out)[0]["order_number"] == "9"

    out = tmp_path / "events.html"
    assert main(["report", "events", *c, "--from", "2025-07-01", "--to", "2025-07-03", "--format", "html",
                 "-o", str(out)]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {out}: 3 events (1 handled)")
    assert "<svg" in out.read_text(encoding="utf-8")
    assert main(["report", "events", *c, "--from", "2025-07-01", "--to", "2025-07-03", "--vehicle", "102"]) == 0
    assert [r["event_id"] for r in csv.DictReader(io.StringIO(capsys.readouterr().out))] == ["ev-2"]

    assert main(["report", "route", "101", *c, "--from", "2025-07-01T07:00", "--to", "2025-07-01T09:00"]) == 0
    features = json.loads(capsys.readouterr().out)["features"]
    assert len(features[0]["geometry"]["coordinates"]) == 4 and features[1]["properties"]["id"] == "ev-1"
    assert main(["report", "route", "101", *c, "--from", "2025-07-01", "--to", "2025-07-01", "--format", "html"]) == 0
    assert 'type="range"' in capsys.readouterr().out

    assert main(["report", "compliance", *c, "--date", "2025-07-01"]) == 0
    text = capsys.readouterr().out
    assert "Monitored: 1 of 3" in text and "NOT COMPLIANT: 2 more vehicle(s)" in text
    assert main(["report", "compliance", *c, "--date", "2010-01-31", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["required_vehicles"] == 2


# covers DT-03, DT-19
def test_report_commands_refuse_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_fleet_config(tmp_path, FLEET)
    assert main(["report", "route", "999", "-c", str(path), "--from", "2025-07-01", "--to", "2025-07-01"]) == 1
    assert "vehicle '999' is not in fleet.vehicles (known: 9, 101, 102)" in capsys.readouterr().err
    assert main(["report", "events", "-c", str(path), "--from", "2025-07-02", "--to", "2025-07-01"]) == 1
    assert "the period is empty" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["report", "events", "-c", str(path), "--from", "last week", "--to", "2025-07-01"])
    assert exit_.value.code == 2 and "not an ISO date" in capsys.readouterr().err

    bare = tmp_path / "bare.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    del data["fleet"]
    bare.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    for command in (["equipment"], ["compliance"], ["events", "--from", "2025-07-01", "--to", "2025-07-01"]):
        assert main(["report", *command, "-c", str(bare)]) == 1
        assert "error: this config has no `fleet` section" in capsys.readouterr().err
