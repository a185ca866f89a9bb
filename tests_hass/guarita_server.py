"""A real Guarita for the integration's tests: `guarita run` from the project's own environment.

Home Assistant's tests run on Python 3.13 (``.venv-hass``) and cannot import Guarita, so
everything goes through processes: a private Mosquitto on a free 127.0.0.1 port (Frigate's
broker, the uplinks and the fleet's telemetry), ``.venv/bin/guarita run`` with a config
written here, and ``.venv/bin/guarita <command>`` to fill the registry and read the trail
as a technician would. Nothing here touches port 1883 or anything but 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GUARITA = ROOT / ".venv" / "bin" / "guarita"
PROVIDER = "acme"
CAMERA = "street_front"
BUS_CAMERA = "bus_front"
VEHICLE = "10234"
T_START = 10.0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (never 1883)."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port != 1883:
            return port


def _mosquitto() -> str:
    found = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise RuntimeError("mosquitto is not installed: the tests need a real broker (apt install mosquitto)")
    return found


class Broker:
    """A private Mosquitto, anonymous, on a free 127.0.0.1 port."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Broker:
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "mosquitto.conf"
        lines = [f"listener {self.port} 127.0.0.1", "allow_anonymous true", "persistence false"]
        if os.geteuid() == 0:
            lines.append("user root")
        conf.write_text("\n".join(lines) + "\n")
        log = (self.workdir / "mosquitto.log").open("wb")
        self.process = subprocess.Popen([_mosquitto(), "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on 127.0.0.1:{self.port}")

    def publish(self, topic: str, payload: str) -> None:
        tool = shutil.which("mosquitto_pub")
        assert tool is not None, "mosquitto_pub is not installed (apt install mosquitto-clients)"
        subprocess.run([tool, "-h", "127.0.0.1", "-p", str(self.port), "-q", "1", "-t", topic, "-m", payload],
                       check=True, timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def token_entry(role: str, token: str) -> dict[str, str]:
    return {"role": role, "sha256": hashlib.sha256(token.encode()).hexdigest()}


class Guarita:
    """`guarita run` on a config of its own, its registry filled through the CLI."""

    def __init__(self, workdir: Path, broker: Broker) -> None:
        self.workdir = workdir
        self.broker = broker
        self.web_port = free_port()
        self.url = f"http://127.0.0.1:{self.web_port}"
        self.config = workdir / "guarita.yaml"
        self.operator_token = secrets.token_urlsafe(24)
        self.viewer_token = secrets.token_urlsafe(24)
        self.process: subprocess.Popen[bytes] | None = None
        self.log = workdir / "guarita.log"
        self.cameras: dict[str, Any] = {
            CAMERA: {"programs": ["cop_bh"], "location": {"lat": -19.9245, "lon": -43.9352}},
            BUS_CAMERA: {"programs": ["detro"], "vehicle": VEHICLE},
        }
        self.write_config()

    def write_config(self) -> None:
        uplink = {"host": "127.0.0.1", "port": self.broker.port}
        data: dict[str, Any] = {
            "provider": {"id": PROVIDER, "name": "ACME Segurança", "kind": "security_company",
                         "accreditation": {"date": "2021-03-01"}},
            "storage": {"data_dir": str(self.workdir / "data")},
            "frigate": {"url": f"http://127.0.0.1:{free_port()}", "mqtt": {"host": "127.0.0.1", "port": self.broker.port}},
            "programs": {"cop_bh": {"uplink": dict(uplink)}, "detro": {"uplink": dict(uplink)}},
            "cameras": self.cameras,
            "fleet": {"vehicles": {VEHICLE: {"plate": "KXY1A23", "line": "232"}}},
            "web": {"host": "127.0.0.1", "port": self.web_port, "tokens": {
                "home-assistant": token_entry("operator", self.operator_token),
                "dashboard": token_entry("viewer", self.viewer_token),
            }},
        }
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config.write_text(json.dumps(data, indent=1))  # JSON is YAML

    def rotate_operator_token(self) -> str:
        """A new operator token in the config (the old one stops working once Guarita restarts)."""
        self.operator_token = secrets.token_urlsafe(24)
        self.write_config()
        return self.operator_token

    def move_to_another_port(self) -> str:
        """Serve on another free port from the next start; the new URL."""
        self.web_port = free_port()
        self.url = f"http://127.0.0.1:{self.web_port}"
        self.write_config()
        return self.url

    # ---- the process --------------------------------------------------------------------------
    def start(self) -> Guarita:
        if not GUARITA.is_file():
            raise RuntimeError(f"{GUARITA} is missing: install the project first (scripts/quickstart.sh test)")
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(GUARITA), "run", "-c", str(self.config)], stdout=out, stderr=subprocess.STDOUT,
                env=dict(os.environ, PYTHONUNBUFFERED="1"), cwd=self.workdir,
            )
        self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None and self.process.poll() is None, self.output()
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as answer:
                    report = json.loads(answer.read())
            except urllib.error.HTTPError as exc:
                report = json.loads(exc.read())
            except OSError:
                time.sleep(0.1)
                continue
            if all(link["up"] for link in report["links"].values()):
                return
            time.sleep(0.1)
        raise AssertionError(f"guarita run not ready in {timeout}s:\n{self.output()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    # ---- the CLI ------------------------------------------------------------------------------
    def cli(self, *args: str) -> str:
        """``guarita ARGS -c CONFIG``; its output (fails the test on a non-zero exit)."""
        done = subprocess.run([str(GUARITA), *args, "-c", str(self.config)], capture_output=True, text=True,
                              timeout=60, cwd=self.workdir)
        assert done.returncode == 0, f"guarita {' '.join(args)}: {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def evidence(self, name: str, data: bytes) -> str:
        path = self.workdir / name
        path.write_bytes(data)
        return str(path)

    def share_camera(self, camera: str = CAMERA, programs: str = "cop_bh") -> None:
        """Client, attestation, sign and consent recorded through the CLI: the gate passes."""
        form = self.evidence("consent.pdf", b"%PDF-1.7 signed consent of the client")
        view = self.evidence("view.jpg", b"\xff\xd8\xff\xe0 the camera's view of the street")
        sign = self.evidence("sign.jpg", b"\xff\xd8\xff\xe0 the BH + Segura sign")
        if "padaria" not in self.cli("clients", "list"):
            self.cli("clients", "add", "padaria", "--name", "Padaria Central", "--document", "529.982.247-25",
                     "--by", "ana")
        self.cli("cameras", "attest", camera, "--public-facing", "--evidence", view, "--by", "ana")
        self.cli("signage", "record", camera, "--plate", "BH-0042", "--photo", sign, "--by", "ana")
        self.cli("consent", "grant", camera, "--client", "padaria", "--evidence", form, "--programs", programs,
                 "--by", "ana")

    def revoke(self, camera: str = CAMERA) -> None:
        self.cli("consent", "revoke", camera, "--reason", "the client withdrew", "--by", "ana")

    def harsh_braking(self, at: float) -> str:
        """Bus 10234 brakes hard (telemetry over MQTT, as its onboard unit sends it); the event's id."""
        def sample(t: float, speed: float, accel: float) -> dict[str, Any]:
            return {"ts": t, "lat": -19.92, "lon": -43.93, "speed_kmh": speed, "heading": 90.0, "odometer_km": 1000.0,
                    "rpm": 1500.0, "accel_long_mps2": accel, "accel_lat_mps2": 0.2, "main_power": True}

        samples = [sample(at, 40.0, -2.9), sample(at + 1, 30.0, -3.4)]
        self.broker.publish(f"vehicles/{VEHICLE}/telemetry", json.dumps(samples))
        return f"{VEHICLE}-harsh_braking-{round(at * 1000)}"

    def events(self) -> list[dict[str, Any]]:
        """``guarita events list --json``."""
        document = json.loads(self.cli("events", "list", "--json"))
        return document["events"] if isinstance(document, dict) else document  # type: ignore[no-any-return]
