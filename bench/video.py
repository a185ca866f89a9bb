"""Live-view benchmark: Guarita's live view against ffmpeg reading the camera directly, in one run.

The camera is GStreamer's RTSP server (``guarita.standin.rtsp_server``, Basic auth) serving
H.264, 640x360 at 25 fps, a keyframe every second. By default (``--camera live``) it is a live
camera: a moving test pattern encoded by the server (openh264), one session shared by every
client and kept open by one extra reader, so every reader joins mid-stream and waits for the
next keyframe. ``--camera file`` serves an ffmpeg-made clip instead, each RTSP session playing
it from its start (a keyframe at once). Guarita is a real ``guarita run`` in its own process,
configured by tests/video_rig.py: camera ``street`` (no mask: remuxed) and camera ``porch``
(a privacy mask: decoded, masked, encoded again), both pulling that camera and shared with
cop_bh; its MQTT links point at ports where nothing answers (the live view does not need them).

Time to first frame (TTFF): wall time of ``ffmpeg -i URL -frames:v 1 -f null -`` until it
exits, median of ``--tries``:

  * direct: URL = the camera's rtsp:// address (over TCP);
  * Guarita: ``POST /api/v1/views``, then URL = the answer's ``stream_url``; timed from the
    POST. The view is ended and Guarita's ffmpeg gone before the next try (a cold start each time).

CPU per viewer, in CPU-seconds per wall-second over ``--seconds``:

  * Guarita: CPU time of the ``guarita run`` process and its children (the upstream ffmpeg,
    ffprobe), from /proc (``tests/video_rig.cpu_seconds``), while 1 viewer and then
    ``--viewers`` viewers read the stream (HTTP readers in this process, not counted);
  * direct: 1 and then ``--viewers`` ffmpeg processes each running the command Guarita runs
    once per camera (``guarita.video.command.upstream_command``: remux, or decode + mask +
    encode), each pulling the camera itself, output thrown away: what the same viewers
    would cost without the fan-out.

A Guarita window opens once every viewer has its first fragment, plus a short settle; a direct
one a fixed pause after its readers start. The output is a table, ratio lines and, last, one
JSON line with every figure.

    python bench/video.py [--tries 5] [--seconds 10] [--viewers 20] [--camera live|file] [--quick]

``--quick`` (1 try, 3 s windows, 1 and 3 viewers) only checks that it runs
(tests/test_bench_smoke.py).

Covers: BH-07, BH-11.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from harness import share_camera  # noqa: E402
from video_rig import (CAMERA_PASSWORD, CAMERA_USER, HEIGHT, HOLDERS, MASK, WIDTH, Reader,  # noqa: E402
                       children, cpu_seconds, dead_links, merged, utc_now, write_config)

from guarita.privacy_mask import mask_layer  # noqa: E402
from guarita.standin.mosquitto import free_port  # noqa: E402
from guarita.standin.rtsp_server import RtspServer, make_clip  # noqa: E402
from guarita.store import Store  # noqa: E402
from guarita.video.command import upstream_command  # noqa: E402

FPS = 25
MODES = {"remux": "street", "transcode": "porch"}  # mode -> camera


@dataclass(frozen=True)
class Pauses:
    settle: float = 1.0  # after every Guarita viewer has its first picture, before a window opens
    direct_start: float = 2.0  # a direct ffmpeg's RTSP set-up and probe, before a window opens
    idle: float = 3.0  # the window measuring Guarita with no viewer
    clip_margin: float = 30.0  # clip length beyond the longest session
    start_up: float = 1.0  # after guarita run answers, before anything is measured


QUICK = Pauses(settle=0.3, direct_start=0.5, idle=0.5, clip_margin=10.0, start_up=0.0)


_STARTED = time.monotonic()


def note(what: str) -> None:
    """Progress on stderr (stdout carries only the results)."""
    print(f"[{time.monotonic() - _STARTED:6.1f} s] {what}", file=sys.stderr, flush=True)


@dataclass
class CpuRow:
    mode: str
    viewers: int
    guarita: float  # CPU-seconds per wall-second
    direct: float

    @property
    def ratio(self) -> float | None:
        """Guarita / direct; None when the direct readers used less than a clock tick."""
        return self.guarita / self.direct if self.direct else None


class Guarita:
    """``guarita run`` in its own process, and an HTTP client for its API."""

    def __init__(self, config_path: Path, port: int, log: Path) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "guarita.cli", "run", "-c", str(config_path)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log.open("wb"),
            env={**os.environ, "CAM_PW": CAMERA_PASSWORD},
        )
        self.log = log
        self.session = aiohttp.ClientSession(headers={"Authorization": f"Bearer {HOLDERS['vera'][2]}"})

    async def ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"guarita run exited during start-up: {self.log.read_text()[-800:]}")
            try:
                async with self.session.get(f"{self.base}/healthz") as answer:
                    await answer.read()
                    return
            except aiohttp.ClientError:
                await asyncio.sleep(0.2)
        raise SystemExit("guarita run did not answer /healthz in time")

    def cpu(self) -> float:
        return float(cpu_seconds(self.process.pid))

    async def open_view(self, camera: str) -> tuple[str, str]:
        """(view id, full stream URL)."""
        async with self.session.post(f"{self.base}/api/v1/views",
                                     json={"camera": camera, "reason": "bench"}) as answer:
            body = await answer.json()
            if answer.status != 201:
                raise SystemExit(f"POST /views for {camera} answered {answer.status}: {body}")
        return str(body["view"]), self.base + str(body["stream_url"])

    async def end_view(self, view: str) -> None:
        async with self.session.delete(f"{self.base}/api/v1/views/{view}") as answer:
            await answer.read()

    async def idle(self, timeout: float = 10) -> None:
        """Wait until Guarita runs no child process (its upstream ffmpeg stopped)."""
        deadline = time.monotonic() + timeout
        while children(self.process.pid) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if children(self.process.pid):
            raise SystemExit("Guarita's ffmpeg did not stop after its last viewer")

    async def close(self) -> None:
        await self.session.close()
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


async def first_frame(url: str) -> float:
    """Seconds until ``ffmpeg -i url`` has decoded one frame and exited."""
    rtsp = ["-rtsp_transport", "tcp"] if url.startswith("rtsp://") else []
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        "ffmpeg", "-nostdin", "-v", "error", *rtsp, "-i", url, "-frames:v", "1", "-f", "null", "-",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 30)
    elapsed = time.monotonic() - started
    if process.returncode != 0:
        raise SystemExit(f"ffmpeg could not read a frame: {err.decode(errors='replace')[-400:]}")
    return elapsed


async def guarita_first_frame(guarita: Guarita, camera: str) -> float:
    started = time.monotonic()
    view, url = await guarita.open_view(camera)
    await first_frame(url)
    elapsed = time.monotonic() - started  # the POST and ffmpeg
    await guarita.end_view(view)
    await guarita.idle()
    return elapsed


async def window(seconds: float, sample: Any) -> float:
    """CPU-seconds per wall-second of ``sample()`` (cumulative CPU seconds) over ``seconds``."""
    cpu0, wall0 = sample(), time.monotonic()
    await asyncio.sleep(seconds)
    return float((sample() - cpu0) / (time.monotonic() - wall0))


async def guarita_cpu(guarita: Guarita, camera: str, counts: list[int], seconds: float,
                      settle: float) -> tuple[list[float], float]:
    """Guarita's CPU rate with ``counts[0]`` viewers, then ``counts[1]``, ... (viewers only added),
    and the stream's kbit/s as the first viewer received it."""
    views: list[str] = []
    readers: list[Reader] = []
    rates = []
    for count in counts:
        while len(readers) < count:
            view, url = await guarita.open_view(camera)
            views.append(view)
            readers.append(Reader(guarita.session, url, timeout=30 + 4 * seconds * len(counts)))
        await asyncio.wait_for(asyncio.gather(*(r.first.wait() for r in readers)), 30)
        await asyncio.sleep(settle)
        before = [r.received for r in readers]
        started = time.monotonic()
        rates.append(await window(seconds, guarita.cpu))
        kbits = (readers[0].received - before[0]) * 8 / 1000 / (time.monotonic() - started)
        stalled = [n for n, r in enumerate(readers) if r.ended_at is not None or r.received == before[n]]
        if stalled:
            raise SystemExit(f"{len(stalled)} of {count} Guarita viewers of {camera} got nothing during the window")
    for reader in readers:
        await reader.close()
    for view in views:
        await guarita.end_view(view)
    await guarita.idle()
    return rates, kbits


async def direct_cpu(url: str, layer: Path | None, counts: list[int], seconds: float, start: float) -> list[float]:
    """CPU rate of ``counts[0]`` direct ffmpeg readers, then ``counts[1]``, ..."""
    readers: list[subprocess.Popen[bytes]] = []
    rates = []
    try:
        for count in counts:
            while len(readers) < count:
                readers.append(subprocess.Popen(upstream_command(url, layer), stdin=subprocess.DEVNULL,
                                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            await asyncio.sleep(start)
            rates.append(await window(seconds, lambda: sum(cpu_seconds(r.pid, tree=False) for r in readers)))
            if any(r.poll() is not None for r in readers):
                raise SystemExit("a direct ffmpeg reader ended during the window (clip too short?)")
    finally:
        for reader in readers:
            reader.terminate()
        for reader in readers:
            reader.wait()
    return rates


async def long_clip(workdir: Path, seconds: float) -> Path:
    """An H.264 clip of at least ``seconds``: 20 s encoded, then repeated without re-encoding."""
    part = await make_clip(workdir / "part.mp4", codec="h264", width=WIDTH, height=HEIGHT, fps=FPS, seconds=20)
    whole = workdir / "street.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-stream_loop", str(int(seconds // 20)), "-i", str(part),
                    "-c", "copy", "-y", str(whole)], check=True)
    return whole


async def bench(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    counts = sorted({1, args.viewers})
    pauses = QUICK if args.quick else Pauses()
    live = args.camera == "live"
    clips = {}
    if not live:
        session_s = 2 * (args.seconds + pauses.settle + pauses.direct_start) * len(counts)
        clips["street"] = (await long_clip(workdir, pauses.clip_margin + session_s), "h264")
    layer = workdir / "mask.png"
    mask_layer((WIDTH, HEIGHT), [MASK]).save(layer)
    async with RtspServer(clips, live={"street": (WIDTH, HEIGHT, FPS)} if live else None,
                          username=CAMERA_USER, password=CAMERA_PASSWORD) as camera:
        rtsp = camera.uri("street")
        # A camera plays whether or not anyone watches: one reader holds the shared live session open.
        keeper = subprocess.Popen(["ffmpeg", "-nostdin", "-v", "quiet", "-rtsp_transport", "tcp", "-i", rtsp,
                                   "-c", "copy", "-f", "null", "-"], stdin=subprocess.DEVNULL) if live else None
        web_port = free_port()
        limit = max(25, args.viewers)
        config = write_config(workdir, camera.port, video={"max_viewers_per_camera": limit, "max_viewers": 2 * limit},
                              change=merged(dead_links(), {"web": {"port": web_port}}))
        store = Store.open(config.storage.data_dir)
        try:
            for name in MODES.values():
                share_camera(config, store, name, since=utc_now() - timedelta(hours=1))
        finally:
            store.close()
        note("camera up; starting guarita run")
        guarita = Guarita(workdir / "guarita.yaml", web_port, workdir / "guarita.log")
        try:
            await guarita.ready()
            await asyncio.sleep(pauses.start_up)
            idle = await window(pauses.idle, guarita.cpu)

            note("guarita up; time to first frame")
            ttff: dict[str, list[float]] = {"direct": [], **{mode: [] for mode in MODES}}
            for _ in range(args.tries):  # interleaved, so a drift of the machine touches all alike
                ttff["direct"].append(await first_frame(rtsp))
                for mode, name in MODES.items():
                    ttff[mode].append(await guarita_first_frame(guarita, name))

            rows: list[CpuRow] = []
            bitrates: dict[str, float] = {}
            for mode, name in MODES.items():
                note(f"CPU, {mode}")
                ours, bitrates[mode] = await guarita_cpu(guarita, name, counts, args.seconds, pauses.settle)
                theirs = await direct_cpu(rtsp, layer if mode == "transcode" else None, counts, args.seconds,
                                          pauses.direct_start)
                rows += [CpuRow(mode, count, g, d) for count, g, d in zip(counts, ours, theirs, strict=True)]
        finally:
            await guarita.close()
            if keeper is not None:
                keeper.terminate()
                keeper.wait()
    return {"idle": idle, "ttff": {k: statistics.median(v) for k, v in ttff.items()}, "ttff_tries": ttff,
            "rows": rows, "counts": counts, "kbits": bitrates}


def report(args: argparse.Namespace, found: dict[str, Any], load: tuple[float, float, float],
           load_end: tuple[float, float, float]) -> None:
    cores = os.cpu_count() or 1
    rows: list[CpuRow] = found["rows"]
    ttff: dict[str, float] = found["ttff"]
    print(f"camera: GStreamer RTSP server, H.264 {WIDTH}x{HEIGHT} {FPS} fps, keyframe every 1 s, {args.camera}; "
          f"guarita run in its own process; {cores} cores, load average {load[0]:.2f} at start, "
          f"{load_end[0]:.2f} at end")
    print(f"guarita idle: {found['idle']:.3f} CPU-s/s; stream to a viewer: "
          + ", ".join(f"{mode} {kbits:.0f} kbit/s" for mode, kbits in found["kbits"].items()))
    print(f"time to first frame, median of {args.tries}:")
    print(f"  {'direct ffmpeg (rtsp://)':<24} {ttff['direct']:6.3f} s")
    for mode in MODES:
        print(f"  {'guarita ' + mode:<24} {ttff[mode]:6.3f} s   ratio {ttff[mode] / ttff['direct']:.2f}")
    print(f"CPU-seconds per wall-second over {args.seconds:g} s (direct: one ffmpeg per viewer, "
          f"saturated at {cores}):")
    print(f"  {'mode':<10} {'viewers':>7} {'guarita':>8} {'direct':>8} {'guarita/direct':>15}")
    for row in rows:
        ratio = "-" if row.ratio is None else f"{row.ratio:.2f}"
        print(f"  {row.mode:<10} {row.viewers:>7} {row.guarita:8.3f} {row.direct:8.3f} {ratio:>15}")
    by = {(row.mode, row.viewers): row for row in rows}
    low, high = found["counts"][0], found["counts"][-1]
    for mode in MODES:
        need = high * by[mode, low].direct
        if high > low and need > 0.9 * cores:
            print(f"  (direct {mode}, {high} readers: they would need ~{need:.2f} CPU-s/s, more than the {cores} cores "
                  "give: they ran slower than the camera, so their figure is a floor)")
    scales = {mode: by[mode, high].guarita / by[mode, low].guarita if by[mode, low].guarita else None for mode in MODES}
    for mode, scale in scales.items():
        target = " (target < 2)" if mode == "remux" else ""
        print(f"ratio guarita {mode} {high}/{low} viewers CPU: {'-' if scale is None else f'{scale:.2f}'}{target}")
    for mode in MODES:
        target = " (target <= 1.5)" if mode == "remux" else ""
        print(f"ratio guarita/direct TTFF {mode}: {ttff[mode] / ttff['direct']:.2f}{target}")
    print(json.dumps({
        "bench": "video", "cores": cores, "load_start": round(load[0], 2), "load_end": round(load_end[0], 2), "tries": args.tries,
        "seconds": args.seconds, "source": f"h264 {WIDTH}x{HEIGHT} {FPS}fps gop 1s", "camera": args.camera,
        "guarita_idle_cpu": round(found["idle"], 4),
        "stream_kbits": {mode: round(kbits) for mode, kbits in found["kbits"].items()},
        "ttff_s": {k: round(v, 3) for k, v in ttff.items()},
        "ttff_tries_s": {k: [round(x, 3) for x in v] for k, v in found["ttff_tries"].items()},
        "cpu": [asdict(row) | {"ratio": None if row.ratio is None else round(row.ratio, 3),
                               "guarita": round(row.guarita, 4),
                               "direct": round(row.direct, 4)} for row in rows],
        "cpu_scale": {mode: None if scale is None else round(scale, 3) for mode, scale in scales.items()},
    }))


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tries", type=int, help="time-to-first-frame tries per side (default 5; --quick 1)")
    parser.add_argument("--seconds", type=float, help="length of each CPU window (default 10; --quick 3)")
    parser.add_argument("--viewers", type=int, help="the many-viewers case (default 20; --quick 3)")
    parser.add_argument("--quick", action="store_true", help="a short run that only checks the bench works")
    parser.add_argument("--camera", choices=("live", "file"), default="live",
                        help="live (default): a live test pattern, one session shared by every reader, joined "
                             "mid-stream as a real camera is; file: an ffmpeg-made clip, each RTSP session from "
                             "its start")
    args = parser.parse_args()
    defaults = (1, 3.0, 3) if args.quick else (5, 10.0, 20)
    for name, value in zip(("tries", "seconds", "viewers"), defaults, strict=True):
        if getattr(args, name) is None:
            setattr(args, name, value)
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="guarita-bench-video-") as tmp:
        found = asyncio.run(bench(args, Path(tmp)))
    report(args, found, load, os.getloadavg())
    return 0


if __name__ == "__main__":
    sys.exit(main())
