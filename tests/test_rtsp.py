"""The RTSP adapter against GStreamer's RTSP server (Debian's gst-rtsp-server) serving ffmpeg-made clips.

The server asks for RTSP Basic auth, serves H.264 (with AAC audio), a 640x360 sub stream, an
MJPEG-only stream, and a mount that refuses RTP over TCP, so the adapter's UDP fallback is real.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from guarita.adapters.rtsp import (
    RtspAuthError,
    RtspNoH26xStream,
    RtspStreamNotFound,
    RtspUnreachable,
    StreamInfo,
    classify_streams,
    mask_credentials,
    probe_rtsp,
    probe_streams,
    with_credentials,
)
from guarita.standin.mosquitto import free_port
from guarita.standin.rtsp_server import RtspServer, make_clip, rtsp_server_available

needs_gst = pytest.mark.skipif(not rtsp_server_available(), reason="gst-rtsp-server (Debian) is not installed")
SECRET = "pa:ss@w/rd"


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")

    async def make() -> dict[str, Path]:
        main, sub, jpeg = await asyncio.gather(
            make_clip(folder / "main.mp4", width=1280, height=720, fps=10, seconds=6, audio=True),
            make_clip(folder / "sub.mp4", width=640, height=360, fps=10, seconds=6),
            make_clip(folder / "jpeg.mov", codec="mjpeg", width=640, height=480, fps=10, seconds=6),
        )
        return {"main": main, "sub": sub, "jpeg": jpeg}

    return asyncio.run(make())


@pytest.fixture
async def server(clips: dict[str, Path]) -> AsyncIterator[RtspServer]:
    if not rtsp_server_available():
        pytest.skip("gst-rtsp-server (Debian) is not installed")
    mounts = {"main": (clips["main"], "h264"), "sub": (clips["sub"], "h264"), "jpeg": (clips["jpeg"], "mjpeg"),
              "udp": (clips["sub"], "h264")}
    async with RtspServer(mounts, audio=frozenset({"main"}), udp_only=frozenset({"udp"}), username="admin",
                          password=SECRET) as running:  # type: ignore[arg-type]
        yield running


def stream(codec: str, width: int, height: int, name: str) -> StreamInfo:
    return StreamInfo(uri=f"rtsp://192.0.2.7/{name}", transport="tcp", codec=codec, profile=None, width=width,
                      height=height, fps=10.0, audio=None, first_frame_s=0.5)


# covers PB-02
@needs_gst
async def test_main_and_sub_streams_are_probed_and_classified(server: RtspServer) -> None:
    roles = await probe_streams([server.uri("main"), server.uri("sub")])
    record, detect = roles.record, roles.detect
    assert detect is not None
    assert (record.codec, record.width, record.height, record.fps, record.audio) == ("h264", 1280, 720, 10.0, "aac")
    assert (detect.codec, detect.width, detect.height, detect.audio) == ("h264", 640, 360, None)
    assert record.transport == detect.transport == "tcp"
    assert record.profile and 0 < record.first_frame_s < 10
    assert SECRET not in repr(roles) and record.masked_uri == f"rtsp://admin:***@127.0.0.1:{server.port}/main"


# covers PB-02
@needs_gst
async def test_a_camera_refusing_rtp_over_tcp_is_probed_over_udp(server: RtspServer) -> None:
    info = await probe_rtsp(server.uri("udp"))
    assert (info.transport, info.codec, info.width) == ("udp", "h264", 640)


# covers PB-02
@needs_gst
async def test_an_mjpeg_only_camera_is_refused_for_recording(server: RtspServer) -> None:
    info = await probe_rtsp(server.uri("jpeg"))
    assert (info.codec, info.width, info.height) == ("mjpeg", 640, 480)
    with pytest.raises(RtspNoH26xStream, match=r"no H.264/H.265 stream \(mjpeg 640x480\).*set the camera's encoder"):
        await probe_streams([server.uri("jpeg")])


# covers PB-02, BH-07
@needs_gst
async def test_errors_and_logs_never_carry_the_password(server: RtspServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(RtspAuthError, match="refused the user name or password") as refused:
        await probe_rtsp(server.uri("main", password="wrong-" + SECRET))
    with pytest.raises(RtspStreamNotFound, match="no stream at this path") as missing:
        await probe_rtsp(server.uri("nowhere"))
    await probe_rtsp(server.uri("sub"))
    shown = str(refused.value) + str(missing.value) + caplog.text
    assert "admin:***@127.0.0.1" in shown
    assert SECRET not in shown and "pa%3Ass" not in shown


# covers PB-02
async def test_unreachable_host() -> None:
    with pytest.raises(RtspUnreachable, match=r"rtsp://u:\*\*\*@127.0.0.1:\d+/x: nothing answers"):
        await probe_rtsp(f"rtsp://u:{SECRET}@127.0.0.1:{free_port()}/x", timeout_s=3)


# covers PB-02
def test_classification_picks_the_largest_h26x_and_a_sub_stream_of_720_lines_at_most() -> None:
    main, sub, tiny = stream("hevc", 2560, 1440, "main"), stream("h264", 1280, 720, "sub"), stream("h264", 640, 360, "t")
    roles = classify_streams([sub, tiny, main])
    assert (roles.record, roles.detect) == (main, sub)
    only = classify_streams([stream("h264", 3840, 2160, "4k"), stream("h264", 1920, 1080, "fhd")])
    assert only.detect is None and only.detect_stream.width == 3840
    jpeg_sub = classify_streams([main, stream("mjpeg", 640, 480, "j")])
    assert jpeg_sub.detect is not None and jpeg_sub.detect.codec == "mjpeg"  # ffmpeg decodes MJPEG for detection


# covers BH-07
def test_credentials_are_masked_and_inserted() -> None:
    assert mask_credentials("rtsp://admin:s3cret@192.0.2.7:554/Streaming/101") == \
        "rtsp://admin:***@192.0.2.7:554/Streaming/101"
    assert mask_credentials("rtsp://192.0.2.7/cam?user=admin&password=s3cret") == \
        "rtsp://192.0.2.7/cam?user=admin&password=***"
    assert mask_credentials("rtsp://admin@192.0.2.7/x") == "rtsp://admin@192.0.2.7/x"
    uri = with_credentials("rtsp://192.0.2.7:554/main", "admin", SECRET)
    assert uri == "rtsp://admin:pa%3Ass%40w%2Frd@192.0.2.7:554/main"
    assert mask_credentials(uri) == "rtsp://admin:***@192.0.2.7:554/main"


# covers PB-02
def test_a_port_that_reads_401_or_404_is_not_taken_for_an_rtsp_status() -> None:
    from guarita.adapters.rtsp import RtspAuthError, RtspStreamNotFound, RtspUnreachable, _translate

    uri = "rtsp://admin:pw@127.0.0.1:37401/nowhere"
    missing = _translate(uri, f"[rtsp @ 0x5] method DESCRIBE failed: 404 Not Found\n{uri}: Server returned 404 Not Found\n".encode())
    assert isinstance(missing, RtspStreamNotFound) and "pw" not in str(missing)
    refused = _translate("rtsp://a:b@127.0.0.1:40404/x", b"method DESCRIBE failed: 401 Unauthorized\n")
    assert isinstance(refused, RtspAuthError)
    assert isinstance(_translate("rtsp://127.0.0.1:14041/x", b"rtsp://127.0.0.1:14041/x: Connection refused\n"),
                      RtspUnreachable)


async def first_picture(source: str) -> bytes:
    """The first decoded frame of ``source`` (a file or an rtsp:// address), as raw RGB."""
    rtsp = ["-rtsp_transport", "tcp"] if source.startswith("rtsp://") else []
    process = await asyncio.create_subprocess_exec(
        "ffmpeg", "-nostdin", "-v", "error", *rtsp, "-i", source, "-frames:v", "1", "-f", "rawvideo",
        "-pix_fmt", "rgb24", "-", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 0 and out, err
    return out


# covers PB-02
@needs_gst
async def test_a_live_mount_is_joined_mid_stream_and_a_clip_mount_from_its_start(tmp_path: Path) -> None:
    clip = await make_clip(tmp_path / "clip.mp4", width=320, height=240, fps=10, seconds=20)
    async with RtspServer({"file": (clip, "h264")}, live={"live": (320, 240, 10)}) as server:
        holder = await asyncio.create_subprocess_exec(
            "ffmpeg", "-nostdin", "-v", "quiet", "-rtsp_transport", "tcp", "-i", server.uri("live"),
            "-c", "copy", "-f", "null", "-", stdin=asyncio.subprocess.DEVNULL)
        try:
            await asyncio.sleep(1)
            first = await first_picture(server.uri("live"))
            await asyncio.sleep(1.5)
            later = await first_picture(server.uri("live"))
            start = await first_picture(str(clip))
            assert await first_picture(server.uri("file")) == start, "a clip mount starts each client at the clip's start"
            assert len(first) == len(later) == 320 * 240 * 3
            assert later != first, "a client joining the live mount later sees a later picture"
            assert holder.returncode is None, "the first client still watches"
        finally:
            if holder.returncode is None:
                holder.terminate()
            await holder.wait()
