"""DVR offload benchmark: Guarita's verified sync against curl, over the same HTTP server, in one run.

A DVR tree of at least ``--size-gb`` GB (10^9 bytes) of valid DT-10/DT-11 segments (H.264 in
MP4, 640x480 at 15 fps, ``--bitrate`` Mbit/s, 60 s and 120 s long) in two camera folders is
built once and cached under ``--workdir``: two segments are encoded with ffmpeg (ultrafast,
noise over ``testsrc2`` so the bitrate holds) and copied under consecutive
``yyyymmddhhmmss.mp4`` names. ``DvrHttpServer`` (the stand-in used by the tests: aiohttp,
nginx JSON listings, Range) serves it on 127.0.0.1 from its own process, so neither client
shares a Python interpreter with the server. The tree is read once, untimed, before the
first round: both clients start from the same warm page cache, and nothing is dropped.
Dirty pages are written back (``sync``, untimed) before every run, so neither client pays
for the other's write-back; curl's own is not waited for, Guarita fsyncs each file.

Each round, alternating, and each into a fresh directory on the same disk:

  (a) curl: one ``curl`` process given every file's URL and ``-o`` path (a ``-K`` config),
      fetching them one after another over one kept-alive connection, as Guarita does;
  (b) Guarita: ``DvrSync.sync`` of a fresh ``data_dir``: listing, ``.part`` file, fsync,
      SHA-256, size check, MP4 box walk, ffprobe (codec, 1-5 min), rename into the
      archive, SQLite index row, the pass report.

Each figure is the median of ``--repeat`` rounds. MB/s is 10^6 bytes per second. The last
line is the ratio of Guarita's MB/s to curl's.

    python bench/dvr_sync.py [--size-gb 1] [--repeat 3] [--workdir DIR] [--bitrate 4]

Covers: PB-06, DT-06, DT-11.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

VEHICLE = "10234"
CAMERAS = {1: "1", 2: "2"}
SEGMENT_SECONDS = (60, 120)  # the two distinct segments, alternated in each folder
FPS = 15
FIRST_START = dt.datetime(2026, 11, 20, 8, 0, 0)  # DVR local clock
TREE_FORMAT = 1  # bump when the tree's layout changes, so a cached tree is rebuilt


@dataclass(frozen=True)
class Tree:
    """The cached DVR tree: its root and every file as (folder, name, size)."""

    root: Path
    files: tuple[tuple[str, str, int], ...]

    @property
    def size(self) -> int:
        return sum(size for _, _, size in self.files)


def encode(path: Path, seconds: int, bitrate_mbps: float) -> None:
    """One H.264/MP4 segment at ``bitrate_mbps``; noise keeps the bitrate from collapsing."""
    rate = f"{bitrate_mbps:g}M"
    command = [
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
        "-f", "lavfi", "-i", f"testsrc2=size=640x480:rate={FPS}:duration={seconds}",
        "-vf", "noise=alls=60:allf=t",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        "-b:v", rate, "-maxrate", rate, "-bufsize", f"{2 * bitrate_mbps:g}M", "-g", str(2 * FPS),
        "-an", "-f", "mp4", str(path),
    ]
    subprocess.run(command, check=True)


def build_tree(workdir: Path, size_gb: float, bitrate_mbps: float) -> Tree:
    """The DVR tree for these parameters, built unless a finished one is cached."""
    key = f"dvr-{size_gb:g}gb-{bitrate_mbps:g}mbps-v{TREE_FORMAT}"
    root = workdir / key
    manifest = workdir / f"{key}.json"
    if manifest.is_file():
        files = tuple((folder, name, size) for folder, name, size in json.loads(manifest.read_text()))
        if all((root / folder / name).stat().st_size == size for folder, name, size in files):
            return Tree(root, files)
    shutil.rmtree(root, ignore_errors=True)
    media = workdir / "media"
    media.mkdir(parents=True, exist_ok=True)

    def segment(seconds: int) -> Path:  # encoded when first needed, then kept
        source = media / f"{seconds}s-{bitrate_mbps:g}mbps.mp4"
        if not source.is_file():
            encode(source.with_suffix(".tmp"), seconds, bitrate_mbps)
            source.with_suffix(".tmp").rename(source)
        return source

    target = int(size_gb * 1e9)
    for folder in CAMERAS.values():  # a DVR has every camera's folder, even one still empty
        (root / folder).mkdir(parents=True, exist_ok=True)
    written: list[tuple[str, str, int]] = []
    starts = {folder: FIRST_START for folder in CAMERAS.values()}
    total, index = 0, 0
    while total < target:
        folder = CAMERAS[1 + index % len(CAMERAS)]
        seconds = SEGMENT_SECONDS[(index // len(CAMERAS)) % len(SEGMENT_SECONDS)]
        source = segment(seconds)
        size = source.stat().st_size
        name = starts[folder].strftime("%Y%m%d%H%M%S") + ".mp4"
        shutil.copyfile(source, root / folder / name)
        starts[folder] += dt.timedelta(seconds=seconds)
        written.append((folder, name, size))
        total += size
        index += 1
    manifest.write_text(json.dumps(written))
    return Tree(root, tuple(written))


def warm(tree: Tree) -> None:
    """Read every file once, so both clients start from the same warm page cache."""
    for folder, name, _ in tree.files:
        with (tree.root / folder / name).open("rb") as stream:
            while stream.read(1 << 20):
                pass


# ---- the server, in its own process ----------------------------------------------------
async def _serve(root: Path) -> None:
    from guarita.standin.dvr_http import DvrHttpServer

    async with DvrHttpServer(root, listing="nginx-json") as server:
        print(server.url, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the bench closes stdin


def start_server(root: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--serve", str(root)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    if not url.startswith("http://127.0.0.1:"):
        process.kill()
        raise SystemExit(f"the DVR stand-in did not start (said {url!r})")
    return process, url


def stop_server(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.close()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# ---- the two clients -------------------------------------------------------------------
def run_curl(tree: Tree, url: str, scratch: Path) -> float:
    """Seconds for one curl process to fetch every file into ``scratch``."""
    config = scratch.parent / f"{scratch.name}.curlrc"
    lines = []
    for folder, name, _ in tree.files:
        lines.append(f'url = "{url}{folder}/{name}"\noutput = "{scratch / folder / name}"\n')
    config.write_text("".join(lines))
    started = time.perf_counter()
    subprocess.run(["curl", "--silent", "--show-error", "--fail", "--create-dirs", "-K", str(config)], check=True)
    elapsed = time.perf_counter() - started
    got = sum((scratch / folder / name).stat().st_size for folder, name, _ in tree.files)
    if got != tree.size:
        raise SystemExit(f"curl fetched {got} bytes, the tree holds {tree.size}")
    config.unlink()
    return elapsed


def guarita_config(url: str, data_dir: Path) -> Path:
    path = data_dir.parent / f"{data_dir.name}.json"
    path.write_text(json.dumps({
        "provider": {"id": "acme", "name": "Bench", "kind": "bus_operator"},
        "storage": {"data_dir": str(data_dir)},
        "fleet": {"vehicles": {VEHICLE: {"plate": "BEN0C01", "dvr": {
            "serial": "DVR-BENCH-1", "source": url, "cameras": {1: "interior", 2: "front"},
            "telemetry_folder": None,
        }}}},
    }))
    return path


async def _sync(tree: Tree, url: str, data_dir: Path) -> float:
    from guarita.adapters.dvr.sync import DvrSync
    from guarita.config_loader import load_config
    from guarita.store import Store

    config = load_config(guarita_config(url, data_dir))
    store = Store.open(config.storage.data_dir)
    try:
        sync = DvrSync(config, store, None, clock=lambda: dt.datetime.now(dt.UTC))
        started = time.perf_counter()
        result = await sync.sync(VEHICLE)
        elapsed = time.perf_counter() - started
        archived = store.db.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM dvr_segments").fetchone()
    finally:
        store.close()
    if result is None or result.status != "ok" or result.quarantined or tuple(archived) != (len(tree.files), tree.size):
        detail = None if result is None else (result.status, result.detail, result.quarantined[:3])
        raise SystemExit(f"Guarita's pass did not archive the whole tree: index {tuple(archived)}, {detail}")
    return elapsed


def run_guarita(tree: Tree, url: str, data_dir: Path) -> float:
    """Seconds for one ``DvrSync.sync`` of a fresh ``data_dir``."""
    return asyncio.run(_sync(tree, url, data_dir))


@dataclass
class Figure:
    name: str
    seconds: list[float]

    def line(self, size: int) -> str:
        median = statistics.median(self.seconds)
        runs = ", ".join(f"{s:.2f}" for s in self.seconds)
        return f"{self.name:>9}: {size} bytes in {median:.2f} s = {size / median / 1e6:.1f} MB/s (median; runs {runs} s)"

    def mb_s(self, size: int) -> float:
        return size / statistics.median(self.seconds) / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size-gb", type=float, default=1.0, help="at least this many GB (10^9 bytes) of segments")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of each client; the median is reported")
    parser.add_argument("--workdir", type=Path, default=None, help="where the tree is cached (default: a temp dir)")
    parser.add_argument("--bitrate", type=float, default=4.0, help="video bitrate of the segments, Mbit/s")
    parser.add_argument("--serve", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        asyncio.run(_serve(args.serve))
        return 0
    if shutil.which("curl") is None:
        raise SystemExit("curl is not installed")
    with tempfile.TemporaryDirectory(prefix="guarita-bench-dvr-") as tmp:
        workdir = args.workdir.resolve() if args.workdir is not None else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        tree = build_tree(workdir, args.size_gb, args.bitrate)
        print(
            f"DVR tree: {len(tree.files)} files, {tree.size} bytes in {len(CAMERAS)} camera folders "
            f"(H.264/MP4 640x480 {FPS} fps, {args.bitrate:g} Mbit/s, {'/'.join(map(str, SEGMENT_SECONDS))} s "
            f"segments); DvrHttpServer on 127.0.0.1 in its own process; curl {curl_version()}",
            flush=True,
        )
        warm(tree)
        runs = Path(tempfile.mkdtemp(prefix="runs-", dir=workdir))  # same disk as the tree
        curl, guarita = Figure("curl", []), Figure("guarita", [])
        # Context only: curl's files are in the page cache when it exits, Guarita's are on disk
        # (fsync per file). curl+sync adds the write-back curl leaves behind.
        durable = Figure("curl+sync", [])
        server, url = start_server(tree.root)
        try:
            for round_ in range(args.repeat):
                scratch = runs / f"curl-{round_}"
                os.sync()  # no write-back left over from the previous run
                curl.seconds.append(run_curl(tree, url, scratch))
                started = time.perf_counter()
                os.sync()
                durable.seconds.append(curl.seconds[-1] + time.perf_counter() - started)
                shutil.rmtree(scratch)
                data_dir = runs / f"guarita-{round_}"
                os.sync()
                guarita.seconds.append(run_guarita(tree, url, data_dir))
                shutil.rmtree(data_dir)
        finally:
            stop_server(server)
            shutil.rmtree(runs, ignore_errors=True)
    print(curl.line(tree.size))
    print(durable.line(tree.size))
    print(guarita.line(tree.size))
    print(f"ratio guarita/curl: {guarita.mb_s(tree.size) / curl.mb_s(tree.size):.2f} (target >= 0.8)")
    return 0


def curl_version() -> str:
    first = subprocess.run(["curl", "--version"], capture_output=True, text=True, check=True).stdout.split()
    return first[1] if len(first) > 1 else "?"


if __name__ == "__main__":
    sys.exit(main())
