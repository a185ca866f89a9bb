"""Cloud copy benchmark: Guarita's uploader against a plain sequential put_object loop, in one run.

One 10 s H.264 segment is encoded with ffmpeg and hard-linked under many names in Frigate's
layout (``recordings/YYYY-MM-DD/HH/bench/MM.SS.mp4``) until ``--size-mb`` is reached. A real
SeaweedFS (``weed server -s3``, key auth on) on free loopback ports receives:

  (a) Guarita: one ``CloudUploader.run_pass`` over the folder (``--concurrency`` workers,
      SHA-256 per segment, each recorded in the store);
  (b) sequential: the same files, one ``put_object`` after another with aiobotocore, the same
      client library, with the same SHA-256 metadata, under another prefix.

The last line is ``ratio guarita/sequential: X.XX (target >= 1.0)``: sequential seconds over
Guarita's seconds (above 1 Guarita is faster). Building the files, starting SeaweedFS and a
warm-up of 8 puts (SeaweedFS grows its volumes on the first writes) are not timed.

    python bench/cloud_copy.py [--size-mb 512] [--concurrency 8] [--workdir DIR]

Covers: BH-06.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import os
import tempfile
import time
from pathlib import Path

from aiobotocore.config import AioConfig  # type: ignore[import-untyped]
from aiobotocore.session import get_session  # type: ignore[import-untyped]

from guarita.config import CloudConfig
from guarita.consent.registry import Registry
from guarita.retention.cloud import CloudUploader
from guarita.retention.cloud_segments import MediaDirSource
from guarita.standin.dvr_media import make_segment
from guarita.standin.seaweed import SeaweedS3
from guarita.store import Store

NOW = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)


def build(media: Path, size_mb: float, resolution: str) -> list[Path]:
    """Hard links of one encoded segment, 360 per hour folder, until ``size_mb`` is reached."""
    first = make_segment(media / "seed.mp4", 10, size=resolution, fps=15)
    count = max(1, round(size_mb * 1e6 / first.stat().st_size))
    files = []
    for index in range(count):
        hour, slot = divmod(index, 360)
        path = media / "recordings" / f"2026-11-20/{hour:02d}" / "bench" / f"{slot // 6:02d}.{slot % 6 * 10:02d}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        os.link(first, path)
        files.append(path)
    return files


async def sequential(s3: SeaweedS3, files: list[Path], prefix: str = "sequential") -> float:
    """Seconds for a plain loop of put_object, one file at a time."""
    access = s3.access
    config = AioConfig(s3={"addressing_style": "path"}, request_checksum_calculation="when_required")
    async with get_session().create_client("s3", endpoint_url=access.endpoint, region_name=access.region,
                                           aws_access_key_id=access.access_key,
                                           aws_secret_access_key=access.secret_key, config=config) as client:
        started = time.perf_counter()
        for index, path in enumerate(files):
            body = path.read_bytes()
            await client.put_object(Bucket=access.bucket, Key=f"{prefix}/{index:06d}.mp4", Body=body,
                                    Metadata={"sha256": hashlib.sha256(body).hexdigest()})
        return time.perf_counter() - started


def shared_registry(store: Store, data: Path) -> Registry:
    """A registry in which the camera ``bench`` has been shared with cop_bh since the day before the footage."""
    registry = Registry(store, data, accredited=True, clock=lambda: NOW - dt.timedelta(days=2))
    evidence = data / "bench-evidence.txt"
    evidence.write_text("benchmark: consent, attestation and sign stand-in\n")
    registry.add_client("bench", "Benchmark", by="bench")
    registry.grant("bench", client_id="bench", evidence=evidence, by="bench")
    registry.attest("bench", public_facing=True, evidence=evidence, by="bench")
    registry.record_signage("bench", plate="BENCH-1", photo=evidence, by="bench")
    return registry


async def guarita(s3: SeaweedS3, media: Path, data: Path, concurrency: int) -> tuple[float, int]:
    """Seconds for one uploader pass, and the segments it uploaded."""
    cloud = CloudConfig(endpoint=s3.endpoint, bucket=s3.bucket, concurrency=concurrency)
    store = Store.open(data)
    try:
        uploader = CloudUploader(cloud, "bench", store, MediaDirSource(media, settle_s=0), lambda: NOW,
                                 cameras=["bench"], registry=shared_registry(store, data), access=s3.access)
        started = time.perf_counter()
        report = await uploader.run_pass()
        return time.perf_counter() - started, report.uploaded
    finally:
        store.close()


async def run(args: argparse.Namespace, work: Path) -> None:
    files = build(work / "media", args.size_mb, args.resolution)
    total = sum(path.stat().st_size for path in files) / 1e6
    print(f"{len(files)} segments of 10 s, {total:.1f} MB, to SeaweedFS {args.concurrency} at a time vs one by one")
    async with SeaweedS3(work / "seaweed", bucket="bench") as s3:
        await sequential(s3, files[:8], prefix="warmup")  # SeaweedFS grows its volumes on first writes: untimed
        seconds, uploaded = await guarita(s3, work / "media", work / "data", args.concurrency)
        assert uploaded == len(files), f"guarita uploaded {uploaded} of {len(files)}"
        plain = await sequential(s3, files)
    print(f"guarita: {seconds:.2f} s, {total / seconds:.1f} MB/s")
    print(f"sequential: {plain:.2f} s, {total / plain:.1f} MB/s")
    print(f"ratio guarita/sequential: {plain / seconds:.2f} (target >= 1.0)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=512.0, help="total size of the segments (default 512)")
    parser.add_argument("--concurrency", type=int, default=8, help="Guarita's parallel uploads (default 8)")
    parser.add_argument("--resolution", default="640x360", help="segment frame size (default 640x360)")
    parser.add_argument("--workdir", type=Path, help="where to build (default: a temporary folder)")
    args = parser.parse_args()
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        asyncio.run(run(args, args.workdir))
        return
    with tempfile.TemporaryDirectory(prefix="guarita-cloud-bench-") as work:
        asyncio.run(run(args, Path(work)))


if __name__ == "__main__":
    main()
