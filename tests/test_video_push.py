"""Live views asked for over MQTT and pushed to the centre's ingest (Guarita behind NAT), with real processes.

A real Mosquitto over TLS loaded with the ACL ``guarita acl mosquitto`` prints, a camera served
by GStreamer's RTSP server, ``guarita run`` in this process, the centre and the agencies as MQTT
clients, and the centre's ingest as ``ffmpeg -rtsp_flags listen`` recording what it receives.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from harness import running, share_camera, wait_for

from guarita.acl import mosquitto_acl
from guarita.cli.views import playbacks_from_audit
from guarita.config import ProgramName
from guarita.config_loader import load_config
from guarita.errors import ConfigError, LinkError
from guarita.mqtt import LinkSettings, LinkTls, MqttLink
from guarita.runtime import Runtime
from guarita.standin.broker_fleet import BrokerFleet
from guarita.standin.centre import Centre, Received
from guarita.standin.mosquitto import MosquittoBroker, free_port
from guarita.standin.rtsp_server import RtspServer, make_clip, rtsp_server_available
from guarita.standin.tls import TestPki
from guarita.store import Store
from guarita.consent.registry import Registry
from guarita.retention._s3 import open_bucket
from guarita.standin.seaweed import SeaweedS3
from guarita.video.cloud_playback import PlaybackRefused, cloud_playback, playback_segments
from guarita.video.push import ingest_target, push_command

pytestmark = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or not rtsp_server_available(),
    reason="needs ffmpeg and GStreamer's RTSP server (python3-gi gir1.2-gst-rtsp-server-1.0)",
)

FPS = 10
STREET = {"lat": -19.9245, "lon": -43.9352}
CAMERA_PASSWORD = "cam-" + secrets.token_hex(6)
ROOT = "copbh/v1/acme"


def square(lon: float, lat: float, half: float = 0.02) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[lon - half, lat - half], [lon + half, lat - half],
                                                [lon + half, lat + half], [lon - half, lat + half],
                                                [lon - half, lat - half]]]}


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "street.mp4"
    asyncio.run(make_clip(path, codec="h264", width=320, height=180, fps=FPS, seconds=60))
    return path


@pytest.fixture
async def camera(clip: Path) -> AsyncIterator[RtspServer]:
    async with RtspServer({"street": (clip, "h264")}, username="guarita", password=CAMERA_PASSWORD) as server:
        yield server


class City:
    """The COP-BH broker with the generated ACL, and the config of provider acme pointing at it."""

    def __init__(self, tmp_path: Path, brokers: BrokerFleet, frigate: MosquittoBroker, pki: TestPki,
                 camera: RtspServer, ingest_port: int, change: dict[str, Any] | None = None,
                 share: bool = True) -> None:
        self.pki = pki
        self.users = {name: secrets.token_urlsafe(12) for name in ("acme", "centre", "centro", "norte")}
        probe = MosquittoBroker(brokers.workdir("probe"), tls=pki, users=self.users, acl="")  # its port only
        (tmp_path / "uplink.pass").write_text(self.users["acme"])
        (tmp_path / "camera.pass").write_text(CAMERA_PASSWORD)
        source = {"source": f"rtsp://127.0.0.1:{camera.port}/street", "username": "guarita",
                  "password_file": str(tmp_path / "camera.pass")}
        self.path = tmp_path / "guarita.yaml"
        document: dict[str, Any] = {
            "provider": {"id": "acme", "name": "ACME", "kind": "security_company",
                         "accreditation": {"date": "2024-05-02"}},
            "storage": {"data_dir": str(tmp_path / "data")},
            "frigate": {"url": f"http://127.0.0.1:{free_port()}", "mqtt": {"host": "127.0.0.1", "port": frigate.port}},
            "programs": {"cop_bh": {
                "uplink": {"host": "127.0.0.1", "port": probe.port, "username": "acme",
                           "password_file": str(tmp_path / "uplink.pass"), "tls": {"ca_file": str(pki.ca_cert)}},
                "agencies": {"centro": {"name": "Regional Centro-Sul", "area": square(STREET["lon"], STREET["lat"])},
                             "norte": {"name": "Regional Norte", "area": square(-43.975, -19.845)}},
                "video_ingest": {"url": f"rtsp://127.0.0.1:{ingest_port}/ingest", "centre_user": "centre"},
            }},
            "cameras": {
                "street": {"programs": ["cop_bh"], "location": STREET, "video": source},
                "backyard": {"programs": ["cop_bh"], "location": STREET, "video": source},  # never shared
            },
            "web": {"host": "127.0.0.1", "port": free_port()},
            "video": {"start_timeout_s": 5},
        }
        for key, value in (change or {}).items():
            document[key] = {**document[key], **value} if isinstance(document.get(key), dict) else value
        self.path.write_text(yaml.safe_dump(document))
        self.config = load_config(self.path)
        self.acl = mosquitto_acl(self.config)
        self.broker = brokers.start(MosquittoBroker(brokers.workdir("copbh"), tls=pki, users=self.users,
                                                    acl=self.acl, tls_port=probe.port))
        self.store = Store.open(self.config.storage.data_dir)
        if share:
            share_camera(self.config, self.store, "street", since=datetime.now(UTC) - timedelta(hours=1))

    def listener(self, user: str, topic: str) -> Centre:
        return Centre("127.0.0.1", self.broker.port, username=user, password=self.users[user],
                      ca_file=self.pki.ca_cert, topic=topic)

    async def sender(self, user: str) -> MqttLink:
        link = MqttLink(LinkSettings("127.0.0.1", self.broker.port, f"{user}-{secrets.token_hex(3)}", username=user,
                                     password=self.users[user], tls=LinkTls(self.pki.ca_cert)))
        await link.connect()
        return link

    def audit(self, prefix: str) -> list[tuple[float, str, str, str, dict[str, Any]]]:
        rows = self.store.db.execute("SELECT at, actor, action, subject, details FROM audit_log WHERE action LIKE ? "
                                     "ORDER BY seq", (prefix + "%",)).fetchall()
        return [(float(r[0]), str(r[1]), str(r[2]), str(r[3]), json.loads(r[4])) for r in rows]


async def ask(link: MqttLink, topic: str, **request: Any) -> None:
    await asyncio.wait_for(link.publish(topic, json.dumps(request).encode(), 1), 5)


async def answer(box: Centre, request_id: str, state: str | None = None, timeout: float = 10) -> Received:
    def found() -> list[Received]:
        return [m for m in box.messages if m.topic.endswith(f"/views/reply/{request_id}")
                and (state is None or m.json["state"] == state)]
    await box.wait_until(lambda: bool(found()), timeout)
    return found()[0]


class Ingest:
    """The centre's ingest: ``ffmpeg -rtsp_flags listen`` recording what is pushed to it into MPEG-TS."""

    def __init__(self, folder: Path, port: int) -> None:
        self.out = folder / "received.ts"
        self.log = folder / "ingest.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "warning", "-analyzeduration", "500000", "-rtsp_flags", "listen",
                 "-i", f"rtsp://127.0.0.1:{port}/ingest", "-c", "copy", "-flush_packets", "1", "-f", "mpegts", str(self.out)],
                stdout=log, stderr=subprocess.STDOUT)
        self.ended_at: float | None = None

    def size(self) -> int:
        return self.out.stat().st_size if self.out.exists() else 0

    async def wait_end(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        if self.process.poll() is not None and self.ended_at is None:
            self.ended_at = time.time()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def pushers(marker: str) -> list[int]:
    """Pids of this process's ffmpeg children whose command line names ``marker`` (a view's ingest path)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            if not entry.isdigit() or Path(f"/proc/{entry}/stat").read_text().split()[3] != str(os.getpid()):
                continue
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[0].endswith(b"ffmpeg") and any(marker.encode() in arg for arg in argv):
            found.append(int(entry))
    return found


async def gone_at(marker: str, timeout: float) -> float | None:
    """When the last ffmpeg pushing ``marker`` exited (its session at the ingest closed), or None."""
    deadline = time.monotonic() + timeout
    while pushers(marker) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    return None if pushers(marker) else time.time()


def probe(path: Path) -> tuple[str, int, float]:
    """(codec, frames decoded, duration in s) of the first video stream, read by ffprobe."""
    result = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                             "stream=codec_name,nb_read_frames:format=duration", "-of", "json", str(path)],
                            capture_output=True, text=True, timeout=30, check=True)
    data = json.loads(result.stdout)
    stream = data["streams"][0]
    return stream["codec_name"], int(stream["nb_read_frames"]), float(data["format"]["duration"])


async def wait_views_link(runtime: Runtime) -> None:
    (requests,) = runtime.view_requests
    await wait_for(lambda: requests.state.up, 15)


# covers BH-11, BH-05, BH-09, BH-07, BH-03
@pytest.mark.slow
async def test_a_request_over_mqtt_pushes_the_camera_to_the_ingest_until_revoked(
    tmp_path: Path, brokers: BrokerFleet, frigate_broker: MosquittoBroker, pki: TestPki, camera: RtspServer
) -> None:
    """BH-11: the centre asks over MQTT and Guarita, behind NAT, pushes to the ingest in its own YAML.

    BH-05: an agency outside the camera's area and a camera not shared (BH-03) get the same
    refusal on MQTT and nothing reaches the ingest; BH-09: the ACL keeps an agency off another
    agency's request topic; BH-03: a revocation through the CLI ends the push within a second.
    """
    port = free_port()
    city = City(tmp_path, brokers, frigate_broker, pki, camera, port)
    ingest = Ingest(tmp_path, port)
    try:
        async with (city.listener("centre", f"{ROOT}/views/reply/#") as centre,
                    city.listener("centro", "copbh/v1/agency/centro/#") as centro,
                    city.listener("norte", "copbh/v1/agency/norte/#") as norte,
                    running(city.path) as runtime):
            await wait_views_link(runtime)
            as_centre, as_centro, as_norte = [await city.sender(u) for u in ("centre", "centro", "norte")]
            # Refusals: the same answer to an agency for outside its area, not shared, unknown.
            await ask(as_norte, f"{ROOT}/views/request/norte", request_id="n1", camera="street", reason="ocorrência 1")
            await ask(as_norte, f"{ROOT}/views/request/norte", request_id="n2", camera="nope", reason="ocorrência 1")
            await ask(as_centro, f"{ROOT}/views/request/centro", request_id="c1", camera="backyard", reason="ocorr. 2")
            await ask(as_centre, f"{ROOT}/views/request", request_id="x1", camera="backyard", reason="ocorr. 3")
            for box, rid in ((norte, "n1"), (norte, "n2"), (centro, "c1")):
                reply = (await answer(box, rid)).json
                assert (reply["state"], reply["reason"], reply["view"]) == ("refused", "not_available", None)
            reply = (await answer(centre, "x1")).json
            assert (reply["state"], reply["reason"]) == ("refused", "not_shared") and "consent" in reply["detail"]
            # The agency is proven by the topic: norte cannot ask as centro (the broker refuses or drops it).
            try:
                await ask(as_norte, f"{ROOT}/views/request/centro", request_id="forged", camera="street", reason="x")
            except LinkError:
                pass
            await asyncio.sleep(1.0)  # a push, had one started, would have reached the ingest by now
            assert not [m for m in centro.messages if "forged" in m.topic]
            assert not [m for m in norte.messages if "forged" in m.topic]
            assert not city.audit("video.view.start")
            assert ingest.process.poll() is None and ingest.size() == 0, "the ingest was reached"

            # The agency whose area covers the shared camera gets it pushed.
            await ask(as_centro, f"{ROOT}/views/request/centro", request_id="c2", camera="street",
                      reason="ocorrência 2026-000123")
            started_msg = await answer(centro, "c2")
            started = started_msg.json
            assert started["state"] == "started", started
            view = started["view"]
            assert started["ingest_path"] == f"acme/street/{view}" and "127.0.0.1" not in json.dumps(started)
            await wait_for(lambda: ingest.size() > 0, 20)
            print(f"first bytes at the ingest {time.time() - started_msg.at:.1f} s after `started`")
            await asyncio.sleep(3.0)
            assert ingest.process.poll() is None
            # Someone else's stop is refused; the view goes on.
            await ask(as_centre, f"{ROOT}/views/request", request_id="x2", action="stop", view=view)
            assert (await answer(centre, "x2")).json["reason"] == "unknown_view"

            assert len(pushers(f"/ingest/acme/street/{view}")) == 1
            # The CLI runs beside this event loop (which is guarita run's), as it would on the machine.
            revoke = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "guarita.cli", "consent", "revoke", "street", "--reason", "client withdrew",
                "--by", "ana", "-c", str(city.path), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            pusher_gone = asyncio.create_task(gone_at(f"/ingest/acme/street/{view}", 30))
            _, err = await asyncio.wait_for(revoke.communicate(), 30)
            assert revoke.returncode == 0, err
            ended = await answer(centro, "c2", "ended")
            push_closed_at = await pusher_gone
            await ingest.wait_end(5)
            ((revoked_at, *_),) = [e for e in city.audit("consent.revoke") if e[3] == "street"]
            assert (ended.json["reason"], ended.json["view"]) == ("not_shared", view)
            assert push_closed_at is not None and ingest.ended_at is not None
            print(f"pushed for {revoked_at - started_msg.at:.1f} s; from the revocation's audit time: `ended` on "
                  f"MQTT {ended.at - revoked_at:.3f} s, the push's session closed {push_closed_at - revoked_at:.3f} s, "
                  f"the ingest's ffmpeg done {ingest.ended_at - revoked_at:.3f} s")
            assert ended.at - revoked_at < 1.0 and push_closed_at - revoked_at < 1.0
            assert ingest.ended_at - revoked_at < 2.5  # the stand-in ingest's own wind-down after the session closes
            for link in (as_centre, as_centro, as_norte):
                await link.close()
        starts = city.audit("video.view.start")
        (end,) = city.audit("video.view.end")
    finally:
        ingest.stop()
        city.store.close()
    codec, frames, duration = probe(ingest.out)
    print(f"the ingest recorded {frames} frames of {codec}, {duration:.1f} s")
    assert codec == "h264" and frames >= 2 * FPS and duration >= 2.0, (codec, frames, duration)
    assert [(actor, subject, d["agency"], d["role"]) for _, actor, _, subject, d in starts] == [
        ("mqtt:centro", "street", "centro", "agency")]
    assert "no longer shared" in end[4]["why"] and end[4]["bytes_sent"] > 0


# covers BH-11, BH-07
async def test_an_ingest_that_refuses_is_retried_then_answered_ingest_unreachable(
    tmp_path: Path, brokers: BrokerFleet, frigate_broker: MosquittoBroker, pki: TestPki, camera: RtspServer
) -> None:
    """BH-11: nothing listens at the ingest: a few attempts with backoff, then `ended: ingest_unreachable`, counted.

    On the way, BH-05: the centre may narrow a view to an agency's area (refused outside it); a
    malformed request is refused; the requester's `stop` ends its view (BH-09: audited as its own).
    """
    city = City(tmp_path, brokers, frigate_broker, pki, camera, free_port())
    try:
        async with city.listener("centre", f"{ROOT}/views/reply/#") as centre, running(city.path) as runtime:
            await wait_views_link(runtime)
            link = await city.sender("centre")
            # The centre may narrow a view to an agency's area; an agency may not speak for another.
            await ask(link, f"{ROOT}/views/request", request_id="r0", camera="street", reason="x", agency="norte")
            assert (await answer(centre, "r0")).json["reason"] == "outside_area"
            await ask(link, f"{ROOT}/views/request", request_id="bad", camera="street")
            assert (await answer(centre, "bad")).json["reason"] == "bad_request"
            # A stop by the requester ends its view (before the ingest is given up on).
            await ask(link, f"{ROOT}/views/request", request_id="s1", camera="street", reason="ocorrência 8")
            first = (await answer(centre, "s1")).json["view"]
            await ask(link, f"{ROOT}/views/request", request_id="s2", action="stop", view=first)
            assert (await answer(centre, "s2")).json["state"] == "ended"
            assert (await answer(centre, "s1", "ended")).json["reason"] == "stopped"
            await ask(link, f"{ROOT}/views/request", request_id="r1", camera="street", reason="ocorrência 9")
            assert (await answer(centre, "r1")).json["state"] == "started"
            ended = (await answer(centre, "r1", "ended", timeout=30)).json
            assert ended["reason"] == "ingest_unreachable", ended
            metrics = runtime.metrics.render()
            assert 'guarita_video_push_failures_total{program="cop_bh"} 1' in metrics
            await link.close()
        stopped, end = city.audit("video.view.end")
    finally:
        city.store.close()
    assert stopped[4]["why"] == "ended by mqtt:centre"
    assert end[4]["why"].startswith("ingest_unreachable") and CAMERA_PASSWORD not in json.dumps(end)


# covers BH-09, BH-11
def test_the_acl_lets_each_agency_ask_only_on_its_own_topic(tmp_path: Path) -> None:
    """BH-09: the provider reads requests, the centre's user asks on the bare topic, each agency on its own."""
    path = tmp_path / "g.yaml"
    path.write_text(yaml.safe_dump({
        "provider": {"id": "acme", "name": "A", "kind": "security_company"},
        "storage": {"data_dir": "data"},
        "programs": {"cop_bh": {"uplink": {"host": "127.0.0.1"},
                                "agencies": {"centro": {"name": "C", "area": square(-43.9, -19.9)}},
                                "video_ingest": {"url": "rtsps://ingest.example:322", "centre_user": "cop"}}},
    }))
    acl = mosquitto_acl(load_config(path))
    blocks = {block.splitlines()[1]: block.splitlines()[2:] for block in acl.split("\n\n")[1:]}
    assert blocks["user acme"] == ["topic write copbh/v1/acme/#", "topic read copbh/v1/acme/views/request/#",
                                   "topic write copbh/v1/agency/+/acme/#"]
    assert blocks["user centro"] == ["topic read copbh/v1/agency/centro/#",
                                     "topic write copbh/v1/acme/views/request/centro"]
    assert blocks["user cop"] == ["topic write copbh/v1/acme/views/request", "topic read copbh/v1/acme/views/reply/#"]


# covers BH-07, BH-11
def test_the_ingest_address_comes_from_the_config_and_its_secret_stays_out_of_what_is_shown(tmp_path: Path) -> None:
    """BH-07: credentials come from a file, never the URL; logs get the address without them."""
    (tmp_path / "ingest.pass").write_text("pa55phrase-long-enough\n")

    def config(ingest: dict[str, Any]) -> Path:
        path = tmp_path / "g.yaml"
        path.write_text(yaml.safe_dump({
            "provider": {"id": "acme", "name": "A", "kind": "security_company"}, "storage": {"data_dir": "data"},
            "programs": {"cop_bh": {"uplink": {"host": "127.0.0.1"}, "video_ingest": ingest}}}))
        return path

    rtsp = load_config(config({"url": "rtsps://ingest.example:322/live/", "username": "acme",
                               "password_file": "ingest.pass"})).programs[ProgramName.COP_BH].video_ingest
    assert rtsp is not None
    target = ingest_target(rtsp, "acme", "street", "V1")
    assert target.shown == "rtsps://ingest.example:322/live/acme/street/V1" and target.path == "acme/street/V1"
    assert "acme:pa55phrase-long-enough@ingest.example" in push_command(target)[-1]
    assert "pa55" not in repr(target)
    srt = load_config(config({"url": "srt://ingest.example:9000", "passphrase_file": "ingest.pass"}))
    srt_ingest = srt.programs[ProgramName.COP_BH].video_ingest
    assert srt_ingest is not None
    target = ingest_target(srt_ingest, "acme", "street", "V1")
    command = push_command(target)
    # The passphrase goes to ffmpeg's srt option, before the address; the address (logged) has none.
    assert command[command.index("-f", 5) + 1] == "mpegts"
    assert command[command.index("-passphrase") + 1] == "pa55phrase-long-enough" and command[-1] == target.shown
    assert "pa55" not in target.shown and "r%3Dacme%2Fstreet%2FV1" in target.shown and "pa55" not in repr(target)
    with pytest.raises(ConfigError) as caught:
        load_config(config({"url": "rtsp://acme:secret@ingest.example/live"}))
    assert caught.value.problems[0].key_path == "programs.cop_bh.video_ingest.url"


# covers BH-07, BH-11
def test_an_srt_push_is_encrypted_with_the_configured_passphrase(tmp_path: Path) -> None:
    """BH-07: the push command's passphrase reaches SRT: a listener with it receives the video, one with
    another passphrase rejects the connection, and the address the push logs carries no passphrase."""
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10",
                    "-t", "4", "-c:v", "libx264", "-g", "10", "-movflags", "frag_keyframe+empty_moov", "-f", "mp4",
                    str(tmp_path / "clip.mp4")], check=True, timeout=30)
    (tmp_path / "ingest.passphrase").write_text("srt-pa55phrase-long\n")
    for listener_passphrase, received in (("srt-pa55phrase-long", True), ("another-pa55phrase", False)):
        port = free_port()
        path = tmp_path / "g.yaml"
        path.write_text(yaml.safe_dump({
            "provider": {"id": "acme", "name": "A", "kind": "security_company"}, "storage": {"data_dir": "data"},
            "programs": {"cop_bh": {"uplink": {"host": "127.0.0.1"}, "video_ingest": {
                "url": f"srt://127.0.0.1:{port}", "passphrase_file": "ingest.passphrase"}}}}))
        ingest = load_config(path).programs[ProgramName.COP_BH].video_ingest
        assert ingest is not None
        target = ingest_target(ingest, "acme", "street", "V1")
        assert "pa55" not in target.shown
        out = tmp_path / "received.ts"
        out.unlink(missing_ok=True)
        listener = subprocess.Popen(["ffmpeg", "-hide_banner", "-loglevel", "error", "-passphrase", listener_passphrase,
                                     "-probesize", "32768", "-i", f"srt://127.0.0.1:{port}?mode=listener", "-c", "copy", "-f", "mpegts",
                                     str(out)], stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.7)  # the listener binds
            pusher = subprocess.Popen(push_command(target), stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)
            assert pusher.stdin is not None
            pusher.stdin.write((tmp_path / "clip.mp4").read_bytes())
            time.sleep(2)  # as a live view does, the input stays open while the ingest reads
            pusher.stdin.close()
            assert (pusher.wait(15) == 0) is received
        finally:
            with contextlib.suppress(subprocess.TimeoutExpired):
                listener.wait(10 if received else 0.5)  # a refused caller leaves the listener waiting
            listener.kill()
            listener.wait()
        if received:
            assert probe(out)[:2] == ("h264", 40)
        else:
            assert not out.exists() or out.stat().st_size == 0


# covers BH-06, BH-11, BH-03, BH-07
@pytest.mark.slow
async def test_playback_over_mqtt_gives_short_lived_urls_of_the_shared_periods_only(
    tmp_path: Path, brokers: BrokerFleet, frigate_broker: MosquittoBroker, pki: TestPki, camera: RtspServer
) -> None:
    """BH-06/BH-03: from the cloud copy, only segments wholly inside a shared period; BH-07: of a masked
    camera, only its masked objects, an unmasked one reported as a gap `unmasked_copy`; BH-05: an agency
    outside the area hears `not_available`."""
    async with SeaweedS3(tmp_path / "seaweed") as s3:
        (tmp_path / "s3.key").write_text(s3.access.access_key)
        (tmp_path / "s3.secret").write_text(s3.access.secret_key)
        (tmp_path / "media").mkdir()
        cloud = {"endpoint": s3.endpoint, "bucket": s3.bucket, "access_key_file": str(tmp_path / "s3.key"),
                 "secret_key_file": str(tmp_path / "s3.secret")}
        city = City(tmp_path, brokers, frigate_broker, pki, camera, free_port(), change={
            "retention": {"cloud": cloud}, "frigate": {"media_dir": str(tmp_path / "media")},
            "cameras": {"street": {"programs": ["cop_bh"], "location": STREET},
                        "porch": {"programs": ["cop_bh"], "location": STREET, "privacy_masks": ["0,0,0.5,0,0.5,1"]}}}, share=False)
        now = time.time()
        shared_from, shared_to = now - now % 60 - 90 * 60, now - now % 60 - 50 * 60
        # street was shared from an hour and a half ago to 50 minutes ago; porch still is.
        clock = share_camera(city.config, city.store, "street", datetime.fromtimestamp(shared_from, UTC))
        share_camera(city.config, city.store, "porch", datetime.fromtimestamp(shared_from, UTC))
        clock.now = datetime.fromtimestamp(shared_to, UTC)
        Registry.for_config(city.config, city.store, clock).revoke("street", by="ana", reason="client withdrew")
        starts = {"before": shared_from - 600, "in1": shared_from + 600, "in2": shared_from + 1200,
                  "after": shared_to + 600}
        async with open_bucket(s3.access) as bucket:
            for name, start in starts.items():
                moment = datetime.fromtimestamp(start, UTC)
                await bucket.put(f"acme/street/{moment:%Y-%m-%d/%H/%M.%S}.mp4", f"segment {name}".encode(), "0")
                porch = f"acme/porch/{moment:%Y-%m-%d/%H/%M.%S}.mp4"
                await bucket.put(porch, b"unmasked" if name == "after" else b"masked", "0")
                if name != "after":  # the uploader masked these; "after" went up before it did
                    with city.store.transaction() as db:
                        db.execute("INSERT INTO cloud_objects (key, camera, start_utc, end_utc, size, sha256, "
                                   "uploaded_at, masked) VALUES (?, 'porch', ?, ?, 6, '0', 0, 1)",
                                   (porch, start, start + 10))
        registry = Registry.for_config(city.config, city.store)
        window = (shared_from - 900, shared_to + 900)
        found = await playback_segments(city.config, registry, "street", *window, now)
        assert [s.start for s in found] == [starts["in1"], starts["in2"]]
        async with aiohttp.ClientSession() as session:
            async with session.get(found[0].url) as got:
                assert got.status == 200 and await got.read() == b"segment in1"
        porch_played = await cloud_playback(city.config, registry, "porch", *window, now, city.store)
        assert [s.start for s in porch_played.segments] == [starts["in1"], starts["in2"]]
        assert [(g.start, g.reason) for g in porch_played.gaps] == [(starts["after"], "unmasked_copy")]
        with pytest.raises(PlaybackRefused) as refused:
            await playback_segments(city.config, registry, "porch", window[1], window[0], now)
        assert refused.value.code == "bad_request"

        iso = [datetime.fromtimestamp(t, UTC).isoformat() for t in window]
        try:
            async with (city.listener("centre", f"{ROOT}/views/reply/#") as centre,
                        city.listener("norte", "copbh/v1/agency/norte/#") as norte, running(city.path) as runtime):
                await wait_views_link(runtime)
                as_centre, as_norte = [await city.sender(u) for u in ("centre", "norte")]
                for rid, cam in (("p1", "street"), ("p2", "porch")):
                    await ask(as_centre, f"{ROOT}/views/request", request_id=rid, action="playback", camera=cam,
                              reason="ocorrência 7", **{"from": iso[0], "to": iso[1]})
                await ask(as_norte, f"{ROOT}/views/request/norte", request_id="p3", action="playback",
                          camera="street", reason="ocorrência 7", **{"from": iso[0], "to": iso[1]})
                played = (await answer(centre, "p1")).json
                assert (played["state"], played["reason"]) == ("started", "playback"), played
                assert [seg["from"] for seg in played["segments"]] == [
                    datetime.fromtimestamp(starts[n], UTC).isoformat(timespec="seconds") for n in ("in1", "in2")]
                async with aiohttp.ClientSession() as session:
                    async with session.get(played["segments"][1]["url"]) as got:
                        assert await got.read() == b"segment in2"
                masked = (await answer(centre, "p2")).json
                assert (masked["reason"], len(masked["segments"])) == ("playback", 2), masked
                assert [(g["from"], g["reason"]) for g in masked["gaps"]] == [
                    (datetime.fromtimestamp(starts["after"], UTC).isoformat(timespec="seconds"), "unmasked_copy")]
                async with aiohttp.ClientSession() as session:
                    async with session.get(masked["segments"][0]["url"]) as got:
                        assert await got.read() == b"masked"
                assert (await answer(norte, "p3")).json["reason"] == "not_available"
                for link in (as_centre, as_norte):
                    await link.close()
            played_audit = {entry[3]: entry for entry in city.audit("video.playback")}
            assert sorted(played_audit) == ["porch", "street"]
            (at, actor, action, subject, details) = played_audit["street"]
            assert (action, actor, subject, details["segments"]) == ("video.playback.urls", "mqtt:centre", "street", 2)
            assert details["window"] == {key: datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")
                                         for key, t in zip(("from", "to"), window)}
            # `guarita views list` shows it among the playbacks: open while its addresses work, then ended.
            (listed,) = [p for p in playbacks_from_audit(city.store, at + 1) if p["playback"] == details["playback"]]
            assert (listed["playback"], listed["state"], listed["segments"]) == (details["playback"], "urls", 2)
            assert (listed["holder"], listed["role"], listed["reason"], listed["ended_at"]) == (
                "mqtt:centre", "centre", "ocorrência 7", None)
            assert playbacks_from_audit(city.store, max(e[0] for e in played_audit.values()) + 301) == []
            (over,) = [p for p in playbacks_from_audit(city.store, at + 301, ended_since=at)
                       if p["playback"] == details["playback"]]
            assert over["why"] == "its addresses expired" and over["duration_s"] == 300
        finally:
            city.store.close()
