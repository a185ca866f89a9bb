"""`guarita run` as a real process: crash, SIGTERM, unreachable brokers."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from pathlib import Path

import pytest
from harness import GuaritaProcess, Receiver, lifecycles, write_config

from guarita.standin.frigate_mqtt import FrigateMqttStandin
from guarita.standin.broker_fleet import BrokerFleet
from guarita.standin.mosquitto import MosquittoBroker
from guarita.standin.tls import TestPki

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
