"""The video wall's address (HLS) and the live views' hub as a supervised service of ``guarita run``.

A real RTSP camera (GStreamer), real ffmpeg, Guarita's aiohttp server on 127.0.0.1 and a
real SQLite store, as in test_video.py (whose fixtures and helpers these reuse). The HLS
address is read the way a centre's VMS would: ffprobe/ffmpeg on ``hls_url``, and an HTTP
client polling the playlist.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from harness import share_camera
from test_video import (  # noqa: F401 - clip and camera are fixtures
    CAMERA_PASSWORD,
    HEIGHT,
    HOLDERS,
    WIDTH,
    Reader,
    camera,
    clip,
    ffmpeg_children,
    pytestmark,
    run,
    serving,
    until,
    until_port,
    utc_now,
    write_config,
)

from guarita.consent.registry import Registry
from guarita.runtime import Runtime
from guarita.standin.mosquitto import free_port
from guarita.standin.rtsp_server import RtspServer
from guarita.store import Store
from guarita.video.hls import HLS_WINDOW, IDLE_TARGETS, HlsFeed
from guarita.video.upstream import Subscriber

SEQUENCE = re.compile(r"^#EXT-X-MEDIA-SEQUENCE:(\d+)$", re.M)


def sequence_of(playlist: str) -> int:
    match = SEQUENCE.search(playlist)
    assert match is not None, playlist
    return int(match.group(1))


async def get(session: aiohttp.ClientSession, url: str) -> tuple[int, str, bytes]:
    async with session.get(url, timeout=aiohttp.ClientTimeout(total=30)) as answer:
        return answer.status, answer.content_type, await answer.read()


async def metric(session: aiohttp.ClientSession, base: str, line_start: str) -> str:
    async with session.get(f"{base}/metrics") as answer:
        return next(line for line in (await answer.text()).splitlines() if line.startswith(line_start))


# covers BH-11, BH-07
async def test_a_video_wall_reads_hls_through_guarita_from_the_same_upstream(tmp_path: Path, camera: RtspServer) -> None:
    async with serving(tmp_path, camera) as api:
        view = await api.open_view("street")
        key = view["stream_url"].split("key=")[1]
        assert view["hls_url"] == f"/api/v1/views/{view['view']}/index.m3u8?key={key}"
        hls = api.base + view["hls_url"]
        asked = time.monotonic()
        status, content_type, body = await get(api.session, hls)
        print(f"first HLS playlist after {time.monotonic() - asked:.3f} s")
        assert status == 200 and content_type == "application/vnd.apple.mpegurl", body
        playlist = body.decode()
        assert playlist.startswith("#EXTM3U\n#EXT-X-VERSION:7\n")
        assert f'#EXT-X-MAP:URI="init.mp4?key={key}"' in playlist
        segments = re.findall(r"^seg-(\d+)\.m4s\?key=" + re.escape(key) + "$", playlist, re.M)
        assert segments and int(segments[0]) == sequence_of(playlist)
        assert CAMERA_PASSWORD not in playlist and "rtsp://" not in playlist
        # The VMS's view of it: ffprobe and ffmpeg read the playlist, its init segment and fragments.
        probe = await run("ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height",
                          "-of", "json", hls)
        assert probe.returncode == 0, probe.stderr
        assert json.loads(probe.stdout)["streams"] == [{"codec_name": "h264", "width": WIDTH, "height": HEIGHT}]
        frames = await run("ffmpeg", "-v", "error", "-i", hls, "-frames:v", "25", "-f", "framecrc", "-")
        assert frames.returncode == 0, frames.stderr
        assert len([line for line in frames.stdout.decode().splitlines() if not line.startswith("#")]) == 25
        # A plain MP4 viewer of the same camera: still one ffmpeg pulling the camera.
        reader = Reader(api.session, api.url(view))
        await asyncio.wait_for(reader.first.wait(), 15)
        assert len(ffmpeg_children()) == 1
        # The playlist advances and slides: newer segments come, and past the window the oldest go.
        _, _, first = await get(api.session, hls)
        newest_at_first = int(re.findall(r"^seg-(\d+)\.m4s", first.decode(), re.M)[-1])
        later = first
        deadline = time.monotonic() + 12
        while sequence_of(later.decode()) < 1:
            assert time.monotonic() < deadline, later
            await asyncio.sleep(0.5)
            status, _, later = await get(api.session, hls)
            assert status == 200
        assert later.decode().count("#EXTINF:") == HLS_WINDOW
        base = api.base + f"/api/v1/views/{view['view']}"
        newest = int(re.findall(r"^seg-(\d+)\.m4s", later.decode(), re.M)[-1])
        assert newest >= newest_at_first + 1
        assert (await get(api.session, f"{base}/seg-0.m4s?key={key}"))[0] == 404, "slid out of the window"
        status, content_type, segment = await get(api.session, f"{base}/seg-{newest}.m4s?key={key}")
        assert status == 200 and content_type == "video/iso.segment" and segment[4:8] == b"moof"
        status, content_type, init = await get(api.session, f"{base}/init.mp4?key={key}")
        assert status == 200 and init[4:8] == b"ftyp"
        assert (await get(api.session, f"{base}/seg-{newest + 50}.m4s?key={key}"))[0] == 404, "not made yet"
        # The key is needed on every address.
        assert (await get(api.session, f"{base}/seg-{newest}.m4s?key=wrong"))[0] == 404
        assert (await get(api.session, f"{base}/index.m3u8"))[0] == 401
        # Counting: the HLS consumer is one stream, the MP4 reader another; HLS idle is released.
        assert await metric(api.session, api.base, 'guarita_video_viewers{camera="street"}') \
            == 'guarita_video_viewers{camera="street"} 2'
        feed = api.hub.running_feed(api.hub.book.active()[0])
        assert feed is not None and feed.target == 1
        assert await until(lambda: api.hub.running_feed(api.hub.book.active()[0]) is None,
                           IDLE_TARGETS * feed.target + 2), "an HLS consumer that stopped fetching is released"
        assert await metric(api.session, api.base, 'guarita_video_viewers{camera="street"}') \
            == 'guarita_video_viewers{camera="street"} 1'
        assert len(ffmpeg_children()) == 1, "the MP4 viewer keeps the upstream"
        await reader.close()
        assert await until(lambda: not ffmpeg_children(), 5)
        # Ended by its holder: the playlist and segments are refused at once.
        assert (await api.call("DELETE", f"/views/{view['view']}", "vera"))[0] == 200
        assert (await get(api.session, hls))[0] == 410
        assert (await get(api.session, f"{base}/seg-{newest}.m4s?key={key}"))[0] == 410
        (end,) = [e for e in api.audit() if e[2] == "video.view.end"]
        assert end[4]["streams"] == 2 and end[4]["bytes_sent"] > len(segment)


# covers BH-11, BH-09
async def test_an_hls_consumer_counts_against_the_limits_while_it_fetches(tmp_path: Path, camera: RtspServer) -> None:
    async with serving(tmp_path, camera, video={"max_viewers_per_camera": 1}) as api:
        view = await api.open_view("street")
        hls = api.base + view["hls_url"]
        init = hls.replace("index.m3u8", "init.mp4")
        assert (await get(api.session, init))[0] == 404, "no HLS stream runs before its playlist is read"
        status, _, playlist = await get(api.session, hls)
        assert status == 200
        async with api.session.get(api.url(view)) as answer:
            assert answer.status == 429, "the HLS consumer holds the camera's one stream"
        for _ in range(5):  # a VMS polling the playlist keeps its stream (past 2 target durations)
            await asyncio.sleep(0.5)
            status, _, playlist = await get(api.session, hls)
            assert status == 200
        last = int(re.findall(r"^seg-(\d+)\.m4s", playlist.decode(), re.M)[-1])
        assert api.hub.running_feed(api.hub.book.active()[0]) is not None
        assert await until(lambda: api.hub.running_feed(api.hub.book.active()[0]) is None, 5)
        reader = Reader(api.session, api.url(view))
        await asyncio.wait_for(reader.first.wait(), 15)
        assert reader.status == 200, "released: the MP4 stream may have it"
        status, _, body = await get(api.session, hls)
        assert status == 429 and b"max_viewers_per_camera" in body, "and now the MP4 stream holds it"
        await reader.close()
        # The wall comes back: a new HLS stream, numbered on after a discontinuity (never backwards).
        assert await until(lambda: api.hub.viewer_counts()[("street",)] == 0, 5)
        status, _, again = await get(api.session, hls)
        assert status == 200, again
        numbers = [int(n) for n in re.findall(r"^seg-(\d+)\.m4s", again.decode(), re.M)]
        assert numbers[0] > last and numbers[0] == sequence_of(again.decode()), again
        assert "\n#EXT-X-DISCONTINUITY\n#EXTINF:" in again.decode()
        assert "#EXT-X-DISCONTINUITY-SEQUENCE:1\n" in again.decode()


# covers BH-03, BH-11, PB-01, PB-05
async def test_guarita_run_supervises_the_hub_and_a_revocation_ends_the_hls_view_within_a_second(
    tmp_path: Path, camera: RtspServer
) -> None:
    # Nothing answers on these ports: the links retry; the web server and the live view do not need them.
    config = write_config(tmp_path, camera.port, change={
        "frigate": {"url": "http://127.0.0.1:9", "mqtt": {"port": free_port()}},
        "programs": {"cop_bh": {"uplink": {"port": free_port()}}},
    })
    store = Store.open(config.storage.data_dir)
    share_camera(config, store, "street", since=utc_now() - timedelta(hours=1))
    runtime = Runtime(config, check_frigate=False)
    assert runtime.video._live is runtime.live_registry, \
        "the hub reads the gate through the runtime's own view of the registry"
    stop = asyncio.Event()
    running = asyncio.create_task(runtime.run(stop))
    try:
        port = await asyncio.wait_for(until_port(runtime), 15)
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/healthz") as answer:
                services = (await answer.json())["services"]
            assert services["video_views"]["state"] == "running"
            headers = {"Authorization": f"Bearer {HOLDERS['vera'][2]}"}
            async with session.post(f"{base}/api/v1/views", headers=headers,
                                    json={"camera": "street", "reason": "wall"}) as answer:
                assert answer.status == 201, await answer.text()
                view = await answer.json()
            hls = base + view["hls_url"]
            status, _, playlist = await get(session, hls)
            assert status == 200
            segment = base + f"/api/v1/views/{view['view']}/" + re.findall(r"^seg-\d+\.m4s\?key=\S+$",
                                                                           playlist.decode(), re.M)[-1]
            assert (await get(session, segment))[0] == 200
            # The revocation, from another connection to the same store (as the CLI writes it).
            registry = Registry(store, config.storage.data_dir, accredited=True, clock=utc_now)
            revoked = time.monotonic()
            registry.revoke("street", by="ana", reason="client withdrew")
            # No request needed: the supervised watcher ends the view (and its HLS feed) by itself.
            assert await until(lambda: runtime.video.book.get(view["view"]) is None, 1.0)
            print(f"revocation to the view ended by the watcher: {time.monotonic() - revoked:.3f} s")
            status, _, body = await get(session, hls)
            assert status == 410 and b"no longer shared" in body
            assert (await get(session, segment))[0] == 410
            assert await until(lambda: not ffmpeg_children(), 5)
    finally:
        stop.set()
        await asyncio.wait_for(running, 15)
        store.close()


def box(kind: bytes, payload: bytes) -> bytes:
    return (8 + len(payload)).to_bytes(4, "big") + kind + payload


def full_box(kind: bytes, version: int, flags: int, payload: bytes) -> bytes:
    return box(kind, bytes([version]) + flags.to_bytes(3, "big") + payload)


# covers BH-11
async def test_a_fragment_without_sample_durations_is_timed_by_the_gap_between_decode_times() -> None:
    """Durations fall back on decode times; the target duration only grows (RFC 8216 §4.3.3.1)."""
    timescale = 90_000
    tkhd = full_box(b"tkhd", 0, 3, bytes(8) + (1).to_bytes(4, "big") + bytes(68))
    mdhd = full_box(b"mdhd", 0, 0, bytes(8) + timescale.to_bytes(4, "big") + bytes(8))
    init = box(b"ftyp", b"isom" + bytes(4)) + box(b"moov", box(b"trak", tkhd + box(b"mdia", mdhd)))

    def fragment(decode_s: float) -> bytes:
        tfhd = full_box(b"tfhd", 0, 0, (1).to_bytes(4, "big"))  # no default duration
        tfdt = full_box(b"tfdt", 1, 0, int(decode_s * timescale).to_bytes(8, "big"))
        trun = full_box(b"trun", 0, 0x200, (3).to_bytes(4, "big") + bytes(12))  # sizes only
        return box(b"moof", box(b"traf", tfhd + tfdt + trun)) + box(b"mdat", b"\0" * 12)

    subscriber = Subscriber("street")
    feed = HlsFeed("v" * 22, subscriber, window=2)
    for piece in (init, fragment(0.0), fragment(2.5), fragment(5.0)):
        subscriber.offer(piece)
    await asyncio.wait_for(until_segments(feed, 2), 5)
    assert feed.init == init
    playlist = feed.playlist("K")
    assert "#EXT-X-TARGETDURATION:3\n#EXT-X-MEDIA-SEQUENCE:1\n" in playlist, playlist
    assert "#EXTINF:2.500,\nseg-1.m4s?key=K\n#EXTINF:2.500,\nseg-2.m4s?key=K\n" in playlist
    subscriber.end("done")
    await asyncio.wait_for(feed.task, 5)
    assert feed.ended == "done" and feed.ready.is_set()


async def until_segments(feed: HlsFeed, count: int) -> None:
    while len(feed.segments) < count or feed.segments[-1].sequence < 2:
        await asyncio.sleep(0.01)


# covers BH-11
async def test_a_fragment_it_cannot_read_ends_the_feed_not_the_server(caplog: pytest.LogCaptureFixture) -> None:
    subscriber = Subscriber("street")
    feed = HlsFeed("w" * 22, subscriber)
    subscriber.offer(box(b"ftyp", b"isom" + bytes(4)))
    subscriber.offer(box(b"moof", box(b"traf", box(b"tfdt", b""))))  # a box cut short
    await asyncio.wait_for(feed.task, 5)
    assert feed.ended == "the HLS feed could not read the video" and feed.ready.is_set() and not feed.segments
    assert "could not read a fragment" in caplog.text
