"""Forwarding benchmark: Guarita (durable outbox) against a Mosquitto bridge, in one run.

Two pipelines carry Frigate ``update`` events (~3.9 KB, shaped like
tests/fixtures/frigate/mqtt-events-update.json) from a Frigate-side broker to an uplink broker over TLS:

  (a) Mosquitto's own bridge: ``topic frigate/# out 1``, ``max_queued_messages 0``;
  (b) ``guarita run`` with the durable SQLite outbox (synchronous=FULL), 1,000 cameras.

Throughput: N events are fed at QoS 1 by ``mosquitto_pub -l`` from a file (C, faster than
either pipeline), and received at the uplink by ``mosquitto_sub`` (C, stamps each arrival).
msgs/s = N / (last arrival − feed start).
Latency: events offered at RATE/s for SECONDS by a paced publisher that notes each send
time; latency = arrival − send, p50/p99.
Also Guarita's RSS (VmHWM) at the end. The last line is the throughput ratio (b)/(a).

    python bench/forwarding.py [--events 20000] [--rate 1000] [--seconds 5]

Covers: PB-05, DT-02.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from guarita.mqtt import LinkSettings, MqttLink
from guarita.standin.broker_fleet import BrokerFleet
from guarita.standin.mosquitto import MosquittoBroker, free_port
from guarita.standin.tls import TestPki, make_test_pki

REPO = Path(__file__).resolve().parents[1]
CONTRACT = REPO / "tests" / "fixtures" / "frigate" / "mqtt-events-update.json"
CAMERAS = 1000
ID_PATTERN = re.compile(rb'"id":\s*"([^"]+)"')
ACL = "user acme\ntopic write detro/v1/acme/#\ntopic write frigate/#\n\nuser receiver\ntopic read #\n"


def update_template() -> dict[str, Any]:
    return json.loads(CONTRACT.read_text())  # type: ignore[no-any-return]


def realistic(template: dict[str, Any], target: int = 4000) -> dict[str, Any]:
    """Lengthen the object's path (as a longer track does) until compact JSON is ~``target`` bytes.

    The contract's example is a 3-second track (2.3 KB compact); real update payloads run
    near 4 KB.
    """
    event = json.loads(json.dumps(template))
    path = event["after"]["path_data"]
    (x, y), t = path[-1]
    while len(json.dumps(event, separators=(",", ":"))) < target:
        x, y, t = round(x + 0.0123, 4), round(y - 0.0071, 4), t + 0.6
        path.append([[x, y], t])
        event["before"]["path_data"] = path[:-1]
    return event


def event_lines(template: dict[str, Any], count: int, tag: str) -> list[bytes]:
    """``count`` distinct update events (one per line, compact JSON), ids ``<tag>-<n>``."""
    lines = []
    for n in range(count):
        event = json.loads(json.dumps(template))
        camera = f"cam_{n % CAMERAS}"
        for side in ("before", "after"):
            event[side]["id"] = f"{tag}-{n:07d}"
            event[side]["camera"] = camera
        lines.append(json.dumps(event, separators=(",", ":")).encode())
    return lines


@dataclass
class Receiver:
    """``mosquitto_sub`` on the uplink broker, printing ``<arrival ns> <payload>`` per message."""

    process: subprocess.Popen[bytes]
    output: Path

    @classmethod
    def start(cls, broker: MosquittoBroker, pki: TestPki, topic: str, count: int, out: Path) -> Receiver:
        args = [
            "mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1", "-t", topic,
            "-u", "receiver", "-P", broker.users["receiver"], "--cafile", str(pki.ca_cert),
            "-C", str(count), "-W", "300", "-F", "%U %p", "-i", f"bench-{secrets.token_hex(3)}",
        ]
        with out.open("wb") as sink:
            process = subprocess.Popen(args, stdout=sink, stderr=subprocess.DEVNULL)
        time.sleep(0.5)  # subscribed before anything is sent
        return cls(process, out)

    def arrivals(self, timeout: float) -> dict[bytes, float]:
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        seen: dict[bytes, float] = {}
        for line in self.output.read_bytes().splitlines():
            stamp, _, payload = line.partition(b" ")
            match = ID_PATTERN.search(payload)
            if match and match.group(1) not in seen:
                seen[match.group(1)] = float(stamp)
        return seen


def flood(broker: MosquittoBroker, lines: list[bytes], workdir: Path) -> float:
    """Feed every line at QoS 1 with ``mosquitto_pub -l``; returns the start time."""
    feed = workdir / f"feed-{secrets.token_hex(3)}.txt"
    feed.write_bytes(b"\n".join(lines) + b"\n")
    started = time.time()
    with feed.open("rb") as source:
        subprocess.run(
            ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1", "-M", "1000",
             "-t", "frigate/events", "-l", "-i", f"feeder-{secrets.token_hex(3)}"],
            stdin=source, check=True,
        )
    return started


async def paced(broker: MosquittoBroker, lines: list[bytes], rate: float) -> dict[bytes, float]:
    """Publish at ``rate`` msgs/s (QoS 1); returns each id's send time."""
    link = MqttLink(LinkSettings("127.0.0.1", broker.port, f"paced-{secrets.token_hex(3)}", max_inflight=1000))
    await link.connect()
    sent: dict[bytes, float] = {}
    start = time.monotonic()
    pending = []
    for n, line in enumerate(lines):
        delay = start + n / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        match = ID_PATTERN.search(line)
        assert match is not None
        sent[match.group(1)] = time.time()
        pending.append(link.publish("frigate/events", line, 1, False))
    await asyncio.gather(*pending)
    await link.close()
    return sent


@dataclass
class Result:
    name: str
    throughput: float
    received: int
    p50_ms: float
    p99_ms: float
    latency_received: int


def measure(
    name: str, source: MosquittoBroker, uplink: MosquittoBroker, pki: TestPki, topic: str,
    template: dict[str, Any], args: argparse.Namespace, workdir: Path,
) -> Result:
    lines = event_lines(template, args.events, f"{name}-flood")
    receiver = Receiver.start(uplink, pki, topic, args.events, workdir / f"{name}-flood.out")
    started = flood(source, lines, workdir)
    arrivals = receiver.arrivals(timeout=300)
    throughput = len(arrivals) / (max(arrivals.values()) - started) if arrivals else 0.0

    count = int(args.rate * args.seconds)
    lines = event_lines(template, count, f"{name}-paced")
    receiver = Receiver.start(uplink, pki, topic, count, workdir / f"{name}-paced.out")
    sent = asyncio.run(paced(source, lines, args.rate))
    arrived = receiver.arrivals(timeout=60)
    latencies = sorted((arrived[i] - sent[i]) * 1000 for i in sent if i in arrived)
    p50 = statistics.median(latencies) if latencies else float("nan")
    p99 = latencies[int(len(latencies) * 0.99) - 1] if latencies else float("nan")
    return Result(name, throughput, len(arrivals), p50, p99, len(latencies))


def guarita_config(workdir: Path, frigate: MosquittoBroker, uplink: MosquittoBroker, pki: TestPki) -> tuple[Path, int]:
    secret = workdir / "uplink.pass"
    secret.write_text(uplink.users["acme"])
    web_port = free_port()
    config = {
        "provider": {"id": "acme", "name": "Bench", "kind": "bus_operator"},
        "storage": {"data_dir": str(workdir / "guarita-data")},
        "frigate": {"mqtt": {"host": "127.0.0.1", "port": frigate.port}},
        "programs": {"detro": {"uplink": {
            "host": "127.0.0.1", "port": uplink.port, "username": "acme", "password_file": str(secret),
            "tls": {"ca_file": str(pki.ca_cert)},
        }}},
        "cameras": {f"cam_{n}": {"programs": ["detro"], "vehicle": f"{10000 + n // 4}"} for n in range(CAMERAS)},
        "forward": {"update_interval": 0},
        "outbox": {"quota_mb": 4096},
        "web": {"port": web_port},
    }
    path = workdir / "guarita.yaml"
    path.write_text(yaml.safe_dump(config))
    return path, web_port


def wait_healthy(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("guarita run exited during start-up")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as answer:
                if all(link["up"] for link in json.loads(answer.read())["links"].values()):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("guarita run did not become healthy")


def rss_kib(pid: int) -> tuple[int, int]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000, help="events in the throughput flood")
    parser.add_argument("--rate", type=float, default=1000.0, help="offered events/s in the latency run")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of the latency run")
    args = parser.parse_args()
    template = realistic(update_template())
    size = len(event_lines(template, 1, "size")[0])
    print(f"payload {size} bytes, {args.events} events flood, {args.rate:g}/s for {args.seconds:g}s paced, TLS uplinks")
    with tempfile.TemporaryDirectory(prefix="guarita-bench-") as tmp, BrokerFleet(Path(tmp) / "brokers") as fleet:
        workdir = Path(tmp)
        pki = make_test_pki(workdir / "pki")
        users = {"acme": secrets.token_urlsafe(12), "receiver": secrets.token_urlsafe(12)}

        uplink_a = fleet.start(MosquittoBroker(fleet.workdir("uplink-a"), tls=pki, users=users, acl=ACL, persistence=False))
        source_a = MosquittoBroker(fleet.workdir("frigate-a"), persistence=False)
        source_a.bridge_to(uplink_a, name="uplink", topics=("frigate/# out 1",), username="acme")
        fleet.start(source_a)
        uplink_a.wait_for_log(" as bridge-uplink ")
        bridge = measure("bridge", source_a, uplink_a, pki, "frigate/events", template, args, workdir)
        fleet.close()

    with tempfile.TemporaryDirectory(prefix="guarita-bench-") as tmp, BrokerFleet(Path(tmp) / "brokers") as fleet:
        workdir = Path(tmp)
        pki = make_test_pki(workdir / "pki")
        users = {"acme": secrets.token_urlsafe(12), "receiver": secrets.token_urlsafe(12)}
        uplink_b = fleet.start(MosquittoBroker(fleet.workdir("uplink-b"), tls=pki, users=users, acl=ACL, persistence=False))
        source_b = fleet.start(MosquittoBroker(fleet.workdir("frigate-b")))
        config, web_port = guarita_config(workdir, source_b, uplink_b, pki)
        process = subprocess.Popen(
            [sys.executable, "-m", "guarita.cli", "run", "-c", str(config)],
            stdout=subprocess.DEVNULL, stderr=(workdir / "guarita.log").open("wb"),
        )
        try:
            wait_healthy(web_port, process)
            rss_idle, _ = rss_kib(process.pid)
            guarita = measure("guarita", source_b, uplink_b, pki, "detro/v1/acme/vehicles/+/events", template, args, workdir)
            rss_now, rss_peak = rss_kib(process.pid)
        finally:
            process.terminate()
            process.wait(10)

    for result in (bridge, guarita):
        print(
            f"{result.name:>8}: {result.throughput:8.0f} msgs/s ({result.received}/{args.events} received); "
            f"at {args.rate:g}/s offered: p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms "
            f"({result.latency_received}/{int(args.rate * args.seconds)} received)"
        )
    print(f"guarita RSS with {CAMERAS} cameras: {rss_idle / 1024:.1f} MiB idle, {rss_peak / 1024:.1f} MiB peak")
    print(f"ratio guarita/mosquitto-bridge throughput: {guarita.throughput / bridge.throughput:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
