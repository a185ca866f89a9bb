"""Synthetic recordings of the Frigate stand-in: 10 s segments, per-hour summaries, clip bytes.

Part of a stand-in for Frigate built from the contract (``api-recordings.json``,
``api-recordings-summary.json``), not Frigate: nothing is recorded, every row is derived
deterministically from the camera name and the segment's start time, with motion and objects
where the stand-in has tracked objects.

Covers: PB-01.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Sequence
from datetime import datetime, tzinfo

from guarita.standin.frigate_cameras import StandinCamera
from guarita.standin.frigate_events import JsonObject, random_suffix

__all__ = ["default_clip", "has_recordings", "recording_segments", "recordings_summary"]

_DAY_S = 86400


def _oldest(camera: StandinCamera, now: float) -> float:
    return now - camera.retention_days * _DAY_S


def has_recordings(camera: StandinCamera, start: float, end: float, *, now: float) -> bool:
    """Whether ``camera`` has footage overlapping ``[start, end]`` (inside retention, not future)."""
    return camera.record_enabled and end > start and end > _oldest(camera, now) and start < now


def default_clip() -> bytes:
    """A fixed 192 KiB body that starts like an MP4 (``ftyp`` box); no ffmpeg needed."""
    block = b"guarita-standin-clip"
    blocks = [b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"]
    for _ in range(6144):
        block = hashlib.sha256(block).digest()
        blocks.append(block)
    return b"".join(blocks)


def recording_segments(
    camera: StandinCamera,
    after: float,
    before: float,
    *,
    now: float,
    busy: Sequence[tuple[float, float]],
) -> list[JsonObject]:
    """Plausible 10 s ``GET /api/<camera>/recordings`` rows overlapping ``[after, before]``.

    Args:
        camera: The camera.
        after: Start of the range (epoch seconds).
        before: End of the range.
        now: The stand-in's clock; segments still being written are not listed.
        busy: ``(start, end)`` spans of tracked objects on this camera (motion and objects).
    """
    if not camera.record_enabled or before < after:
        return []
    oldest = math.floor(_oldest(camera, now) / 10) * 10
    rows: list[JsonObject] = []
    start = max(math.floor(after / 10) * 10 - 10, oldest)
    while start <= before and start + 10 <= now:
        rng = random.Random(f"{camera.name}:{start}")
        duration = rng.choice((10.0, 10.005))
        end = start + duration
        if end >= after:
            active = any(s < end and e > start for s, e in busy)
            objects = rng.randint(10, 60) if active else 0
            motion = rng.randint(200, 800) if active else rng.choice((0, 0, rng.randint(20, 300)))
            rows.append({
                "id": f"{float(start)}-{random_suffix(rng)}", "start_time": float(start),
                "end_time": end, "segment_size": round(rng.uniform(1.2, 2.4), 2),
                "motion": motion, "objects": objects, "duration": duration,
            })
        start += 10
    return rows


def recordings_summary(
    camera: StandinCamera, tz: tzinfo, *, now: float, clip_starts: Sequence[float]
) -> list[JsonObject]:
    """``GET /api/<camera>/recordings/summary`` rows: days newest first, hours newest first.

    Args:
        camera: The camera.
        tz: Time zone the days and hours are expressed in.
        now: The stand-in's clock.
        clip_starts: Start times of this camera's tracked objects that have a clip.
    """
    if not camera.record_enabled:
        return []
    oldest = _oldest(camera, now)
    days: dict[str, dict[str, JsonObject]] = {}
    hour = math.floor(oldest / 3600) * 3600
    while hour < now:
        lo, hi = max(hour, oldest), min(hour + 3600, now)
        duration = int(max(0, math.floor(hi / 10) * 10 - math.ceil(lo / 10) * 10))
        if duration > 0:
            local = datetime.fromtimestamp(hour, tz)
            rng = random.Random(f"{camera.name}:{hour}")
            events = sum(1 for t in clip_starts if hour <= t < hour + 3600)
            entry = days.setdefault(local.strftime("%Y-%m-%d"), {}).setdefault(
                local.strftime("%H"),
                {"hour": local.strftime("%H"), "events": 0, "motion": 0, "objects": 0,
                 "duration": 0},
            )
            entry["events"] += events
            entry["motion"] += rng.randint(1000, 20000) * duration // 3600
            entry["objects"] += rng.randint(100, 1500) if events else 0
            entry["duration"] += duration
        hour += 3600
    return [
        {"events": sum(h["events"] for h in hours.values()),
         "hours": list(reversed(hours.values())), "day": day}
        for day, hours in reversed(days.items())
    ]
