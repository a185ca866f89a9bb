"""`guarita run` as a real process: crash, SIGTERM, unreachable brokers, a faulting Frigate, a taken port."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import sqlite3
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from harness import ACCREDITED, GuaritaProcess, Receiver, lifecycles, share_camera, write_config

from guarita.config_loader import load_config
from guarita.standin.frigate_api import StandinMqtt, make_frigate_app, serve_frigate
from guarita.standin.frigate_cameras import StandinCamera, StandinCameras
from guarita.standin.frigate_faults import FaultKind, FrigateFaults
from guarita.standin.frigate_mqtt import FrigateMqttStandin
from guarita.standin.broker_fleet import BrokerFleet
from guarita.standin.mosquitto import MosquittoBroker
from guarita.standin.seaweed import SeaweedS3
from guarita.standin.tls import TestPki
from guarita.store import Store

BUS_CAMERAS = {
    "bus_10234_front": {"programs": ["detro"], "vehicle": "10234"},
    "bus_10234_interior": {"programs": ["detro"], "vehicle": "10234"},
}


def bus_config(tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki) -> Path:
    return write_config(
        tmp_path / "guarita.yaml", frigate_broker=frigate_broker, uplink_broker=uplink_broker, pki=pki,
        cameras=BUS_CAMERAS, programs=["detro"], update_interval=0,
    )


# covers PB-05, DT-08, DT-21
@pytest.mark.slow
async def test_sigkill_mid_stream_then_restart_loses_nothing(tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki) -> None:
    config = bus_config(tmp_path, frigate_broker, uplink_broker, pki)
    messages = lifecycles(list(BUS_CAMERAS), 400, updates=1)  # 1,200 messages
    first = GuaritaProcess(config).start()
    second = GuaritaProcess(config)
    try:
        await asyncio.to_thread(first.wait_healthy)
        async with Receiver(uplink_broker, pki) as centre:
            async with FrigateMqttStandin("127.0.0.1", frigate_broker.port) as frigate:
                publishing = asyncio.create_task(frigate.publish_many(f"{frigate.prefix}/events", messages, window=50))
                await centre.wait_until(lambda: len(centre.events()) >= 100, timeout=20)
                first.signal(signal.SIGKILL)
                await asyncio.to_thread(first.wait)
                await publishing  # Frigate goes on publishing while Guarita is dead
            received_before_restart = len(centre.events())
            assert received_before_restart < len(messages), "the kill landed mid-stream"
            second.start()
            await asyncio.to_thread(second.wait_healthy)
            await centre.wait_until(lambda: len({(e["id"], e["type"], e["seq"]) for e in centre.events()}) >= 1200, 30)
        keys = [(e["id"], e["type"]) for e in centre.events()]
        for message in messages:
            assert (message["after"]["id"], message["type"]) in keys
        unique = {(e["id"], e["type"], e["seq"]) for e in centre.events()}
        assert len(unique) == 1200, "each message forwarded once, with one seq: a redelivered message is recognised"
    finally:
        first.stop()
        second.stop()


# covers PB-05, DT-21, BH-07
async def test_sigterm_stops_within_five_seconds_with_the_outbox_intact(tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki) -> None:
    config = bus_config(tmp_path, frigate_broker, uplink_broker, pki)
    guarita = GuaritaProcess(config).start()
    try:
        await asyncio.to_thread(guarita.wait_healthy)
        uplink_broker.stop()
        async with FrigateMqttStandin("127.0.0.1", frigate_broker.port) as frigate:
            await frigate.publish_many(f"{frigate.prefix}/events", lifecycles(list(BUS_CAMERAS), 10, updates=0))
        deadline = time.monotonic() + 10
        while (guarita.health() or {}).get("outbox", {}).get("depth", {}).get("detro") != 20:
            assert time.monotonic() < deadline, guarita.health()
            await asyncio.sleep(0.1)
        started = time.monotonic()
        guarita.signal(signal.SIGTERM)
        code = await asyncio.to_thread(guarita.wait, 10)
        assert time.monotonic() - started < 5.0
        assert code == 0, guarita.output()
    finally:
        guarita.stop()
    db = sqlite3.connect(tmp_path / "data" / "guarita.db")
    (pending,) = db.execute("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL").fetchone()
    assert pending == 20
    assert "outbox kept 20 undelivered messages" in guarita.output()
    # The audit head goes to the log (to be shipped off the machine) at start and at shutdown.
    (seq, digest) = db.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    assert "audit log head at start: entry " in guarita.output()
    assert f"audit log head at shutdown: entry {seq}, hash {digest}" in guarita.output()


# covers PB-05, DT-08
async def test_brokers_unreachable_at_start_are_retried_not_fatal(tmp_path: Path, brokers: BrokerFleet, uplink_broker: MosquittoBroker, pki: TestPki) -> None:
    frigate_broker = brokers.add(MosquittoBroker(brokers.workdir("late-frigate")))
    config = bus_config(tmp_path, frigate_broker, uplink_broker, pki)
    guarita = GuaritaProcess(config).start()
    try:
        deadline = time.monotonic() + 10
        while not (report := guarita.health()):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        assert report["links"]["frigate"]["up"] is False
        await asyncio.sleep(1.0)
        assert guarita.process is not None and guarita.process.poll() is None, "still running"
        frigate_broker.start()
        await asyncio.to_thread(guarita.wait_healthy, 40)
        async with Receiver(uplink_broker, pki) as centre:
            async with FrigateMqttStandin("127.0.0.1", frigate_broker.port) as frigate:
                await frigate.publish_many(f"{frigate.prefix}/events", lifecycles(["bus_10234_front"], 1, updates=0))
            await centre.wait_until(lambda: len(centre.events()) == 2)
        log = guarita.output()
        assert log.count("frigate link down") == 1, "a lost link is logged once, not at every retry"
        assert log.count("frigate link up") == 1
    finally:
        guarita.stop()


# covers PB-01, PB-05
async def test_a_taken_web_port_is_a_clear_startup_error(tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        config = write_config(tmp_path / "guarita.yaml", frigate_broker=frigate_broker, uplink_broker=uplink_broker,
                              pki=pki, cameras=BUS_CAMERAS, programs=["detro"], web_port=port)
        guarita = GuaritaProcess(config).start()
        try:
            code = await asyncio.to_thread(guarita.wait, 20)
        finally:
            guarita.stop()
    finally:
        taken.close()
    output = guarita.output()
    assert code == 1, output
    assert f"error: cannot listen on 127.0.0.1:{port} (web.port): address already in use" in output
    assert "Traceback" not in output and "ExceptionGroup" not in output
    assert "link up" not in output, "nothing else was started"
    # Every time shown to a person carries its zone, log lines included
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [+-]\d{4} INFO guarita\.store: ", output, re.M), output


# covers PB-01, PB-05, DT-02, DT-08
@pytest.mark.slow
async def test_frigate_answering_500_ends_no_service_of_guarita_run(tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki) -> None:
    cameras = {**BUS_CAMERAS, "street": {"programs": ["cop_bh"], "location": {"lat": -19.92, "lon": -43.93}}}
    app = make_frigate_app(StandinCameras(cameras=tuple(StandinCamera(name=name) for name in cameras)),
                           mqtt=StandinMqtt(qos=1))
    faults = FrigateFaults.install(app)
    runner, frigate_port = await serve_frigate(app)
    await faults.set(FaultKind.HTTP_500, runner)  # Frigate restarting while Guarita starts
    try:
        async with SeaweedS3(tmp_path / "seaweed") as s3:
            (tmp_path / "s3-key").write_text(s3.access.access_key)
            (tmp_path / "s3-secret").write_text(s3.access.secret_key)
            cloud = {"endpoint": s3.endpoint, "bucket": s3.bucket, "access_key_file": str(tmp_path / "s3-key"),
                     "secret_key_file": str(tmp_path / "s3-secret")}
            config = write_config(
                tmp_path / "guarita.yaml", frigate_broker=frigate_broker, uplink_broker=uplink_broker, pki=pki,
                cameras=cameras, update_interval=0, extra={
                    "frigate": {"url": f"http://127.0.0.1:{frigate_port}",
                                "mqtt": {"host": "127.0.0.1", "port": frigate_broker.port}},
                    "retention": {"cloud": cloud},
                    "provider": ACCREDITED,
                },
            )
            loaded = load_config(config)
            store = Store.open(loaded.storage.data_dir)
            share_camera(loaded, store, "street", datetime.now(UTC) - timedelta(days=1))  # cloud copy: shared only
            store.close()
            guarita = GuaritaProcess(config).start()
            try:
                await asyncio.to_thread(guarita.wait_healthy, 30)
                deadline = time.monotonic() + 20
                while "service cloud_upload failed" not in guarita.output():
                    assert time.monotonic() < deadline, guarita.output()
                    await asyncio.sleep(0.1)
                report = guarita.health()
                assert report is not None and report["status"] == "degraded"
                upload = report["services"]["cloud_upload"]
                assert upload["state"] in ("restarting", "recovering") and upload["restarts"] >= 1
                assert "answered 500" in upload["last_error"]
                async with Receiver(uplink_broker, pki) as centre:
                    async with FrigateMqttStandin("127.0.0.1", frigate_broker.port) as frigate:
                        await frigate.publish_many(f"{frigate.prefix}/events", lifecycles(list(BUS_CAMERAS), 10, updates=0))
                    await centre.wait_until(lambda: len(centre.events()) == 20, 20)
                with urllib.request.urlopen(f"http://127.0.0.1:{guarita.web_port}/metrics", timeout=2) as answer:
                    metrics = answer.read().decode()
                assert 'guarita_service_restarts_total{service="cloud_upload"}' in metrics
                assert guarita.process is not None and guarita.process.poll() is None, "still running"
                guarita.signal(signal.SIGTERM)
                code = await asyncio.to_thread(guarita.wait, 10)
            finally:
                guarita.stop()
    finally:
        await faults.clear(runner)
        await runner.cleanup()
    output = guarita.output()
    assert code == 0, output
    assert "service cloud_upload failed: FrigateHttpError: Frigate answered 500" in output
    assert output.count("service cloud_upload failed") == 1, "once per failure streak"
    assert "Traceback" not in output and "ExceptionGroup" not in output
