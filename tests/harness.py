"""Test harness: a receiving centre on an uplink broker, configs, and `guarita run` as a process."""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from guarita.config import GuaritaConfig
from guarita.config_loader import load_config
from guarita.consent.registry import Registry
from guarita.consent.share_gate import RegistryView
from guarita.runtime import Runtime
from guarita.standin.centre import Centre
from guarita.standin.frigate_events import tracked_object_lifecycle
from guarita.standin.mosquitto import MosquittoBroker, free_port
from guarita.standin.tls import TestPki
from guarita.store import Store


def Receiver(broker: MosquittoBroker, pki: TestPki, topic: str = "#") -> Centre:
    """A centre on a test uplink broker, logged in as `receiver`."""
    return Centre(
        "127.0.0.1", broker.port, username="receiver", password=broker.users["receiver"],
        ca_file=pki.ca_cert, topic=topic,
    )


def write_config(
    path: Path,
    *,
    frigate_broker: MosquittoBroker,
    uplink_broker: MosquittoBroker,
    pki: TestPki,
    cameras: dict[str, Any],
    programs: Sequence[str] = ("cop_bh", "detro"),
    update_interval: float = 5.0,
    web_port: int | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """A Guarita config pointing at the test brokers (uplinks over TLS as `acme`)."""
    secret = path.parent / "uplink.pass"
    secret.write_text(uplink_broker.users["acme"] + "\n")
    uplink = {
        "host": "127.0.0.1",
        "port": uplink_broker.port,
        "username": "acme",
        "password_file": str(secret),
        "tls": {"ca_file": str(pki.ca_cert)},
    }
    data: dict[str, Any] = {
        "provider": {"id": "acme", "name": "ACME Segurança", "kind": "security_company"},
        "storage": {"data_dir": str(path.parent / "data")},
        # No Frigate API here: a free port, so nothing else on the machine answers the check.
        "frigate": {"url": f"http://127.0.0.1:{free_port()}", "mqtt": {"host": "127.0.0.1", "port": frigate_broker.port}},
        "programs": {name: {"uplink": dict(uplink)} for name in programs},
        "cameras": cameras,
        "forward": {"update_interval": update_interval},
        "web": {"host": "127.0.0.1", "port": web_port if web_port is not None else free_port()},
    }
    data.update(extra or {})
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def lifecycles(cameras: Sequence[str], count: int, *, updates: int = 2, seed: int = 7, version: str = "0.17") -> list[dict[str, Any]]:
    """`count` tracked objects round-robin over `cameras`, interleaved the way Frigate emits them."""
    rng = random.Random(seed)
    start = 1_782_824_400.0
    per_object = [
        tracked_object_lifecycle(cameras[i % len(cameras)], "person", start + i, updates=updates, rng=rng, version=version)
        for i in range(count)
    ]
    # Interleave: objects overlap in time, but each object's messages stay in order.
    messages: list[dict[str, Any]] = []
    for step in range(updates + 2):
        messages += [obj[step] for obj in per_object]
    return messages


class GuaritaProcess:
    """`guarita run -c FILE` as a real process."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.web_port = yaml.safe_load(config.read_text())["web"]["port"]
        self.log = config.parent / f"guarita-{secrets.token_hex(3)}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> GuaritaProcess:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "guarita.cli", "run", "-c", str(self.config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        return self

    def health(self) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.web_port}/healthz", timeout=1) as answer:
                return json.loads(answer.read())  # type: ignore[no-any-return]
        except OSError:
            return None
        except urllib.error.HTTPError as exc:  # 503 still carries the report
            return json.loads(exc.read())  # type: ignore[no-any-return]

    def wait_healthy(self, timeout: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None and self.process.poll() is None, self.output()
            report = self.health()
            if report and all(link["up"] for link in report["links"].values()):
                return report
            time.sleep(0.1)
        raise AssertionError(f"guarita not healthy in {timeout}s: {self.health()}\n{self.output()}")

    def signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def wait(self, timeout: float = 10.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)


# A provider accredited under the BH + Segura call: without it the share gate passes nothing (BH-01).
ACCREDITED: dict[str, Any] = {"id": "acme", "name": "ACME Segurança", "kind": "security_company",
                              "accreditation": {"date": "2021-03-01"}}


class FakeClock:
    """Aware UTC time that moves only when the test says so."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


async def wait_for(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    """Poll ``predicate`` until it holds; fail the test after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


@asynccontextmanager
async def running(
    config_path: Path,
    registry: RegistryView | None = None,
    *,
    reconnect_max_s: float = 0.5,
    clock: Callable[[], datetime] | None = None,
) -> AsyncIterator[Runtime]:
    """`guarita run` in this process until the block ends; waits for every link to be up.

    No Frigate HTTP API in these tests: its check (tested in test_frigate_check.py) stays off.
    """
    runtime = Runtime(
        load_config(config_path), registry=registry, reconnect_max_s=reconnect_max_s, check_frigate=False,
        **({"clock": clock} if clock is not None else {}),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(runtime.run(stop))
    try:
        await wait_for(lambda: all(link["up"] for link in runtime.health()["links"].values()), 15)
        yield runtime
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


def share_camera(config: GuaritaConfig, store: Store, camera: str, since: datetime) -> FakeClock:
    """Record client, attestation, sign and consent for ``camera`` at ``since`` (the gate passes from then on).

    The provider must be accredited in ``config`` for the gate to pass. The returned clock stays at ``since``.
    """
    clock = FakeClock(since)
    registry = Registry.for_config(config, store, clock)
    evidence = config.storage.data_dir / "consent.pdf"
    evidence.write_bytes(b"%PDF-1.7 signed consent")
    if "condo-1" not in {c.client_id for c in registry.clients()}:
        registry.add_client("condo-1", "Condominio Flores", by="ana")
    registry.attest(camera, public_facing=True, evidence=evidence, by="ana")
    registry.record_signage(camera, plate="BHS-0001", photo=evidence, by="ana")
    registry.grant(camera, client_id="condo-1", evidence=evidence, by="ana")
    return clock
