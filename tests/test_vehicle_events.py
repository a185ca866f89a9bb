"""The read side and handling trail of sensor events: ``guarita.vehicle_events``, the CLI and the REST API.

Events come from a real telemetry ingest into a real SQLite store; the CLI runs in-process
through ``guarita.cli.main``; the API is served by aiohttp on 127.0.0.1 with its roles, and
schemathesis checks it against its OpenAPI document.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema
import pytest
from aiohttp import web
from harness import FakeClock
from hypothesis import HealthCheck, Phase, given, settings

from guarita import audit
from guarita.web.api_http import API_CLOCK, API_CONFIG, API_STORE, json_errors
from guarita.web.api_openapi import openapi_document
from guarita.web.api_vehicle_events import VEHICLE_EVENT_OPERATIONS, add_vehicle_event_routes
from guarita.web.api import OPERATIONS
from guarita.cli.main import main
from guarita.config import ApiRole, GuaritaConfig
from guarita.metrics import Metrics
from guarita.outbox import Outbox
from guarita.quarantine import Quarantine
from guarita.store import DB_FILE, MIGRATIONS, Store
from guarita.telemetry import TelemetryIngest, parse_sample
from guarita.vehicle_events import (
    MAX_NOTE_CHARS,
    UnknownVehicleEvent,
    VehicleEventRefusal,
    ack_event,
    get_event,
    list_events,
)
from guarita.web.server import make_web_app, serve_web

ROOT = Path(__file__).resolve().parents[1]
T0 = 1_782_824_400.0  # 2026-06-30T13:00:00Z (10:00 in Rio)
NOW = datetime(2026, 6, 30, 14, 0, tzinfo=UTC)
HOLDERS: dict[str, tuple[ApiRole, str]] = {
    "alice": (ApiRole.ADMIN, secrets.token_urlsafe(24)),
    "otto": (ApiRole.OPERATOR, secrets.token_urlsafe(24)),
    "audrey": (ApiRole.AUDITOR, secrets.token_urlsafe(24)),
    "vera": (ApiRole.VIEWER, secrets.token_urlsafe(24)),
}
CONFIG_YAML = """\
provider: {{id: acme, name: ACME Transportes, kind: bus_operator}}
storage: {{data_dir: data}}
programs:
{programs}
fleet:
  vehicles:
    "10234": {{plate: KXY1A23, line: "232"}}
    "10235": {{plate: KXY1A24}}
  telemetry:
    thresholds: {{line_speed_limits_kmh: {{"232": 60}}}}
"""
DETRO = "  detro: {uplink: {host: 127.0.0.1, port: 1883}}"


def config_data(data_dir: Path, *, detro: bool = True) -> dict[str, Any]:
    return {
        "provider": {"id": "acme", "name": "ACME Transportes", "kind": "bus_operator"},
        "storage": {"data_dir": str(data_dir)},
        "programs": {"detro": {"uplink": {"host": "127.0.0.1"}}} if detro else {},
        "fleet": {"vehicles": {"10234": {"plate": "KXY1A23", "line": "232"}, "10235": {"plate": "KXY1A24"}},
                  "telemetry": {"thresholds": {"line_speed_limits_kmh": {"232": 60}}}},
        "web": {"tokens": {name: {"role": role.value, "sha256": hashlib.sha256(token.encode()).hexdigest()}
                           for name, (role, token) in HOLDERS.items()}},
    }


def sample(t: float, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "ts": T0 + t, "lat": -22.9068, "lon": -43.1729, "speed_kmh": 40.0, "heading": 90.0, "odometer_km": 1000.0,
        "rpm": 1500.0, "accel_long_mps2": 0.3, "accel_lat_mps2": 0.2, "main_power": True,
    }
    base.update(fields)
    return base


def ms(t: float) -> int:
    return round((T0 + t) * 1000)


BRAKE = f"10235-harsh_braking-{ms(6)}"
SPEED = f"10234-overspeed-{ms(20)}"
POWER = f"10235-power_loss-{ms(40)}"


@dataclass
class Fleet:
    config: GuaritaConfig
    store: Store
    outbox: Outbox
    clock: FakeClock

    def acks(self, event: Any) -> Any:
        return ack_event(self.store, self.outbox, self.config, event, "called the driver", "ana", self.clock)


def seed_events(config: GuaritaConfig, store: Store, outbox: Outbox) -> None:
    """Three events: a harsh braking at 6 s (peak -3.4), an overspeed at 20 s, a power loss at 40 s."""
    ingest = TelemetryIngest(config, store, outbox, Quarantine(Metrics()), FakeClock(NOW))
    ingest.ingest("10235", [
        parse_sample(sample(6, accel_long_mps2=-2.9)), parse_sample(sample(7, accel_long_mps2=-3.4)),
        parse_sample(sample(40, main_power=False)),
    ], "mqtt")
    ingest.ingest("10234", [parse_sample(sample(20, speed_kmh=72.5))], "dvr")


def make_fleet(data_dir: Path, *, detro: bool = True) -> Fleet:
    config = GuaritaConfig.model_validate(config_data(data_dir, detro=detro))
    store = Store.open(data_dir)
    outbox = Outbox(store, quota_bytes=10_000_000, warn_ratio=0.8, delivered_keep_s=3600, clock=lambda: NOW.timestamp())
    seed_events(config, store, outbox)
    return Fleet(config, store, outbox, FakeClock(NOW))


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    made = make_fleet(tmp_path / "data")
    yield made
    made.store.close()


# ---- the module ---------------------------------------------------------------------------
# covers DT-17
def test_an_ack_is_kept_audited_and_forwarded_to_detro(fleet: Fleet) -> None:
    queued_before = fleet.outbox.depth("detro")
    first = fleet.acks(BRAKE)
    fleet.clock.advance(minutes=5)
    second = ack_event(fleet.store, fleet.outbox, fleet.config, BRAKE, "  driver retrained ", "bia", fleet.clock,
                       actor="api-console")
    assert (first.seq, first.action, first.by, first.at) == (1, "called the driver", "ana", NOW)
    assert (second.seq, second.action, second.by) == (2, "driver retrained", "bia")
    event = get_event(fleet.store.db, BRAKE)
    assert event.acks == (first, second) and event.last_action == "driver retrained" and not event.is_open
    rows = fleet.store.db.execute("SELECT actor, action, subject, details FROM audit_log ORDER BY seq").fetchall()
    assert [(r[0], r[1], r[2]) for r in rows] == [("ana", "vehicle_event.ack", BRAKE),
                                                   ("api-console", "vehicle_event.ack", BRAKE)]
    assert json.loads(rows[1][3]) == {"vehicle": "10235", "type": "harsh_braking", "seq": 2,
                                      "action": "driver retrained", "by": "bia"}
    assert audit.verify(fleet.store.db) == (2, None)
    sent = [m for m in fleet.outbox.pending("detro", 0, 100) if b"vehicle_event_ack" in m.payload]
    assert fleet.outbox.depth("detro") == queued_before + 2
    assert {m.topic for m in sent} == {"detro/v1/acme/vehicles/10235/events"}
    schema = json.loads((ROOT / "docs" / "schemas" / "guarita.vehicle_event_ack.v1.json").read_text())
    checker = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    payloads = [json.loads(m.payload) for m in sent]
    for payload in payloads:
        checker.validate(payload)
    assert payloads[0] == {
        "schema": "guarita.vehicle_event_ack/1", "event_id": BRAKE, "provider": "acme", "vehicle": "10235",
        "type": "harsh_braking", "seq": 1, "action": "called the driver", "by": "ana", "at": "2026-06-30T14:00:00.000Z",
    }


# covers DT-17
def test_a_note_is_kept_audited_listed_and_forwarded_to_detro_only_when_given(fleet: Fleet) -> None:
    note = "driver says a car cut in;\nticket 4711 — ônibus parado"
    noted = ack_event(fleet.store, fleet.outbox, fleet.config, BRAKE, "called the driver", "ana", fleet.clock,
                      note=f"  {note} ")
    plain = ack_event(fleet.store, fleet.outbox, fleet.config, SPEED, "radioed the driver", "bia", fleet.clock)
    assert (noted.note, plain.note) == (note, None)
    assert get_event(fleet.store.db, BRAKE).acks == (noted,) and get_event(fleet.store.db, SPEED).acks == (plain,)
    details = [json.loads(r[0]) for r in fleet.store.db.execute("SELECT details FROM audit_log ORDER BY seq")]
    assert details[0]["note"] == note and "note" not in details[1]
    assert audit.verify(fleet.store.db) == (2, None)
    schema = json.loads((ROOT / "docs" / "schemas" / "guarita.vehicle_event_ack.v1.json").read_text())
    checker = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    sent = {p["event_id"]: p for p in (json.loads(m.payload) for m in fleet.outbox.pending("detro", 0, 100))
            if p["schema"] == "guarita.vehicle_event_ack/1"}
    for payload in sent.values():
        checker.validate(payload)
    assert sent[BRAKE]["note"] == note and sent[BRAKE]["action"] == "called the driver"
    assert "note" not in sent[SPEED]
    longest = ack_event(fleet.store, fleet.outbox, fleet.config, SPEED, "x", "ana", fleet.clock,
                        note="n" * MAX_NOTE_CHARS)
    (last,) = [json.loads(m.payload) for m in fleet.outbox.pending("detro", 0, 100)
               if json.loads(m.payload).get("seq") == 2]
    checker.validate(last)  # the schema's maxLength is the code's cap
    assert longest.note == last["note"]


# covers DT-17
@pytest.mark.parametrize(("note", "reason"), [("n" * (MAX_NOTE_CHARS + 1), f"longer than {MAX_NOTE_CHARS}"),
                                               (" \n\t", "--note")])
def test_a_too_long_or_blank_note_is_refused_and_nothing_is_written(fleet: Fleet, note: str, reason: str) -> None:
    depth = fleet.outbox.depth("detro")
    with pytest.raises(VehicleEventRefusal, match=reason):
        ack_event(fleet.store, fleet.outbox, fleet.config, BRAKE, "called the driver", "ana", fleet.clock, note=note)
    assert fleet.store.db.execute("SELECT COUNT(*) FROM vehicle_event_acks").fetchone()[0] == 0
    assert fleet.store.db.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0] == 0
    assert fleet.outbox.depth("detro") == depth and get_event(fleet.store.db, BRAKE).is_open


# covers DT-17, PB-01
def test_acks_recorded_before_notes_existed_read_back_without_one(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    with sqlite3.connect(data / DB_FILE) as old:  # a store as the release before notes left it
        for script in MIGRATIONS[:-1]:
            old.executescript(script)
        old.execute(f"PRAGMA user_version = {len(MIGRATIONS) - 1}")
        old.execute("INSERT INTO vehicle_events (id, vehicle, type, ts, source, details, created_at) "
                    "VALUES (?, '10235', 'harsh_braking', ?, 'mqtt', '{}', ?)", (BRAKE, T0 + 6, T0 + 6))
        old.execute("INSERT INTO vehicle_event_acks (event_id, action, acked_by, acked_at) "
                    "VALUES (?, 'called the driver', 'ana', ?)", (BRAKE, NOW.timestamp()))
    old.close()
    store = Store.open(data)
    try:
        assert "note" in [row[1] for row in store.db.execute("PRAGMA table_info(vehicle_event_acks)")]
        (ack,) = get_event(store.db, BRAKE).acks
        assert (ack.seq, ack.action, ack.by, ack.at, ack.note) == (1, "called the driver", "ana", NOW, None)
    finally:
        store.close()


# covers DT-17, BH-07
@pytest.mark.parametrize("by", ["Ana Maria Souza", "ana.souza@acme.com.br", "Souza, Ana", "Ana\tSouza"])
def test_the_trail_names_a_login_never_a_full_name(fleet: Fleet, by: str) -> None:
    depth = fleet.outbox.depth("detro")
    with pytest.raises(VehicleEventRefusal, match="login") as refused:
        ack_event(fleet.store, fleet.outbox, fleet.config, BRAKE, "called the driver", by, fleet.clock)
    assert "--by" in str(refused.value)
    assert fleet.outbox.depth("detro") == depth, "nothing about it went to DETRO"
    assert fleet.store.db.execute("SELECT COUNT(*) FROM vehicle_event_acks").fetchone()[0] == 0
    ack_event(fleet.store, fleet.outbox, fleet.config, BRAKE, "called the driver", " ana.souza ", fleet.clock)
    (sent,) = [json.loads(m.payload) for m in fleet.outbox.pending("detro", 0, 100) if b"vehicle_event_ack" in m.payload]
    assert sent["by"] == "ana.souza" and "Souza" not in json.dumps(sent)


# covers DT-16, DT-17
def test_open_events_leave_out_acked_ones_and_filters_apply(fleet: Fleet) -> None:
    everything = list_events(fleet.store.db)
    assert [e.id for e in everything] == [POWER, SPEED, BRAKE]  # newest first
    brake = everything[2]
    assert (brake.value, brake.threshold, brake.unit, brake.source, brake.line) == (-3.4, -2.5, "m/s2", "mqtt", None)
    assert brake.ts == datetime.fromtimestamp(T0 + 6, UTC) and brake.is_open and brake.last_action is None
    assert (everything[1].line, everything[1].threshold, everything[1].source) == ("232", 60.0, "dvr")
    fleet.acks(BRAKE)
    assert [e.id for e in list_events(fleet.store.db, open_only=True)] == [POWER, SPEED]
    assert [e.id for e in list_events(fleet.store.db, vehicle="10235")] == [POWER, BRAKE]
    assert [e.id for e in list_events(fleet.store.db, open_only=True, vehicle="10235")] == [POWER]
    middle = list_events(fleet.store.db, since=datetime.fromtimestamp(T0 + 10, UTC),
                         until=datetime.fromtimestamp(T0 + 40, UTC))
    assert [e.id for e in middle] == [SPEED]
    assert [e.id for e in list_events(fleet.store.db, limit=1)] == [POWER]


# covers DT-17
def test_an_unknown_event_or_a_blank_action_is_refused_and_nothing_is_written(fleet: Fleet) -> None:
    depth = fleet.outbox.depth("detro")
    with pytest.raises(UnknownVehicleEvent, match="no vehicle event 'nope'"):
        fleet.acks("nope")
    with pytest.raises(VehicleEventRefusal, match="--action"):
        ack_event(fleet.store, fleet.outbox, fleet.config, BRAKE, "   ", "ana", fleet.clock)
    with pytest.raises(VehicleEventRefusal, match="--by"):
        ack_event(fleet.store, fleet.outbox, fleet.config, BRAKE, "called", "", fleet.clock)
    with pytest.raises(VehicleEventRefusal, match="longer than 500"):
        ack_event(fleet.store, fleet.outbox, fleet.config, BRAKE, "x" * 501, "ana", fleet.clock)
    with pytest.raises(UnknownVehicleEvent):
        get_event(fleet.store.db, "nope")
    assert fleet.store.db.execute("SELECT COUNT(*) FROM vehicle_event_acks").fetchone()[0] == 0
    assert fleet.store.db.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0] == 0
    assert fleet.outbox.depth("detro") == depth


# covers DT-17
def test_without_detro_the_ack_is_kept_and_audited_locally(tmp_path: Path) -> None:
    local = make_fleet(tmp_path / "data", detro=False)
    try:
        assert local.acks(SPEED).seq == 1
        assert local.outbox.depth("detro") == 0
        assert local.store.db.execute("SELECT action FROM audit_log").fetchall() == [("vehicle_event.ack",)]
    finally:
        local.store.close()


# ---- the CLI ------------------------------------------------------------------------------
@pytest.fixture
def cli_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A config file with seeded events; undoes the root logging ``main()`` installs."""
    monkeypatch.delenv("GUARITA_CONFIG", raising=False)
    monkeypatch.delenv("GUARITA_LOG_FORMAT", raising=False)
    path = tmp_path / "guarita.yaml"
    path.write_text(CONFIG_YAML.format(programs=DETRO))
    config = GuaritaConfig.model_validate(config_data(tmp_path / "data"))
    store = Store.open(tmp_path / "data")
    seed_events(config, store, Outbox(store, quota_bytes=10**7, warn_ratio=0.8, delivered_keep_s=60,
                                      clock=lambda: NOW.timestamp()))
    store.close()
    root = logging.getLogger()
    level = root.level
    yield path
    for handler in [h for h in root.handlers if type(h) is logging.StreamHandler]:
        root.removeHandler(handler)
    root.setLevel(level)


# covers DT-16, DT-17
def test_the_cli_lists_events_and_records_their_handling(cli_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["events", "list", "-c", str(cli_config)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:4] == ["ID", "VEHICLE", "TYPE", "TIME"] and "America/Sao_Paulo" in table[0]
    assert [line.split()[0] for line in table[1:]] == [POWER, SPEED, BRAKE]
    assert "2026-06-30 10:00:06" in table[3] and "-3.4/-2.5 m/s2" in table[3] and "open" in table[3]
    assert "72.5/60 km/h" in table[2]

    assert main(["events", "ack", BRAKE, "--action", "called the driver", "--by", "ana", "-c", str(cli_config)]) == 0
    assert capsys.readouterr().out.startswith(f"event {BRAKE}: ack 1 by ana at ")
    assert main(["events", "list", "--open", "--json", "-c", str(cli_config)]) == 0
    assert [e["id"] for e in json.loads(capsys.readouterr().out)] == [POWER, SPEED]
    assert main(["events", "list", "--vehicle", "10235", "--json", "-c", str(cli_config)]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed[1]["status"] == "acked" and listed[1]["acks"][0]["action"] == "called the driver"
    assert main(["events", "list", "-c", str(cli_config)]) == 0
    assert "acked (1)  called the driver (ana)\n" in capsys.readouterr().out
    assert listed[1]["acks"][0]["note"] is None

    assert main(["events", "ack", SPEED, "--action", "radioed the driver", "--by", "bia", "--note",
                 "says the limit sign is hidden\nby a tree", "--json", "-c", str(cli_config)]) == 0
    recorded = json.loads(capsys.readouterr().out)
    assert recorded["note"] == "says the limit sign is hidden\nby a tree" and recorded["forwarded"] is True
    assert main(["events", "list", "--vehicle", "10234", "--json", "-c", str(cli_config)]) == 0
    (speeding,) = json.loads(capsys.readouterr().out)
    assert [(a["action"], a["by"], a["note"]) for a in speeding["acks"]] == [
        ("radioed the driver", "bia", "says the limit sign is hidden\nby a tree")]
    assert main(["events", "list", "-c", str(cli_config)]) == 0
    assert "radioed the driver (bia) [note: says the limit sign is hidden by a tree]" in capsys.readouterr().out
    assert main(["events", "list", "--open", "--vehicle", "99999", "-c", str(cli_config)]) == 0
    assert capsys.readouterr().out.strip() == "no open events"


# covers DT-17
def test_the_cli_refuses_an_unknown_event_or_a_blank_action_with_exit_1(
    cli_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["events", "ack", "nope", "--action", "x", "--by", "ana", "-c", str(cli_config)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "no vehicle event 'nope'" in captured.err and "Traceback" not in captured.err
    assert main(["events", "ack", BRAKE, "--action", " ", "--by", "ana", "-c", str(cli_config)]) == 1
    assert "--action" in capsys.readouterr().err
    assert main(["events", "ack", BRAKE, "--action", "x", "--by", "ana", "--note", "n" * 1001,
                 "-c", str(cli_config)]) == 1
    assert "note is longer than 1000 characters" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main(["events", "ack", BRAKE, "--action", "x", "-c", str(cli_config)])
    assert usage.value.code == 2
    assert main(["events", "ack", BRAKE, "--action", "x", "--by", "ana", "--json", "-c", str(cli_config)]) == 0
    assert json.loads(capsys.readouterr().out)["forwarded"] is True


# ---- the REST API ---------------------------------------------------------------------------
def api_app(fleet: Fleet) -> web.Application:
    api = web.Application(middlewares=[json_errors])
    api[API_CONFIG] = fleet.config
    api[API_STORE] = fleet.store
    api[API_CLOCK] = fleet.clock
    add_vehicle_event_routes(api, fleet.outbox)
    return make_web_app(lambda: {"status": "ok"}, Metrics(), api)


@asynccontextmanager
async def serving(fleet: Fleet) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    stop = asyncio.Event()
    bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    server = asyncio.create_task(serve_web(api_app(fleet), "127.0.0.1", 0, stop, bound))
    try:
        port = await asyncio.wait_for(bound, 10)
        async with aiohttp.ClientSession() as session:
            yield f"http://127.0.0.1:{port}/api/v1", session
    finally:
        stop.set()
        await server


def bearer(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {HOLDERS[who][1]}"}


# covers DT-16, DT-17
async def test_the_api_lists_for_every_role_and_acks_for_admin_and_operator(fleet: Fleet) -> None:
    async with serving(fleet) as (base, http):
        for who in HOLDERS:
            async with http.get(f"{base}/vehicle-events", params={"open": "true"}, headers=bearer(who)) as answer:
                assert answer.status == 200, who
                assert [e["id"] for e in (await answer.json())["events"]] == [POWER, SPEED, BRAKE]
        async with http.get(f"{base}/vehicle-events") as answer:
            assert answer.status == 401
        for who in ("audrey", "vera"):
            async with http.post(f"{base}/vehicle-events/{BRAKE}/ack", json={"action": "x", "by": "y"},
                                 headers=bearer(who)) as answer:
                assert answer.status == 403 and HOLDERS[who][0].value in (await answer.json())["error"]
        assert fleet.store.db.execute("SELECT COUNT(*) FROM vehicle_event_acks").fetchone()[0] == 0
        async with http.post(f"{base}/vehicle-events/{BRAKE}/ack", json={"action": "called the driver", "by": "ana"},
                             headers=bearer("otto")) as answer:
            assert answer.status == 201
            done = await answer.json()
        assert done == {"event": BRAKE, "forwarded": True, "ack": {
            "seq": 1, "action": "called the driver", "by": "ana", "at": "2026-06-30T14:00:00+00:00", "note": None}}
        assert fleet.store.db.execute("SELECT actor, subject FROM audit_log").fetchall() == [("otto", BRAKE)]
        async with http.get(f"{base}/vehicle-events", params={"open": "true", "vehicle": "10235"},
                            headers=bearer("vera")) as answer:
            assert [e["id"] for e in (await answer.json())["events"]] == [POWER]
        async with http.get(f"{base}/vehicle-events", params={"vehicle": "10235", "limit": "1"},
                            headers=bearer("vera")) as answer:
            assert [(e["id"], e["status"]) for e in (await answer.json())["events"]] == [(POWER, "open")]
        async with http.post(f"{base}/vehicle-events/nope-x-1/ack", json={"action": "x", "by": "y"},
                             headers=bearer("alice")) as answer:
            assert answer.status == 404 and "no vehicle event" in (await answer.json())["error"]
        for params, field in (({"open": "yes"}, "open"), ({"limit": "0"}, "limit"), ({"vehicle": "a/b"}, "vehicle"),
                              ({"opened": "true"}, "opened")):
            async with http.get(f"{base}/vehicle-events", params=params, headers=bearer("vera")) as answer:
                body = await answer.json()
                assert answer.status == 400 and body["fields"][0]["field"] == field
        async with http.post(f"{base}/vehicle-events/{BRAKE}/ack", json={"action": " ", "by": "y", "extra": 1},
                             headers=bearer("alice")) as answer:
            fields = {f["field"] for f in (await answer.json())["fields"]}
            assert answer.status == 400 and fields == {"action", "extra"}
        async with http.post(f"{base}/vehicle-events/{SPEED}/ack", json={"action": "x", "by": "Ana Souza"},
                             headers=bearer("alice")) as answer:  # a full name is refused: DETRO gets logins only
            assert answer.status == 400 and {f["field"] for f in (await answer.json())["fields"]} == {"by"}
        for note in ("n" * 1001, " ", ""):
            async with http.post(f"{base}/vehicle-events/{SPEED}/ack", json={"action": "x", "by": "ana", "note": note},
                                 headers=bearer("alice")) as answer:
                assert answer.status == 400 and {f["field"] for f in (await answer.json())["fields"]} == {"note"}
        assert fleet.store.db.execute("SELECT COUNT(*) FROM vehicle_event_acks").fetchone()[0] == 1
        async with http.post(f"{base}/vehicle-events/{SPEED}/ack",
                             json={"action": "radioed the driver", "by": "bia", "note": "ticket 4711"},
                             headers=bearer("alice")) as answer:
            assert answer.status == 201 and (await answer.json())["ack"]["note"] == "ticket 4711"
        async with http.get(f"{base}/vehicle-events", params={"vehicle": "10234"}, headers=bearer("vera")) as answer:
            (speeding,) = (await answer.json())["events"]
        assert [(a["action"], a["by"], a["note"]) for a in speeding["acks"]] == [
            ("radioed the driver", "bia", "ticket 4711")]


# covers DT-16, DT-17
def test_the_operations_make_a_valid_openapi_document() -> None:
    schemathesis = pytest.importorskip("schemathesis")
    operations = [*OPERATIONS, *(op for op in VEHICLE_EVENT_OPERATIONS if op not in OPERATIONS)]
    document = openapi_document(operations, version="test")
    for schema in document["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)
    schemas = set(document["components"]["schemas"])
    assert {"VehicleEventsReport", "VehicleEventAckBody", "VehicleEventAckDone"} <= schemas
    ack = document["paths"]["/vehicle-events/{id}/ack"]["post"]
    assert {"400", "401", "403", "404", "409", "503"} <= set(ack["responses"])
    assert ack["parameters"][0]["in"] == "path" and ack["x-roles"] == ["admin", "operator"]
    assert document["paths"]["/vehicle-events"]["get"]["x-roles"] == ["admin", "operator", "auditor", "viewer"]
    loaded = schemathesis.openapi.from_dict(document)
    loaded.validate()
    assert len([result.ok() for result in loaded.get_all_operations()]) == len(operations)


@contextmanager
def server_in_a_thread(fleet: Fleet) -> Iterator[str]:
    """The API on 127.0.0.1 in its own thread and loop, for schemathesis's synchronous client."""
    app = api_app(fleet)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    bound: asyncio.Future[int] = loop.create_future()
    ready = threading.Event()
    bound.add_done_callback(lambda _: ready.set())
    thread = threading.Thread(target=loop.run_until_complete, args=(serve_web(app, "127.0.0.1", 0, stop, bound),))
    thread.start()
    try:
        assert ready.wait(15), "the server did not start"
        yield f"http://127.0.0.1:{bound.result()}/api/v1"
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(15)
        loop.close()


def exercise(strategy: Any, base: str, checks: list[Any], seen: set[int]) -> None:
    """Send generated cases as the admin; each answer must be what the document says."""

    @settings(max_examples=8, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def run(case: Any) -> None:
        response = case.call_and_validate(base_url=base, headers=bearer("alice"), checks=checks, timeout=10)
        seen.add(response.status_code)

    run()


# covers DT-16, DT-17
def test_schemathesis_finds_the_vehicle_event_routes_true_to_their_document(fleet: Fleet) -> None:
    schemathesis = pytest.importorskip("schemathesis")
    schema = schemathesis.openapi.from_dict(openapi_document(list(VEHICLE_EVENT_OPERATIONS), version="test"))
    checks = schemathesis.checks
    chosen = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
              checks.response_schema_conformance]
    seen: set[int] = set()
    with server_in_a_thread(fleet) as base:
        for result in schema.get_all_operations():
            operation = result.ok()
            exercise(operation.as_strategy(schemathesis.GenerationMode.POSITIVE), base, chosen, seen)
            exercise(operation.as_strategy(schemathesis.GenerationMode.NEGATIVE), base,
                     [*chosen, checks.negative_data_rejection], seen)
    assert 200 in seen and 404 in seen and 500 not in seen
    assert audit.verify(fleet.store.db)[1] is None


# covers DT-16
def test_list_events_honours_a_window_in_local_days(fleet: Fleet) -> None:
    day = datetime(2026, 6, 30, tzinfo=UTC)
    assert len(list_events(fleet.store.db, since=day, until=day + timedelta(days=1))) == 3
    assert list_events(fleet.store.db, since=day + timedelta(days=1)) == []
