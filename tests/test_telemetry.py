"""Onboard telemetry: samples, sensor events, storage, forwarding to DETRO, DVR files and the MQTT session.

Detection runs on hand-computed replays; storage on a real SQLite store; the MQTT session
against a real Mosquitto (Frigate's side) and a TLS uplink with a receiving centre,
including an uplink that is down while telemetry arrives.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from harness import FakeClock, Receiver, wait_for, write_config

from guarita.cli.main import main
from guarita.config import GuaritaConfig, ProgramName
from guarita.config_loader import load_config
from guarita.errors import OutboxFullError
from guarita.link_state import Backoff, LinkState
from guarita.local_time import local_zone
from guarita.metrics import Metrics
from guarita.mqtt import InboundMessage
from guarita.outbox import Outbox
from guarita.quarantine import Quarantine
from guarita.runtime import frigate_link_settings, status_topic, uplink_link_settings
from guarita.standin.frigate_mqtt import FrigateMqttStandin
from guarita.standin.mosquitto import MosquittoBroker
from guarita.standin.tls import TestPki
from guarita.store import Store
from guarita.telemetry import (
    BadSample,
    IngestResult,
    IngestSource,
    Sample,
    TelemetryError,
    TelemetryIngest,
    TelemetrySubscriber,
    TopicTemplate,
    UnknownVehicle,
    parse_payload,
    parse_sample,
    telemetry_link_settings,
)
from guarita.uplink import UplinkPublisher

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "docs" / "schemas"
T0 = 1_782_824_400.0  # 2026-06-30T13:00:00Z, a multiple of 10 s
NOW = datetime(2026, 6, 30, 14, 0, tzinfo=UTC)
FLEET: dict[str, Any] = {
    "vehicles": {"10234": {"plate": "KXY1A23", "line": "232"}, "10235": {"plate": "KXY1A24"}},
    "telemetry": {"forward_interval_s": 10, "thresholds": {"line_speed_limits_kmh": {"232": 60}}},
}
BUS_OPERATOR = {"id": "acme", "name": "ACME Transportes", "kind": "bus_operator"}


def sample(t: float, **fields: Any) -> dict[str, Any]:
    """A calm sample ``t`` seconds after T0 (nothing over any threshold), with ``fields`` changed."""
    base: dict[str, Any] = {
        "ts": T0 + t, "lat": -22.9068, "lon": -43.1729, "speed_kmh": 40.0, "heading": 90.0,
        "odometer_km": 10_000.0 + t / 100, "rpm": 1500.0, "accel_long_mps2": 0.3, "accel_lat_mps2": 0.2,
        "main_power": True,
    }
    base.update(fields)
    return base


def samples(*raw: dict[str, Any]) -> list[Sample]:
    return [parse_sample(item) for item in raw]


def make_config(data_dir: Path, *, detro: bool = True) -> GuaritaConfig:
    return GuaritaConfig.model_validate({
        "provider": BUS_OPERATOR,
        "storage": {"data_dir": str(data_dir)},
        "programs": {"detro": {"uplink": {"host": "127.0.0.1"}}} if detro else {},
        "fleet": FLEET,
    })


def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


@dataclass
class Rig:
    config: GuaritaConfig
    store: Store
    outbox: Outbox
    metrics: Metrics
    ingest: TelemetryIngest

    def events(self) -> list[tuple[str, str, float | None, float | None]]:
        rows = self.store.db.execute("SELECT id, type, value, threshold FROM vehicle_events ORDER BY ts, id")
        return [(str(r[0]), str(r[1]), r[2], r[3]) for r in rows]

    def queued(self) -> list[tuple[str, dict[str, Any]]]:
        return [(m.topic, json.loads(m.payload)) for m in self.outbox.pending("detro", 0, 10_000)]


def make_rig(data_dir: Path, *, detro: bool = True, quota_bytes: int = 10_000_000) -> Rig:
    config = make_config(data_dir, detro=detro)
    store = Store.open(data_dir)
    outbox = Outbox(
        store, quota_bytes=quota_bytes, warn_ratio=0.8, delivered_keep_s=3600, clock=lambda: NOW.timestamp()
    )
    metrics = Metrics()
    ingest = TelemetryIngest(config, store, outbox, Quarantine(metrics), FakeClock(NOW))
    return Rig(config, store, outbox, metrics, ingest)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = make_rig(tmp_path / "data")
    yield made
    made.store.close()


def ms(t: float) -> int:
    return round((T0 + t) * 1000)


# ---- samples ----------------------------------------------------------------------------
# covers DT-13, DT-22
def test_a_sample_takes_iso_or_epoch_time_and_keeps_unknown_fields() -> None:
    iso = parse_sample(sample(0, ts="2026-06-30T13:00:00.250Z", door_open=True, main_power=False))
    assert iso.ts == T0 + 0.25 and iso.epoch_ms == ms(0.25) and iso.main_power is False
    assert json.loads(iso.extra or "") == {"door_open": True}
    epoch = parse_sample(sample(0.25))
    assert epoch.ts == iso.ts and epoch.extra is None and epoch.main_power is True
    local = parse_sample(sample(0, ts="2026-06-30T10:00:00"), zone=local_zone("America/Sao_Paulo"))
    assert local.ts == T0  # a DVR clock without a zone is in fleet.timezone (Rio: UTC-3)
    no_power = sample(0)
    del no_power["main_power"]
    assert parse_sample(no_power).main_power is None
    batch = parse_payload(json.dumps([sample(0), sample(1)]).encode())
    assert [s.ts for s in batch] == [T0, T0 + 1]


BAD_SAMPLES: list[tuple[Any, str, str | None]] = [
    ({k: v for k, v in sample(0).items() if k != "lat"}, "missing_field", "lat"),
    (sample(0, speed_kmh="fast"), "wrong_type", "speed_kmh"),
    (sample(0, rpm=True), "wrong_type", "rpm"),
    (sample(0, lat=95.0), "bad_value", "lat"),
    (sample(0, speed_kmh=-1), "bad_value", "speed_kmh"),
    (sample(0, ts="yesterday"), "bad_value", "ts"),
    (sample(0, ts=12.0), "bad_value", "ts"),
    (sample(0, main_power="on"), "wrong_type", "main_power"),
    ([1, 2], "not_an_object", None),
]


# covers DT-13
@pytest.mark.parametrize(("data", "kind", "field"), BAD_SAMPLES, ids=lambda v: str(v)[:24])
def test_a_bad_sample_is_refused_naming_its_field(data: Any, kind: str, field: str | None) -> None:
    with pytest.raises(BadSample) as caught:
        parse_sample(data)
    assert caught.value.kind == kind and caught.value.field == field
    if field is not None:
        assert f"field {field!r}" in str(caught.value)


# covers DT-13
def test_a_bad_payload_names_the_sample_in_an_array() -> None:
    with pytest.raises(BadSample, match="not JSON"):
        parse_payload(b"{not json")
    with pytest.raises(BadSample, match="NaN"):
        parse_payload(b'{"ts": NaN}')
    with pytest.raises(BadSample, match=r"^sample 1: field 'heading'") as caught:
        parse_payload(json.dumps([sample(0), sample(1, heading=400)]).encode())
    assert caught.value.kind == "bad_value"


# ---- detection ----------------------------------------------------------------------------
# accel_long by second after T0; every other second is 0.3. Hand-computed with the defaults
# (harsh braking at or below -2.5 m/s², cooldown 10 s): an episode at 6 s (peak -3.4 at 7 s,
# -2.5 at 8 s still counts, -2.7 at 15 s is 7 s after 8 s: the same event), one at 30 s
# (15 s after 15 s: new; peak -4.1 at 31 s), -2.4 at 45 s is not harsh, one at 50 s (19 s
# after 31 s: new).
BRAKING = {5: -1.0, 6: -2.6, 7: -3.4, 8: -2.5, 9: -0.5, 15: -2.7, 30: -2.9, 31: -4.1, 45: -2.4, 50: -3.0}
BRAKING_EVENTS = [
    (f"10235-harsh_braking-{ms(6)}", "harsh_braking", -3.4, -2.5),
    (f"10235-harsh_braking-{ms(30)}", "harsh_braking", -4.1, -2.5),
    (f"10235-harsh_braking-{ms(50)}", "harsh_braking", -3.0, -2.5),
]


def braking_replay() -> list[Sample]:
    return samples(*(sample(t, accel_long_mps2=BRAKING.get(t, 0.3)) for t in range(60)))


# covers DT-13, DT-16
def test_a_braking_replay_gives_exactly_the_hand_computed_events(rig: Rig) -> None:
    result = rig.ingest.ingest("10235", braking_replay(), "mqtt")
    assert rig.events() == BRAKING_EVENTS
    assert list(result.new_events) == [e[0] for e in BRAKING_EVENTS]
    first = rig.store.db.execute("SELECT ts, speed_kmh, source, details FROM vehicle_events ORDER BY ts").fetchone()
    assert first[0] == T0 + 6 and first[1] == 40.0 and first[2] == "mqtt"
    assert json.loads(first[3])["peak_ts"] == T0 + 7 and json.loads(first[3])["last_ts"] == T0 + 15


# covers DT-13
def test_harsh_acceleration_and_sharp_turns_keep_their_peak(rig: Rig) -> None:
    rig.ingest.ingest("10235", samples(
        sample(0, accel_long_mps2=2.5), sample(1, accel_long_mps2=3.1), sample(2, accel_long_mps2=2.6),
        sample(20, accel_lat_mps2=-3.2), sample(21, accel_lat_mps2=3.5), sample(22, accel_lat_mps2=-2.9),
        sample(40, accel_lat_mps2=2.99),
    ), "mqtt")
    assert rig.events() == [
        (f"10235-harsh_acceleration-{ms(0)}", "harsh_acceleration", 3.1, 2.5),
        (f"10235-sharp_turn-{ms(20)}", "sharp_turn", 3.5, 3.0),
    ]


# covers DT-13
def test_overspeed_uses_the_line_limit_else_the_default(rig: Rig) -> None:
    ride = [sample(0, speed_kmh=60.0), sample(1, speed_kmh=70.0), sample(2, speed_kmh=75.5), sample(3, speed_kmh=81)]
    rig.ingest.ingest("10234", samples(*ride), "mqtt")  # line 232: 60 km/h
    rig.ingest.ingest("10235", samples(*ride), "mqtt")  # no line: 80 km/h
    assert rig.events() == [
        (f"10234-overspeed-{ms(1)}", "overspeed", 81.0, 60.0),
        (f"10235-overspeed-{ms(3)}", "overspeed", 81.0, 80.0),
    ]


# covers DT-22, DT-13
def test_power_loss_is_one_event_until_the_power_is_back(rig: Rig) -> None:
    power = {0: True, 1: True, 2: False, 3: False, 4: True, 6: False, 7: True, 30: False, 31: True, 60: False,
             200: False, 201: True}
    rig.ingest.ingest("10235", samples(*(sample(t, main_power=p) for t, p in power.items())), "mqtt")
    # 2 s: lost; back at 4 s and lost again at 6 s (3 s after 3 s): the same loss. 30 s: a new
    # one. 60 s: lost again and never back until 201 s: the sample at 200 s is the same loss.
    assert [e[0] for e in rig.events()] == [f"10235-power_loss-{ms(t)}" for t in (2, 30, 60)]
    assert {(e[2], e[3]) for e in rig.events()} == {(None, None)}
    details = json.loads(rig.store.db.execute(
        "SELECT details FROM vehicle_events WHERE id = ?", (f"10235-power_loss-{ms(60)}",)).fetchone()[0])
    assert details["last_ts"] == T0 + 200 and details["ended_ts"] == T0 + 201


# covers DT-13, DT-21
def test_samples_one_at_a_time_give_the_same_events_as_all_at_once(tmp_path: Path) -> None:
    whole, by_one = make_rig(tmp_path / "whole"), make_rig(tmp_path / "by_one")
    try:
        whole.ingest.ingest("10235", braking_replay(), "dvr")
        for one in braking_replay():
            by_one.ingest.ingest("10235", [one], "mqtt")
        assert by_one.events() == whole.events() == BRAKING_EVENTS
        # One by one, an event goes out when it begins and again at each new peak.
        events = [p for topic, p in by_one.queued() if topic.endswith("/events")]
        assert [(p["id"][-13:], p["value"]) for p in events] == [
            (str(ms(6)), -2.6), (str(ms(6)), -3.4), (str(ms(30)), -2.9), (str(ms(30)), -4.1), (str(ms(50)), -3.0)
        ]
        assert [p["value"] for topic, p in whole.queued() if topic.endswith("/events")] == [-3.4, -4.1, -3.0]
    finally:
        whole.store.close()
        by_one.store.close()


# ---- storage and forwarding --------------------------------------------------------------
# covers DT-21, DT-02, DT-13
def test_positions_are_kept_and_one_per_interval_goes_to_detro(rig: Rig) -> None:
    result = rig.ingest.ingest("10234", samples(*(sample(t, door=1) for t in range(60))), "mqtt")
    assert result.samples == 60 and result.forwarded_telemetry == 6
    rows = rig.store.db.execute("SELECT COUNT(*), MIN(ts), MAX(ts) FROM vehicle_positions").fetchone()
    assert tuple(rows) == (60, T0, T0 + 59)
    extra = rig.store.db.execute("SELECT extra FROM vehicle_positions WHERE ts = ?", (T0,)).fetchone()[0]
    assert json.loads(extra) == {"door": 1, "main_power": True}
    telemetry = validator("guarita.telemetry.v1.json")
    queued = rig.queued()
    assert [t for t, _ in queued] == ["detro/v1/acme/vehicles/10234/telemetry"] * 6
    for _, payload in queued:
        telemetry.validate(payload)
        assert "door" not in payload and payload["line"] == "232"
    assert [p["ts"] for _, p in queued] == [f"2026-06-30T13:00:{s:02d}.000Z" for s in range(0, 60, 10)]
    # Again (a redelivery), and a later minute: only the new windows go.
    again = rig.ingest.ingest("10234", samples(*(sample(t) for t in range(55, 75))), "mqtt")
    assert again.forwarded_telemetry == 2 and len(rig.queued()) == 8
    assert rig.store.db.execute("SELECT COUNT(*) FROM vehicle_positions").fetchone()[0] == 75


# covers DT-21
def test_without_detro_positions_and_events_are_kept_and_nothing_is_queued(tmp_path: Path) -> None:
    local = make_rig(tmp_path / "data", detro=False)
    try:
        result = local.ingest.ingest("10235", braking_replay(), "mqtt")
        assert result.samples == 60 and len(result.new_events) == 3
        assert result.forwarded_telemetry == result.forwarded_events == 0 and local.outbox.depth("detro") == 0
    finally:
        local.store.close()


# covers DT-13, DT-16
def test_event_payloads_follow_their_schema(rig: Rig) -> None:
    rig.ingest.ingest("10234", samples(sample(0, speed_kmh=70.0), sample(1, main_power=False)), "mqtt")
    events = [p for t, p in rig.queued() if t == "detro/v1/acme/vehicles/10234/events"]
    schema = validator("guarita.vehicle_event.v1.json")
    for payload in events:
        schema.validate(payload)
    assert {(p["type"], p["unit"], p["threshold"]) for p in events} == {
        ("overspeed", "km/h", 60.0), ("power_loss", None, None)
    }
    with pytest.raises(jsonschema.ValidationError):
        schema.validate({**events[0], "extra": 1})


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# covers DT-21, DT-13
def test_a_dvr_file_quarantines_bad_lines_with_their_number_and_ingests_the_rest(rig: Rig, tmp_path: Path) -> None:
    good = [json.dumps(s) for s in (sample(t, accel_long_mps2=BRAKING.get(t, 0.3)) for t in range(60))]
    lines = [*good[:2], "{not json", *good[2:4], json.dumps({**sample(99), "lat": "south"}), "",
             *good[4:], json.dumps(sample(98, lat=-123.0))]
    path = write_lines(tmp_path / "20260630130000.jsonl", lines)
    result = rig.ingest.ingest_file("10235", path)
    assert result.samples == 60 and result.quarantined == 3 and len(result.new_events) == 3
    rows = rig.store.db.execute("SELECT topic, kind, reason FROM quarantine ORDER BY id").fetchall()
    assert [(r[0], r[1]) for r in rows] == [
        (f"{path}:3", "not_json"), (f"{path}:6", "wrong_type"), (f"{path}:64", "bad_value")
    ]
    assert "field 'lat'" in rows[1][2] and f"{path}:6" in rows[1][2] and "field 'lat'" in rows[2][2]
    assert rig.metrics.quarantined.get("not_json") == 1 and rig.metrics.quarantined.get("bad_value") == 1
    assert rig.events() == BRAKING_EVENTS


# covers DT-13, DT-21
def test_the_same_samples_by_mqtt_and_then_by_file_make_no_duplicate(rig: Rig, tmp_path: Path) -> None:
    replay = [sample(t, accel_long_mps2=BRAKING.get(t, 0.3)) for t in range(60)]
    for item in replay[:40]:  # the bus left coverage at 40 s
        rig.ingest.ingest("10235", samples(item), "mqtt")
    queued_live = len(rig.queued())
    path = write_lines(tmp_path / "20260630130000.jsonl", [json.dumps(s) for s in replay])
    result = rig.ingest.ingest_file("10235", path)
    assert rig.events() == BRAKING_EVENTS
    assert list(result.new_events) == [BRAKING_EVENTS[2][0]]  # only the one after coverage was lost
    sources = dict(rig.store.db.execute("SELECT id, source FROM vehicle_events").fetchall())
    assert list(sources.values()).count("mqtt") == 2 and sources[BRAKING_EVENTS[2][0]] == "dvr"
    # The file back-fills the two windows the MQTT link missed, and the event it found.
    assert result.forwarded_telemetry == 2 and result.forwarded_events == 1
    assert len(rig.queued()) == queued_live + 3
    assert rig.ingest.ingest_file("10235", path) == IngestResult(samples=60)


# covers DT-13
def test_unknown_vehicles_and_unreadable_files_are_refused_by_name(rig: Rig, tmp_path: Path) -> None:
    with pytest.raises(UnknownVehicle, match="'99999' is not under fleet.vehicles"):
        rig.ingest.ingest("99999", braking_replay(), "mqtt")
    with pytest.raises(TelemetryError, match=r"cannot read telemetry file .*missing\.jsonl"):
        rig.ingest.ingest_file("10235", tmp_path / "missing.jsonl")
    assert rig.store.db.execute("SELECT COUNT(*) FROM vehicle_positions").fetchone()[0] == 0


# covers DT-13
def test_the_topic_template_names_the_vehicle() -> None:
    topic = TopicTemplate("vehicles/{vehicle}/telemetry")
    assert topic.subscription == "vehicles/+/telemetry"
    assert topic.vehicle("vehicles/10234/telemetry") == "10234"
    assert topic.vehicle("vehicles/10234/other") is None and topic.vehicle("vehicles//telemetry") is None
    for bad in ("vehicles/telemetry", "bus-{vehicle}/t", "{vehicle}/{vehicle}", "fleet/+/{vehicle}"):
        with pytest.raises(TelemetryError, match="exactly one level"):
            TopicTemplate(bad)


def message(topic: str, payload: bytes | dict[str, Any], mid: int = 1) -> InboundMessage:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return InboundMessage(topic, body, 1, mid, False)


class FailingIngest(TelemetryIngest):
    """An ingest that breaks on vehicle 10234's samples, as a bug would."""

    def ingest_batch(
        self, batch: Any, source: IngestSource, rejected: Any = ()
    ) -> IngestResult:
        if "10234" in batch:
            raise RuntimeError("simulated bug")
        return super().ingest_batch(batch, source, rejected)


# covers DT-13, DT-21
def test_a_message_that_breaks_handling_is_quarantined_alone(rig: Rig) -> None:
    ingest = FailingIngest(rig.config, rig.store, rig.outbox, Quarantine(rig.metrics), FakeClock(NOW))
    subscriber = TelemetrySubscriber(
        telemetry_link_settings(rig.config, frigate_link_settings(rig.config)), ingest, rig.outbox,
        LinkState("telemetry", rig.metrics), Backoff(),
    )
    subscriber.handle([
        message("vehicles/10235/telemetry", sample(0), 1), message("vehicles/10234/telemetry", sample(0), 2),
        message("vehicles/10235/telemetry", sample(1), 3),
    ])
    assert rig.store.db.execute("SELECT vehicle, COUNT(*) FROM vehicle_positions GROUP BY vehicle").fetchall() == [
        ("10235", 2)
    ]
    assert rig.store.db.execute("SELECT topic, kind FROM quarantine").fetchall() == [
        ("vehicles/10234/telemetry", "unprocessable")
    ]


# covers DT-21
def test_a_full_outbox_stores_nothing_and_says_so(tmp_path: Path) -> None:
    tiny = make_rig(tmp_path / "data", quota_bytes=600)
    try:
        with pytest.raises(OutboxFullError):
            tiny.ingest.ingest("10235", braking_replay(), "mqtt")
        assert tiny.store.db.execute("SELECT COUNT(*) FROM vehicle_positions").fetchone()[0] == 0
        assert tiny.events() == []
    finally:
        tiny.store.close()


# ---- the MQTT session, end to end --------------------------------------------------------------
@dataclass
class Services:
    config: GuaritaConfig
    config_path: Path
    store: Store
    outbox: Outbox
    metrics: Metrics
    subscriber: TelemetrySubscriber
    uplink: UplinkPublisher


@asynccontextmanager
async def telemetry_services(config_path: Path) -> AsyncIterator[Services]:
    """The telemetry session and the DETRO publisher under one TaskGroup, as ``guarita run`` will run them."""
    config = load_config(config_path)
    store = Store.open(config.storage.data_dir)
    def clock() -> datetime:
        return datetime.now(UTC)

    outbox = Outbox(store, quota_bytes=50_000_000, warn_ratio=0.8, delivered_keep_s=3600,
                    clock=lambda: clock().timestamp())
    metrics = Metrics()
    ingest = TelemetryIngest(config, store, outbox, Quarantine(metrics), clock)
    subscriber = TelemetrySubscriber(
        telemetry_link_settings(config, frigate_link_settings(config)), ingest, outbox,
        LinkState("telemetry", metrics), Backoff(max_s=0.5),
    )
    uplink = UplinkPublisher(
        "detro", uplink_link_settings(config, ProgramName.DETRO), status_topic(config, ProgramName.DETRO), outbox,
        metrics, LinkState("uplink detro", metrics), Backoff(max_s=0.5),
    )
    stop = asyncio.Event()

    async def run() -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(subscriber.run(stop))
            group.create_task(uplink.run(stop))

    task = asyncio.create_task(run())
    try:
        await wait_for(lambda: subscriber.state.up, 15)
        yield Services(config, config_path, store, outbox, metrics, subscriber, uplink)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        store.close()


def e2e_config(tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki) -> Path:
    return write_config(
        tmp_path / "guarita.yaml", frigate_broker=frigate_broker, uplink_broker=uplink_broker, pki=pki,
        cameras={}, programs=["detro"], extra={"provider": BUS_OPERATOR, "fleet": FLEET},
    )


@pytest.fixture
def undo_cli_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``main()`` installs a root handler and level for the process; take them away afterwards."""
    monkeypatch.delenv("GUARITA_CONFIG", raising=False)
    root = logging.getLogger()
    level = root.level
    yield
    for handler in [h for h in root.handlers if type(h) is logging.StreamHandler]:
        root.removeHandler(handler)
    root.setLevel(level)


# covers DT-13, DT-21, DT-08, DT-02, DT-17
async def test_telemetry_over_mqtt_reaches_detro_after_an_uplink_outage(
    undo_cli_logging: None, tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker,
    pki: TestPki,
    caplog: pytest.LogCaptureFixture,
) -> None:
    config_path = e2e_config(tmp_path, frigate_broker, uplink_broker, pki)
    replay = [sample(t, accel_long_mps2=BRAKING.get(t, 0.3)) for t in range(60)]
    async with Receiver(uplink_broker, pki, "detro/v1/acme/vehicles/#") as centre:
        uplink_broker.stop()
        async with telemetry_services(config_path) as services:
            assert services.subscriber.state.detail.endswith(str(frigate_broker.port))
            async with FrigateMqttStandin("127.0.0.1", frigate_broker.port, client_id="bus-10235") as bus:
                await bus.publish_many("vehicles/10235/telemetry", replay[:30])
                await bus.publish("vehicles/10235/telemetry", replay[30:])  # a unit catching up: one array
                await bus.publish("vehicles/77777/telemetry", sample(0))
                await bus.publish("vehicles/10235/telemetry", b"{broken")
                await bus.publish("vehicles/10235/telemetry", {**sample(70), "speed_kmh": "fast"})
            db = services.store.db
            await wait_for(lambda: db.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0] == 3)
            assert db.execute("SELECT COUNT(*) FROM vehicle_positions").fetchone()[0] == 60
            queued = [json.loads(m.payload)["schema"] for m in services.outbox.pending("detro", 0, 100)]
            # Positions: one per 10 s window. Events: each when it begins, and again at a new peak
            # when the peak came in a later batch.
            assert queued.count("guarita.telemetry/1") == 6 and 3 <= queued.count("guarita.vehicle_event/1") <= 5
            assert not services.uplink.state.up
            kinds = db.execute("SELECT topic, kind FROM quarantine ORDER BY id").fetchall()
            assert kinds == [("vehicles/77777/telemetry", "unknown_vehicle"), ("vehicles/10235/telemetry", "not_json"),
                             ("vehicles/10235/telemetry", "wrong_type")]
            assert services.metrics.quarantined.get("unknown_vehicle") == 1

            uplink_broker.start()
            await centre.wait_until(lambda: len(centre.messages) >= len(queued), timeout=20)
            await wait_for(lambda: services.outbox.depth("detro") == 0)

            # The DVR's file of the same minute later: nothing new for DETRO.
            path = write_lines(tmp_path / "20260630130000.jsonl", [json.dumps(s) for s in replay])
            with caplog.at_level(logging.INFO, logger="guarita.telemetry.ingest"):
                from_file = TelemetryIngest(
                    services.config, services.store, services.outbox, Quarantine(services.metrics), FakeClock(NOW)
                ).ingest_file("10235", path)
            assert from_file == IngestResult(samples=60) and "0 new events" in caplog.text

            # An operator handles the first event from the CLI (its own process view of the store).
            event_id = BRAKING_EVENTS[0][0]
            assert main(["events", "ack", event_id, "--action", "called the driver", "--by", "ana",
                         "-c", str(config_path)]) == 0
            ack_topic = "detro/v1/acme/vehicles/10235/events"
            await centre.wait_until(lambda: any(b"vehicle_event_ack" in p for p in centre.on(ack_topic)), timeout=10)

    telemetry = [m.json for m in centre.messages if m.topic == "detro/v1/acme/vehicles/10235/telemetry"]
    events = [json.loads(p) for p in centre.on("detro/v1/acme/vehicles/10235/events")]
    assert sorted({p["ts"] for p in telemetry}) == [f"2026-06-30T13:00:{s:02d}.000Z" for s in range(0, 60, 10)]
    detected = [p for p in events if p["schema"] == "guarita.vehicle_event/1"]
    peaks: dict[str, float] = {}
    for p in detected:  # receivers keep the most extreme value per id
        peaks[p["id"]] = min(p["value"], peaks.get(p["id"], 0.0))
    assert sorted(peaks.items()) == [(e[0], e[2]) for e in BRAKING_EVENTS]
    acks = [p for p in events if p["schema"] == "guarita.vehicle_event_ack/1"]
    assert len(acks) == 1 and acks[0]["event_id"] == event_id and acks[0]["by"] == "ana" and acks[0]["seq"] == 1
    for name, payloads in (("guarita.telemetry.v1.json", telemetry), ("guarita.vehicle_event.v1.json", detected),
                           ("guarita.vehicle_event_ack.v1.json", acks)):
        check = validator(name)
        for payload in payloads:
            check.validate(payload)
    db = sqlite3.connect(tmp_path / "data" / "guarita.db")
    try:
        assert db.execute("SELECT action, subject FROM audit_log").fetchall() == [("vehicle_event.ack", event_id)]
    finally:
        db.close()


# covers DT-21, DT-08
async def test_telemetry_published_while_guarita_is_down_arrives_when_it_is_back(
    tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki
) -> None:
    config_path = e2e_config(tmp_path, frigate_broker, uplink_broker, pki)
    async with telemetry_services(config_path) as services:  # the broker learns the persistent session
        assert services.subscriber.topic.subscription == "vehicles/+/telemetry"
    async with FrigateMqttStandin("127.0.0.1", frigate_broker.port, client_id="bus-10234") as bus:
        await bus.publish_many("vehicles/10234/telemetry", [sample(t, speed_kmh=65.0) for t in range(20)])
    async with telemetry_services(config_path) as services:
        db = services.store.db
        await wait_for(lambda: db.execute("SELECT COUNT(*) FROM vehicle_positions").fetchone()[0] == 20)
        await wait_for(lambda: db.execute("SELECT COUNT(*) FROM vehicle_events").fetchone()[0] == 1)
        assert db.execute("SELECT id, value, threshold FROM vehicle_events").fetchone() == (
            f"10234-overspeed-{ms(0)}", 65.0, 60.0
        )
