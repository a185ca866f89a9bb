"""``guarita demo``: the whole bridge on one machine, with sample cameras and two centres.

Starts private Mosquitto brokers on free loopback ports (Frigate's, and one TLS broker per
centre), a Frigate stand-in publishing tracked objects for five cameras, Guarita itself with
SQLite in a temporary directory, and two receiving centres (stand-ins for COP-BH and DETRO).
It prints what each centre receives (each camera's first event in full, then counts per
camera every few seconds: ``guarita.demo.story``), and at the end what was held back and why.
Log records go to ``demo.log`` in the work folder; the folder is removed at the end unless
``--keep``, and the last line says which.

The consent registry is the real one. Over the run, an operator (scripted) records what
the CLI records: ``street_front`` starts held back, gets its client's consent, then the
public-facing attestation, then its sign, and from that moment its events and its catalogue
entry reach COP-BH; later the client revokes, and the catalogue entry is withdrawn and its
events stop. ``street_corner`` gets consent and attestation but no sign, so it stays held
back throughout; ``backyard`` is in no program and never leaves.

A bus garage runs beside it: a fifth of the way in, bus 10234 pulls in and its DVR (a
stand-in HTTP server with ffmpeg-made segments, one of them too short) answers on the
garage network. Guarita notices, syncs it with progress shown, quarantines the bad file,
and DETRO receives the sync report with the coverage and its gap. Then a police authority's
request for two minutes of the bus's camera 1 is recorded, approved by a second person,
exported as a signed bundle into the work folder and verified (``guarita.demo.evidence``).

Covers: PB-01, PB-05, PB-06, BH-03, BH-04, BH-07, BH-08, DT-02, DT-04, DT-06, DT-11.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import yaml

from guarita.config_loader import load_config
from guarita.consent.registry import Registry
from guarita.consent.share_gate import decide
from guarita.demo.evidence import show_evidence_request
from guarita.demo.story import CentreStory, log_to_file
from guarita.runtime import Runtime
from guarita.standin.centre import Centre
from guarita.standin.frigate_api import StandinMqtt, make_frigate_app, serve_frigate
from guarita.standin.frigate_cameras import StandinCamera, StandinCameras
from guarita.standin.frigate_events import tracked_object_lifecycle
from guarita.standin.frigate_mqtt import FrigateMqttStandin
from guarita.standin.broker_fleet import BrokerFleet
from guarita.standin.dvr_http import DvrHttpServer
from guarita.standin.mosquitto import MosquittoBroker, free_port
from guarita.standin.tls import make_test_pki

__all__ = ["DEMO_CAMERAS", "LOG_NAME", "run_demo"]

LOG_NAME = "demo.log"

DEMO_CAMERAS: dict[str, dict[str, Any]] = {
    "street_front": {"programs": ["cop_bh"], "location": {"lat": -19.9245, "lon": -43.9352}, "heading": 180},
    "street_corner": {"programs": ["cop_bh"], "location": {"lat": -19.9251, "lon": -43.9360}, "heading": 90},
    "backyard": {"programs": []},
    "bus_10234_interior": {"programs": ["detro"], "vehicle": "10234"},
    "bus_10234_front": {"programs": ["detro"], "vehicle": "10234"},
}
LABELS = {"street_front": "car", "street_corner": "person", "backyard": "person"}

CENTRE_ACL = "user acme\ntopic write {root}/acme/#\n\nuser centre\ntopic read #\n"


async def _operator_story(registry: Registry, workdir: Path, duration_s: float, out: TextIO) -> None:
    """What an operator records with the CLI, spread over the run (see the module docstring)."""
    evidence = workdir / "evidence"
    evidence.mkdir()
    signed_form, snapshot, photo = (evidence / n for n in ("consent.pdf", "snapshot.jpg", "sign.jpg"))
    for path in (signed_form, snapshot, photo):
        path.write_bytes(secrets.token_bytes(64))  # stand-ins for the scanned form and photos

    def clients() -> None:
        registry.add_client("condo-aurora", "Condomínio Aurora", by="operator", document="529.982.247-25")
        registry.add_client("padaria-sol", "Padaria Sol", by="operator")

    def corner_without_sign() -> None:
        registry.grant("street_corner", client_id="padaria-sol", evidence=signed_form, by="operator")
        registry.attest("street_corner", public_facing=True, evidence=snapshot, by="operator")

    def front_consent() -> None:
        registry.grant("street_front", client_id="condo-aurora", evidence=signed_form, by="operator")

    def front_attest() -> None:
        registry.attest("street_front", public_facing=True, evidence=snapshot, by="operator")

    def front_sign() -> None:
        registry.record_signage("street_front", plate="BHS-000123", photo=photo, by="operator")

    def front_revoke() -> None:
        registry.revoke("street_front", by="operator", reason="client asked to stop sharing")

    steps: list[tuple[float, str, Callable[[], None]]] = [
        (0.10, "clients condo-aurora and padaria-sol added", clients),
        (0.15, "street_corner: consent and public-facing attestation (no sign yet)", corner_without_sign),
        (0.25, "street_front: consent granted by condo-aurora", front_consent),
        (0.35, "street_front: attested public-facing", front_attest),
        (0.45, "street_front: sign BHS-000123 recorded", front_sign),
        (0.80, "street_front: consent revoked by the client", front_revoke),
    ]
    started = time.monotonic()
    for fraction, what, step in steps:
        await asyncio.sleep(max(0.0, started + fraction * duration_s - time.monotonic()))
        step()
        print(f"  [registry] {what}", file=out, flush=True)


DEMO_BUS = "10234"
BUS_DVR_START = datetime(2026, 11, 20, 8, 0, 0)  # the DVR's local clock
GARAGE_FINISH_S = 90.0  # past the demo's duration, the bus story is still told to its end (a slow machine)


def _demo_fleet(dvr_url: str) -> dict[str, Any]:
    dvr = {"serial": "DVR-2009-000123", "source": dvr_url, "cameras": {1: "interior", 2: "front"}}
    return {"poll_interval_s": 1, "vehicles": {DEMO_BUS: {"plate": "KXY1A23", "line": "100", "dvr": dvr}}}


def _make_bus_dvr(root: Path) -> None:
    """The bus's SD card: four one-minute segments per camera, a missing minute, one 30 s file."""
    from guarita.standin.dvr_media import make_dvr_tree, make_segment, stamp_name

    make_dvr_tree(root, BUS_DVR_START, {1: "1", 2: "2"}, count=4, seconds=60, gap_after=3)
    make_segment(root / "2" / stamp_name(BUS_DVR_START + timedelta(minutes=10)), 30)


class _GarageProgress:
    """Prints a sync pass's progress in quarters."""

    def __init__(self, vehicle: str, out: TextIO) -> None:
        self._vehicle, self._out = vehicle, out
        self._total, self._done, self._shown = 0, 0, -1

    def planned(self, files: int, size: int) -> None:
        self._total = size
        print(f"  [garage] bus {self._vehicle}: DVR answers; {files} files to fetch, {size / 1e6:.1f} MB",
              file=self._out, flush=True)

    def advanced(self, size: int) -> None:
        self._done += size
        quarter = int(4 * self._done / self._total) if self._total else 4
        if quarter > self._shown:
            self._shown = quarter
            print(f"  [garage] bus {self._vehicle}: {25 * quarter}% ({self._done / 1e6:.1f} MB)",
                  file=self._out, flush=True)


def _write_config(
    workdir: Path,
    frigate: MosquittoBroker,
    frigate_api_port: int,
    centres: dict[str, MosquittoBroker],
    ca: Path,
    dvr_url: str,
) -> Path:
    programs = {}
    for program, broker in centres.items():
        secret = workdir / f"{program}.pass"
        secret.write_text(broker.users["acme"])
        programs[program] = {
            "uplink": {
                "host": "127.0.0.1",
                "port": broker.port,
                "username": "acme",
                "password_file": str(secret),
                "tls": {"ca_file": str(ca)},
            }
        }
    config = {
        "provider": {
            "id": "acme",
            "name": "ACME Segurança (demo)",
            "kind": "security_company",
            "accreditation": {"reference": "Edital de Chamamento 002/2020 SMSP", "date": "2021-03-15"},
        },
        "storage": {"data_dir": str(workdir / "data")},
        "frigate": {"url": f"http://127.0.0.1:{frigate_api_port}", "mqtt": {"host": "127.0.0.1", "port": frigate.port}},
        "programs": programs,
        "cameras": DEMO_CAMERAS,
        "forward": {"update_interval": 2},
        "web": {"host": "127.0.0.1", "port": free_port()},
        "fleet": _demo_fleet(dvr_url),
    }
    path = workdir / "guarita.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    return path


async def _frigate_activity(frigate: FrigateMqttStandin, published: Counter[str], stop: asyncio.Event) -> None:
    """Every camera sees tracked objects in turn: new → updates → end, paced in time."""

    async def camera_activity(camera: str, rng: random.Random) -> None:
        label = LABELS.get(camera, "person")
        await asyncio.sleep(rng.uniform(0, 1.0))
        while not stop.is_set():
            messages = tracked_object_lifecycle(camera, label, time.time(), updates=rng.randint(1, 3), rng=rng)
            for message in messages:  # a started object is always finished, as Frigate would
                await frigate.publish_event(message)
                published[camera] += 1
                await asyncio.sleep(rng.uniform(0.1, 0.4))
            await asyncio.sleep(rng.uniform(0.3, 1.5))

    async with asyncio.TaskGroup() as group:
        for index, camera in enumerate(DEMO_CAMERAS):
            group.create_task(camera_activity(camera, random.Random(958 + index)))


def _summary(runtime: Runtime, published: Counter[str], stories: dict[str, CentreStory], out: TextIO) -> None:
    now = datetime.now(UTC)
    print("\nSummary (messages: Frigate published / each centre received)", file=out)
    print(f"  {'camera':<19} {'frigate':>7} {'COP-BH':>7} {'DETRO':>7}  held back because", file=out)
    config = runtime.config
    for camera, settings in config.cameras.items():
        reasons = []
        if not settings.programs:
            reasons.append("in no program: never leaves this site")
        for program in settings.programs:
            decision = decide(settings, camera, program, True, now, runtime.registry_view)
            if not decision.shared:
                reasons.append(f"{program.value}: " + ", ".join(r.value for r in decision.reasons))
        print(
            f"  {camera:<19} {published[camera]:>7} {stories['cop_bh'].received[camera]:>7} "
            f"{stories['detro'].received[camera]:>7}  {'; '.join(reasons)}".rstrip(),
            file=out,
        )
    throttled = int(runtime.metrics.skipped.get("throttled"))
    print(f"  updates throttled to one per {config.forward.update_interval:g} s per event: {throttled}", file=out)
    print(f"  COP-BH received {stories['cop_bh'].outside_catalogue} events of cameras outside its catalogue",
          file=out)
    # Guarita has stopped and closed its store: what it counted in memory, not /healthz.
    depth = {uplink.name: runtime.outbox.depth(uplink.name) for uplink in runtime.uplinks}
    quarantined = int(sum(runtime.metrics.quarantined.values.values()))
    print(f"  outbox depth {depth}, quarantined {quarantined}", file=out)
    if runtime.dvr_poller is not None and DEMO_BUS in runtime.dvr_poller.results:
        result = runtime.dvr_poller.results[DEMO_BUS]
        print(f"  bus {DEMO_BUS}: {result.files} segments archived under {config.storage.data_dir / 'archive'}, "
              f"{len(result.quarantined)} quarantined with the reason beside each file", file=out)


def _say_where_things_went(workdir: Path, keep_dir: bool, out: TextIO) -> None:
    """The last lines: the work folder kept (and how to remove it), or removed (and how to keep it)."""
    if keep_dir:
        print(f"\nkept {workdir} (log {workdir / LOG_NAME}); remove it with: rm -r {workdir}", file=out)
    else:
        print(f"\nremoved {workdir} with everything above in it (log, archive, evidence bundle); "
              "run `guarita demo --keep` to keep it", file=out)


async def run_demo(
    duration_s: float = 30.0, keep_dir: bool = False, out: TextIO = sys.stdout, *, discover_camera: bool = True
) -> int:
    """Run the demo for ``duration_s`` seconds (or until Ctrl-C); returns the exit status.

    With ``discover_camera``, a virtual ONVIF camera is discovered meanwhile, in a network
    namespace of its own (``guarita.demo.onboarding``), and its Frigate entry written to a file.
    Log records go to ``LOG_NAME`` in the work folder, which is removed at the end unless
    ``keep_dir``.
    """
    workdir = Path(tempfile.mkdtemp(prefix="guarita-demo-"))
    print(f"guarita demo: working in {workdir}; log lines go to {workdir / LOG_NAME}", file=out, flush=True)
    try:
        with log_to_file(workdir / LOG_NAME):
            await _run_in(workdir, duration_s, out, discover_camera)
    finally:
        _say_where_things_went(workdir, keep_dir, out)
        if not keep_dir:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


async def _run_in(workdir: Path, duration_s: float, out: TextIO, discover_camera: bool) -> None:
    onboarding: asyncio.Task[None] | None = None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        if discover_camera:
            onboarding = asyncio.create_task(_show_onboarding(workdir / "onboarding", out))
        pki = make_test_pki(workdir / "pki")
        with BrokerFleet(workdir / "brokers") as fleet:
            async with contextlib.AsyncExitStack() as stack:
                frigate_broker = fleet.start(MosquittoBroker(fleet.workdir("frigate")))
                centre_brokers = {
                    program: fleet.start(
                        MosquittoBroker(
                            fleet.workdir(program),
                            tls=pki,
                            users={"acme": secrets.token_urlsafe(12), "centre": secrets.token_urlsafe(12)},
                            acl=CENTRE_ACL.format(root="copbh/v1" if program == "cop_bh" else "detro/v1"),
                        )
                    )
                    for program in ("cop_bh", "detro")
                }
                frigate_api = make_frigate_app(
                    StandinCameras(cameras=tuple(StandinCamera(name=name) for name in DEMO_CAMERAS)),
                    mqtt=StandinMqtt(host="127.0.0.1", port=frigate_broker.port, qos=1),
                )
                api_runner, api_port = await serve_frigate(frigate_api)
                stack.push_async_callback(api_runner.cleanup)
                _make_bus_dvr(workdir / "bus-sd")
                dvr_port = free_port()
                bus_dvr = DvrHttpServer(workdir / "bus-sd", port=dvr_port)
                stack.push_async_callback(bus_dvr.stop)
                config_path = _write_config(
                    workdir, frigate_broker, api_port, centre_brokers, pki.ca_cert, f"http://127.0.0.1:{dvr_port}/dvr/"
                )
                runtime = Runtime(load_config(config_path), reconnect_max_s=2)
                if runtime.dvr_poller is not None:
                    runtime.dvr_poller.progress_for = lambda vehicle: _GarageProgress(vehicle, out)
                print(
                    f"Frigate stand-in: API http://127.0.0.1:{api_port}/api/version, MQTT 127.0.0.1:"
                    f"{frigate_broker.port}; COP-BH 127.0.0.1:{centre_brokers['cop_bh'].port} (TLS), "
                    f"DETRO 127.0.0.1:{centre_brokers['detro'].port} (TLS)",
                    file=out,
                )
                started = time.monotonic()
                stories = {
                    "cop_bh": CentreStory("COP-BH", out, started, catalogued=True),
                    "detro": CentreStory("DETRO", out, started, catalogued=False),
                }
                centres = {
                    program: await stack.enter_async_context(
                        Centre(
                            "127.0.0.1",
                            broker.port,
                            username="centre",
                            password=broker.users["centre"],
                            ca_file=pki.ca_cert,
                            on_message=stories[program],
                        )
                    )
                    for program, broker in centre_brokers.items()
                }
                published: Counter[str] = Counter()
                await _run_traffic(runtime, frigate_broker, stories, published, stop, duration_s, out, bus_dvr)
            if onboarding is not None:
                await asyncio.wait_for(onboarding, 120)
            _summary(runtime, published, stories, out)
    finally:
        if onboarding is not None and not onboarding.done():
            onboarding.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def _tally_period(duration_s: float) -> float:
    """Seconds between two count lines per camera: about four periods per run, never under 5 s."""
    return max(5.0, duration_s / 4)


async def _tally(stories: dict[str, CentreStory], period_s: float) -> None:
    while True:
        await asyncio.sleep(period_s)
        for story in stories.values():
            story.flush()


async def _run_traffic(
    runtime: Runtime,
    frigate_broker: MosquittoBroker,
    stories: dict[str, CentreStory],
    published: Counter[str],
    stop: asyncio.Event,
    duration_s: float,
    out: TextIO,
    bus_dvr: DvrHttpServer,
) -> None:
    """Guarita and the Frigate stand-in's traffic, until ``duration_s`` or Ctrl-C; then drain."""
    guarita_stop = asyncio.Event()
    guarita = asyncio.create_task(runtime.run(guarita_stop))
    period = _tally_period(duration_s)
    async with FrigateMqttStandin("127.0.0.1", frigate_broker.port) as frigate:
        print(f"running for {duration_s:g} s (Ctrl-C ends it); what each centre receives, "
              f"counted per camera every {period:g} s:", file=out, flush=True)
        activity = asyncio.create_task(_frigate_activity(frigate, published, stop))
        story = asyncio.create_task(_operator_story(runtime.registry, runtime.config.storage.data_dir, duration_s, out))
        garage = asyncio.create_task(_bus_arrives(runtime, bus_dvr, duration_s / 5, out))
        tally = asyncio.create_task(_tally(stories, period))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), duration_s)
        stop.set()
        # The garage's story (sync, report, evidence) is told to its end, so every path it prints exists.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(garage), GARAGE_FINISH_S)
        for task in (story, garage):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await activity
    deadline = time.monotonic() + 5  # let the last messages reach the centres
    while any(runtime.outbox.depth(p) for p in stories) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    tally.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await tally
    for centre_story in stories.values():
        centre_story.flush()
    guarita_stop.set()
    await guarita


async def _bus_arrives(runtime: Runtime, bus_dvr: DvrHttpServer, after_s: float, out: TextIO) -> None:
    """The bus pulls into the garage: its DVR starts answering; once synced, police ask for footage."""
    await asyncio.sleep(after_s)
    await bus_dvr.start()
    print(f"  [garage] bus {DEMO_BUS} pulled in; its DVR joined the garage Wi-Fi", file=out, flush=True)
    poller = runtime.dvr_poller
    while poller is not None and DEMO_BUS not in poller.results:
        await asyncio.sleep(0.1)
    await show_evidence_request(runtime.store, runtime.config, DEMO_BUS, BUS_DVR_START + timedelta(seconds=30), out)


async def _show_onboarding(workdir: Path, out: TextIO) -> None:
    """A technician's first step at a client's house: find the camera, write its Frigate entry."""
    from guarita.demo.onboarding import show_discovered_camera

    workdir.mkdir(parents=True, exist_ok=True)
    for line in await show_discovered_camera(workdir):
        print(f"  [onboarding] {line}", file=out, flush=True)
