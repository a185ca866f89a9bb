"""The COP-BH camera catalogue, driven directly: a real registry and outbox on a tmp store.

The last test runs ``guarita run`` against real Mosquitto and reads the retained entry as
COP-BH would.

What the catalogue queues in the outbox is what COP-BH's broker will retain, so these
tests read the outbox: a retained entry per shared camera, an empty retained payload when
it stops being shared, and nothing at all about a camera that was never shared.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness import Receiver, running, share_camera, write_config

from guarita import audit
from guarita.catalogue import Catalogue
from guarita.config import GuaritaConfig, ProgramName
from guarita.config_loader import load_config
from guarita.consent.registry import LiveRegistry, Registry
from guarita.consent.share_gate import CameraShareState, ConsentRecord, StaticRegistry
from guarita.errors import ConfigError
from guarita.outbox import Outbox
from guarita.standin.mosquitto import MosquittoBroker, free_port
from guarita.standin.tls import TestPki
from guarita.store import Store

NOW = datetime(2026, 6, 30, 13, 0, tzinfo=UTC)
TOPIC = "copbh/v1/acme/cameras/street_front"
CAMERAS: dict[str, Any] = {
    "street_front": {"programs": ["cop_bh"], "location": {"lat": -19.9245, "lon": -43.9352}, "heading": 135, "stream": "street_front_sub"},
    "backyard": {"programs": ["cop_bh"], "location": {"lat": -19.9246, "lon": -43.9353}},
    "lobby": {"programs": []},
}


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def make_config(tmp_path: Path, cameras: dict[str, Any] = CAMERAS) -> GuaritaConfig:
    path = tmp_path / f"guarita-{len(list(tmp_path.glob('guarita-*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump({
        "provider": {"id": "acme", "name": "ACME Segurança", "kind": "security_company",
                     "accreditation": {"date": "2021-03-01"}},
        "storage": {"data_dir": str(tmp_path / "data")},
        "programs": {"cop_bh": {"uplink": {"host": "127.0.0.1", "port": 1883}}},
        "cameras": cameras,
    }))
    return load_config(path)


@dataclass
class World:
    tmp_path: Path
    config: GuaritaConfig
    clock: Clock
    store: Store
    registry: Registry
    live: LiveRegistry
    catalogue: Catalogue
    evidence: Path

    def open(self, config: GuaritaConfig | None = None) -> None:
        """(Re)start: a new store connection, outbox, live view and catalogue on the same files."""
        self.config = config or self.config
        data = self.tmp_path / "data"
        self.store = Store.open(data)
        outbox = Outbox(self.store, quota_bytes=10**8, warn_ratio=0.8, delivered_keep_s=3600,
                        clock=lambda: self.clock().timestamp())
        self.registry = Registry(self.store, data, accredited=True, clock=self.clock)
        self.live = LiveRegistry(self.registry)
        self.live.refresh()
        self.catalogue = Catalogue(self.config, self.live, self.store, outbox, self.clock)

    def sync(self) -> int:
        self.clock.advance(seconds=1)
        self.live.refresh()
        return self.catalogue.sync()

    def share(self, camera: str = "street_front", plate: str = "BH-0001") -> None:
        if not self.registry.clients():
            self.registry.add_client("condo-1", "Condomínio Flores", by="ana")
        self.registry.grant(camera, client_id="condo-1", evidence=self.evidence, by="ana")
        self.registry.attest(camera, public_facing=True, evidence=self.evidence, by="ana")
        self.registry.record_signage(camera, plate=plate, photo=self.evidence, by="ana")

    def queued(self) -> list[tuple[str, bytes, bool]]:
        return [(r[0], bytes(r[1]), bool(r[2])) for r in self.store.db.execute("SELECT topic, payload, retain FROM outbox ORDER BY id")]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    evidence = tmp_path / "evidence.pdf"
    evidence.write_bytes(b"%PDF evidence")
    made = World.__new__(World)
    made.tmp_path, made.clock, made.evidence = tmp_path, Clock(), evidence
    made.open(make_config(tmp_path))
    try:
        yield made
    finally:
        made.store.close()


# covers BH-03, BH-04, BH-01, PB-03
def test_a_shared_camera_is_published_retained_once(world: World) -> None:
    assert world.sync() == 0, "nothing shared yet, nothing said"
    world.share()
    granted_at = world.clock()
    assert world.sync() == 1
    ((topic, payload, retain),) = world.queued()
    assert (topic, retain) == (TOPIC, True)
    assert json.loads(payload) == {
        "schema": "guarita.camera/1",
        "camera": "street_front",
        "provider": "acme",
        "location": {"lat": -19.9245, "lon": -43.9352},
        "heading": 135.0,
        "sign_plate": "BH-0001",
        "consent_since": granted_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "agencies": [],
        "live_stream": {"frigate_camera": "street_front", "go2rtc_stream": "street_front_sub"},
        "video": {"mqtt_request": "copbh/v1/acme/views/request"},  # no web.public_url: only the MQTT topic
    }
    assert world.sync() == 0, "no change, nothing queued"
    assert len(world.queued()) == 1


# covers BH-04, PB-03
def test_a_changed_entry_is_published_again(world: World) -> None:
    world.share()
    world.sync()
    world.registry.record_signage("street_front", plate="BH-0042", photo=world.evidence, by="ana")
    assert world.sync() == 1
    topics = [t for t, _, _ in world.queued()]
    assert topics == [TOPIC, TOPIC]
    assert json.loads(world.queued()[-1][1])["sign_plate"] == "BH-0042"
    # An attestation repeated with the same answer changes nothing the centre sees.
    world.registry.attest("street_front", public_facing=True, evidence=world.evidence, by="ana")
    assert world.sync() == 0


# covers BH-03, BH-02, BH-07, PB-03
@pytest.mark.parametrize("unshare", ["revoke", "not_public_facing"])
def test_an_unshared_camera_is_withdrawn_with_an_empty_retained_payload(world: World, unshare: str) -> None:
    world.share()
    world.sync()
    if unshare == "revoke":
        world.registry.revoke("street_front", by="ana", reason="client asked")
    else:
        world.registry.attest("street_front", public_facing=False, evidence=world.evidence, by="ana")
    assert world.sync() == 1
    assert world.queued()[-1] == (TOPIC, b"", True)
    assert world.store.db.execute("SELECT COUNT(*) FROM catalogue_state").fetchone() == (0,)
    assert world.sync() == 0, "withdrawn once"
    world.share()
    assert world.sync() == 1, "shared again, published again"
    assert json.loads(world.queued()[-1][1])["camera"] == "street_front"


# covers BH-07, BH-03, BH-04, BH-02
def test_a_camera_never_shared_is_never_named(tmp_path: Path) -> None:
    consent = ConsentRecord(frozenset({ProgramName.COP_BH}), granted_at=NOW - timedelta(days=1))
    detro_only = ConsentRecord(frozenset({ProgramName.DETRO}), granted_at=NOW - timedelta(days=1))
    cameras = {
        **CAMERAS,
        "no_sign": {"programs": ["cop_bh"], "location": {"lat": -19.9, "lon": -43.9}},
        "private": {"programs": ["cop_bh"], "location": {"lat": -19.9, "lon": -43.9}},
        "wrong_program": {"programs": ["cop_bh"], "location": {"lat": -19.9, "lon": -43.9}},
        "expired": {"programs": ["cop_bh"], "location": {"lat": -19.9, "lon": -43.9}},
    }
    registry = StaticRegistry(accredited=True, cameras={
        "street_front": CameraShareState("c1", consent, public_facing=True, signage_plate="BH-1"),
        "no_sign": CameraShareState("c1", consent, public_facing=True),
        "private": CameraShareState("c1", consent, public_facing=False, signage_plate="BH-2"),
        "wrong_program": CameraShareState("c1", detro_only, public_facing=True, signage_plate="BH-3"),
        "expired": CameraShareState("c1", ConsentRecord(consent.programs, consent.granted_at, NOW), True, "BH-4"),
        "lobby": CameraShareState("c1", consent, public_facing=True, signage_plate="BH-5"),  # not a cop_bh camera
    })
    store = Store.open(tmp_path / "data")
    try:
        outbox = Outbox(store, quota_bytes=10**8, warn_ratio=0.8, delivered_keep_s=3600, clock=lambda: NOW.timestamp())
        catalogue = Catalogue(make_config(tmp_path, cameras), registry, store, outbox, lambda: NOW)
        assert catalogue.sync() == 1
        assert catalogue.sync() == 0
        rows = store.db.execute("SELECT topic, payload FROM outbox").fetchall()
        audited = store.db.execute("SELECT subject, details FROM audit_log").fetchall()
    finally:
        store.close()
    assert [r[0] for r in rows] == [TOPIC]
    for name in ("backyard", "lobby", "no_sign", "private", "wrong_program", "expired"):
        assert not [r for r in rows if name in r[0] or name.encode() in bytes(r[1])]
        assert not [a for a in audited if name in a[0] or name in a[1]]


# covers BH-03, PB-03
def test_a_restart_does_not_republish_unchanged_entries(world: World) -> None:
    world.share()
    world.share("backyard", plate="BH-0002")
    assert world.sync() == 2
    world.store.close()
    world.open()
    assert world.sync() == 0, "the published state survived the restart"
    # A change made while Guarita was down is applied after the restart.
    world.registry.revoke("backyard", by="ana", reason="client asked")
    world.store.close()
    world.open()
    assert world.sync() == 1
    assert world.queued()[-1] == ("copbh/v1/acme/cameras/backyard", b"", True)


# covers BH-03, BH-07, PB-03
@pytest.mark.parametrize("change", ["cop_bh_removed_from_programs", "camera_removed_from_config"])
def test_a_camera_dropped_from_cop_bh_in_the_config_is_withdrawn(world: World, change: str) -> None:
    world.share()
    world.sync()
    cameras = dict(CAMERAS)
    if change == "camera_removed_from_config":
        del cameras["street_front"]
    else:
        cameras["street_front"] = {**cameras["street_front"], "programs": []}
    world.store.close()
    world.open(make_config(world.tmp_path, cameras))
    assert world.sync() == 1
    assert world.queued()[-1] == (TOPIC, b"", True)


# covers BH-03, PB-03
def test_a_camera_shared_again_within_one_clock_reading_is_published_again(world: World) -> None:
    def sync_now() -> int:  # the clock is not advanced: everything below is one clock reading
        world.live.refresh()
        return world.catalogue.sync()

    world.share()
    assert sync_now() == 1
    world.registry.revoke("street_front", by="ana", reason="mistake")
    assert sync_now() == 1
    world.registry.grant("street_front", client_id="condo-1", evidence=world.evidence, by="ana")
    assert sync_now() == 1, "shared again: published again"
    assert world.queued()[-1][1] != b""


# covers BH-07, PB-03
def test_publish_and_withdraw_are_audited(world: World) -> None:
    world.share()
    world.sync()
    world.registry.revoke("street_front", by="ana", reason="client asked")
    world.sync()
    rows = world.store.db.execute(
        "SELECT action, subject, actor, details FROM audit_log WHERE action LIKE 'catalogue.%' ORDER BY seq"
    ).fetchall()
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("catalogue.publish", "street_front", "guarita"),
        ("catalogue.withdraw", "street_front", "guarita"),
    ]
    published = json.loads(rows[0][3])
    assert len(published["sha256"]) == 64
    assert json.loads(rows[1][3])["sha256"] is None
    assert audit.verify(world.store.db)[1] is None


# covers BH-11, BH-07, BH-09
@pytest.mark.parametrize("public_url", ["https://guarita.acme.example/", "http://10.0.0.5:8765/guarita"])
def test_the_entry_names_where_to_ask_for_video_never_where_the_video_is(tmp_path: Path, public_url: str) -> None:
    path = tmp_path / "public.yaml"
    path.write_text(yaml.safe_dump({
        "provider": {"id": "acme", "name": "ACME Segurança", "kind": "security_company",
                     "accreditation": {"date": "2021-03-01"}},
        "storage": {"data_dir": str(tmp_path / "data")},
        "programs": {"cop_bh": {"uplink": {"host": "127.0.0.1", "port": 1883}}},
        "cameras": {"street_front": {**CAMERAS["street_front"], "video": {
            "source": "rtsp://192.168.1.20:554/main", "username": "admin", "password_env": "CAM_PW"}}},
        "web": {"public_url": public_url},
    }))
    config = load_config(path, {"CAM_PW": "hunter2-camera"})
    state = CameraShareState("c1", ConsentRecord(frozenset({ProgramName.COP_BH}), NOW - timedelta(days=1)), True, "BH-1")
    store = Store.open(tmp_path / "data")
    try:
        outbox = Outbox(store, quota_bytes=10**8, warn_ratio=0.8, delivered_keep_s=3600, clock=lambda: NOW.timestamp())
        registry = StaticRegistry(accredited=True, cameras={"street_front": state})
        assert Catalogue(config, registry, store, outbox, lambda: NOW).sync() == 1
        ((payload,),) = store.db.execute("SELECT payload FROM outbox").fetchall()
    finally:
        store.close()
    base = public_url.rstrip("/")
    assert json.loads(payload)["video"] == {
        "views": f"{base}/api/v1/views",
        "playback": f"{base}/api/v1/playback",
        "mqtt_request": "copbh/v1/acme/views/request",
    }
    for secret in (b"hunter2-camera", b"rtsp://", b"192.168.1.20", b"admin"):
        assert secret not in bytes(payload)


# covers BH-07
@pytest.mark.parametrize("public_url", ["https://user:pw@guarita.example", "ftp://guarita.example",
                                        "https://guarita.example/?token=x", "guarita.example"])
def test_a_public_url_with_credentials_or_not_http_is_refused(tmp_path: Path, public_url: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({
        "provider": {"id": "acme", "name": "ACME", "kind": "security_company"},
        "storage": {"data_dir": str(tmp_path / "data")},
        "web": {"public_url": public_url},
    }))
    with pytest.raises(ConfigError, match="web.public_url"):
        load_config(path)


# covers BH-11, BH-03, BH-07
async def test_guarita_run_retains_the_video_pointer_on_cop_bhs_broker(
    tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki
) -> None:
    path = write_config(
        tmp_path / "guarita.yaml", frigate_broker=frigate_broker, uplink_broker=uplink_broker, pki=pki,
        cameras={"street_front": CAMERAS["street_front"]}, programs=["cop_bh"],
        extra={"provider": {"id": "acme", "name": "ACME Segurança", "kind": "security_company",
                            "accreditation": {"date": "2021-03-01"}},
               "web": {"host": "127.0.0.1", "port": free_port(), "public_url": "https://guarita.acme.example"}},
    )
    config = load_config(path)
    async with Receiver(uplink_broker, pki) as centre, running(path):
        store = Store.open(config.storage.data_dir)  # another connection, as the CLI would write
        try:
            share_camera(config, store, "street_front", since=datetime.now(UTC) - timedelta(hours=1))
        finally:
            store.close()
        await centre.wait_until(lambda: bool(centre.on(TOPIC)), timeout=10)
    entry = json.loads(centre.on(TOPIC)[0])
    assert entry["video"] == {"views": "https://guarita.acme.example/api/v1/views",
                              "playback": "https://guarita.acme.example/api/v1/playback",
                              "mqtt_request": "copbh/v1/acme/views/request"}
    assert entry["live_stream"] == {"frigate_camera": "street_front", "go2rtc_stream": "street_front_sub"}, \
        "kept (deprecated) for consumers written before `video`"
