"""A stand-in RTSP camera: Debian's gst-rtsp-server serving ffmpeg-made files, for tests and demos.

``make_clip`` writes a short test-pattern clip with ffmpeg (H.264, H.265 or MJPEG, optional
AAC audio). ``RtspServer`` runs GStreamer's RTSP server (``gir1.2-gst-rtsp-server-1.0`` through
Debian's ``python3-gi``, in the system ``/usr/bin/python3``: PyGObject is not in the venv) and
mounts each clip at ``rtsp://127.0.0.1:PORT/<name>``; each client gets its own pipeline, from the
start of the file, over RTP/TCP or RTP/UDP. A ``live`` mount is a live camera instead: a scrolling
test pattern encoded as H.264 by ``openh264enc`` (gstreamer1.0-plugins-bad) at a camera's bitrate
(about 1 Mbit/s at 640x360) with a keyframe every second, one session shared by every client, so a client joins mid-stream and waits for the next
keyframe, as with a real camera (a shared file mount would rewind for each client's PLAY range).
With ``username``/``password`` it asks for RTSP Basic auth. Debian packages: ``python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good
gstreamer1.0-plugins-bad``; :func:`rtsp_server_available` says whether they are there.

Covers: PB-02.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Literal, Self
from urllib.parse import quote

import ffmpeg  # type: ignore[import-untyped]

from guarita.errors import GuaritaError
from guarita.standin.mosquitto import LOOPBACK, free_port

__all__ = ["ClipCodec", "RtspServer", "RtspServerError", "make_clip", "rtsp_server_available"]

log = logging.getLogger(__name__)

ClipCodec = Literal["h264", "hevc", "mjpeg"]
SYSTEM_PYTHON = "/usr/bin/python3"

_ENCODERS: dict[str, dict[str, str]] = {
    "h264": {"vcodec": "libx264", "pix_fmt": "yuv420p", "preset": "ultrafast", "profile:v": "main"},
    "hevc": {"vcodec": "libx265", "pix_fmt": "yuv420p", "preset": "ultrafast", "tag:v": "hvc1"},
    "mjpeg": {"vcodec": "mjpeg", "pix_fmt": "yuvj420p", "q:v": "5"},
}

# Runs in /usr/bin/python3 (stdlib + gi only).
# argv: host port user password (name=path,codec,audio,udp | name=live:WIDTHxHEIGHT@FPS)...
_CHILD = r"""
import sys
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer

Gst.init(None)
host, port, user, password = sys.argv[1:5]
PAY = {"h264": "h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96 config-interval=1",
       "hevc": "h265parse config-interval=-1 ! rtph265pay name=pay0 pt=96 config-interval=1",
       "mjpeg": "jpegparse ! rtpjpegpay name=pay0 pt=26"}
server = GstRtspServer.RTSPServer()
server.set_address(host)
server.set_service(port)
if user:
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string("media.factory.role", "viewer")
    auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
    server.set_auth(auth)
mounts = server.get_mount_points()
for spec in sys.argv[5:]:
    name, rest = spec.split("=", 1)
    factory = GstRtspServer.RTSPMediaFactory()
    if rest.startswith("live:"):
        if not Gst.ElementFactory.find("openh264enc"):
            print("error: a live mount needs openh264enc (gstreamer1.0-plugins-bad)", flush=True)
            sys.exit(1)
        size, fps = rest[5:].split("@")
        width, height = size.split("x")
        # A scrolling colour-bar picture at ~0.17 bit per pixel: 1 Mbit/s at 640x360, 4 Mbit/s at 720p.
        bitrate = int(width) * int(height) * int(fps) // 6
        factory.set_launch(
            f"( videotestsrc is-live=true pattern=smpte horizontal-speed=4"
            f" ! video/x-raw,width={width},height={height},framerate={fps}/1 ! openh264enc gop-size={fps}"
            f" complexity=low rate-control=bitrate bitrate={bitrate} ! {PAY['h264']} )")
        factory.set_shared(True)
        udp_only = "0"
    else:
        path, codec, audio, udp_only = rest.rsplit(",", 3)
        launch = f"( filesrc location={path} ! qtdemux name=d d.video_0 ! queue ! {PAY[codec]}"
        if audio == "1":
            launch += " d.audio_0 ! queue ! aacparse ! rtpmp4gpay name=pay1 pt=97"
        factory.set_launch(launch + " )")
        factory.set_shared(False)
    if udp_only == "1":
        factory.set_protocols(GstRtsp.RTSPLowerTrans.UDP)
    if user:
        role = Gst.Structure.from_string(
            "viewer, media.factory.access=(boolean)true, media.factory.construct=(boolean)true")[0]
        factory.add_role_from_structure(role)
    mounts.add_factory("/" + name, factory)
if server.attach(None) == 0:
    print("error: cannot listen on", host, port, flush=True)
    sys.exit(1)
print("ready", flush=True)
GLib.MainLoop().run()
"""


class RtspServerError(GuaritaError):
    """The stand-in RTSP server could not start (missing Debian packages, busy port...)."""


def rtsp_server_available() -> bool:
    """True when /usr/bin/python3 can load GStreamer's RTSP server and the parsers it needs."""
    if not Path(SYSTEM_PYTHON).exists():
        return False
    check = ("import gi; gi.require_version('Gst','1.0'); gi.require_version('GstRtspServer','1.0');"
             "from gi.repository import Gst, GstRtspServer; Gst.init(None);"
             "import sys; sys.exit(0 if all(Gst.ElementFactory.find(e) for e in "
             "('qtdemux','h264parse','rtph264pay','rtpjpegpay','jpegparse')) else 1)")
    result = subprocess.run([SYSTEM_PYTHON, "-c", check], capture_output=True, timeout=30, check=False)
    return result.returncode == 0


async def make_clip(path: Path, *, codec: ClipCodec = "h264", width: int = 1280, height: int = 720,
                    fps: int = 10, seconds: float = 8.0, audio: bool = False) -> Path:
    """Write a test-pattern MP4/MOV clip with ffmpeg and return ``path``.

    Raises:
        RtspServerError: ffmpeg failed (its last message included).
    """
    video = ffmpeg.input(f"testsrc=size={width}x{height}:rate={fps}", f="lavfi", t=seconds)
    inputs = [video]
    if audio:
        inputs.append(ffmpeg.input("sine=frequency=440:sample_rate=16000", f="lavfi", t=seconds))
    options: dict[str, str | int] = dict(_ENCODERS[codec])
    options["g"] = fps
    if audio:
        options |= {"acodec": "aac", "b:a": "64k"}
    out = ffmpeg.output(*inputs, str(path), **options).global_args("-loglevel", "error", "-nostdin")
    process = await asyncio.create_subprocess_exec(
        *ffmpeg.compile(out, overwrite_output=True), stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await process.communicate()
    if process.returncode != 0:
        raise RtspServerError(f"ffmpeg could not make {path.name}: {stderr.decode(errors='replace')[-300:]}")
    return path


class RtspServer:
    """GStreamer's RTSP server in a child process, serving clips on ``127.0.0.1``.

    Use as ``async with RtspServer({"main": (clip, "h264")}) as server: server.uri("main")``.

    Args:
        clips: mount name -> (file, codec); files made by :func:`make_clip`.
        audio: mount names whose clip carries AAC audio to serve too.
        udp_only: mount names that refuse RTP over TCP (RTSP 461), as some cameras do.
        live: mount name -> (width, height, fps) of a live H.264 camera (test pattern, keyframe every second).
        username: Ask RTSP clients for this user (Basic auth) when given with ``password``.
        password: That user's password.
        port: Port to listen on (a free one when None).
        netns: Run inside this network namespace (``ip netns exec``), e.g. beside a camera.
    """

    def __init__(self, clips: Mapping[str, tuple[Path, ClipCodec]], *, audio: frozenset[str] = frozenset(),
                 udp_only: frozenset[str] = frozenset(), username: str = "", password: str = "", port: int | None = None,
                 netns: str | None = None, live: Mapping[str, tuple[int, int, int]] | None = None) -> None:
        self.clips = dict(clips)
        self.audio = audio
        self.udp_only = udp_only
        self.live = dict(live or {})
        self.username = username
        self.password = password
        self.port = port or free_port()
        self.netns = netns
        self._process: asyncio.subprocess.Process | None = None

    def uri(self, name: str, *, username: str | None = None, password: str | None = None) -> str:
        """``rtsp://[user:password@]127.0.0.1:PORT/name`` (the server's own credentials by default)."""
        user = self.username if username is None else username
        secret = self.password if password is None else password
        userinfo = f"{quote(user, safe='')}:{quote(secret, safe='')}@" if user else ""
        return f"rtsp://{userinfo}{LOOPBACK}:{self.port}/{name}"

    async def start(self) -> None:
        """Start the server and wait until it listens.

        Raises:
            RtspServerError: /usr/bin/python3 or gst-rtsp-server is missing, or it did not start.
        """
        if shutil.which(SYSTEM_PYTHON) is None:
            raise RtspServerError(f"{SYSTEM_PYTHON} not found: install Debian's python3-gi")
        mounts = [f"{name}={path.resolve()},{codec},{int(name in self.audio)},{int(name in self.udp_only)}"
                  for name, (path, codec) in self.clips.items()]
        mounts += [f"{name}=live:{width}x{height}@{fps}" for name, (width, height, fps) in self.live.items()]
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        self._process = await asyncio.create_subprocess_exec(
            *prefix, SYSTEM_PYTHON, "-c", _CHILD, LOOPBACK, str(self.port), self.username, self.password,
            *mounts, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        assert self._process.stdout is not None
        try:
            line = await asyncio.wait_for(self._process.stdout.readline(), timeout=20)
        except TimeoutError:
            line = b""
        if line.strip() != b"ready":
            await self.stop()
            raise RtspServerError(
                f"gst-rtsp-server did not start ({line.decode(errors='replace').strip() or 'no answer'}); "
                "install python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good "
                "gstreamer1.0-plugins-bad"
            )
        log.info("stand-in RTSP server on %s:%d serving %s", LOOPBACK, self.port,
                 ", ".join([*self.clips, *self.live]))

    async def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 5 s)."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=5)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        await process.communicate()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()
