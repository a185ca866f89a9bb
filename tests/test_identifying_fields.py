"""Recognised names and plates stay home unless a program is opted in with a legal basis.

The real Frigate 0.17.2 capture (tests/fixtures/frigate/real/) is replayed through the bridge:
real Mosquitto brokers on both sides, the real outbox. One of its tracked people was named
``john`` by face recognition; by default that name reaches no program.
"""

from __future__ import annotations

import asyncio
import copy
import json
import random
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from frigate_payloads import real_event_stream
from harness import Receiver, running, write_config

from guarita.cli.main import main
from guarita.config import CameraConfig, ProgramForwardConfig, ProgramName
from guarita.config_loader import load_config
from guarita.consent.share_gate import CameraShareState, ConsentRecord, StaticRegistry
from guarita.errors import ConfigError
from guarita.plugins import CopBhPlugin, DetroPlugin
from guarita.standin.frigate_events import tracked_object_lifecycle
from guarita.standin.frigate_mqtt import FrigateMqttStandin
from guarita.standin.mosquitto import MosquittoBroker
from guarita.standin.tls import TestPki
from guarita.tracked_object import parse_event

NAMED_ID = "1796586259.364372-ta96qs"  # the capture's tracked person Frigate called "john"
BASIS = "LGPD art. 11 II b; COP-BH agreement 12/2026"
STREET = {"programs": ["cop_bh"], "location": {"lat": -19.9245, "lon": -43.9352}, "heading": 180}
BUS = {"programs": ["detro"], "vehicle": "10234"}


def shared_street() -> StaticRegistry:
    consent = ConsentRecord(frozenset({ProgramName.COP_BH}), granted_at=datetime(2026, 1, 1, tzinfo=UTC))
    return StaticRegistry(
        accredited=True,
        cameras={"street_front": CameraShareState("client-1", consent, public_facing=True, signage_plate="BH-0001")},
    )


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def forwarded_form(message: dict[str, Any], seq: int) -> dict[str, Any]:
    """What the COP-BH uplink should carry for one Frigate message of the street camera."""
    after = message["after"]
    return {
        "schema": "guarita.event/1", "id": after["id"], "type": message["type"], "seq": seq,
        "provider": "acme", "camera": after["camera"], "label": after["label"],
        "score": round(after["score"], 4), "top_score": round(after["top_score"], 4),
        "start_time": iso(after["start_time"]), "end_time": iso(after["end_time"]),
        "zones": after["entered_zones"], "has_clip": after["has_clip"], "has_snapshot": after["has_snapshot"],
        "location": {"lat": -19.9245, "lon": -43.9352, "heading": 180.0}, "agencies": [],
    }


def with_forward(config: Path, program: str, forward: dict[str, Any]) -> Path:
    data = yaml.safe_load(config.read_text())
    data["programs"][program]["forward"] = forward
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    return config


def named_object_on(camera: str) -> list[dict[str, Any]]:
    """The capture's messages about the person named john, moved to ``camera``."""
    messages = [copy.deepcopy(p) for _, p in real_event_stream() if p["after"]["id"] == NAMED_ID]
    for message in messages:
        for side in ("before", "after"):
            message[side]["camera"] = camera
    return messages


def test_the_capture_is_what_the_fixture_readme_says() -> None:
    stream = real_event_stream()
    assert len(stream) == 564 and {topic for topic, _ in stream} == {"frigate/events"}
    assert len({p["after"]["id"] for _, p in stream}) == 41
    named = [p for _, p in stream if "john" in json.dumps(p)]
    assert [p["after"]["sub_label"] for p in named] == [["john", 0.85], ["john", 0.85]]


# covers PB-05, BH-07, BH-11
async def test_the_real_capture_is_forwarded_whole_and_the_name_stays_home(
    tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki
) -> None:
    config = write_config(
        tmp_path / "guarita.yaml", frigate_broker=frigate_broker, uplink_broker=uplink_broker, pki=pki,
        cameras={"street_front": STREET}, programs=["cop_bh"], update_interval=0,
    )
    sent = [payload for _, payload in real_event_stream()]
    # Frigate 0.17.2 sent one update twice for the same frame (only `active`/`stationary` and
    # `before` differ, none of which is forwarded): the bridge forwards it once, as a duplicate.
    first: dict[tuple[str, str, float], dict[str, Any]] = {}
    for message in sent:
        first.setdefault((message["after"]["id"], message["type"], message["after"]["frame_time"]), message)
    distinct = list(first.values())
    topic = "copbh/v1/acme/events/street_front"
    async with Receiver(uplink_broker, pki) as centre, running(config, shared_street()) as runtime:
        async with FrigateMqttStandin("127.0.0.1", frigate_broker.port) as frigate:
            await frigate.publish_many(f"{frigate.prefix}/events", sent)
        await centre.wait_until(lambda: len(centre.events()) >= len(distinct), timeout=60)
        await asyncio.sleep(0.3)
        assert runtime.health()["quarantined"] == 0, "every message of a real Frigate is valid"
        assert runtime.metrics.skipped.get("duplicate") == len(sent) - len(distinct) == 1
    repeated = [m for m in sent if m is not first[(m["after"]["id"], m["type"], m["after"]["frame_time"])]]
    original = first[(repeated[0]["after"]["id"], "update", repeated[0]["after"]["frame_time"])]
    assert forwarded_form(repeated[0], 0) == forwarded_form(original, 0), "the skipped repeat carried nothing new"
    received = [m for m in centre.messages if m.topic == topic]
    unique = {(e["id"], e["type"], e["seq"]): e for e in (m.json for m in received)}
    assert len(unique) == len(distinct) == 563, "every event forwarded (update_interval 0)"
    seq: dict[str, int] = {}
    for message in distinct:
        event_id = message["after"]["id"]
        seq[event_id] = seq.get(event_id, 0) + 1
        assert unique[(event_id, message["type"], seq[event_id])] == forwarded_form(message, seq[event_id]), (
            "Frigate's fields, minus the withheld sub_label"
        )
    named = [e for e in unique.values() if e["id"] == NAMED_ID]
    assert named[-1]["type"] == "end" and named[-1]["label"] == "person"
    assert not [m.topic for m in centre.messages if b"john" in m.payload], "the recognised name never leaves"


# covers BH-07, PB-05, DT-02
async def test_an_opt_in_lets_the_name_out_to_that_program_only(
    tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki
) -> None:
    config = write_config(
        tmp_path / "guarita.yaml", frigate_broker=frigate_broker, uplink_broker=uplink_broker, pki=pki,
        cameras={"street_front": STREET, "bus_10234_front": BUS}, update_interval=0,
    )
    with_forward(config, "cop_bh", {"sub_label": {"enabled": True, "legal_basis": BASIS}})
    street, bus = named_object_on("street_front"), named_object_on("bus_10234_front")
    async with Receiver(uplink_broker, pki) as centre, running(config, shared_street()) as runtime:
        async with FrigateMqttStandin("127.0.0.1", frigate_broker.port) as frigate:
            await frigate.publish_many(f"{frigate.prefix}/events", street + bus)
        await centre.wait_until(lambda: len(centre.events()) >= len(street) + len(bus), timeout=30)
        db = sqlite3.connect(runtime.config.storage.data_dir / "guarita.db")
    cop_bh = [m.json for m in centre.messages if m.topic == "copbh/v1/acme/events/street_front"]
    detro = [m for m in centre.messages if m.topic == "detro/v1/acme/vehicles/10234/events"]
    assert [e["sub_label"] for e in cop_bh][-2:] == ["john", "john"], "opted in: the name as Frigate gave it"
    assert {e["sub_label"] for e in cop_bh[:-2]} == {None}
    assert not [e for e in cop_bh if "license_plate" in e], "the plate was not opted in"
    assert len(detro) == len(bus) and not [m for m in detro if b"john" in m.payload or b"sub_label" in m.payload]
    (details,) = db.execute("SELECT details FROM audit_log WHERE action = 'config.load'").fetchone()
    assert json.loads(details)["forward_opt_ins"] == {"cop_bh": {"sub_label": BASIS}, "detro": {}}


# covers BH-07
async def test_the_default_config_records_that_nothing_identifying_leaves(
    tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki
) -> None:
    config = write_config(
        tmp_path / "guarita.yaml", frigate_broker=frigate_broker, uplink_broker=uplink_broker, pki=pki,
        cameras={"street_front": STREET, "bus_10234_front": BUS},
    )
    async with running(config) as runtime:
        db = sqlite3.connect(runtime.config.storage.data_dir / "guarita.db")
        (details,) = db.execute("SELECT details FROM audit_log WHERE action = 'config.load'").fetchone()
    assert json.loads(details)["forward_opt_ins"] == {"cop_bh": {}, "detro": {}}


LOOPBACK = """\
provider: {id: acme, name: ACME, kind: security_company}
storage: {data_dir: data}
programs:
  cop_bh:
    uplink: {host: 127.0.0.1, port: 1884}
  detro:
    uplink: {host: 127.0.0.1, port: 1885}
cameras:
  street_front: {programs: [cop_bh], location: {lat: -19.9, lon: -43.9}}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "guarita.yaml"
    path.write_text(text)
    return path


# covers BH-07, PB-01
def test_check_config_prints_each_opt_in_with_its_legal_basis(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "-c", str(write(tmp_path, LOOPBACK))]) == 0
    assert "forwards" not in capsys.readouterr().out, "nothing identifying leaves by default"
    opted = LOOPBACK.replace("    uplink: {host: 127.0.0.1, port: 1885}\n", f"""\
    uplink: {{host: 127.0.0.1, port: 1885}}
    forward:
      license_plate: {{enabled: true, legal_basis: "{BASIS}"}}
      sub_label: {{enabled: false, legal_basis: "not used"}}
""")
    assert main(["check-config", "-c", str(write(tmp_path, opted))]) == 0
    out = capsys.readouterr().out
    assert f"  forwards license_plate to detro (opt-in); legal basis: {BASIS}\n" in out
    assert "forwards sub_label" not in out and "to cop_bh (opt-in)" not in out


# covers BH-07, PB-01
@pytest.mark.parametrize(("block", "line", "key"), [
    ("    forward:\n      sub_label:\n        enabled: true\n", 7, "programs.cop_bh.forward.sub_label.legal_basis"),
    ('    forward:\n      sub_label:\n        enabled: true\n        legal_basis: "  "\n', 9,
     "programs.cop_bh.forward.sub_label.legal_basis"),
    ("    forward:\n      license_plate: {enabled: true}\n", 7, "programs.cop_bh.forward.license_plate.legal_basis"),
])
def test_an_opt_in_without_a_legal_basis_is_refused_at_its_line(tmp_path: Path, block: str, line: int, key: str) -> None:
    text = LOOPBACK.replace("    uplink: {host: 127.0.0.1, port: 1884}\n", "    uplink: {host: 127.0.0.1, port: 1884}\n" + block)
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    message = str(raised.value)
    assert f"{path}:{line}:" in message and key in message and "legal basis" in message
    assert main(["check-config", "-c", str(path)]) != 0


# covers BH-07
def test_an_unknown_identifying_field_is_refused(tmp_path: Path) -> None:
    text = LOOPBACK.replace(
        "    uplink: {host: 127.0.0.1, port: 1884}\n",
        "    uplink: {host: 127.0.0.1, port: 1884}\n    forward:\n      face: {enabled: true, legal_basis: x}\n",
    )
    with pytest.raises(ConfigError, match=r"programs\.cop_bh\.forward\.face"):
        load_config(write(tmp_path, text))


# covers BH-07, PB-05, DT-02
def test_a_plate_is_read_from_frigate_and_sent_only_where_opted_in() -> None:
    messages = tracked_object_lifecycle(
        "bus_10234_front", "car", 1_782_824_400.0, updates=2, rng=random.Random(3), license_plate="RIO2A19"
    )
    assert messages[-1]["after"]["recognized_license_plate"][0] == "RIO2A19", "0.17 sends [plate, score]"
    end = parse_event(json.dumps(messages[-1]).encode())
    assert end.license_plate == "RIO2A19" and end.label == "car"
    legacy = copy.deepcopy(messages[-1])
    legacy["after"]["recognized_license_plate"] = "RIO2A19"  # the string form older docs show
    assert parse_event(json.dumps(legacy).encode()).license_plate == "RIO2A19"

    bus = CameraConfig(programs=[ProgramName.DETRO], vehicle="10234")
    street = CameraConfig.model_validate(STREET)
    plates = ProgramForwardConfig.model_validate({"license_plate": {"enabled": True, "legal_basis": BASIS}})
    opted = DetroPlugin("acme", forward=plates).event_payload(end, 4, bus)
    assert opted["license_plate"] == "RIO2A19" and "sub_label" not in opted
    for withheld in (DetroPlugin("acme").event_payload(end, 4, bus), CopBhPlugin("acme").event_payload(end, 4, street)):
        assert "RIO2A19" not in json.dumps(withheld) and withheld["label"] == "car"
