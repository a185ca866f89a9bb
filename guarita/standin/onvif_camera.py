"""A virtual ONVIF camera (ipycam from PyPI) run inside a network namespace, for tests and the demo.

ipycam binds 0.0.0.0 and multicasts a WS-Discovery Hello when it starts, so it never runs in the
host's own network: :class:`NetNamespace` creates a namespace with only ``lo`` up and a route for
239.0.0.0/8 on it, and :class:`VirtualOnvifCamera` runs ``python -m ipycam`` there with a JSON
config (``local_ip``, ports, ``username``/``password``, ``hw_accel: cpu``) and ``--source clip``.
Anything that talks to the camera (discovery, the ONVIF client, ffprobe) must run in the same
namespace: ``NetNamespace.exec_prefix()`` is ``ip netns exec NAME``. Needs root and ``ip``.

Run as a module (``python -m guarita.standin.onvif_camera [--clock-skew-s S] [--encoding JPEG]
-- IPYCAM_ARGS``), this file is the camera's launcher: it shifts the camera process's clock by
``S`` seconds (its ``GetSystemDateAndTime``, HTTP ``Date`` header and WS-Security check all see
the shifted time) or makes its profiles advertise another encoding, then runs ipycam.

Covers: PB-02.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from guarita.errors import GuaritaError

__all__ = ["CameraSettings", "NetNamespace", "NetnsError", "VirtualOnvifCamera", "netns_available",
           "unique_netns_name"]

log = logging.getLogger(__name__)
_READY = "IP Camera is running!"


class NetnsError(GuaritaError):
    """A network namespace or the camera in it could not be set up."""


def netns_available() -> bool:
    """True when running as root with ``ip`` (iproute2) on PATH: namespaces can be made."""
    return hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("ip") is not None


def unique_netns_name(prefix: str = "guarita") -> str:
    """A namespace name unique to this process and call."""
    return f"{prefix}-{os.getpid()}-{secrets.token_hex(3)}"


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=15, check=False)
    if result.returncode != 0:
        raise NetnsError(f"`ip {' '.join(args)}` failed: {result.stderr.strip()}")


class NetNamespace:
    """A network namespace with ``lo`` up and multicast routed on it; deleted on exit."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name or unique_netns_name()

    def exec_prefix(self) -> list[str]:
        """Prefix a command with this to run it inside the namespace."""
        return ["ip", "netns", "exec", self.name]

    def __enter__(self) -> Self:
        if not netns_available():
            raise NetnsError("network namespaces need root and iproute2 (`ip`)")
        _ip("netns", "add", self.name)
        try:
            _ip("netns", "exec", self.name, "ip", "link", "set", "lo", "up")
            _ip("netns", "exec", self.name, "ip", "route", "add", "239.0.0.0/8", "dev", "lo")
        except NetnsError:
            _ip("netns", "del", self.name)
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        _ip("netns", "del", self.name)


@dataclass(frozen=True)
class CameraSettings:
    """The ipycam config: identity, ports (inside the namespace), credentials, streams."""

    name: str = "Rua_da_Bahia_Portaria"
    manufacturer: str = "PythonCam"
    model: str = "VirtualCam-1"
    serial_number: str = "PY-000001"
    local_ip: str = "127.0.0.1"
    onvif_port: int = 8080
    rtsp_port: int = 8554
    rtmp_port: int = 1935
    web_port: int = 8081
    go2rtc_api_port: int = 1984
    username: str = "admin"
    password: str = "admin"
    hw_accel: str = "cpu"
    main_width: int = 1280
    main_height: int = 720
    main_fps: int = 10
    main_bitrate: str = "2M"
    sub_width: int = 640
    sub_height: int = 360
    sub_fps: int = 5
    sub_bitrate: str = "512K"

    def __repr__(self) -> str:
        return f"CameraSettings(name={self.name!r}, onvif_port={self.onvif_port}, username={self.username!r})"


class VirtualOnvifCamera:
    """ipycam serving ``clip`` inside ``netns``; a context manager that stops it.

    Args:
        netns: Namespace name (from :class:`NetNamespace`).
        clip: Video file the camera streams (looped).
        workdir: Where the config and the log go.
        settings: The camera's config.
        clock_skew_s: Shift the camera's clock by this many seconds.
        encoding: Make its profiles advertise this encoding (``JPEG``: an MJPEG-only camera).
    """

    def __init__(self, netns: str, clip: Path, workdir: Path, settings: CameraSettings | None = None, *,
                 clock_skew_s: float = 0.0, encoding: str | None = None) -> None:
        self.netns = netns
        self.clip = clip
        self.workdir = workdir
        self.settings = settings or CameraSettings()
        self.clock_skew_s = clock_skew_s
        self.encoding = encoding
        self.log_path = workdir / "ipycam.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 30.0) -> None:
        """Start the camera and wait until it says it runs.

        Raises:
            NetnsError: it exited or did not start in time (the log's tail included).
        """
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "camera.json"
        config.write_text(json.dumps(asdict(self.settings), indent=2), encoding="utf-8")
        launcher = [sys.executable, "-m", "guarita.standin.onvif_camera", "--clock-skew-s", str(self.clock_skew_s)]
        if self.encoding:
            launcher += ["--encoding", self.encoding]
        command = ["ip", "netns", "exec", self.netns, *launcher, "--", "-c", str(config),
                   "--source", str(self.clip.resolve()), "--no-timestamp", "--log-level", "WARNING"]
        with self.log_path.open("wb") as log_file:
            self._process = subprocess.Popen(command, cwd=self.workdir, stdout=log_file, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, start_new_session=True,
                                             env=os.environ | {"PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + timeout_s
        while _READY not in self.log_path.read_text(errors="replace"):
            if self._process.poll() is not None or time.monotonic() > deadline:
                tail = self.log_path.read_text(errors="replace")[-600:]
                self.stop()
                raise NetnsError(f"ipycam did not start in namespace {self.netns}: {tail}")
            time.sleep(0.1)
        log.info("virtual ONVIF camera %s up in %s on port %d", self.settings.name, self.netns,
                 self.settings.onvif_port)

    def stop(self) -> None:
        """Stop it: SIGINT (ipycam stops its encoders), then SIGKILL to its process group after 5 s."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(process.pid, signal.SIGKILL)  # the group we started: ipycam's ffmpeg children
        except ProcessLookupError:
            pass
        process.wait()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def _skew_clock(skew_s: float) -> None:
    """Shift this process's wall clock as ipycam reads it (time.time, time.gmtime, its datetime)."""
    import datetime as dt

    import ipycam.onvif as camera_onvif  # type: ignore[import-untyped]

    real_time, real_gmtime = time.time, time.gmtime

    def shifted_time() -> float:
        return real_time() + skew_s

    def shifted_gmtime(secs: float | None = None) -> time.struct_time:
        return real_gmtime(shifted_time() if secs is None else secs)

    class ShiftedDatetime(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> Any:
            return dt.datetime.now(tz) + dt.timedelta(seconds=skew_s)

    time.time = shifted_time
    time.gmtime = shifted_gmtime  # type: ignore[assignment]
    camera_onvif.datetime = ShiftedDatetime


def _advertise_encoding(encoding: str) -> None:
    import ipycam.onvif as camera_onvif

    load = camera_onvif.ONVIFService._load_templates

    def load_and_replace(service: Any) -> None:
        load(service)
        for name, text in service._templates.items():
            service._templates[name] = text.replace("<tt:Encoding>H264</tt:Encoding>",
                                                    f"<tt:Encoding>{encoding}</tt:Encoding>")

    camera_onvif.ONVIFService._load_templates = load_and_replace


def _launch(argv: list[str]) -> None:
    import runpy

    own, _, rest = (argv[: argv.index("--")], "--", argv[argv.index("--") + 1:]) if "--" in argv else (argv, "", [])
    options = dict(zip(own[::2], own[1::2], strict=True))
    skew = float(options.get("--clock-skew-s", "0"))
    if skew:
        _skew_clock(skew)
    if "--encoding" in options:
        _advertise_encoding(options["--encoding"])
    sys.argv = ["ipycam", *rest]
    runpy.run_module("ipycam", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    _launch(sys.argv[1:])
