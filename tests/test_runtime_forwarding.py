"""The event bridge end to end, in process: real Mosquitto brokers, real TLS, real SQLite."""

from __future__ import annotations

import asyncio
import copy
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from frigate_payloads import frigate_example
from harness import Receiver, lifecycles, running, wait_for, write_config

from guarita.config import ProgramName
from guarita.config_loader import load_config
from guarita.consent.share_gate import CameraShareState, ConsentRecord, StaticRegistry
from guarita.runtime import Runtime
from guarita.standin.frigate_events import tracked_object_lifecycle
from guarita.standin.frigate_mqtt import FrigateMqttStandin
from guarita.standin.mosquitto import MosquittoBroker
from guarita.standin.tls import TestPki, make_ca


CAMERAS: dict[str, Any] = {
    "street_front": {"programs": ["cop_bh"], "location": {"lat": -19.9245, "lon": -43.9352}, "heading": 180},
    "backyard": {"programs": []},
    "bus_10234_interior": {"programs": ["detro"], "vehicle": "10234"},
    "bus_10234_front": {"programs": ["detro"], "vehicle": "10234"},
}


def shared_street() -> StaticRegistry:
    consent = ConsentRecord(frozenset({ProgramName.COP_BH}), granted_at=datetime(2026, 1, 1, tzinfo=UTC))
    return StaticRegistry(
        accredited=True,
        cameras={"street_front": CameraShareState("client-1", consent, public_facing=True, signage_plate="BH-0001")},
    )


def config_for(tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki, **kw: Any) -> Path:
    return write_config(
        tmp_path / "guarita.yaml", frigate_broker=frigate_broker, uplink_broker=uplink_broker, pki=pki,
        cameras=kw.pop("cameras", CAMERAS), **kw,
    )


def contract(name: str) -> dict[str, Any]:
    return frigate_example(name)  # type: ignore[no-any-return]


def on_camera(message: dict[str, Any], camera: str) -> dict[str, Any]:
    changed = copy.deepcopy(message)
    for side in ("before", "after"):
        changed[side]["camera"] = camera
    return changed


# covers PB-05, BH-11, DT-02, DT-05, BH-07, BH-10
async def test_events_reach_each_program_transformed(tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki) -> None:
    config = config_for(tmp_path, frigate_broker, uplink_broker, pki, update_interval=0)
    async with Receiver(uplink_broker, pki) as centre, running(config, shared_street()) as runtime:
        async with FrigateMqttStandin("127.0.0.1", frigate_broker.port) as frigate:
            for camera in ("street_front", "backyard", "bus_10234_front", "garage_side"):
                for name in ("mqtt-events-new.json", "mqtt-events-update.json", "mqtt-events-end.json"):
                    await frigate.publish_event(on_camera(contract(name), camera))
        await centre.wait_until(lambda: len(centre.events()) >= 6)
        await asyncio.sleep(0.3)

        copbh = [m.json for m in centre.messages if m.topic == "copbh/v1/acme/events/street_front"]
        detro = [m.json for m in centre.messages if m.topic == "detro/v1/acme/vehicles/10234/events"]
        assert [e["type"] for e in copbh] == ["new", "update", "end"]
        assert [e["type"] for e in detro] == ["new", "update", "end"]
        assert [e["seq"] for e in copbh] == [1, 2, 3]
        assert len(centre.events()) == 6, "backyard (no program) and garage_side (unknown) never leave"
        new, update, end = copbh
        assert new == {
            "schema": "guarita.event/1", "id": "1782824400.512345-k3v9qp", "type": "new", "seq": 1,
            "provider": "acme", "camera": "street_front", "label": "person",
            "score": 0.8398, "top_score": 0.793, "start_time": "2026-06-30T13:00:00.512Z", "end_time": None,
            "zones": [], "has_clip": True, "has_snapshot": True,
            "location": {"lat": -19.9245, "lon": -43.9352, "heading": 180.0}, "agencies": [],
        }
        assert update["zones"] == ["porch"]
        assert "sub_label" not in end, "Frigate named the person (john): withheld by default"
        assert end["end_time"] == "2026-06-30T13:00:15.912Z"
        assert detro[0]["vehicle"] == "10234" and "location" not in detro[0]
        for event in copbh + detro:
            assert "snapshot" not in event and "thumbnail" not in event and "path_data" not in event
        assert centre.on("copbh/v1/acme/status")[-1] == b"online"
        skipped = runtime.metrics.skipped
        assert skipped.get("unknown_camera") == 3 and skipped.get("no_program") == 3


# covers PB-05
async def test_sub_label_of_frigate_014_is_a_plain_string(tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki) -> None:
    config = config_for(tmp_path, frigate_broker, uplink_broker, pki, programs=["detro"], cameras={
        "bus_10234_front": {"programs": ["detro"], "vehicle": "10234"}})
    data = yaml.safe_load(config.read_text())
    data["programs"]["detro"]["forward"] = {"sub_label": {"enabled": True, "legal_basis": "test"}}
    config.write_text(yaml.safe_dump(data))
    import random

    messages = tracked_object_lifecycle(
        "bus_10234_front", "person", 1_782_824_400.0, updates=0, rng=random.Random(1), version="0.14", sub_label="maria"
    )
    assert isinstance(messages[-1]["after"]["sub_label"], str)
    async with Receiver(uplink_broker, pki) as centre, running(config):
        async with FrigateMqttStandin("127.0.0.1", frigate_broker.port) as frigate:
            for message in messages:
                await frigate.publish_event(message)
        await centre.wait_until(lambda: len(centre.events()) == 2)
    assert [e["sub_label"] for e in centre.events()] == [None, "maria"]


# covers BH-03, BH-04, BH-07, PB-03
async def test_cop_bh_fails_closed_without_a_consent_registry(tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki) -> None:
    config = config_for(tmp_path, frigate_broker, uplink_broker, pki)
    async with Receiver(uplink_broker, pki) as centre, running(config) as runtime:
        async with FrigateMqttStandin("127.0.0.1", frigate_broker.port) as frigate:
            await frigate.publish_event(on_camera(contract("mqtt-events-new.json"), "street_front"))
            await frigate.publish_event(on_camera(contract("mqtt-events-new.json"), "bus_10234_front"))
        await centre.wait_until(lambda: len(centre.events()) == 1)
        await asyncio.sleep(0.3)
        assert centre.events()[0]["camera"] == "bus_10234_front"
        assert not [m for m in centre.messages if m.topic.startswith("copbh/v1/acme/events")]
        blocked = runtime.metrics.blocked
        assert blocked.get("cop_bh", "no_client") == 1
        assert blocked.get("cop_bh", "no_consent") == 1
        assert blocked.get("cop_bh", "provider_not_accredited") == 1


# covers PB-05, DT-02
async def test_updates_are_throttled_per_event(tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki) -> None:
    config = config_for(tmp_path, frigate_broker, uplink_broker, pki, programs=["detro"], update_interval=5, cameras={
        "bus_10234_front": {"programs": ["detro"], "vehicle": "10234"}})
    base = on_camera(contract("mqtt-events-update.json"), "bus_10234_front")
    t0 = base["after"]["start_time"]
    sequence = [("new", 0.0)] + [("update", dt) for dt in (1, 2, 6, 7, 12)] + [("end", 13.0)]
    async with Receiver(uplink_broker, pki) as centre, running(config) as runtime:
        async with FrigateMqttStandin("127.0.0.1", frigate_broker.port) as frigate:
            for kind, dt in sequence:
                message = copy.deepcopy(base)
                message["type"] = kind
                message["after"]["frame_time"] = t0 + dt
                await frigate.publish_event(message)
        await centre.wait_until(lambda: any(e["type"] == "end" for e in centre.events()))
    forwarded = [(e["type"], e["seq"]) for e in centre.events()]
    assert forwarded == [("new", 1), ("update", 2), ("update", 3), ("end", 4)]
    assert runtime.metrics.skipped.get("throttled") == 3


# covers PB-05, BH-07
async def test_malformed_payloads_are_quarantined_and_the_bridge_goes_on(tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki) -> None:
    config = config_for(tmp_path, frigate_broker, uplink_broker, pki, programs=["detro"], cameras={
        "bus_10234_front": {"programs": ["detro"], "vehicle": "10234"}})
    good = on_camera(contract("mqtt-events-new.json"), "bus_10234_front")
    wrong_type = copy.deepcopy(good)
    wrong_type["after"]["score"] = "high"
    missing = copy.deepcopy(good)
    del missing["after"]["camera"]
    unknown = copy.deepcopy(good)
    unknown["type"] = "teleport"
    oversize = copy.deepcopy(good)
    oversize["after"]["padding"] = "x" * 300_000
    bad: list[bytes | dict[str, Any]] = [b"not json {", b"[1, 2]", wrong_type, missing, unknown, oversize]
    async with Receiver(uplink_broker, pki) as centre, running(config) as runtime:
        async with FrigateMqttStandin("127.0.0.1", frigate_broker.port) as frigate:
            for message in bad:
                await frigate.publish_event(message)
            await frigate.publish(f"{frigate.prefix}/reviews", b'{"type": "new"}')
            await frigate.publish_event(good)
        await centre.wait_until(lambda: len(centre.events()) == 1)
        health = runtime.health()
    assert health["quarantined"] == 7
    db = sqlite3.connect(tmp_path / "data" / "guarita.db")
    rows = db.execute("SELECT topic, kind, reason, payload_sha256, payload_size FROM quarantine ORDER BY id").fetchall()
    assert [r[1] for r in rows] == [
        "not_json", "not_an_object", "wrong_type", "missing_field", "unknown_type", "oversize", "missing_field"
    ]
    assert "after.score" in rows[2][2] and "after.camera" in rows[3][2] and "'teleport'" in rows[4][2]
    assert rows[5][4] > 300_000 and len(rows[5][3]) == 64
    assert rows[6][0] == "frigate/reviews"


# covers PB-05, DT-08, DT-21
@pytest.mark.slow
async def test_uplink_outage_loses_nothing_and_keeps_order(tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki) -> None:
    cameras = ["bus_10234_front", "bus_10234_interior"]
    config = config_for(tmp_path, frigate_broker, uplink_broker, pki, programs=["detro"], update_interval=0, cameras={
        c: {"programs": ["detro"], "vehicle": "10234"} for c in cameras})
    messages = lifecycles(cameras, 250, updates=2)
    assert len(messages) == 1000
    async with Receiver(uplink_broker, pki) as centre, running(config) as runtime:
        uplink_broker.stop()
        await wait_for(lambda: not runtime.health()["links"]["uplink:detro"]["up"])
        async with FrigateMqttStandin("127.0.0.1", frigate_broker.port) as frigate:
            await frigate.publish_many(f"{frigate.prefix}/events", messages)
        await wait_for(lambda: runtime.outbox.depth("detro") == 1000)
        health = runtime.health()
        assert health["status"] == "degraded" and health["outbox"]["depth"]["detro"] == 1000
        uplink_broker.start()
        await centre.wait_until(lambda: len(centre.events()) >= 1000, timeout=30)
        await wait_for(lambda: runtime.outbox.depth("detro") == 0)
    received = centre.events()
    keys = [(e["id"], e["type"], e["seq"]) for e in received]
    unique = list(dict.fromkeys(keys))
    assert len(unique) == 1000, "every message arrived"
    assert len(keys) - len(unique) <= 256, "duplicates only from QoS 1 redelivery of the in-flight window"
    position: dict[str, int] = {}
    sent: dict[str, list[tuple[str, str, int]]] = {camera: [] for camera in cameras}
    for message in messages:  # update_interval 0: every message is forwarded, seq = its place
        event_id = message["after"]["id"]
        position[event_id] = position.get(event_id, 0) + 1
        sent[message["after"]["camera"]].append((event_id, message["type"], position[event_id]))
    for camera in cameras:
        got = list(dict.fromkeys((e["id"], e["type"], e["seq"]) for e in received if e["camera"] == camera))
        assert got == sent[camera], f"order kept for {camera}"


# covers PB-05, DT-02, BH-07
async def test_uplink_with_a_wrong_ca_is_refused_and_nothing_leaves(tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki) -> None:
    other = make_ca(tmp_path / "other-ca", name="other", common_name="Other Test CA")
    config = config_for(tmp_path, frigate_broker, uplink_broker, pki, programs=["detro"], cameras={
        "bus_10234_front": {"programs": ["detro"], "vehicle": "10234"}})
    config.write_text(config.read_text().replace(str(pki.ca_cert), str(other.cert)))
    runtime = Runtime(load_config(config), reconnect_max_s=0.5, check_frigate=False)
    stop = asyncio.Event()
    task = asyncio.create_task(runtime.run(stop))
    try:
        async with Receiver(uplink_broker, pki) as centre:
            await wait_for(lambda: runtime.frigate.state.up and "TLS" in runtime.uplinks[0].state.detail)
            async with FrigateMqttStandin("127.0.0.1", frigate_broker.port) as frigate:
                await frigate.publish_event(on_camera(contract("mqtt-events-new.json"), "bus_10234_front"))
            await wait_for(lambda: runtime.outbox.depth("detro") == 1)
            await asyncio.sleep(1.0)
            assert not runtime.uplinks[0].state.up
            assert not centre.events()
            assert "certificate verify failed" in runtime.uplinks[0].state.detail.lower()
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


# covers PB-05
async def test_clean_stop_says_offline_and_healthz_and_metrics_answer(tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki) -> None:
    import aiohttp

    config = config_for(tmp_path, frigate_broker, uplink_broker, pki, programs=["detro"], cameras={
        "bus_10234_front": {"programs": ["detro"], "vehicle": "10234"}})
    async with Receiver(uplink_broker, pki) as centre:
        async with running(config) as runtime:
            async with FrigateMqttStandin("127.0.0.1", frigate_broker.port) as frigate:
                await frigate.publish_event(on_camera(contract("mqtt-events-new.json"), "bus_10234_front"))
            await centre.wait_until(lambda: len(centre.events()) == 1)
            # The centre can have the message before Guarita's batched delivered-mark.
            await wait_for(lambda: runtime.metrics.delivered.get("detro") == 1)
            assert runtime.web_port is not None
            port = await runtime.web_port
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as answer:
                    health = await answer.json()
                async with session.get(f"http://127.0.0.1:{port}/metrics") as answer:
                    metrics = await answer.text()
            assert health["status"] == "ok" and health["frigate_available"] == "online"
            assert health["links"]["uplink:detro"]["up"] and health["outbox"]["depth"] == {"detro": 0}
            assert 'guarita_events_forwarded_total{program="detro"} 1' in metrics
            assert 'guarita_link_up{link="uplink detro"} 1' in metrics
            assert 'guarita_delivery_latency_seconds_count{uplink="detro"} 1' in metrics
        await centre.wait_until(lambda: centre.on("detro/v1/acme/status")[-1:] == [b"offline"])


# covers PB-05, DT-08
async def test_tls_files_broken_after_start_keep_the_process_alive(tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(pki.ca_cert.read_bytes())
    config = config_for(tmp_path, frigate_broker, uplink_broker, pki, programs=["detro"], cameras={
        "bus_10234_front": {"programs": ["detro"], "vehicle": "10234"}})
    config.write_text(config.read_text().replace(str(pki.ca_cert), str(ca)))
    runtime = Runtime(load_config(config), reconnect_max_s=0.5, check_frigate=False)
    ca.write_text("this is not a certificate\n")  # replaced after check-config passed
    stop = asyncio.Event()
    task = asyncio.create_task(runtime.run(stop))
    try:
        await wait_for(lambda: "cannot load the TLS files" in runtime.uplinks[0].state.detail)
        assert not task.done()
        ca.write_bytes(pki.ca_cert.read_bytes())  # the technician fixes it: the uplink recovers
        await wait_for(lambda: runtime.uplinks[0].state.up)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


# covers PB-05, DT-02, BH-09
@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
async def test_uplink_with_client_certificate_and_either_protocol(tmp_path: Path, brokers: Any, frigate_broker: MosquittoBroker, pki: TestPki, protocol: str) -> None:
    from guarita.standin.mosquitto import MosquittoBroker as Broker

    acme = pki.issue_client_cert("acme")
    receiver = pki.issue_client_cert("receiver")
    acl = "user acme\ntopic write detro/v1/acme/#\n\nuser receiver\ntopic read #\n"
    centre_broker = brokers.start(
        Broker(brokers.workdir(f"cert-{protocol}"), tls=pki, require_client_cert=True, identity_as_username=True, acl=acl)
    )
    config = tmp_path / "guarita.yaml"
    config.write_text(yaml.safe_dump({
        "provider": {"id": "acme", "name": "ACME", "kind": "bus_operator"},
        "storage": {"data_dir": str(tmp_path / "data")},
        "frigate": {"mqtt": {"host": "127.0.0.1", "port": frigate_broker.port}},
        "programs": {"detro": {"uplink": {
            "host": "127.0.0.1", "port": centre_broker.port, "protocol": protocol,
            "tls": {"ca_file": str(pki.ca_cert), "cert_file": str(acme.cert), "key_file": str(acme.key)},
        }}},
        "cameras": {"bus_10234_front": {"programs": ["detro"], "vehicle": "10234"}},
        "web": {"port": 0},
    }))
    from guarita.mqtt import LinkSettings, LinkTls, MqttLink

    listener = MqttLink(LinkSettings(
        "127.0.0.1", centre_broker.port, "centre", tls=LinkTls(pki.ca_cert, receiver.cert, receiver.key)))
    await listener.connect()
    await listener.subscribe([("#", 1)])
    try:
        async with running(config):
            async with FrigateMqttStandin("127.0.0.1", frigate_broker.port) as frigate:
                await frigate.publish_event(on_camera(contract("mqtt-events-new.json"), "bus_10234_front"))
            deadline = asyncio.get_running_loop().time() + 10
            got: list[str] = []
            while "detro/v1/acme/vehicles/10234/events" not in got:
                assert asyncio.get_running_loop().time() < deadline, got
                await listener.wait_messages(0.2)
                got += [m.topic for m in listener.take_messages(100)]
    finally:
        await listener.close()
