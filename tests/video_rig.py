"""The live-view rig shared by tests/test_video.py and bench/video.py.

A config with three cop_bh cameras pulling one RTSP mount of GStreamer's RTSP server
(``street`` and ``backyard`` remuxed, ``porch`` with a privacy mask, so transcoded), tokens
for every role, and helpers to find the ffmpeg a process started and what it costs in CPU
(``/proc/<pid>/stat``, no extra dependency).

Covers: BH-07, BH-11.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from guarita.config import GuaritaConfig
from guarita.config_loader import load_config
from guarita.standin.mosquitto import free_port

__all__ = ["CAMERA_PASSWORD", "CAMERA_USER", "HEIGHT", "HOLDERS", "MASK", "Reader", "WIDTH", "children", "cpu_seconds",
           "dead_links", "ffmpeg_children", "merged", "square", "utc_now", "write_config"]

CAMERA_USER = "guarita"
CAMERA_PASSWORD = "s3cret-" + secrets.token_hex(6)
MASK = "0,0,0.5,0,0.5,1,0,1"  # the left half of the picture
WIDTH, HEIGHT = 640, 360
# name -> (role, agency, token)
HOLDERS: dict[str, tuple[str, str | None, str]] = {
    "alice": ("admin", None, secrets.token_urlsafe(24)),
    "vera": ("viewer", None, secrets.token_urlsafe(24)),
    "audrey": ("auditor", None, secrets.token_urlsafe(24)),
    "centro": ("viewer", "centro_sul", secrets.token_urlsafe(24)),
    "barreiro": ("viewer", "barreiro", secrets.token_urlsafe(24)),
}
_TICK = os.sysconf("SC_CLK_TCK")


def square(lon: float, lat: float, half: float = 0.02) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[lon - half, lat - half], [lon + half, lat - half],
                                                [lon + half, lat + half], [lon - half, lat + half],
                                                [lon - half, lat - half]]]}


def merged(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``change`` laid over it, mapping by mapping."""
    out = dict(base)
    for key, value in change.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def write_config(tmp_path: Path, rtsp_port: int, video: dict[str, Any] | None = None,
                 change: dict[str, Any] | None = None) -> GuaritaConfig:
    """Write ``tmp_path/guarita.yaml`` (the camera's password from ``$CAM_PW``) and load it."""
    source = {"source": f"rtsp://127.0.0.1:{rtsp_port}/street", "username": CAMERA_USER, "password_env": "CAM_PW"}
    here = {"lat": -19.9245, "lon": -43.9352}
    document = {
        "provider": {"id": "acme", "name": "ACME Segurança", "kind": "security_company",
                     "accreditation": {"date": "2024-05-02"}},
        "storage": {"data_dir": str(tmp_path / "data")},
        "programs": {"cop_bh": {"uplink": {"host": "127.0.0.1"}, "agencies": {
            "centro_sul": {"name": "Regional Centro-Sul", "area": square(-43.9352, -19.9245)},
            "barreiro": {"name": "Regional Barreiro", "area": square(-44.0300, -19.9800)},
        }}},
        "cameras": {
            "street": {"programs": ["cop_bh"], "location": here, "video": source},
            "porch": {"programs": ["cop_bh"], "location": here, "video": source, "privacy_masks": [MASK]},
            "backyard": {"programs": ["cop_bh"], "location": here, "video": source},
        },
        "web": {"host": "127.0.0.1", "port": 0, "tokens": {
            name: {"role": role, "sha256": hashlib.sha256(token.encode()).hexdigest(),
                   **({"agency": agency} if agency else {})}
            for name, (role, agency, token) in HOLDERS.items()
        }},
        "video": {"start_timeout_s": 5, "max_viewers_per_camera": 25, "max_viewers": 40, **(video or {})},
    }
    path = tmp_path / "guarita.yaml"
    path.write_text(yaml.safe_dump(merged(document, change or {}), allow_unicode=True), encoding="utf-8")
    return load_config(path, {"CAM_PW": CAMERA_PASSWORD})


def dead_links() -> dict[str, Any]:
    """A config change for a real ``guarita run``: Frigate and the uplink on ports where nothing answers.

    The links retry in the background; the web server and the live view do not need them.
    """
    return {"frigate": {"url": "http://127.0.0.1:9", "mqtt": {"port": free_port()}},
            "programs": {"cop_bh": {"uplink": {"port": free_port()}}}}


def utc_now() -> datetime:
    return datetime.now(UTC)


def _stat(pid: int) -> tuple[str, list[str]] | None:
    """(command name, fields after it) of ``/proc/<pid>/stat``, or None when the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()


def children(parent: int, name: str | None = None) -> list[int]:
    """Pids of the live children of ``parent`` (only those whose command is ``name`` when given)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _stat(int(entry))
        if stat is not None and int(stat[1][1]) == parent and (name is None or stat[0] == name):
            found.append(int(entry))
    return found


def ffmpeg_children(parent: int | None = None) -> list[int]:
    """Pids of ffmpeg processes that ``parent`` (this process by default) started."""
    return children(os.getpid() if parent is None else parent, "ffmpeg")


def _on_cpu(pid: int) -> float | None:
    """Seconds on a CPU of the live threads of ``pid`` (``/proc/<pid>/task/*/schedstat``, nanoseconds)."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for task in tasks:
        try:
            total += int(Path(f"/proc/{pid}/task/{task}/schedstat").read_text().split()[0])
        except (OSError, IndexError, ValueError):
            continue
    return total / 1e9


def cpu_seconds(pid: int, *, tree: bool = True) -> float:
    """User + system CPU of ``pid`` so far, in seconds; with ``tree``, also of its children, live or reaped.

    Live threads are read in nanoseconds (schedstat); a 10 ms clock tick is too coarse for a
    remuxing process using a few milliseconds a second. A reaped child's time moves into its
    parent's ``cutime``/``cstime`` (ticks), so the sum stays continuous when a child exits
    between two readings. A process already gone counts 0.
    """
    stat = _stat(pid)
    if stat is None:
        return 0.0
    fields = stat[1]
    # fields[11:15] are utime, stime, cutime, cstime (stat fields 14-17) in clock ticks.
    own = _on_cpu(pid)
    total = own if own is not None else sum(int(v) for v in fields[11:13]) / _TICK
    if tree:
        total += sum(int(v) for v in fields[13:15]) / _TICK
        total += sum(cpu_seconds(child) for child in children(pid))
    return total


class Reader:
    """An HTTP client reading a live stream as a player would, noting when it ends."""

    def __init__(self, session: aiohttp.ClientSession, url: str, timeout: float = 120) -> None:
        self.session, self.url, self.timeout = session, url, timeout
        self.received = 0
        self.status: int | None = None
        self.ended_at: float | None = None
        self.first = asyncio.Event()
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async with self.session.get(self.url, timeout=aiohttp.ClientTimeout(total=self.timeout)) as response:
            self.status = response.status
            try:
                while chunk := await response.content.readany():
                    self.received += len(chunk)
                    self.first.set()
            except aiohttp.ClientPayloadError:
                pass
        self.ended_at = time.time()
        self.first.set()

    async def close(self) -> None:
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass
