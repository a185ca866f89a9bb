"""Agencies by area with the ACL from `guarita acl mosquitto`, on a real Mosquitto."""

from __future__ import annotations

import asyncio
import json
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness import running

from guarita.acl import mosquitto_acl
from guarita.config import ProgramName
from guarita.config_loader import load_config
from guarita.consent.share_gate import CameraShareState, ConsentRecord, StaticRegistry
from guarita.errors import ConfigError, LinkError
from guarita.mqtt import LinkSettings, LinkTls, MqttLink
from guarita.standin.centre import Centre
from guarita.standin.frigate_events import tracked_object_lifecycle
from guarita.standin.frigate_mqtt import FrigateMqttStandin
from guarita.standin.broker_fleet import BrokerFleet
from guarita.standin.mosquitto import MosquittoBroker
from guarita.standin.tls import TestPki

CENTRO = {"type": "Polygon", "coordinates": [[[-43.95, -19.935], [-43.92, -19.935], [-43.92, -19.91], [-43.95, -19.91], [-43.95, -19.935]]]}
NORTE_FILE = {
    "type": "FeatureCollection",
    "features": [{"type": "Feature", "properties": {}, "geometry": {
        "type": "Polygon", "coordinates": [[[-43.99, -19.86], [-43.96, -19.86], [-43.96, -19.83], [-43.99, -19.83], [-43.99, -19.86]]]}}],
}
CAMERAS: dict[str, Any] = {
    "praca_sete": {"programs": ["cop_bh"], "location": {"lat": -19.9191, "lon": -43.9386}},   # inside centro
    "av_norte": {"programs": ["cop_bh"], "location": {"lat": -19.845, "lon": -43.975}},      # inside norte
    "rural": {"programs": ["cop_bh"], "location": {"lat": -20.5, "lon": -44.5}},             # in no area
}


def shared_all() -> StaticRegistry:
    consent = ConsentRecord(frozenset({ProgramName.COP_BH}), granted_at=datetime(2026, 1, 1, tzinfo=UTC))
    state = CameraShareState("client", consent, public_facing=True, signage_plate="BHS-9")
    return StaticRegistry(accredited=True, cameras={name: state for name in CAMERAS})


def write_config(tmp_path: Path, provider: str, frigate: MosquittoBroker, broker: MosquittoBroker, pki: TestPki, password: str) -> Path:
    (tmp_path / "areas").mkdir(exist_ok=True)
    (tmp_path / "areas" / "norte.geojson").write_text(json.dumps(NORTE_FILE))
    (tmp_path / f"{provider}.pass").write_text(password)
    path = tmp_path / f"{provider}.yaml"
    path.write_text(yaml.safe_dump({
        "provider": {"id": provider, "name": provider.upper(), "kind": "security_company",
                     "accreditation": {"date": "2021-03-15"}},
        "storage": {"data_dir": str(tmp_path / f"data-{provider}")},
        "frigate": {"mqtt": {"host": "127.0.0.1", "port": frigate.port}},
        "programs": {"cop_bh": {
            "uplink": {"host": "127.0.0.1", "port": broker.port, "username": provider,
                       "password_file": str(tmp_path / f"{provider}.pass"), "tls": {"ca_file": str(pki.ca_cert)}},
            "agencies": {"centro": {"name": "Regional Centro-Sul", "area": CENTRO},
                         "norte": {"name": "Regional Norte", "area": "areas/norte.geojson"}},
        }},
        "cameras": CAMERAS,
        "web": {"port": 0},
    }))
    return path


# covers BH-05
def test_cameras_belong_to_the_agencies_whose_area_covers_them(tmp_path: Path) -> None:
    (tmp_path / "areas").mkdir()
    (tmp_path / "areas" / "norte.geojson").write_text(json.dumps(NORTE_FILE))
    path = tmp_path / "g.yaml"
    path.write_text(yaml.safe_dump({
        "provider": {"id": "acme", "name": "A", "kind": "security_company"},
        "storage": {"data_dir": "data"},
        "programs": {"cop_bh": {"uplink": {"host": "127.0.0.1"}, "agencies": {
            "centro": {"name": "C", "area": CENTRO}, "norte": {"name": "N", "area": "areas/norte.geojson"}}}},
        "cameras": CAMERAS,
    }))
    config = load_config(path)
    assert config.camera_agencies("praca_sete") == ("centro",)
    assert config.camera_agencies("av_norte") == ("norte",)
    assert config.camera_agencies("rural") == ()


# covers BH-05
@pytest.mark.parametrize(
    ("area", "message"),
    [
        ("missing.geojson", "cannot read"),
        ({"type": "Point", "coordinates": [-43.9, -19.9]}, "expected a Polygon"),
        ({"type": "Polygon", "coordinates": [[[-43.9, -19.9], [-43.8, -19.8], [-43.9, -19.8], [-43.8, -19.9], [-43.9, -19.9]]]}, "invalid"),
    ],
)
def test_a_bad_area_is_reported_at_its_key(tmp_path: Path, area: Any, message: str) -> None:
    path = tmp_path / "g.yaml"
    path.write_text(yaml.safe_dump({
        "provider": {"id": "acme", "name": "A", "kind": "security_company"},
        "storage": {"data_dir": "data"},
        "programs": {"cop_bh": {"uplink": {"host": "127.0.0.1"}, "agencies": {"x": {"name": "X", "area": area}}}},
    }))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (problem,) = caught.value.problems
    assert problem.key_path == "programs.cop_bh.agencies.x.area" and message in problem.message


# covers BH-05, BH-09, BH-07
async def test_each_agency_receives_only_its_area_and_providers_only_write_their_own(
    tmp_path: Path, brokers: BrokerFleet, frigate_broker: MosquittoBroker, pki: TestPki
) -> None:
    users = {name: secrets.token_urlsafe(12) for name in ("acme", "other", "centro", "norte")}
    probe = MosquittoBroker(brokers.workdir("probe"), tls=pki, users=users, acl="")  # ports only
    acme_config = write_config(tmp_path, "acme", frigate_broker, probe, pki, users["acme"])
    other_config = write_config(tmp_path, "other", frigate_broker, probe, pki, users["other"])
    acl = mosquitto_acl(load_config(acme_config)) + mosquitto_acl(load_config(other_config))
    broker = brokers.start(MosquittoBroker(
        brokers.workdir("copbh"), tls=pki, users=users, acl=acl, tls_port=probe.port))

    def agency(name: str) -> Centre:
        return Centre("127.0.0.1", broker.port, username=name, password=users[name], ca_file=pki.ca_cert)

    async with agency("centro") as centro, agency("norte") as norte, running(acme_config, shared_all()):
        import random

        rng = random.Random(5)
        async with FrigateMqttStandin("127.0.0.1", frigate_broker.port) as frigate:
            for camera in CAMERAS:
                for message in tracked_object_lifecycle(camera, "person", 1_782_824_400.0, updates=0, rng=rng):
                    await frigate.publish_event(message)
        # The intruder: provider `other` writes into acme's tree and into centro's copy of it.
        intruder = MqttLink(LinkSettings("127.0.0.1", broker.port, "intruder", username="other",
                                         password=users["other"], tls=LinkTls(pki.ca_cert)))
        await intruder.connect()
        for topic in ("copbh/v1/acme/events/praca_sete", "copbh/v1/agency/centro/acme/events/praca_sete"):
            try:
                await asyncio.wait_for(intruder.publish(topic, b'{"forged": true}', 1), 5)
            except LinkError:
                pass  # MQTT 5 may refuse it outright; either way it must not arrive
        await intruder.close()
        await centro.wait_until(lambda: len(centro.events()) >= 2 and any("/cameras/" in m.topic for m in centro.messages))
        await norte.wait_until(lambda: len(norte.events()) >= 2)
        await asyncio.sleep(0.5)  # anything that should not arrive would have by now

    for name, box, camera in (("centro", centro, "praca_sete"), ("norte", norte, "av_norte")):
        topics = {m.topic for m in box.messages}
        assert topics == {f"copbh/v1/agency/{name}/acme/events/{camera}", f"copbh/v1/agency/{name}/acme/cameras/{camera}"}
        assert all(json.loads(m.payload)["agencies"] == [name] for m in box.messages if m.payload)
        assert not any(b"forged" in m.payload for m in box.messages)
