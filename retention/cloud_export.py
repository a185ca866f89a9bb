"""Footage of a Frigate camera for an evidence bundle, taken from the cloud copy.

When Frigate cannot export a camera's window (unreachable, or its own retention already
deleted the recordings), the cloud copy (:mod:`guarita.retention.cloud`) stands in. The
objects ``cloud_objects`` lists for the camera that overlap the request's window are read
from the bucket, each checked against the SHA-256 recorded when it was uploaded (a mismatch
is refused, naming the key), joined with ffmpeg's concat demuxer (stream copy) and cut to the
window. A window the objects do not fully cover is refused, naming its gaps: joining around a
gap would silently shorten the clip's timeline. Masks are burned in afterwards by
:mod:`guarita.retention.evidence_export`, like every other clip's. A playback asks with ``exact=False``: the cut is then a stream copy
from the first key frame in the window (``frigate_export.copy_cut``).

Covers: BH-06, BH-07, BH-08.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from guarita.retention._s3 import CloudError, S3Access, open_bucket
from guarita.retention.evidence import EvidenceError
from guarita.retention.footage import TimeWindow, iso
from guarita.retention.frigate_export import FootageAsk, cut_clip, run_ffmpeg
from guarita.store import Store

__all__ = ["CloudClip", "CloudFootageError", "CloudObject", "coverage_gaps", "covering_objects", "fetch_cloud_clip"]

log = logging.getLogger(__name__)

_SLACK_S = 1.0
"""How far apart two segments may be, or an edge from the window, and still count as joined."""


class CloudFootageError(EvidenceError):
    """The cloud copy cannot stand in for Frigate: no objects, a gap, or an object that changed."""


@dataclass(frozen=True)
class CloudObject:
    """One uploaded segment as ``cloud_objects`` recorded it."""

    key: str
    start: float
    end: float
    sha256: str


@dataclass(frozen=True)
class CloudClip:
    """The camera's window joined from the cloud copy and cut to the window.

    Attributes:
        camera: The Frigate camera.
        path: The clip in the scratch folder.
        objects: The objects it was made from, oldest first (each checked against its SHA-256).
    """

    camera: str
    path: Path
    objects: tuple[CloudObject, ...]


def covering_objects(store: Store, camera: str, window: TimeWindow) -> list[CloudObject]:
    """The objects of ``camera`` overlapping ``window``, oldest first."""
    rows = store.db.execute(
        "SELECT key, start_utc, end_utc, sha256 FROM cloud_objects WHERE camera = ? AND start_utc < ? AND end_utc > ? "
        "ORDER BY start_utc, key", (camera, window.end, window.start)).fetchall()
    return [CloudObject(str(key), float(start), float(end), str(digest)) for key, start, end, digest in rows]


def coverage_gaps(objects: list[CloudObject], window: TimeWindow) -> list[TimeWindow]:
    """The parts of ``window`` no object covers (gaps under ``_SLACK_S`` are ignored)."""
    gaps: list[TimeWindow] = []
    covered_to = window.start
    for item in sorted(objects, key=lambda o: o.start):
        if item.start > covered_to + _SLACK_S:
            gaps.append(TimeWindow(covered_to, min(item.start, window.end)))
        covered_to = max(covered_to, item.end)
    if covered_to < window.end - _SLACK_S:
        gaps.append(TimeWindow(covered_to, window.end))
    return gaps


async def _download(access: S3Access, objects: list[CloudObject], folder: Path) -> list[Path]:
    paths: list[Path] = []
    async with open_bucket(access) as bucket:
        for index, item in enumerate(objects):
            body = await bucket.read(item.key)
            if hashlib.sha256(body).hexdigest() != item.sha256:
                raise CloudFootageError(f"cloud object {item.key} no longer matches the SHA-256 recorded when it "
                                        "was uploaded; it is not exported")
            path = folder / f"{index:05d}.mp4"
            await asyncio.to_thread(path.write_bytes, body)
            paths.append(path)
    return paths


async def _join(parts: list[Path], dest: Path) -> None:
    listing = dest.with_suffix(".txt")
    listing.write_text("".join(f"file '{part.resolve()}'\n" for part in parts))
    await run_ffmpeg(["-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(dest)],
                     "ffmpeg could not join the cloud objects")


async def fetch_cloud_clip(
    store: Store, access: S3Access, request: FootageAsk, camera: str, scratch: Path, *, exact: bool = True
) -> CloudClip:
    """Join ``camera``'s cloud objects over the request's window into one clip in ``scratch``.

    Raises:
        CloudFootageError: the cloud copy holds nothing of the window, leaves gaps in it (named),
            or an object no longer matches its recorded SHA-256 (the key is named); the bucket
            cannot be read.
        EvidenceError: ffmpeg could not join or cut the objects.
    """
    window = request.window
    objects = covering_objects(store, camera, window)
    span = f"{iso(window.start)} → {iso(window.end)}"
    if not objects:
        raise CloudFootageError(f"the cloud copy holds no footage of camera {camera} in {span}")
    gaps = coverage_gaps(objects, window)
    if gaps:
        named = ", ".join(f"{iso(gap.start)} → {iso(gap.end)}" for gap in gaps)
        raise CloudFootageError(f"the cloud copy does not cover camera {camera}'s window {span}: missing {named}")
    folder = scratch / f"cloud-{camera}"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        parts = await _download(access, objects, folder)
    except CloudError as exc:
        raise CloudFootageError(f"the cloud copy of camera {camera} cannot be read: {exc}") from exc
    joined = folder / "joined.mp4"
    await _join(parts, joined)
    clip = folder / "window.mp4"
    await cut_clip(joined, clip, max(0.0, window.start - objects[0].start), window.end - window.start, exact=exact)
    log.info("camera %s for request %s joined from %d cloud objects", camera, request.id, len(objects))
    return CloudClip(camera, clip, tuple(objects))
