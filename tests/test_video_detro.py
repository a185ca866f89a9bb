"""DETRO's video of a bus: a live onboard camera and playback of the DVR archive, over real HTTP.

The bus camera's ``live`` source is GStreamer's RTSP server (Basic auth, the password given
through ``password_env``), pulled by real ffmpeg through Guarita's aiohttp server and read
with ffprobe/ffmpeg as a player would. The archive is real ffmpeg-made H.264 segments laid
out as the DVR offload stores them (``data_dir/archive/<vehicle>/<camera>/<yyyymmddhhmmss>.mp4``
in the DVR's local clock, indexed in ``dvr_segments``), with an hour missing.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from PIL import Image
from harness import running, wait_for
from test_config import problems_of
from test_video_push import Ingest, answer, ask, wait_views_link
from test_video_push import probe as probe_frames

from guarita.acl import mosquitto_acl
from guarita.adapters.dvr.archive import segment_path
from guarita.cli.views import playbacks_from_audit
from guarita.config import CameraRole, GuaritaConfig, ProgramName
from guarita.config_loader import load_config
from guarita.consent.registry import Registry
from guarita.local_time import local_zone
from guarita.metrics import Metrics
from guarita.mqtt import LinkSettings, LinkTls, MqttLink
from guarita.standin.broker_fleet import BrokerFleet
from guarita.standin.centre import Centre
from guarita.standin.mosquitto import MosquittoBroker, free_port
from guarita.standin.dvr_media import make_segment, stamp_name
from guarita.standin.rtsp_server import RtspServer, make_clip, rtsp_server_available
from guarita.standin.tls import TestPki
from guarita.store import Store
from guarita.video.mqtt_requests import bus_refusal
from guarita.web.api import make_api_app
from guarita.web.server import make_web_app, serve_web

pytestmark = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or not rtsp_server_available(),
    reason="needs ffmpeg and GStreamer's RTSP server (python3-gi gir1.2-gst-rtsp-server-1.0)",
)

BUS = "10234"
BUS_USER = "dvr"
BUS_PASSWORD = "bus-" + secrets.token_hex(6)
ZONE = "America/Sao_Paulo"
SEGMENT_S = 300
MINUTE = timedelta(minutes=1)
MASK = "0,0,0.5,0,0.5,1,0,1"  # the left half of camera 2's picture
# name -> (role, agency, program, token)
HOLDERS: dict[str, tuple[str, str | None, str | None, str]] = {
    "detro": ("viewer", None, "detro", secrets.token_urlsafe(24)),
    "alice": ("admin", None, None, secrets.token_urlsafe(24)),
    "olga": ("operator", None, None, secrets.token_urlsafe(24)),
    "centro": ("viewer", "centro_sul", None, secrets.token_urlsafe(24)),
    "copbh": ("viewer", None, "cop_bh", secrets.token_urlsafe(24)),
}


def write_config(tmp_path: Path, rtsp_port: int) -> GuaritaConfig:
    here = {"lat": -19.9245, "lon": -43.9352}
    area = {"type": "Polygon", "coordinates": [[[-43.96, -19.95], [-43.91, -19.95], [-43.91, -19.90],
                                                [-43.96, -19.90], [-43.96, -19.95]]]}
    live = {"url": f"rtsp://127.0.0.1:{rtsp_port}/bus", "username": BUS_USER, "password_env": "BUS_PW"}
    document = {
        "provider": {"id": "viacao", "name": "Viação Exemplo", "kind": "bus_operator",
                     "accreditation": {"date": "2024-05-02"}},
        "storage": {"data_dir": str(tmp_path / "data")},
        "programs": {"detro": {"uplink": {"host": "127.0.0.1"}},
                     "cop_bh": {"uplink": {"host": "127.0.0.1"},
                                "agencies": {"centro_sul": {"name": "Regional Centro-Sul", "area": area}}}},
        "cameras": {"street": {"programs": ["cop_bh"], "location": here}},
        "fleet": {"timezone": ZONE, "archive_days": 7, "vehicles": {BUS: {"plate": "KXY1A23", "dvr": {
            "serial": "DVR-1", "source": "file:///mnt/sd",
            "cameras": {1: {"role": "front", "live": live}, 2: "interior"}, "privacy_masks": {2: [MASK]},
        }}}},
        "web": {"host": "127.0.0.1", "port": 0, "tokens": {
            name: {"role": role, "sha256": hashlib.sha256(token.encode()).hexdigest(),
                   **({"agency": agency} if agency else {}), **({"program": program} if program else {})}
            for name, (role, agency, program, token) in HOLDERS.items()
        }},
        "video": {"start_timeout_s": 5, "playback_max_minutes": 120},
    }
    path = tmp_path / "guarita.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return load_config(path, {"BUS_PW": BUS_PASSWORD})


@dataclass
class Served:
    base: str
    session: aiohttp.ClientSession
    store: Store
    config: GuaritaConfig

    async def call(self, method: str, path: str, who: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {HOLDERS[who][3]}"}
        async with self.session.request(method, f"{self.base}/api/v1{path}", json=body, headers=headers) as answer:
            return answer.status, await answer.json()

    async def video(self, opened: dict[str, Any], dest: Path) -> None:
        """Fetch a playback's MP4 by its ``video_url`` (its key, no token), as a player would."""
        async with self.session.get(self.base + opened["video_url"]) as answer:
            assert answer.status == 200 and answer.content_type == "video/mp4", answer.status
            dest.write_bytes(await answer.read())

    async def ready(self, opened: dict[str, Any], who: str) -> dict[str, Any]:
        """The playback once built (``POST`` answers while it builds in the background)."""
        for _ in range(300):
            status, body = await self.call("GET", f"/playback/{opened['playback']}", who)
            assert status == 200, body
            if body["state"] != "building":
                return dict(body)
            await asyncio.sleep(0.1)
        raise AssertionError(f"playback {opened['playback']} still building")

    def audit(self, prefix: str) -> list[tuple[str, str, str, dict[str, Any]]]:
        rows = self.store.db.execute("SELECT actor, action, subject, details FROM audit_log WHERE action LIKE ? "
                                     "ORDER BY seq", (prefix + "%",)).fetchall()
        return [(str(r[0]), str(r[1]), str(r[2]), json.loads(r[3])) for r in rows]


@asynccontextmanager
async def serving(tmp_path: Path, rtsp_port: int) -> AsyncIterator[Served]:
    config = write_config(tmp_path, rtsp_port)
    store = Store.open(config.storage.data_dir)
    registry = Registry(store, config.storage.data_dir, accredited=True, clock=lambda: datetime.now(UTC))
    api = make_api_app(config, registry, store, lambda: datetime.now(UTC))
    app = make_web_app(lambda: {"status": "ok"}, Metrics(), api)
    stop = asyncio.Event()
    bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    server = asyncio.create_task(serve_web(app, "127.0.0.1", 0, stop, bound))
    try:
        port = await asyncio.wait_for(bound, 10)
        async with aiohttp.ClientSession() as session:
            yield Served(f"http://127.0.0.1:{port}", session, store, config)
    finally:
        stop.set()
        await asyncio.wait_for(server, 15)
        store.close()


async def run(*command: str, timeout: float = 30) -> subprocess.CompletedProcess[bytes]:
    process = await asyncio.create_subprocess_exec(*command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    return subprocess.CompletedProcess(list(command), process.returncode or 0, out, err)


@pytest.fixture
async def bus_camera(tmp_path: Path) -> AsyncIterator[RtspServer]:
    clip = await make_clip(tmp_path / "bus.mp4", codec="h264", width=320, height=240, fps=10, seconds=60)
    async with RtspServer({"bus": (clip, "h264")}, username=BUS_USER, password=BUS_PASSWORD) as server:
        yield server


# ---- live ----------------------------------------------------------------------------------
# covers DT-05, DT-04
async def test_detro_watches_a_bus_camera_live_through_its_mobile_link(tmp_path: Path,
                                                                       bus_camera: RtspServer) -> None:
    """DT-05: DETRO's token opens camera 1 of bus 10234 live; ffprobe reads H.264 and ffmpeg decodes frames."""
    async with serving(tmp_path, bus_camera.port) as api:
        status, view = await api.call("POST", f"/vehicles/{BUS}/views", "detro",
                                      {"channel": 1, "reason": "fiscalização 2026-77"})
        assert status == 201, view
        assert view["camera"] == f"{BUS}/1" and BUS_PASSWORD not in json.dumps(view)
        url = api.base + view["stream_url"]
        probe = await run("ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height",
                          "-of", "json", url)
        assert probe.returncode == 0, probe.stderr
        assert json.loads(probe.stdout)["streams"] == [{"codec_name": "h264", "width": 320, "height": 240}]
        frames = await run("ffmpeg", "-v", "error", "-i", url, "-frames:v", "20", "-f", "framecrc", "-")
        assert frames.returncode == 0, frames.stderr
        assert len([line for line in frames.stdout.decode().splitlines() if not line.startswith("#")]) == 20
        # A VMS reads the same view over HLS.
        hls = await run("ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height", "-of", "json",
                        api.base + view["hls_url"])
        assert hls.returncode == 0, hls.stderr
        assert json.loads(hls.stdout)["streams"] == [{"codec_name": "h264", "width": 320, "height": 240}]

        # The view is DETRO's: listed to it, not to a cop_bh token.
        _, listed = await api.call("GET", "/views", "detro")
        assert [v["camera"] for v in listed["views"]] == [f"{BUS}/1"]
        _, listed = await api.call("GET", "/views", "centro")
        assert listed["views"] == []

        status, renewed = await api.call("POST", f"/views/{view['view']}/renew", "detro", {"reason": "ainda"})
        assert status == 200 and renewed["camera"] == f"{BUS}/1", renewed
        status, ended = await api.call("DELETE", f"/views/{view['view']}", "detro")
        assert status == 200 and ended["bytes_sent"] > 0
        start, end = api.audit("video.view.")
        assert start[:3] == ("detro", "video.view.start", f"{BUS}/1")
        assert {k: start[3][k] for k in ("program", "vehicle", "channel", "reason", "role")} == {
            "program": "detro", "vehicle": BUS, "channel": 1, "reason": "fiscalização 2026-77", "role": "viewer"}
        assert end[1] == "video.view.end" and end[3]["vehicle"] == BUS and end[3]["bytes_sent"] == ended["bytes_sent"]
        assert [r["reason"] for r in end[3]["renewals"]] == ["ainda"]
        assert BUS_PASSWORD not in json.dumps([start, end])


# covers DT-05, BH-05
async def test_only_detro_and_admin_tokens_reach_a_bus_camera(tmp_path: Path) -> None:
    """A cop_bh token learns nothing about buses; the provider hears why a camera has no live view."""
    async with serving(tmp_path, 1) as api:
        body = {"channel": 1, "reason": "x"}
        hidden = []
        for who in ("centro", "copbh"):
            for vehicle in (BUS, "99999"):
                status, answer = await api.call("POST", f"/vehicles/{vehicle}/views", who, body)
                hidden.append((status, answer["error"].replace(vehicle, "V")))
        assert hidden == [(404, "no camera V/1 is available to this token")] * 4
        status, answer = await api.call("POST", f"/vehicles/{BUS}/views", "olga", body)
        assert status == 403 and "program: detro" in answer["error"]
        for who in ("alice", "detro"):
            status, answer = await api.call("POST", f"/vehicles/{BUS}/views", who, {"channel": 2, "reason": "x"})
            assert status == 404 and "no live source configured" in answer["error"], answer
        status, answer = await api.call("POST", f"/vehicles/{BUS}/views", "detro", {"channel": 9, "reason": "x"})
        assert status == 404 and "no DVR camera 9" in answer["error"]
        # DETRO's token gets the unknown camera's 404 for a cop_bh camera.
        status, answer = await api.call("POST", "/views", "detro", {"camera": "street", "reason": "x"})
        assert status == 404 and "street" in answer["error"]
        assert api.audit("video.") == []


# ---- the config ------------------------------------------------------------------------------
# covers DT-05, DT-07, BH-07
def test_a_bus_camera_written_out_with_a_live_source_is_read_and_checked_at_its_key(tmp_path: Path) -> None:
    """`1: front` still works beside `2: {role, live}`; the live password is a secret; mistakes name their key."""
    head = ("provider: {id: viacao, name: Viação, kind: bus_operator}\nstorage: {data_dir: data}\n"
            "fleet:\n  vehicles:\n    \"10234\":\n      plate: KXY1A23\n      dvr:\n        serial: S1\n"
            "        source: file:///mnt/sd\n        cameras:\n          1: interior\n")
    path = tmp_path / "guarita.yaml"
    path.write_text(head + "          2: {role: front, live: {url: 'rtsp://bus:554/ch2', username: v, "
                    "password_env: LIVE_PW}}\n", encoding="utf-8")
    dvr = load_config(path, {"LIVE_PW": BUS_PASSWORD}).fleet.vehicles["10234"].dvr  # type: ignore[union-attr]
    assert dvr is not None and dvr.cameras[1] is CameraRole.INTERIOR
    assert dvr.roles() == {1: CameraRole.INTERIOR, 2: CameraRole.FRONT} and dvr.live(1) is None
    live = dvr.live(2)
    assert live is not None and live.password is not None and live.password.get_secret_value() == BUS_PASSWORD
    assert problems_of(path) == ["12:75 fleet.vehicles.10234.dvr.cameras.2.live.password_env: "
                                 "environment variable LIVE_PW is not set"]
    path.write_text(head + "          2: {role: front, live: {url: 'rtsp://v:pw@bus:554/ch2'}}\n", encoding="utf-8")
    assert problems_of(path) == ["12:35 fleet.vehicles.10234.dvr.cameras.2.live.url: String should match pattern "
                                 "'^rtsps?://[^@/\\s]+(/\\S*)?$'"]
    path.write_text(head + "          2: {role: tv}\n", encoding="utf-8")
    assert problems_of(path) == ["12:15 fleet.vehicles.10234.dvr.cameras.2.role: Input should be 'interior', 'front', "
                                 "'door', 'validator', 'driver', 'rear' or 'other'"]
    path.write_text(head + "          2: front\nweb:\n  tokens:\n    x: {role: viewer, sha256: '" + "0" * 64
                    + "', agency: centro, program: detro}\n", encoding="utf-8")
    assert any("web.tokens.x.program: a token bound to a cop_bh agency cannot be a detro token" in p
               for p in problems_of(path))


# ---- archive playback ------------------------------------------------------------------------
def lay_out_archive(config: GuaritaConfig, store: Store, first: datetime, starts: list[datetime],
                    camera: int = 1) -> None:
    """Segments of ``camera`` at ``starts`` (UTC), named and indexed as the DVR offload stores them."""
    zone = local_zone(ZONE)
    for start in starts:
        name = stamp_name(start.astimezone(zone).replace(tzinfo=None))
        path = make_segment(segment_path(config.storage.data_dir, BUS, camera, name), SEGMENT_S)
        with store.transaction() as db:
            db.execute("INSERT INTO dvr_segments (vehicle, camera, name, start_utc, duration_s, size, sha256, "
                       "synced_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (BUS, camera, name, start.timestamp(), float(SEGMENT_S), path.stat().st_size,
                        hashlib.sha256(path.read_bytes()).hexdigest(), first.timestamp()))


def probe(path: Path) -> tuple[str, float]:
    result = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name:format=duration",
                             "-of", "json", str(path)], capture_output=True, check=True)
    data = json.loads(result.stdout)
    return data["streams"][0]["codec_name"], float(data["format"]["duration"])


def z(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def u(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


# covers DT-04, DT-12, DT-06
async def test_detro_plays_back_a_window_of_the_archive_with_its_gaps(tmp_path: Path) -> None:
    """DT-04: the window plays as one MP4 of its length; a missing hour is named; past DT-12's retention, refused."""
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
    hour = timedelta(hours=1)
    starts = [base + timedelta(seconds=SEGMENT_S * i) for i in range(12)]  # base .. base+1h
    starts += [base + 2 * hour + timedelta(seconds=SEGMENT_S * i) for i in range(2)]  # base+2h .. base+2h10m
    async with serving(tmp_path, 1) as api:
        lay_out_archive(api.config, api.store, base, starts)
        path = f"/vehicles/{BUS}/playback"

        # A window across two files, inside one run of footage.
        window = {"channel": 1, "from": z(base + timedelta(minutes=2, seconds=30)),
                  "to": z(base + timedelta(minutes=7, seconds=30)), "reason": "processo 2026-12"}
        status, opened = await api.call("POST", path, "detro", window)
        assert status == 201, opened
        opened = await api.ready(opened, "detro")
        assert opened["state"] == "ready", opened
        assert opened["camera"] == f"{BUS}/1" and opened["gaps"] == []
        assert [(p["from"], p["to"], p["source"]) for p in opened["periods"]] == [
            (u(base + timedelta(minutes=2, seconds=30)), u(base + timedelta(minutes=7, seconds=30)), "archive")]
        await api.video(opened, tmp_path / "a.mp4")
        codec, seconds = probe(tmp_path / "a.mp4")
        assert codec == "h264" and abs(seconds - 300) <= 3, seconds
        _, listed = await api.call("GET", "/playback", "detro")
        assert [p["camera"] for p in listed["playbacks"]] == [f"{BUS}/1"]
        _, listed = await api.call("GET", "/playback", "centro")
        assert listed["playbacks"] == []
        assert [p["camera"] for p in playbacks_from_audit(api.store, time.time())] == [f"{BUS}/1"]
        status, ended = await api.call("DELETE", f"/playback/{opened['playback']}", "detro")
        assert status == 200 and ended["bytes_sent"] == (tmp_path / "a.mp4").stat().st_size

        # A window over the missing hour (local time, as the DVR names it): the footage there is, the hour named.
        local = (base + timedelta(minutes=50)).astimezone(local_zone(ZONE)).replace(tzinfo=None)
        window = {"channel": 1, "from": local.isoformat(), "to": z(base + 2 * hour + timedelta(minutes=5)),
                  "reason": "processo 2026-13"}
        status, opened = await api.call("POST", path, "alice", window)
        assert status == 201, opened
        opened = await api.ready(opened, "alice")
        assert opened["gaps"] == [{"from": u(base + hour), "to": u(base + 2 * hour), "reason": "no_recording"}]
        assert [(p["from"], p["to"]) for p in opened["periods"]] == [
            (u(base + timedelta(minutes=50)), u(base + hour)), (u(base + 2 * hour), u(base + 2 * hour + 5 * MINUTE))]
        await api.video(opened, tmp_path / "b.mp4")
        codec, seconds = probe(tmp_path / "b.mp4")
        assert codec == "h264" and abs(seconds - 15 * 60) <= 4, seconds
        await api.call("DELETE", f"/playback/{opened['playback']}", "alice")

        # Outside the archive's retention (fleet.archive_days = 7): refused, naming it.
        old = datetime.now(UTC) - timedelta(days=8)
        status, error = await api.call("POST", path, "detro", {"channel": 1, "from": z(old), "to": z(old + hour),
                                                              "reason": "x"})
        assert status == 400 and "fleet.archive_days" in error["fields"][0]["message"], error
        for start, end, field in (("ontem", z(base), "from"), (z(base + hour), z(base), "to"),
                                  (z(datetime.now(UTC) - hour / 2), z(datetime.now(UTC) + hour / 2), "to")):
            status, error = await api.call("POST", path, "detro", {"channel": 1, "from": start, "to": end,
                                                                  "reason": "x"})
            assert status == 400 and error["fields"][0]["field"] == field, error
        status, error = await api.call("POST", path, "detro", {"channel": 1, "from": z(base), "to": z(base + 3 * hour),
                                                              "reason": "x"})
        assert status == 413 and "video.playback_max_minutes" in error["error"]
        # Nothing archived there; a cop_bh token is not told the bus exists; DETRO's token no cop_bh camera.
        status, error = await api.call("POST", path, "detro", {"channel": 2, "from": z(base), "to": z(base + hour),
                                                              "reason": "x"})
        assert status == 404 and "no footage" in error["error"]
        status, error = await api.call("POST", path, "centro", window)
        assert status == 404 and error["error"] == f"no camera {BUS}/1 is available to this token"
        status, error = await api.call("POST", "/playback", "detro", {"camera": "street", "from": z(base),
                                                                     "to": z(base + hour), "reason": "x"})
        assert status == 404 and "street" in error["error"]

        entries = api.audit("video.playback.")
        assert [(e[0], e[1], e[2]) for e in entries] == [
            (who, f"video.playback.{step}", f"{BUS}/1") for who in ("detro", "alice") for step in ("start", "ready", "end")]
        assert entries[4][3]["gaps"] == [{"from": u(base + hour), "to": u(base + 2 * hour), "reason": "no_recording"}]
        assert entries[5][3]["bytes_sent"] == (tmp_path / "b.mp4").stat().st_size
        assert {k: entries[0][3][k] for k in ("program", "vehicle", "channel", "reason", "files")} == {
            "program": "detro", "vehicle": BUS, "channel": 1, "reason": "processo 2026-12", "files": 2}
        assert entries[2][3]["vehicle"] == BUS and entries[1][3]["periods"][0]["source"] == "archive"

        # A file indexed but gone from the disk (lost since it was synced) is a gap, not a failure.
        lost = stamp_name((base + 5 * MINUTE).astimezone(local_zone(ZONE)).replace(tzinfo=None))
        segment_path(api.config.storage.data_dir, BUS, 1, lost).unlink()
        status, opened = await api.call("POST", path, "detro", {"channel": 1, "from": z(base + 3 * MINUTE),
                                                               "to": z(base + 7 * MINUTE), "reason": "x"})
        assert status == 201, opened
        opened = await api.ready(opened, "detro")
        assert opened["gaps"] == [
            {"from": u(base + 5 * MINUTE), "to": u(base + 7 * MINUTE), "reason": "no_recording"}], opened

        # Camera 2 has privacy masks: its playback is re-encoded with them burned in.
        lay_out_archive(api.config, api.store, base, [base], camera=2)
        status, opened = await api.call("POST", path, "detro", {"channel": 2, "from": z(base + MINUTE),
                                                               "to": z(base + 2 * MINUTE), "reason": "x"})
        assert status == 201, opened
        opened = await api.ready(opened, "detro")
        await api.video(opened, tmp_path / "f.mp4")
        assert abs(probe(tmp_path / "f.mp4")[1] - 60) <= 3
        frame = tmp_path / "f.png"
        subprocess.run(["ffmpeg", "-v", "error", "-ss", "10", "-i", str(tmp_path / "f.mp4"), "-frames:v", "1",
                        "-y", str(frame)], check=True)
        with Image.open(frame) as image:
            rgb = image.convert("RGB")
            width, height = rgb.size
            masked = rgb.crop((0, 0, width // 2 - 4, height)).getextrema()
            unmasked = rgb.crop((width // 2 + 4, 0, width, height)).getextrema()
        assert all(high <= 24 for _low, high in masked), masked
        assert max(high for _low, high in unmasked) > 150, unmasked


# ---- live over MQTT, pushed to DETRO's ingest (behind NAT) ---------------------------------
# covers DT-05, DT-04
@pytest.mark.slow
async def test_detro_asks_over_mqtt_and_the_bus_camera_is_pushed_to_its_ingest(
    tmp_path: Path, brokers: BrokerFleet, frigate_broker: MosquittoBroker, pki: TestPki, bus_camera: RtspServer
) -> None:
    """DT-05: DETRO's platform asks on the detro uplink for camera 1 of bus 10234; Guarita, behind NAT,
    pushes it to the ingest in its own YAML (ffprobe reads H.264 there) until `stop` (`ended`).

    An unknown bus, an unknown camera and a camera without a `live` source (DT-04's archive-only
    camera 2) are `not_available`, and nothing reaches the ingest for them.
    """
    ingest_port = free_port()
    users = {"viacao": secrets.token_urlsafe(12), "detro-video": secrets.token_urlsafe(12)}
    probe_broker = MosquittoBroker(brokers.workdir("probe"), tls=pki, users=users, acl="")  # its port only
    (tmp_path / "uplink.pass").write_text(users["viacao"])
    (tmp_path / "bus.pass").write_text(BUS_PASSWORD)
    config_path = tmp_path / "guarita.yaml"
    write_config(tmp_path, bus_camera.port)
    document = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    document["programs"] = {"detro": {
        "uplink": {"host": "127.0.0.1", "port": probe_broker.port, "username": "viacao",
                   "password_file": str(tmp_path / "uplink.pass"), "tls": {"ca_file": str(pki.ca_cert)}},
        "video_ingest": {"url": f"rtsp://127.0.0.1:{ingest_port}/ingest", "centre_user": "detro-video"},
    }}
    document["cameras"] = {}
    live = document["fleet"]["vehicles"][BUS]["dvr"]["cameras"][1]["live"]
    live.pop("password_env")
    live["password_file"] = str(tmp_path / "bus.pass")
    document["frigate"] = {"url": f"http://127.0.0.1:{free_port()}",
                           "mqtt": {"host": "127.0.0.1", "port": frigate_broker.port}}
    document["web"] = {"host": "127.0.0.1", "port": free_port()}
    config_path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    config = load_config(config_path)
    acl = mosquitto_acl(config)
    assert "user detro-video\ntopic write detro/v1/viacao/views/request\ntopic read detro/v1/viacao/views/reply/#" in acl
    broker = brokers.start(MosquittoBroker(brokers.workdir("detro"), tls=pki, users=users, acl=acl,
                                           tls_port=probe_broker.port))
    root = "detro/v1/viacao/views"
    ingest = Ingest(tmp_path, ingest_port)
    try:
        async with (Centre("127.0.0.1", broker.port, username="detro-video", password=users["detro-video"],
                           ca_file=pki.ca_cert, topic=f"{root}/reply/#") as detro,
                    running(config_path) as runtime):
            await wait_views_link(runtime)
            link = MqttLink(LinkSettings("127.0.0.1", broker.port, "detro-video-1", username="detro-video",
                                         password=users["detro-video"], tls=LinkTls(pki.ca_cert)))
            await link.connect()
            for rid, vehicle, channel in (("u1", "99999", 1), ("u2", BUS, 7), ("u3", BUS, 2)):
                await ask(link, f"{root}/request", request_id=rid, action="start", vehicle=vehicle, channel=channel,
                          reason="fiscalização 2026-78")
            for rid in ("u1", "u2", "u3"):
                reply = (await answer(detro, rid)).json
                assert (reply["state"], reply["reason"], reply["view"]) == ("refused", "not_available", None), reply
            assert "no live source configured" in (await answer(detro, "u3")).json["detail"]
            await asyncio.sleep(0.5)
            assert ingest.process.poll() is None and ingest.size() == 0, "a refused request reached the ingest"

            await ask(link, f"{root}/request", request_id="s1", action="start", vehicle=BUS, channel=1,
                      reason="fiscalização 2026-78")
            started = (await answer(detro, "s1")).json
            assert started["state"] == "started", started
            view = started["view"]
            assert (started["camera"], started["ingest_path"]) == (f"{BUS}/1", f"viacao/{BUS}-1/{view}")
            assert BUS_PASSWORD not in json.dumps(started)
            await wait_for(lambda: ingest.size() > 20_000, 15)
            await ask(link, f"{root}/request", request_id="r1", action="renew", view=view, reason="ainda")
            assert (await answer(detro, "r1")).json["reason"] == "renewed"
            await ask(link, f"{root}/request", request_id="b1", action="start", vehicle=BUS, reason="sem câmera")
            assert (await answer(detro, "b1")).json["reason"] == "bad_request"
            await ask(link, f"{root}/request", request_id="s2", action="stop", view=view)
            assert (await answer(detro, "s2")).json["state"] == "ended"
            ended = (await answer(detro, "s1", "ended")).json
            assert (ended["reason"], ended["view"]) == ("stopped", view)
            await ingest.wait_end(5)
            await link.close()
        codec, frames, _ = probe_frames(ingest.out)
        assert codec == "h264" and frames >= 5
        store = Store.open(config.storage.data_dir)
        try:
            rows = store.db.execute("SELECT actor, action, subject, details FROM audit_log WHERE action LIKE "
                                    "'video.view.%' ORDER BY seq").fetchall()
        finally:
            store.close()
        assert [(r[0], r[1], r[2]) for r in rows] == [("mqtt:centre", "video.view.start", f"{BUS}/1"),
                                                      ("mqtt:centre", "video.view.end", f"{BUS}/1")]
        details = json.loads(rows[0][3])
        assert {k: details[k] for k in ("program", "vehicle", "channel")} == {
            "program": "detro", "vehicle": BUS, "channel": 1}
    finally:
        ingest.stop()


# covers DT-05
def test_a_bus_camera_is_refused_over_mqtt_while_the_detro_program_is_off(tmp_path: Path) -> None:
    """DT-05: with the detro program disabled a request for a bus camera is refused `program_disabled`."""
    config = write_config(tmp_path, 554)
    assert bus_refusal(config, f"{BUS}/1") is None
    assert bus_refusal(config, "street") == ("not_available", "no bus camera 'street'")
    detro = config.programs[ProgramName.DETRO].model_copy(update={"enabled": False})
    off = config.model_copy(update={"programs": {**config.programs, ProgramName.DETRO: detro}})
    assert bus_refusal(off, f"{BUS}/1") == ("program_disabled", "the detro program is not configured and enabled")
