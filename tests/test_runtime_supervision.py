"""`guarita run` rides out a Frigate restart: 500, 502, timeouts, refused connections.

In process, with real Mosquitto brokers, a real SeaweedFS bucket for the cloud copy (which
reads through the Frigate stand-in's API) and the stand-in faulting as a restarting Frigate
does (contract §9), while events flow on MQTT.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from harness import ACCREDITED, Receiver, lifecycles, share_camera, wait_for, write_config

from guarita.config_loader import load_config
from guarita.retention.cloud_segments import hour_of
from guarita.runtime import Runtime
from guarita.standin.frigate_api import StandinMqtt, make_frigate_app, serve_frigate
from guarita.standin.frigate_cameras import StandinCamera, StandinCameras
from guarita.standin.frigate_faults import FaultKind, FrigateFaults, frigate_restart
from guarita.standin.frigate_mqtt import FrigateMqttStandin
from guarita.standin.mosquitto import MosquittoBroker
from guarita.standin.seaweed import SeaweedS3
from guarita.standin.tls import TestPki
from guarita.store import Store

KEY_ENV = "GUARITA_TEST_S3_KEY"
CAMERAS: dict[str, Any] = {
    "street": {"programs": ["cop_bh"], "location": {"lat": -19.92, "lon": -43.93}},
    "bus_10234_front": {"programs": ["detro"], "vehicle": "10234"},
}
PHASE_S = 2.5  # a real restart: several seconds per phase
TIMEOUT_PHASE_S = 13.5  # outlasts the Frigate client's own 10 s timeout


@pytest.fixture
async def s3(tmp_path: Path) -> AsyncIterator[SeaweedS3]:
    async with SeaweedS3(tmp_path / "seaweed") as store:
        yield store


# covers PB-01, PB-05, DT-02, DT-08
@pytest.mark.slow
async def test_a_frigate_restart_loses_nothing_and_health_recovers(
    tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki, s3: SeaweedS3
) -> None:
    hour = hour_of(time.time())
    hour_begins = dt.datetime.strptime(hour, "%Y-%m-%d/%H").replace(tzinfo=dt.UTC)
    # Frigate's clock 35 s into the hour: four finished segments to copy, not a week of them.
    app = make_frigate_app(
        StandinCameras(cameras=(StandinCamera(name="street"), StandinCamera(name="bus_10234_front"))),
        mqtt=StandinMqtt(qos=1), clock=lambda: hour_begins + dt.timedelta(seconds=35),
    )
    faults = FrigateFaults.install(app)
    runner, frigate_port = await serve_frigate(app)
    secret = tmp_path / "s3-secret"
    secret.write_text(s3.access.secret_key + "\n")
    cloud = {"endpoint": s3.endpoint, "bucket": s3.bucket, "access_key_env": KEY_ENV, "secret_key_file": str(secret)}
    path = write_config(
        tmp_path / "guarita.yaml", frigate_broker=frigate_broker, uplink_broker=uplink_broker, pki=pki,
        cameras=CAMERAS, update_interval=0, extra={
            "frigate": {"url": f"http://127.0.0.1:{frigate_port}",
                        "mqtt": {"host": "127.0.0.1", "port": frigate_broker.port}},
            "retention": {"cloud": cloud},
            "provider": ACCREDITED,
        },
    )
    config = load_config(path, environ={KEY_ENV: s3.access.access_key})
    store = Store.open(config.storage.data_dir)
    share_camera(config, store, "street", hour_begins - dt.timedelta(hours=1))  # the cloud copy takes shared footage only
    store.close()
    runtime = Runtime(config,
                      reconnect_max_s=0.5, restart_max_s=1.0, settle_s=1.0)
    assert runtime.cloud is not None
    runtime.cloud.pass_interval_s = 0.3  # Frigate is asked often enough to meet every fault
    with runtime.store.transaction() as db:
        db.execute("INSERT INTO cloud_cursor (source, hour) VALUES ('frigate_api', ?)", (hour,))
    messages = lifecycles(["bus_10234_front"], 60, updates=0)  # 120 messages, sent all through the restart
    stop = asyncio.Event()
    running = asyncio.create_task(runtime.run(stop))
    try:
        async with Receiver(uplink_broker, pki) as centre, FrigateMqttStandin("127.0.0.1", frigate_broker.port) as frigate:
            await wait_for(lambda: runtime.health()["status"] == "ok" and uploaded(runtime) == 4, 30)
            assert runtime.metrics.service_restarts.get("cloud_upload") == 0

            async def publish_slowly() -> None:
                for start in range(0, len(messages), 5):
                    await frigate.publish_many(f"{frigate.prefix}/events", messages[start:start + 5])
                    await asyncio.sleep(0.15)

            seen: dict[str, set[str]] = {}

            def watch() -> None:
                report = runtime.health()
                assert not running.done(), "guarita run ended"
                upload = report["services"]["cloud_upload"]
                phase = faults.kind.value if faults.kind is not None else "back"
                seen.setdefault(phase, set()).add(report["status"])
                if upload["last_error"]:
                    seen.setdefault("errors", set()).add(upload["last_error"])

            async def watch_until(task: asyncio.Task[None]) -> None:
                while not task.done():
                    watch()
                    await asyncio.sleep(0.1)

            restart = asyncio.create_task(frigate_restart(faults, runner, PHASE_S, timeout_phase_s=TIMEOUT_PHASE_S))
            publishing = asyncio.create_task(publish_slowly())
            await asyncio.gather(restart, publishing, watch_until(restart))
            assert faults.requests_faulted > 0

            await wait_for(lambda: runtime.health()["status"] == "ok", 20)
            await centre.wait_until(lambda: len(centre.events()) >= len(messages), 20)
            assert not running.done(), "guarita run is alive"

        keys = {(e["id"], e["type"]) for e in centre.events()}
        assert keys == {(m["after"]["id"], m["type"]) for m in messages}, "every event reached the centre"
        for kind in FaultKind:
            assert "degraded" in seen[kind.value], f"/healthz degraded during {kind}"
        errors = " | ".join(sorted(seen["errors"]))
        assert "answered 500" in errors and "answered 502" in errors, errors
        assert "did not answer" in errors, f"a request timed out: {errors}"
        assert "cannot connect" in errors.lower() or "refused" in errors.lower(), errors
        assert runtime.metrics.service_restarts.get("cloud_upload") >= 4
        assert 'guarita_service_restarts_total{service="cloud_upload"}' in runtime.metrics.render()
        services = runtime.health()["services"]
        assert all(s["state"] in ("running", "finished") for s in services.values()), services
        assert services["cloud_upload"]["restarts"] >= 4
        for name in ("frigate_subscriber", "uplink_cop_bh", "uplink_detro", "web", "frigate_check"):
            assert services[name]["restarts"] == 0, f"{name} rode the restart out on its own"
    finally:
        stop.set()
        await asyncio.wait_for(running, 15)
        await runner.cleanup()


def uploaded(runtime: Runtime) -> int:
    (count,) = runtime.store.db.execute("SELECT COUNT(*) FROM cloud_objects").fetchone()
    return int(count)
