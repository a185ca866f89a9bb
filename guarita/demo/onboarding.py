"""``guarita demo``'s onboarding part: discover a virtual ONVIF camera and show its Frigate entry.

``show_discovered_camera`` starts ipycam (a third-party virtual ONVIF camera) in a network
namespace of its own, runs this module inside that namespace (discovery multicasts, so it never
runs in the host's network), and returns the lines to print: the camera found by WS-Discovery,
its make, model and serial, its streams, and where the Frigate 0.17 entry it would get was written.
Without root or ``ip`` it returns one line saying why it was skipped.

Covers: PB-02, PB-07.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from pathlib import Path

__all__ = ["ENTRY_NAME", "show_discovered_camera"]

ENTRY_NAME = "portaria.frigate.yaml"

_PASSWORD_ENV = "GUARITA_DEMO_CAMERA_PASSWORD"
_DEMO_FRIGATE = "0.17.2-3d4dd3a"


async def show_discovered_camera(workdir: Path) -> list[str]:
    """Discover the virtual camera inside a namespace; the lines the demo prints.

    Args:
        workdir: Scratch directory (the clip, the camera's config and log go there).
    """
    from guarita.standin.onvif_camera import (
        CameraSettings,
        NetNamespace,
        NetnsError,
        VirtualOnvifCamera,
        netns_available,
    )
    from guarita.standin.rtsp_server import RtspServerError, make_clip

    if not netns_available():
        return ["skipped the virtual ONVIF camera (a network namespace needs root and iproute2's `ip`)"]
    password = secrets.token_urlsafe(12)
    settings = CameraSettings(password=password, serial_number="PY-DEMO-0001")
    try:
        clip = await make_clip(workdir / "onvif-street.mp4", width=640, height=360, fps=10, seconds=4)
    except RtspServerError as exc:
        return [f"skipped the virtual ONVIF camera ({exc})"]

    def run() -> list[str]:
        with NetNamespace() as namespace, VirtualOnvifCamera(namespace.name, clip, workdir / "onvif-camera", settings):
            result = subprocess.run(
                [*namespace.exec_prefix(), sys.executable, "-m", "guarita.demo.onboarding",
                 str(settings.onvif_port), str(workdir / ENTRY_NAME)],
                capture_output=True, text=True, timeout=90, check=False, env=os.environ | {_PASSWORD_ENV: password},
            )
        if result.returncode != 0:
            return [f"the virtual camera could not be read: {result.stderr.strip()[-300:]}"]
        return result.stdout.splitlines()

    try:
        return await asyncio.to_thread(run)
    except (NetnsError, subprocess.TimeoutExpired) as exc:
        return [f"skipped the virtual ONVIF camera ({exc})"]


async def _inside(port: int, entry_path: Path) -> list[str]:
    """Run inside the namespace: discover, log in, probe the streams, write the entry to ``entry_path``."""
    from guarita.adapters.onvif import discover, probe_onvif
    from guarita.adapters.rtsp import probe_streams, with_credentials
    from guarita.frigate import FrigateVersion
    from guarita.frigate_camera import build_frigate_camera

    password = os.environ[_PASSWORD_ENV]
    found = await discover(1.5, source_address="127.0.0.1")
    names = ", ".join(f"{c.name} at {c.host}:{c.port}" for c in found)
    lines = [f"WS-Discovery found {len(found)} ONVIF camera(s): {names}"]
    probe = await probe_onvif("127.0.0.1", port, "admin", password)
    device = probe.device
    lines.append(f"{device.manufacturer} {device.model}, serial {device.serial}, firmware {device.firmware}, "
                 f"clock {round(probe.clock_skew_s or 0):+d} s from ours, {len(probe.profiles)} profiles")
    roles = await probe_streams([with_credentials(p.stream_uri or "", "admin", password) for p in probe.h26x_profiles])
    lines.append(f"record stream: {roles.record.describe()}")
    if roles.detect:
        lines.append(f"detect stream: {roles.detect.describe()}")
    entry = build_frigate_camera("portaria", roles, FrigateVersion.parse(_DEMO_FRIGATE))
    entry_path.write_text(entry.yaml(), encoding="utf-8")
    lines.append(f"Frigate {_DEMO_FRIGATE} entry for `portaria` written to {entry_path} "
                 "(what `guarita cameras add portaria --onvif ... --apply` sends)")
    return lines


if __name__ == "__main__":
    print("\n".join(asyncio.run(_inside(int(sys.argv[1]), Path(sys.argv[2])))))
