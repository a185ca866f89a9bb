"""Playback of a past window from the cloud copy, for a centre that cannot reach Guarita (behind NAT).

Asked over MQTT (``action: "playback"``, ``guarita.video.mqtt_requests``), answered with
presigned GET addresses of the cloud copy's segments, each valid ``PLAYBACK_URL_S`` seconds.
Only segments lying wholly inside a period in which the registry shared the camera with
cop_bh (``consent.share_history.shared_periods``, the rule the uploader follows) and inside
``retention.cloud.days`` are given, whatever window is asked for. The uploader burns a camera's
``privacy_masks`` into each segment before it goes up and records the object ``masked``
(``cloud_objects.masked``): for a camera with masks only those objects are given; one uploaded
before masking existed (or while the camera had no masks) is left out and reported as a gap
``unmasked_copy`` (``cloud_playback``'s ``gaps``), never handed out.

Covers: BH-06, BH-11, BH-03, BH-07, BH-10.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from guarita.config import GuaritaConfig
from guarita.consent.registry import Registry
from guarita.consent.share_history import shared_periods
from guarita.errors import GuaritaError
from guarita.retention._s3 import S3Access, open_bucket
from guarita.retention.cloud_segments import SEGMENT_S, hour_of
from guarita.store import Store

__all__ = ["MAX_WINDOW_S", "PLAYBACK_URLS_ACTION", "PLAYBACK_URL_S", "CloudPlayback", "PlaybackGap", "PlaybackRefused",
           "PlaybackSegment", "cloud_playback", "playback_segments"]

PLAYBACK_URL_S = 300
"""How long each presigned address works."""
PLAYBACK_URLS_ACTION = "video.playback.urls"
"""The one audit entry of a playback over MQTT: its addresses were handed out (``guarita views list`` shows it)."""
MAX_WINDOW_S = 2 * 3600.0
"""The longest window one request may cover."""
_KEY_TAIL = re.compile(r"^(\d{4}-\d{2}-\d{2})/(\d{2})/(\d{2})\.(\d{2})\.mp4$")


class PlaybackRefused(GuaritaError):
    """The playback cannot be given; ``code`` is the answer's reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class PlaybackSegment:
    """One segment of the cloud copy and its short-lived address (which carries a signature: never logged)."""

    start: float
    end: float
    url: str


@dataclass(frozen=True)
class PlaybackGap:
    """A segment of the cloud copy left out, and why (``unmasked_copy``: a masked camera's object uploaded unmasked)."""

    start: float
    end: float
    reason: str


@dataclass
class CloudPlayback:
    """What a playback gives: the segments' addresses, and the segments left out."""

    segments: list[PlaybackSegment] = field(default_factory=list)
    gaps: list[PlaybackGap] = field(default_factory=list)


def segment_start(key: str, prefix: str) -> float | None:
    """The start (epoch s) of the segment stored under ``key`` (``<prefix><YYYY-MM-DD>/<HH>/<MM.SS>.mp4``)."""
    match = _KEY_TAIL.match(key.removeprefix(prefix)) if key.startswith(prefix) else None
    if match is None:
        return None
    day, hour, minute, second = match.groups()
    moment = dt.datetime.strptime(f"{day} {hour}:{minute}:{second}", "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC)
    return moment.timestamp()


async def playback_segments(config: GuaritaConfig, registry: Registry, camera: str, start: float, end: float,
                            now: float, store: Store | None = None) -> list[PlaybackSegment]:
    """The addresses of ``cloud_playback`` (its gaps dropped)."""
    return (await cloud_playback(config, registry, camera, start, end, now, store)).segments


def _masked_keys(store: Store | None, camera: str, start: float, end: float) -> set[str]:
    if store is None:
        return set()
    rows = store.db.execute("SELECT key FROM cloud_objects WHERE camera = ? AND masked = 1 AND start_utc >= ? "
                            "AND start_utc < ?", (camera, start, end))
    return {str(row[0]) for row in rows}


async def cloud_playback(config: GuaritaConfig, registry: Registry, camera: str, start: float, end: float,
                         now: float, store: Store | None = None) -> CloudPlayback:
    """Presigned addresses of ``camera``'s cloud segments in ``[start, end)`` that may be shown.

    For a camera with ``privacy_masks``, only the objects ``store`` records masked (no store: none);
    the others are gaps ``unmasked_copy``.

    Raises:
        PlaybackRefused: no cloud copy, or a window that is empty or too long.
        CloudError: the cloud store could not be read.
    """
    cloud = config.retention.cloud
    if cloud is None:
        raise PlaybackRefused("no_cloud_copy", "this Guarita keeps no cloud copy (retention.cloud)")
    if not start < end or end - start > MAX_WINDOW_S:
        raise PlaybackRefused("bad_request", f"`from` must come before `to`, at most {MAX_WINDOW_S / 3600:g} h apart")
    start = max(start, now - cloud.days * 86400.0)
    end = min(end, now)
    periods = shared_periods(registry, camera)
    prefix = f"{config.provider.id}/{camera}/"
    masked = _masked_keys(store, camera, start, end) if config.cameras[camera].privacy_masks else None
    found = CloudPlayback()
    async with open_bucket(S3Access.for_config(cloud)) as bucket:
        hour = start - start % 3600
        while hour < end:
            for key in await bucket.keys(f"{prefix}{hour_of(hour)}/"):
                begins = segment_start(key, prefix)
                if begins is None or not (start <= begins and begins + SEGMENT_S <= end):
                    continue
                if not any(p.holds(begins, begins + SEGMENT_S) for p in periods):
                    continue
                if masked is not None and key not in masked:  # BH-07: its private areas are in it
                    found.gaps.append(PlaybackGap(begins, begins + SEGMENT_S, "unmasked_copy"))
                    continue
                url = await bucket.presigned_get(key, PLAYBACK_URL_S)
                found.segments.append(PlaybackSegment(begins, begins + SEGMENT_S, url))
            hour += 3600
    found.segments.sort(key=lambda s: s.start)
    found.gaps.sort(key=lambda g: g.start)
    return found
