"""Live view over HTTP: a real RTSP camera (GStreamer), real ffmpeg, Guarita's aiohttp server, ffprobe.

Each test serves the API on 127.0.0.1 over a real SQLite store, with cameras pulled from
GStreamer's RTSP server (Basic auth, so credentials travel through the config's secret) and
shared through the real consent registry. Streams are fetched as a player would: the
``stream_url`` with its key, read by ffprobe/ffmpeg or by an HTTP client.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from harness import share_camera
from PIL import Image
from video_rig import (CAMERA_PASSWORD, CAMERA_USER, HEIGHT, HOLDERS, WIDTH, Reader, dead_links,
                       ffmpeg_children, utc_now, write_config)
from web_rig import ServedApi, served_app

from guarita.web.api_views import API_VIDEO
from guarita.web.api import make_api_app
from guarita.cli.views import views_from_audit
from guarita.config import GuaritaConfig
from guarita.config_loader import load_config
from guarita.consent.registry import Registry
from guarita.metrics import Metrics
from guarita.runtime import Runtime
from guarita.standin.rtsp_server import RtspServer, make_clip, rtsp_server_available
from guarita.store import Store
from guarita.video import VideoHub
from guarita.video.source import camera_source
from guarita.web.server import make_web_app

pytestmark = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or not rtsp_server_available(),
    reason="needs ffmpeg and GStreamer's RTSP server (python3-gi gir1.2-gst-rtsp-server-1.0)",
)

@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "street.mp4"
    asyncio.run(make_clip(path, codec="h264", width=WIDTH, height=HEIGHT, fps=10, seconds=90))
    return path


@pytest.fixture
async def camera(clip: Path) -> AsyncIterator[RtspServer]:
    async with RtspServer({"street": (clip, "h264")}, username=CAMERA_USER, password=CAMERA_PASSWORD) as server:
        yield server


@dataclass
class Served(ServedApi):
    config_path: Path
    hub: VideoHub

    def token(self, who: str) -> str:
        return HOLDERS[who][2]

    async def open_view(self, camera: str, who: str = "vera", reason: str = "ocorrência 2026-123") -> dict[str, Any]:
        status, body = await self.call("POST", "/views", who, {"camera": camera, "reason": reason})
        assert status == 201, body
        return dict(body)

    def url(self, view: dict[str, Any]) -> str:
        return self.base + str(view["stream_url"])

    def audit(self, action_prefix: str = "video.") -> list[tuple[float, str, str, str, dict[str, Any]]]:
        rows = self.store.db.execute(
            "SELECT at, actor, action, subject, details FROM audit_log WHERE action LIKE ? ORDER BY seq",
            (action_prefix + "%",),
        ).fetchall()
        return [(float(r[0]), str(r[1]), str(r[2]), str(r[3]), json.loads(r[4])) for r in rows]


@asynccontextmanager
async def serving(tmp_path: Path, camera: RtspServer, video: dict[str, Any] | None = None) -> AsyncIterator[Served]:
    config = write_config(tmp_path, camera.port, video)
    store = Store.open(config.storage.data_dir)
    for name in ("street", "porch"):
        share_camera(config, store, name, since=utc_now() - timedelta(hours=1))
    registry = Registry(store, config.storage.data_dir, accredited=True, clock=utc_now)
    api = make_api_app(config, registry, store, utc_now)
    app = make_web_app(lambda: {"status": "ok"}, Metrics(), api)
    try:
        async with served_app(app) as (base, session):
            yield Served(base, session, store, config, tmp_path / "guarita.yaml", api[API_VIDEO])
    finally:
        store.close()


async def run(*command: str, timeout: float = 30) -> subprocess.CompletedProcess[bytes]:
    """Run ``command`` (the CLI gets the camera's password in its environment, as `guarita run` would)."""
    process = await asyncio.create_subprocess_exec(*command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                                   env={**os.environ, "CAM_PW": CAMERA_PASSWORD})
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    return subprocess.CompletedProcess(list(command), process.returncode or 0, out, err)


async def until(predicate: Any, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(step)
    return bool(predicate())


# ---- the stream itself ---------------------------------------------------------------------
# covers BH-11, BH-07
async def test_a_shared_camera_plays_as_h264_fragmented_mp4_remuxed(tmp_path: Path, camera: RtspServer,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with serving(tmp_path, camera) as api:
        view = await api.open_view("street")
        assert CAMERA_PASSWORD not in json.dumps(view) and CAMERA_USER not in view["stream_url"]
        probe = await run("ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height",
                          "-of", "json", api.url(view))
        assert probe.returncode == 0, probe.stderr
        assert json.loads(probe.stdout)["streams"] == [{"codec_name": "h264", "width": WIDTH, "height": HEIGHT}]
        # A few seconds of frames, decoded.
        frames = await run("ffmpeg", "-v", "error", "-i", api.url(view), "-frames:v", "30", "-f", "framecrc", "-")
        assert frames.returncode == 0, frames.stderr
        assert len([line for line in frames.stdout.decode().splitlines() if not line.startswith("#")]) == 30
        # Remuxed, not transcoded: one ffmpeg, copying.
        asked = time.monotonic()
        reader = Reader(api.session, api.url(view))
        await asyncio.wait_for(reader.first.wait(), 15)
        print(f"first bytes of a remuxed stream after {time.monotonic() - asked:.3f} s")
        (pid,) = ffmpeg_children()
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        assert b"copy" in argv and b"libx264" not in argv
        await reader.close()
        assert await until(lambda: not ffmpeg_children(), 5)
        status, _ = await api.call("DELETE", f"/views/{view['view']}", "vera")
        assert status == 200
        start, end = [entry for entry in api.audit() if entry[4]["view"] == view["view"]]
        assert start[1:4] == ("vera", "video.view.start", "street")
        assert start[4]["reason"] == "ocorrência 2026-123" and start[4]["role"] == "viewer"
        assert end[2] == "video.view.end" and end[4]["bytes_sent"] > 10_000 and end[4]["duration_s"] > 0
        audit_text = "\n".join(str(row) for row in api.audit(""))
    assert CAMERA_PASSWORD not in caplog.text and CAMERA_PASSWORD not in audit_text


# covers BH-04, BH-11
async def test_a_masked_camera_is_transcoded_with_the_polygon_burned_in(tmp_path: Path, camera: RtspServer) -> None:
    async with serving(tmp_path, camera) as api:
        view = await api.open_view("porch")
        picture = tmp_path / "frame.png"
        grab = await run("ffmpeg", "-v", "error", "-i", api.url(view), "-frames:v", "1", "-update", "1",
                         "-y", str(picture))
        assert grab.returncode == 0, grab.stderr
        with Image.open(picture) as image:
            rgb = image.convert("RGB")
            assert rgb.size == (WIDTH, HEIGHT)
            masked = rgb.crop((0, 0, WIDTH // 2 - 4, HEIGHT))
            unmasked = rgb.crop((WIDTH // 2 + 4, 0, WIDTH, HEIGHT))
            # Solid black (within compression) where the mask is; the test pattern's colours elsewhere.
            assert all(high <= 24 for _low, high in masked.getextrema()), masked.getextrema()
            assert max(high for _low, high in unmasked.getextrema()) > 150, unmasked.getextrema()
            assert len(unmasked.getcolors(1 << 16) or range(1 << 16)) > 8


# ---- one upstream, many viewers -----------------------------------------------------------------
# covers BH-11
async def test_twenty_viewers_share_one_upstream_ffmpeg_which_stops_after_the_last(
    tmp_path: Path, camera: RtspServer
) -> None:
    async with serving(tmp_path, camera) as api:
        views = [await api.open_view("street", who="vera", reason=f"incident {n}") for n in range(20)]
        readers = [Reader(api.session, api.url(view)) for view in views]
        await asyncio.wait_for(asyncio.gather(*(r.first.wait() for r in readers)), 20)
        assert all(r.status == 200 for r in readers)
        assert len(ffmpeg_children()) == 1
        async with api.session.get(f"{api.base}/metrics") as answer:
            assert 'guarita_video_viewers{camera="street"} 20' in await answer.text()
        for reader in readers[:-1]:
            await reader.close()
        await asyncio.sleep(1.0)
        assert len(ffmpeg_children()) == 1, "the upstream stays while one viewer is left"
        before = readers[-1].received
        await asyncio.sleep(1.5)
        assert readers[-1].received > before, "the last viewer still receives fragments"
        await readers[-1].close()
        assert await until(lambda: not ffmpeg_children(), 5), "the upstream ends after the last viewer"


# covers BH-11
async def test_a_late_viewer_joins_the_running_upstream_at_a_keyframe_with_the_init_segment(
    tmp_path: Path, camera: RtspServer
) -> None:
    async with serving(tmp_path, camera) as api:
        view = await api.open_view("street")
        first = Reader(api.session, api.url(view))
        await asyncio.wait_for(first.first.wait(), 15)
        await asyncio.sleep(3.0)
        (upstream,) = ffmpeg_children()
        probe = await run("ffprobe", "-v", "error", "-read_intervals", "%+#5", "-show_entries",
                          "frame=key_frame,pts_time", "-of", "json", api.url(view))
        assert probe.returncode == 0, probe.stderr
        frames = json.loads(probe.stdout)["frames"]
        assert len(frames) == 5 and frames[0]["key_frame"] == 1
        assert float(frames[0]["pts_time"]) >= 2.0, "it joined the live stream, not a fresh pull from the start"
        assert ffmpeg_children() == [upstream], "the late viewer was fed by the same ffmpeg"
        await first.close()


# ---- the gate ------------------------------------------------------------------------------------
# covers BH-03, BH-05, BH-09
async def test_refusals_name_their_reason_without_telling_an_agency_what_exists(
    tmp_path: Path, camera: RtspServer
) -> None:
    async with serving(tmp_path, camera) as api:
        body = {"camera": "backyard", "reason": "incident"}
        status, answer = await api.call("POST", "/views", "vera", body)
        assert status == 403 and "not shared with cop_bh" in answer["error"] and "no_consent" in answer["error"]
        status, answer = await api.call("POST", "/views", "audrey", {"camera": "street", "reason": "x"})
        assert status == 403 and "auditor" in answer["error"]
        # An agency: its own shared camera opens; outside its area, unshared or unknown all read the same.
        assert (await api.open_view("street", who="centro"))["camera"] == "street"
        refusals = [await api.call("POST", "/views", who, {"camera": name, "reason": "x"})
                    for who, name in (("barreiro", "street"), ("centro", "backyard"), ("centro", "nowhere"))]
        assert [s for s, _ in refusals] == [404, 404, 404]
        texts = {a["error"].replace("'street'", "C").replace("'backyard'", "C").replace("'nowhere'", "C")
                 .replace("barreiro", "A").replace("centro_sul", "A") for _, a in refusals}
        assert len(texts) == 1, texts
        # An agency lists only its own views; the provider sees them all.
        await api.open_view("porch", who="vera")
        _, listed = await api.call("GET", "/views", "centro")
        assert [v["agency"] for v in listed["views"]] == ["centro_sul"]
        _, listed = await api.call("GET", "/views", "audrey")
        assert len(listed["views"]) == 2
        # A view is its holder's: another token may neither renew, end nor stream it without the key.
        own = listed["views"][0]["view"]
        assert (await api.call("POST", f"/views/{own}/renew", "barreiro"))[0] == 404
        assert (await api.call("DELETE", f"/views/{own}", "vera"))[0] == 404
        async with api.session.get(f"{api.base}/api/v1/views/{own}/stream.mp4?key=wrong") as answer:
            assert answer.status == 404
        stream = f"{api.base}/api/v1/views/{own}/stream.mp4"
        async with api.session.get(stream) as answer:
            assert answer.status == 401, "neither the key nor a token"
        async with api.session.get(stream, headers={"Authorization": f"Bearer {HOLDERS['vera'][2]}"}) as answer:
            assert answer.status == 404, "another token without the key"
        async with api.session.get(stream, headers={"Authorization": f"Bearer {HOLDERS['centro'][2]}"}) as answer:
            assert answer.status == 200 and answer.content_type == "video/mp4"  # the opener's token, no key
            assert len(await answer.content.read(4096)) == 4096


# covers BH-03, BH-11
async def test_revoking_through_the_cli_ends_the_stream_within_a_second(tmp_path: Path, camera: RtspServer) -> None:
    async with serving(tmp_path, camera) as api:
        view = await api.open_view("street")
        reader = Reader(api.session, api.url(view))
        await asyncio.wait_for(reader.first.wait(), 15)
        await asyncio.sleep(1.0)
        assert reader.ended_at is None and reader.received > 0
        revoke = await run(sys.executable, "-m", "guarita.cli", "consent", "revoke", "street", "--reason",
                           "client withdrew", "--by", "ana", "-c", str(api.config_path))
        assert revoke.returncode == 0, revoke.stderr
        await asyncio.wait_for(reader.task, 5)
        (revoked_at,) = [at for at, _, action, subject, _ in api.audit("consent.")
                         if action == "consent.revoke" and subject == "street"]
        assert reader.ended_at is not None and reader.ended_at - revoked_at < 1.0, reader.ended_at - revoked_at
        print(f"revocation to end of stream at the reader: {reader.ended_at - revoked_at:.3f} s")
        assert await until(lambda: not ffmpeg_children(), 5)
        status, answer = await api.call("POST", f"/views/{view['view']}/renew", "vera")
        assert status == 410 and "no longer shared" in answer["error"]
        status, answer = await api.call("POST", "/views", "vera", {"camera": "street", "reason": "again"})
        assert status == 403 and "consent_revoked" in answer["error"]
        (end,) = [e for e in api.audit() if e[2] == "video.view.end"]
        assert "no longer shared" in end[4]["why"]


# covers BH-03, BH-11
async def test_a_consent_that_expires_mid_stream_ends_it_within_a_second(tmp_path: Path, camera: RtspServer) -> None:
    async with serving(tmp_path, camera) as api:
        registry = Registry(api.store, api.config.storage.data_dir, accredited=True, clock=utc_now)
        expires = utc_now() + timedelta(seconds=6)
        evidence = api.config.storage.data_dir / "renewed.pdf"
        evidence.write_bytes(b"%PDF-1.7 consent for six more seconds")
        registry.grant("street", client_id="condo-1", evidence=evidence, by="ana", expires_at=expires)
        view = await api.open_view("street")
        reader = Reader(api.session, api.url(view))
        await asyncio.wait_for(reader.first.wait(), 15)
        assert reader.ended_at is None, "it plays while the consent holds"
        await asyncio.wait_for(reader.task, 15)
        assert reader.ended_at is not None and 0 <= reader.ended_at - expires.timestamp() < 1.0
        (end,) = [e for e in api.audit() if e[2] == "video.view.end"]
        assert "consent_expired" in end[4]["why"]


# covers BH-11
async def test_an_expired_view_ends_its_stream_and_is_refused_after(tmp_path: Path, camera: RtspServer) -> None:
    async with serving(tmp_path, camera, video={"view_minutes": 0.15}) as api:  # 9 s
        view = await api.open_view("street")
        renewed = (await api.call("POST", f"/views/{view['view']}/renew", "vera"))[1]
        assert renewed["expires_at"] >= view["expires_at"] and renewed["stream_url"] == view["stream_url"]
        reader = Reader(api.session, api.url(view))
        await asyncio.wait_for(reader.first.wait(), 15)
        assert reader.ended_at is None and reader.received > 0, "it played before it expired"
        expires = datetime.fromisoformat(renewed["expires_at"]).timestamp()
        await asyncio.wait_for(reader.task, 15)
        assert reader.ended_at is not None and reader.ended_at - expires < 2.0  # expiry is kept to the second
        async with api.session.get(api.url(view)) as answer:
            assert answer.status == 410 and "expired" in (await answer.json())["error"]
        assert (await api.call("POST", f"/views/{view['view']}/renew", "vera"))[0] == 410
        assert views_from_audit(api.store, time.time()) == []
        (ended,) = views_from_audit(api.store, time.time(), ended_since=0)
        assert ended["why"] == "expired" and ended["bytes_sent"] > 0


# covers BH-11
async def test_limits_per_camera_and_in_total_are_answered_429(tmp_path: Path, camera: RtspServer) -> None:
    async with serving(tmp_path, camera, video={"max_viewers_per_camera": 2, "max_viewers": 3}) as api:
        street = [await api.open_view("street"), await api.open_view("street")]
        status, answer = await api.call("POST", "/views", "alice", {"camera": "street", "reason": "x"})
        assert status == 429 and "max_viewers_per_camera" in answer["error"]
        await api.open_view("porch")
        status, answer = await api.call("POST", "/views", "alice", {"camera": "porch", "reason": "x"})
        assert status == 429 and "video.max_viewers)" in answer["error"]
        # Streams count too: two of one view fill the camera, a third stream of it is refused.
        readers = [Reader(api.session, api.url(street[0])) for _ in range(2)]
        await asyncio.wait_for(asyncio.gather(*(r.first.wait() for r in readers)), 20)
        async with api.session.get(api.url(street[1])) as refused:
            assert refused.status == 429 and "max_viewers_per_camera" in (await refused.json())["error"]
        await readers[0].close()
        assert await until(lambda: api.hub.viewer_counts()[("street",)] == 1, 5)
        third = Reader(api.session, api.url(street[1]))
        await asyncio.wait_for(third.first.wait(), 15)
        assert third.status == 200
        for reader in (readers[1], third):
            await reader.close()


# ---- a dead source -------------------------------------------------------------------------------
# covers BH-11
@pytest.mark.slow
async def test_a_dead_source_ends_viewers_is_reported_and_recovers(
    tmp_path: Path, clip: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = RtspServer({"street": (clip, "h264")}, username=CAMERA_USER, password=CAMERA_PASSWORD)
    await server.start()
    try:
        async with serving(tmp_path, server) as api:
            view = await api.open_view("street")
            reader = Reader(api.session, api.url(view))
            await asyncio.wait_for(reader.first.wait(), 15)
            await server.stop()
            await asyncio.wait_for(reader.task, 10)  # ended, not hung
            assert "live view of camera street: the source" in caplog.text
            async with api.session.get(f"{api.base}/metrics") as answer:
                assert 'guarita_video_source_failures_total{camera="street"} 1' in await answer.text()
            assert CAMERA_PASSWORD not in caplog.text
            started = time.monotonic()
            async with api.session.get(api.url(view)) as answer:  # the source is still down
                error = (await answer.json())["error"]
                assert answer.status == 502 and "not answering" in error
                assert "127.0.0.1" not in error and "rtsp" not in error, "the viewer is not told where the camera is"
            assert time.monotonic() - started < 20
            assert not ffmpeg_children()
            await server.start()  # the camera comes back on the same port
            again = Reader(api.session, api.url(view))
            await asyncio.wait_for(again.first.wait(), 15)
            assert again.status == 200 and again.received > 0
            await again.close()
    finally:
        await server.stop()


# covers BH-11
async def test_a_missing_ffmpeg_answers_the_viewer_instead_of_hanging(tmp_path: Path, camera: RtspServer) -> None:
    async with serving(tmp_path, camera) as api:
        api.hub.ffmpeg_binary = str(tmp_path / "no-such-ffmpeg")
        view = await api.open_view("street")
        async with api.session.get(api.url(view), timeout=aiohttp.ClientTimeout(total=10)) as answer:
            assert answer.status == 502, await answer.text()


# covers BH-11, PB-05
async def test_stopping_guarita_run_ends_open_streams_and_their_ffmpeg(tmp_path: Path, camera: RtspServer) -> None:
    config = write_config(tmp_path, camera.port, change=dead_links())
    store = Store.open(config.storage.data_dir)
    share_camera(config, store, "street", since=utc_now() - timedelta(hours=1))
    store.close()
    runtime = Runtime(config, check_frigate=False)
    stop = asyncio.Event()
    running = asyncio.create_task(runtime.run(stop))
    port = await asyncio.wait_for(until_port(runtime), 15)
    async with aiohttp.ClientSession() as session:
        headers = {"Authorization": f"Bearer {HOLDERS['vera'][2]}"}
        async with session.post(f"http://127.0.0.1:{port}/api/v1/views", headers=headers,
                                json={"camera": "street", "reason": "incident"}) as answer:
            assert answer.status == 201, await answer.text()
            view = await answer.json()
        reader = Reader(session, f"http://127.0.0.1:{port}{view['stream_url']}")
        await asyncio.wait_for(reader.first.wait(), 15)
        assert len(ffmpeg_children()) == 1
        stopping = time.monotonic()
        stop.set()
        await asyncio.wait_for(running, 15)
        assert time.monotonic() - stopping < 5, "no open stream holds the shutdown"
        await asyncio.wait_for(reader.task, 5)
    assert not ffmpeg_children()
    store = Store.open(config.storage.data_dir)
    try:
        (why,) = [json.loads(row[0])["why"] for row in store.db.execute(
            "SELECT details FROM audit_log WHERE action = 'video.view.end'")]
        assert why == "guarita is stopping"
    finally:
        store.close()


async def until_port(runtime: Runtime) -> int:
    while runtime.web_port is None:
        await asyncio.sleep(0.05)
    return await runtime.web_port


# ---- sources and the CLI -------------------------------------------------------------------------
# covers BH-07
def test_the_default_source_is_frigates_restream_and_credentials_stay_masked(tmp_path: Path) -> None:
    config = write_config(tmp_path, 8554)
    plain = GuaritaConfig.model_validate(config.model_dump() | {"cameras": {
        "street": {"programs": ["cop_bh"], "location": {"lat": -19.9, "lon": -43.9}, "stream": "street_sub"}}})
    source = camera_source(plain, "street")
    assert source.url == "rtsp://127.0.0.1:8554/street_sub"
    own = camera_source(config, "street")
    assert CAMERA_PASSWORD in own.url and CAMERA_PASSWORD not in own.shown and CAMERA_PASSWORD not in repr(own)


# covers BH-05, BH-07
@pytest.mark.parametrize(("change", "where", "words"), [
    ({"web": {"tokens": {"pm": {"role": "viewer", "sha256": "0" * 64, "agency": "pampulha"}}}},
     "web.tokens.pm.agency", "not under `programs.cop_bh.agencies`"),
    ({"cameras": {"street": {"programs": [], "video": {"source": "rtsp://admin:hunter2@10.0.0.5/live"}}}},
     "cameras.street.video.source", "should match pattern"),
])
def test_config_refuses_an_unknown_agency_and_credentials_in_a_source(
    tmp_path: Path, change: dict[str, Any], where: str, words: str
) -> None:
    from guarita.errors import ConfigError

    document = {"provider": {"id": "acme", "name": "ACME", "kind": "security_company"},
                "storage": {"data_dir": str(tmp_path)},
                "programs": {"cop_bh": {"uplink": {"host": "127.0.0.1"}}}, **change}
    path = tmp_path / "guarita.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(path, {})
    text = "\n".join(str(problem) for problem in raised.value.problems)
    assert where in text and words in text, text
    assert "hunter2" not in text


# covers BH-09
async def test_views_list_cli_shows_open_views(tmp_path: Path, camera: RtspServer) -> None:
    async with serving(tmp_path, camera) as api:
        view = await api.open_view("street", who="centro", reason="ocorrência 77")
        listed = await run(sys.executable, "-m", "guarita.cli", "views", "list", "--json", "-c", str(api.config_path))
        assert listed.returncode == 0, listed.stderr
        (shown,) = json.loads(listed.stdout)["views"]
        assert (shown["view"], shown["camera"], shown["holder"], shown["agency"], shown["reason"]) == (
            view["view"], "street", "centro", "centro_sul", "ocorrência 77")
