"""Consent end to end: from a Frigate-shaped event to COP-BH's broker, as the registry says.

Real Mosquitto on both sides (the uplink over TLS, with the test ACL), ``guarita run`` in
this process, and the registry written from a separate connection to the same SQLite file,
as the ``guarita`` CLI would. A second cop_bh camera (``street_side``) is shared throughout:
its event is published after each probe of ``street_front``, and since both travel in one
uplink's outbox in order, its arrival proves that ``street_front``'s event, had it been
forwarded, would have arrived first. Non-delivery is asserted that way, not by sleeping.

The last part is a property test (hypothesis): no sequence of registry operations lets an
event or catalogue entry of an unshared camera into the outbox.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import json
import random
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness import FakeClock, Receiver, running, wait_for, write_config
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from guarita import audit
from guarita.bridge import EventBridge
from guarita.catalogue import Catalogue
from guarita.config import GuaritaConfig, ProgramName
from guarita.config_loader import load_config
from guarita.consent.registry import LiveRegistry, Registry, RegistryRefusal
from guarita.consent.share_gate import RegistryUnavailable, ShareDecision, ShareReason, decide
from guarita.metrics import Metrics
from guarita.mqtt import InboundMessage, LinkSettings, LinkTls, MqttLink
from guarita.outbox import Outbox
from guarita.plugins import plugins_for
from guarita.quarantine import Quarantine
from guarita.runtime import utc_now
from guarita.standin.centre import Centre, Received
from guarita.standin.frigate_events import tracked_object_lifecycle
from guarita.standin.frigate_mqtt import FrigateMqttStandin
from guarita.standin.mosquitto import MosquittoBroker
from guarita.standin.tls import TestPki
from guarita.store import Store

NOW = datetime(2026, 6, 30, 13, 0, tzinfo=UTC)
START = 1_782_824_400.0
CPF = "529.982.247-25"
CAMERAS: dict[str, Any] = {
    "street_front": {"programs": ["cop_bh"], "location": {"lat": -19.9245, "lon": -43.9352}, "heading": 135},
    "street_side": {"programs": ["cop_bh"], "location": {"lat": -19.9250, "lon": -43.9360}, "heading": 270},
}
ACCREDITED_PROVIDER = {
    "id": "acme", "name": "ACME Segurança", "kind": "security_company",
    "accreditation": {"reference": "Edital de Chamamento 002/2020 SMSP", "date": "2021-03-01"},
}


def catalogue_topic(camera: str) -> str:
    return f"copbh/v1/acme/cameras/{camera}"


def event_topic(camera: str) -> str:
    return f"copbh/v1/acme/events/{camera}"


@dataclass
class Evidence:
    consent: Path
    snapshot: Path
    photo: Path


def evidence_files(folder: Path) -> Evidence:
    folder.mkdir(parents=True, exist_ok=True)
    files = Evidence(folder / "consent.pdf", folder / "view.jpg", folder / "sign.jpg")
    files.consent.write_bytes(b"%PDF-1.7 the client's signed authorisation")
    files.snapshot.write_bytes(b"\xff\xd8 the street as the camera sees it")
    files.photo.write_bytes(b"\xff\xd8 the BH + Segura sign on the wall")
    return files


@contextmanager
def cli_store(data_dir: Path) -> Iterator[Store]:
    """The store as the `guarita` CLI opens it: its own connection to the same file."""
    store = Store.open(data_dir)
    try:
        yield store
    finally:
        store.close()


def share(registry: Registry, camera: str, files: Evidence, *, client: str, expires_at: datetime | None = None) -> None:
    registry.grant(camera, client_id=client, evidence=files.consent, by="ana", expires_at=expires_at)
    registry.attest(camera, public_facing=True, evidence=files.snapshot, by="ana")
    registry.record_signage(camera, plate=f"BH-{camera.upper()}", photo=files.photo, by="ana")


def config_for(tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki) -> Path:
    return write_config(
        tmp_path / "guarita.yaml", frigate_broker=frigate_broker, uplink_broker=uplink_broker, pki=pki,
        cameras=CAMERAS, programs=["cop_bh"], update_interval=0, extra={"provider": ACCREDITED_PROVIDER},
    )


def names(messages: list[Received], camera: str) -> list[Received]:
    """Messages whose topic or payload mention ``camera`` at all."""
    return [m for m in messages if camera in m.topic or camera.encode() in m.payload]


class Prober:
    """Publishes one event of a camera, then one of the control camera, and says what came through."""

    def __init__(self, frigate: FrigateMqttStandin, centre: Centre) -> None:
        self.frigate = frigate
        self.centre = centre
        self.count = 0

    async def publish(self, camera: str) -> str:
        self.count += 1
        message = tracked_object_lifecycle(camera, "person", START + self.count, updates=0, rng=random.Random(self.count))[0]
        await self.frigate.publish_event(message)
        return str(message["after"]["id"])

    def arrived(self, event_id: str) -> bool:
        return any(e["id"] == event_id for e in self.centre.events())

    async def came_through(self, camera: str) -> bool:
        probe = await self.publish(camera)
        control = await self.publish("street_side")
        await self.centre.wait_until(lambda: self.arrived(control), timeout=10)
        return self.arrived(probe)


async def late_subscriber(broker: MosquittoBroker, pki: TestPki, topic: str, until: Callable[[list[InboundMessage]], bool]) -> list[InboundMessage]:
    """What a subscriber that arrives now receives on ``topic`` (retained messages), until ``until`` holds."""
    link = MqttLink(LinkSettings(
        "127.0.0.1", broker.port, f"late-{secrets.token_hex(4)}", username="receiver",
        password=broker.users["receiver"], tls=LinkTls(ca_file=pki.ca_cert),
    ))
    await link.connect()
    try:
        await link.subscribe([(topic, 1)])
        got: list[InboundMessage] = []
        deadline = asyncio.get_running_loop().time() + 10
        while not until(got):
            assert asyncio.get_running_loop().time() < deadline, f"only {[m.topic for m in got]} on {topic}"
            await link.wait_messages(0.1)
            got += link.take_messages(100)
        await link.wait_messages(0.3)  # anything retained comes in one go after the SUBACK
        return got + link.take_messages(100)
    finally:
        await link.close()


# ---- end to end with real Mosquitto ---------------------------------------------------------


# covers BH-01, BH-02, BH-03, BH-04, BH-07, BH-13, PB-03, PB-07
async def test_consent_attestation_and_signage_open_the_way_and_revocation_closes_it_within_a_second(
    tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki
) -> None:
    config = config_for(tmp_path, frigate_broker, uplink_broker, pki)
    data_dir = tmp_path / "data"
    files = evidence_files(tmp_path / "evidence")
    with cli_store(data_dir) as store:
        cli = Registry(store, data_dir, accredited=True, clock=utc_now)
        cli.add_client("shop-9", "Padaria Esquina", by="ana")
        share(cli, "street_side", files, client="shop-9")  # the control camera, shared throughout

        async with Receiver(uplink_broker, pki) as centre, running(config) as runtime:
            assert runtime.live_registry is not None
            live = runtime.live_registry
            await centre.wait_until(lambda: bool(centre.on(catalogue_topic("street_side"))))
            async with FrigateMqttStandin("127.0.0.1", frigate_broker.port) as frigate:
                prober = Prober(frigate, centre)

                # Before consent, and at each step short of all three records: nothing.
                assert not await prober.came_through("street_front")
                cli.add_client("house-7", "Maria (homeowner)", by="ana", document=CPF, contact="+55 31 99999-0000")
                cli.grant("street_front", client_id="house-7", evidence=files.consent, by="ana")
                await wait_for(lambda: live.camera_state("street_front").consent is not None, 5)
                assert not await prober.came_through("street_front")
                cli.attest("street_front", public_facing=True, evidence=files.snapshot, by="ana")
                await wait_for(lambda: live.camera_state("street_front").public_facing, 5)
                assert not await prober.came_through("street_front")
                assert not names(centre.messages, "street_front"), "a camera never shared is never named"
                assert runtime.store.db.execute(
                    "SELECT COUNT(*) FROM outbox WHERE topic LIKE '%street_front%' OR CAST(payload AS TEXT) LIKE '%street_front%'"
                ).fetchone() == (0,)
                assert runtime.metrics.blocked.get("cop_bh", "no_consent") >= 1
                assert runtime.metrics.blocked.get("cop_bh", "no_signage") >= 1

                # The sign is recorded: the catalogue entry and the events come through.
                cli.record_signage("street_front", plate="BH-0042", photo=files.photo, by="ana")
                await centre.wait_until(lambda: bool(centre.on(catalogue_topic("street_front"))), timeout=5)
                entry = json.loads(centre.on(catalogue_topic("street_front"))[0])
                consent = live.camera_state("street_front").consent
                assert consent is not None
                assert entry["camera"] == "street_front" and entry["provider"] == "acme"
                assert entry["location"] == {"lat": -19.9245, "lon": -43.9352} and entry["heading"] == 135
                assert entry["sign_plate"] == "BH-0042"
                assert entry["consent_since"] == consent.granted_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
                assert entry["agencies"] == []
                assert entry["live_stream"] == {"frigate_camera": "street_front", "go2rtc_stream": "street_front"}
                raw = centre.on(catalogue_topic("street_front"))[0]
                for secret in (uplink_broker.users["acme"], "password", "rtsp://", CPF, "52998224725", "Maria", "99999"):
                    assert secret.encode() not in raw
                late = await late_subscriber(uplink_broker, pki, catalogue_topic("street_front"), lambda got: bool(got))
                assert [(m.topic, m.payload, m.retain) for m in late] == [(catalogue_topic("street_front"), raw, True)]
                assert await prober.came_through("street_front")
                assert centre.on(event_topic("street_front"))

                # Revocation: the retained entry is cleared within a second, events stop with it.
                revoking = time.time()  # just before the call: the measured time includes the commit itself
                cli.revoke("street_front", by="ana", reason="client moved out")
                in_flight = [await prober.publish("street_front") for _ in range(3)]  # racing the revocation
                await centre.wait_until(lambda: b"" in centre.on(catalogue_topic("street_front")), timeout=5)
                clear = next(m for m in centre.messages if m.topic == catalogue_topic("street_front") and not m.payload)
                assert clear.at - revoking <= 1.0, f"cleared {clear.at - revoking:.3f} s after the revocation"
                assert not await prober.came_through("street_front")
                assert not await prober.came_through("street_front")
                after_clear = centre.messages[centre.messages.index(clear) + 1 :]
                assert not [m for m in after_clear if m.topic == event_topic("street_front")], "no event after the clear"
                assert not [m for m in after_clear if any(i.encode() in m.payload for i in in_flight)]
                assert runtime.metrics.blocked.get("cop_bh", "consent_revoked") >= 2

                late = await late_subscriber(
                    uplink_broker, pki, "copbh/v1/acme/cameras/+",
                    lambda got: any(m.topic == catalogue_topic("street_side") for m in got),
                )
                assert [m.topic for m in late] == [catalogue_topic("street_side")], "nothing retained for street_front"
                assert all(m.retain for m in late)

        # Both processes appended to one audit chain, which still verifies.
        actions = [
            tuple(r) for r in store.db.execute(
                "SELECT action, subject FROM audit_log WHERE subject = 'street_front' AND action != 'camera.assign' ORDER BY seq"
            )
        ]
        assert actions == [
            ("consent.grant", "street_front"), ("camera.attest", "street_front"), ("signage.record", "street_front"),
            ("catalogue.publish", "street_front"), ("consent.revoke", "street_front"), ("catalogue.withdraw", "street_front"),
        ]
        assert audit.verify(store.db)[1] is None


# covers BH-03, BH-07, PB-03
async def test_an_expired_consent_clears_the_catalogue_and_stops_events(
    tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki
) -> None:
    config = config_for(tmp_path, frigate_broker, uplink_broker, pki)
    clock = FakeClock(NOW)
    files = evidence_files(tmp_path / "evidence")
    with cli_store(tmp_path / "data") as store:
        cli = Registry(store, tmp_path / "data", accredited=True, clock=clock)
        cli.add_client("house-7", "Maria (homeowner)", by="ana")
        share(cli, "street_side", files, client="house-7")
        share(cli, "street_front", files, client="house-7", expires_at=NOW + timedelta(hours=1))
        async with Receiver(uplink_broker, pki) as centre, running(config, clock=clock) as runtime:
            await centre.wait_until(
                lambda: bool(centre.on(catalogue_topic("street_front")) and centre.on(catalogue_topic("street_side")))
            )
            async with FrigateMqttStandin("127.0.0.1", frigate_broker.port) as frigate:
                prober = Prober(frigate, centre)
                assert await prober.came_through("street_front")
                clock.advance(minutes=59)
                assert await prober.came_through("street_front"), "still an hour's consent: shared"

                clock.advance(minutes=1)  # the expiry instant: no write at all, only time passing
                await centre.wait_until(lambda: b"" in centre.on(catalogue_topic("street_front")), timeout=5)
                assert not await prober.came_through("street_front")
                assert runtime.metrics.blocked.get("cop_bh", "consent_expired") == 1
                assert b"" not in centre.on(catalogue_topic("street_side")), "the other camera stays"
                assert centre.on(catalogue_topic("street_front")).count(b"") == 1


# ---- fail closed -------------------------------------------------------------------------


CONFIG_NO_BROKER: dict[str, Any] = {
    "provider": ACCREDITED_PROVIDER,
    "programs": {
        "cop_bh": {"uplink": {"host": "127.0.0.1", "port": 1883}},
        "detro": {"uplink": {"host": "127.0.0.1", "port": 1883}},
    },
    "cameras": {
        "cam_a": {"programs": ["cop_bh"], "location": {"lat": -19.92, "lon": -43.93}},
        "cam_b": {"programs": ["cop_bh"], "location": {"lat": -19.93, "lon": -43.94}, "heading": 10},
        "cam_c": {"programs": [], "location": {"lat": -19.94, "lon": -43.95}},
        "bus_1": {"programs": ["detro"], "vehicle": "10234"},
    },
}
COP_CAMERAS = ("cam_a", "cam_b")
ALL_CAMERAS = ("cam_a", "cam_b", "cam_c", "bus_1")


def no_broker_config(folder: Path) -> GuaritaConfig:
    path = folder / "guarita.yaml"
    path.write_text(yaml.safe_dump({**CONFIG_NO_BROKER, "storage": {"data_dir": str(folder / "data")}}))
    return load_config(path)


@functools.cache
def new_event(camera: str) -> dict[str, Any]:
    """A Frigate ``new`` message of ``camera`` (copied and given a fresh id per use)."""
    return tracked_object_lifecycle(camera, "person", START, updates=0, rng=random.Random(camera))[0]


@dataclass
class Pipeline:
    """The runtime's event path without MQTT: bridge and catalogue over one store and outbox."""

    store: Store
    bridge: EventBridge
    catalogue: Catalogue
    metrics: Metrics
    events: int = 0
    ids: dict[str, str] = field(default_factory=dict)

    @classmethod
    def build(cls, config: GuaritaConfig, store: Store, view: Any, clock: Callable[[], datetime]) -> Pipeline:
        metrics = Metrics()
        outbox = Outbox(store, quota_bytes=10**9, warn_ratio=0.8, delivered_keep_s=3600, clock=lambda: clock().timestamp())
        bridge = EventBridge(config, store, outbox, Quarantine(metrics), view, plugins_for(config), metrics, clock)
        return cls(store, bridge, Catalogue(config, view, store, outbox, clock), metrics)

    def frigate_event(self, cameras: tuple[str, ...] = ALL_CAMERAS) -> dict[str, str]:
        """Process one new event per camera, as one batch; returns camera → event id."""
        batch, ids = [], {}
        for camera in cameras:
            self.events += 1
            message = copy.deepcopy(new_event(camera))
            ids[camera] = f"{START + self.events:.1f}-e{self.events:05d}"
            message["before"]["id"] = message["after"]["id"] = ids[camera]
            batch.append(InboundMessage("frigate/events", json.dumps(message).encode(), 1, self.events, False))
        self.bridge.process(batch)
        return ids

    def cop_bh_rows_with(self, text: str) -> int:
        (count,) = self.store.db.execute(
            "SELECT COUNT(*) FROM outbox WHERE uplink = 'cop_bh' AND (topic LIKE ? OR CAST(payload AS TEXT) LIKE ?)",
            (f"%{text}%", f"%{text}%"),
        ).fetchone()
        return int(count)

    def latest_catalogue(self, camera: str) -> bytes | None:
        row = self.store.db.execute(
            "SELECT payload FROM outbox WHERE topic = ? ORDER BY id DESC LIMIT 1", (catalogue_topic(camera),)
        ).fetchone()
        return None if row is None else bytes(row[0])


# covers BH-03, BH-04, BH-07, PB-03
def test_a_registry_that_cannot_be_read_shares_nothing(tmp_path: Path) -> None:
    config = no_broker_config(tmp_path)
    files = evidence_files(tmp_path / "evidence")
    data = tmp_path / "data"
    bridge_store, registry_store = Store.open(data), Store.open(data)
    try:
        registry = Registry(registry_store, data, accredited=True, clock=lambda: NOW)
        registry.add_client("house-7", "Maria", by="ana")
        share(registry, "cam_a", files, client="house-7")
        live = LiveRegistry(registry)
        pipeline = Pipeline.build(config, bridge_store, live, lambda: NOW)
        with pytest.raises(RegistryUnavailable, match="not been read yet"):
            live.camera_state("cam_a")
        assert decide(config.cameras["cam_a"], "cam_a", ProgramName.COP_BH, True, NOW, live) == ShareDecision(
            False, (ShareReason.REGISTRY_UNAVAILABLE,)
        )

        assert live.refresh()
        assert decide(config.cameras["cam_a"], "cam_a", ProgramName.COP_BH, True, NOW, live).shared
        shared_id = pipeline.frigate_event(("cam_a",))["cam_a"]
        assert pipeline.catalogue.sync() == 1
        assert pipeline.cop_bh_rows_with(shared_id) == 1

        registry_store.close()  # the registry's store can no longer be read
        assert live.refresh() is True
        for question in (live.provider_accredited, lambda: live.camera_state("cam_a")):
            with pytest.raises(RegistryUnavailable):
                question()
        decision = decide(config.cameras["cam_a"], "cam_a", ProgramName.COP_BH, True, NOW, live)
        assert decision == ShareDecision(False, (ShareReason.REGISTRY_UNAVAILABLE,))
        ids = pipeline.frigate_event()
        assert pipeline.cop_bh_rows_with(ids["cam_a"]) == 0, "fail closed: the event stays home"
        assert pipeline.metrics.blocked.get("cop_bh", "registry_unavailable") == 2  # cam_a and cam_b
        assert pipeline.cop_bh_rows_with(ids["bus_1"]) == 0
        assert bridge_store.db.execute(
            "SELECT COUNT(*) FROM outbox WHERE uplink = 'detro' AND CAST(payload AS TEXT) LIKE ?", (f"%{ids['bus_1']}%",)
        ).fetchone() == (1,), "DETRO is not gated by consent"
        assert pipeline.catalogue.sync() == 1
        assert pipeline.latest_catalogue("cam_a") == b"", "what was published is withdrawn"
    finally:
        bridge_store.close()
        registry_store.close()


# ---- property: no sequence of registry operations leaks an unshared camera ----------------------


CLIENTS = ("c1", "c2", "c3")  # c3 is never added: grants to it are refused
PROGRAM_SETS = [frozenset(s) for s in ({ProgramName.COP_BH}, {ProgramName.DETRO}, {ProgramName.COP_BH, ProgramName.DETRO})]
REGISTRY_CAMERAS = ("cam_a", "cam_b", "cam_c", "ghost")  # ghost: in the registry, not in the config

cameras = st.sampled_from(("cam_a", "cam_a", "cam_b", "cam_b", "cam_c", "ghost"))
expiries = st.one_of(st.none(), st.integers(min_value=-60, max_value=7200))
single_operations = st.one_of(
    st.tuples(st.just("client"), st.sampled_from(CLIENTS[:2])),
    st.tuples(st.just("grant"), cameras, st.sampled_from(CLIENTS), st.sampled_from(PROGRAM_SETS), expiries),
    st.tuples(st.just("revoke"), cameras),
    st.tuples(st.just("assign"), cameras, st.sampled_from(CLIENTS)),
    st.tuples(st.just("attest"), cameras, st.booleans()),
    st.tuples(st.just("signage"), cameras),
    st.tuples(st.just("advance"), st.integers(min_value=0, max_value=7200)),
)
# An operator recording everything for one camera, one operation after another (each is
# checked). Mostly cop_bh cameras with a cop_bh consent, so that most examples share
# something and then unshare it; sometimes a camera or a consent that must stay unshared.
full_shares = st.builds(
    lambda camera, client, programs, expires: [
        ("client", client), ("grant", camera, client, programs, expires), ("attest", camera, True), ("signage", camera)
    ],
    st.sampled_from(("cam_a", "cam_b") * 4 + ("cam_c", "ghost")),
    st.sampled_from(CLIENTS[:2]),
    st.sampled_from([PROGRAM_SETS[0], PROGRAM_SETS[2]] * 4 + [PROGRAM_SETS[1]]),
    st.one_of(st.none(), st.integers(min_value=1, max_value=7200)),
)
operations = st.builds(
    lambda prefix, groups: prefix + [op for share_all, rest in groups for op in share_all + rest],
    st.lists(single_operations, max_size=4),
    st.lists(st.tuples(full_shares, st.lists(single_operations, max_size=4)), min_size=1, max_size=3),
)


@dataclass
class Model:
    """What the rules say, written independently of the registry's code."""

    accredited: bool
    clients: set[str] = field(default_factory=set)
    owners: dict[str, str] = field(default_factory=dict)  # the first consent names the owner
    consent: dict[str, tuple[str, frozenset[ProgramName], datetime | None, str | None]] = field(default_factory=dict)
    public_facing: dict[str, bool] = field(default_factory=dict)
    signed: set[str] = field(default_factory=set)

    def shared(self, camera: str, now: datetime) -> bool:
        action, programs, expires, client = self.consent.get(camera, ("none", frozenset(), None, None))
        return (
            camera in COP_CAMERAS
            and self.accredited
            and action == "grant"
            and client == self.owners.get(camera)
            and ProgramName.COP_BH in programs
            and (expires is None or expires > now)
            and self.public_facing.get(camera, False)
            and camera in self.signed
        )


def apply(op: tuple[Any, ...], registry: Registry, model: Model, clock: FakeClock, files: Evidence) -> None:
    """Run one operation on the registry and the model; the registry refuses exactly what the model does."""
    kind, *args = op
    now = clock()
    refused_expected = False
    try:
        if kind == "client":
            registry.add_client(args[0], f"Client {args[0]}", by="ana")
            model.clients.add(args[0])
        elif kind == "assign":
            refused_expected = args[1] not in model.clients
            registry.assign(args[0], client_id=args[1], by="ana")
            model.owners[args[0]] = args[1]
        elif kind == "grant":
            camera, client, programs, expires_in = args
            expires = None if expires_in is None else now + timedelta(seconds=expires_in)
            owner = model.owners.get(camera)
            refused_expected = (
                client not in model.clients
                or owner not in (None, client)
                or (expires is not None and expires <= now)
            )
            registry.grant(camera, client_id=client, evidence=files.consent, by="ana", programs=programs, expires_at=expires)
            model.consent[camera] = ("grant", programs, expires, client)
            model.owners.setdefault(camera, client)
        elif kind == "revoke":
            refused_expected = model.consent.get(args[0], ("none",))[0] != "grant"
            registry.revoke(args[0], by="ana", reason="client asked")
            model.consent[args[0]] = ("revoke", frozenset(), None, None)
        elif kind == "attest":
            registry.attest(args[0], public_facing=args[1], evidence=files.snapshot, by="ana")
            model.public_facing[args[0]] = args[1]
        elif kind == "signage":
            registry.record_signage(args[0], plate="BH-0001", photo=files.photo, by="ana")
            model.signed.add(args[0])
        else:
            clock.advance(seconds=args[0])
    except RegistryRefusal:
        assert refused_expected, f"{op} refused unexpectedly"
        return
    assert not refused_expected, f"{op} should have been refused"


@pytest.fixture(scope="module")
def shared_config(tmp_path_factory: pytest.TempPathFactory) -> GuaritaConfig:
    return no_broker_config(tmp_path_factory.mktemp("property"))


# covers BH-01, BH-02, BH-03, BH-04, BH-07, BH-13, PB-03, PB-07
@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(accredited=st.sampled_from((True, True, True, False)), ops=operations)
def test_no_sequence_of_registry_operations_lets_an_unshared_camera_out(
    shared_config: GuaritaConfig, accredited: bool, ops: list[tuple[Any, ...]]
) -> None:
    config = shared_config
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        files = evidence_files(root / "evidence")
        clock = FakeClock(NOW)
        store = Store.open(root / "data")
        store.db.execute("PRAGMA synchronous=OFF")  # durability is not under test here; speed is welcome
        try:
            registry = Registry(store, root / "data", accredited=accredited, clock=clock)
            live = LiveRegistry(registry)
            live.refresh()
            pipeline = Pipeline.build(config, store, live, clock)
            model = Model(accredited)
            ever_shared: set[str] = set()
            for op in ops:
                clock.advance(milliseconds=1)  # operations happen one after another
                apply(op, registry, model, clock, files)
                live.refresh()
                now = clock()
                expected = {c for c in REGISTRY_CAMERAS if model.shared(c, now)}
                assert {c: registry.owner(c) for c in model.owners} == model.owners, op
                for camera in ALL_CAMERAS:
                    settings_ = config.cameras[camera]
                    decision = decide(settings_, camera, ProgramName.COP_BH, True, now, live)
                    assert decision.shared == (camera in expected), (op, camera, decision)
                ids = pipeline.frigate_event()
                for camera, event_id in ids.items():
                    forwarded = pipeline.cop_bh_rows_with(event_id)
                    assert bool(forwarded) == (camera in expected), (op, camera, forwarded)
                pipeline.catalogue.sync()
                ever_shared |= expected
                catalogued = {r[0] for r in store.db.execute("SELECT camera FROM catalogue_state")}
                assert catalogued == expected, op
                for camera in REGISTRY_CAMERAS:
                    latest = pipeline.latest_catalogue(camera)
                    if camera not in ever_shared:
                        assert pipeline.cop_bh_rows_with(camera) == 0, f"{camera} was never shared, yet named"
                    else:
                        assert latest is not None and (latest != b"") == (camera in expected), (op, camera)
            event(f"cameras ever shared: {len(ever_shared)}")
            assert audit.verify(store.db)[1] is None
        finally:
            store.close()
