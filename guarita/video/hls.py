"""HLS for a video wall: a view's sliding window of the upstream's fMP4 fragments, and its playlist.

A centre's VMS pulls HLS rather than one long MP4. ``HlsFeed`` is one view's consumer of its
camera's single upstream ffmpeg (a ``Subscriber`` like any ``stream.mp4`` viewer, so it counts
as one stream in the limits and in ``guarita_video_viewers``): it keeps the init segment and
the last ``HLS_WINDOW`` fragments, each a segment numbered from 0 (``seg-<n>.m4s``) with its
duration read from the fragment's own boxes (``trun``/``tfhd``/``trex`` sample durations over
the track's ``mdhd`` timescale). ``playlist`` writes HLS version 7: ``#EXT-X-MAP`` to
``init.mp4`` and the window, every address carrying the view's key. No second ffmpeg.

A feed nobody fetched for ``IDLE_TARGETS`` target durations is released by the hub's watcher;
a released feed, or one whose source stopped, is replaced on the view's next playlist
request, numbering on after an ``#EXT-X-DISCONTINUITY`` (so a player never sees the media
sequence go back).

Covers: BH-11, BH-07, BH-09.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from guarita.video.upstream import Subscriber

__all__ = ["HLS_WINDOW", "IDLE_TARGETS", "HlsFeed", "Segment", "fragment_duration", "track_timescales"]

log = logging.getLogger(__name__)

HLS_WINDOW = 6
"""Segments a playlist lists (the newest); older ones are forgotten and answer 404."""

IDLE_TARGETS = 2.0
"""A feed not fetched for this many target durations is released (its stream no longer counts)."""

_CONTAINERS = {b"moov", b"trak", b"mdia", b"mvex", b"moof", b"traf"}


def _boxes(data: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, box end) of each box in ``data[start:end]``; stops at a malformed size."""
    end = len(data) if end is None else end
    at = start
    while at + 8 <= end:
        size = int.from_bytes(data[at:at + 4], "big")
        kind = data[at + 4:at + 8]
        head = 8
        if size == 1 and at + 16 <= end:
            size = int.from_bytes(data[at + 8:at + 16], "big")
            head = 16
        if size < head or at + size > end:
            return
        yield kind, at + head, at + size
        at += size


def _walk(data: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[bytes, int, int]]:
    """Every box, depth first, descending into the containers a fragmented MP4 uses."""
    for kind, body, stop in _boxes(data, start, end):
        yield kind, body, stop
        if kind in _CONTAINERS:
            yield from _walk(data, body, stop)


def _u32(data: bytes, at: int) -> int:
    return int.from_bytes(data[at:at + 4], "big")


def track_timescales(init: bytes) -> tuple[dict[int, int], dict[int, int]]:
    """From an init segment: timescale by track id (``tkhd`` + ``mdhd``), default sample duration (``trex``)."""
    scales: dict[int, int] = {}
    defaults: dict[int, int] = {}
    track = 0
    for kind, body, _stop in _walk(init):
        version = init[body] if body < len(init) else 0
        if kind == b"tkhd":
            track = _u32(init, body + (20 if version == 1 else 12))
        elif kind == b"mdhd":
            scales[track] = _u32(init, body + (20 if version == 1 else 12))
        elif kind == b"trex":
            defaults[_u32(init, body + 4)] = _u32(init, body + 12)
    return scales, defaults


def fragment_duration(fragment: bytes, scales: dict[int, int], defaults: dict[int, int]) -> tuple[float, float | None]:
    """(seconds the fragment lasts, its decode time in seconds or None) from its ``moof``.

    Durations come from ``trun`` per sample, else ``tfhd``'s default, else ``trex``'s; a
    fragment whose durations cannot be read lasts 0 (the caller falls back on decode times).
    """
    track, default, total, decode = 0, 0, 0, None
    for kind, body, _stop in _walk(fragment):
        flags = int.from_bytes(fragment[body + 1:body + 4], "big")
        if kind == b"tfhd":
            track = _u32(fragment, body + 4)
            at = body + 8 + (8 if flags & 0x01 else 0) + (4 if flags & 0x02 else 0)
            default = _u32(fragment, at) if flags & 0x08 else defaults.get(track, 0)
        elif kind == b"tfdt":
            raw = int.from_bytes(fragment[body + 4:body + (12 if fragment[body] == 1 else 8)], "big")
            decode = raw / scales[track] if scales.get(track) else None
        elif kind == b"trun":
            count = _u32(fragment, body + 4)
            at = body + 8 + (4 if flags & 0x01 else 0) + (4 if flags & 0x04 else 0)
            step = 4 * sum(1 for bit in (0x100, 0x200, 0x400, 0x800) if flags & bit)
            if flags & 0x100:
                total += sum(_u32(fragment, at + i * step) for i in range(count))
            else:
                total += default * count
        elif kind == b"mdat":
            break
    scale = scales.get(track, 0)
    return (total / scale if scale else 0.0), decode


@dataclass(frozen=True)
class Segment:
    """One fragment of the window: its number, length, bytes and discontinuity count."""

    sequence: int
    duration: float
    data: bytes
    discontinuity: int  # its discontinuity sequence number (restarts of the feed before it)
    after_gap: bool = False  # the first segment of a restarted feed: preceded by EXT-X-DISCONTINUITY


class HlsFeed:
    """One view's HLS window, filled from its ``Subscriber`` on the camera's upstream."""

    def __init__(self, view_id: str, subscriber: Subscriber, *, window: int = HLS_WINDOW,
                 previous: HlsFeed | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.view_id = view_id
        self.subscriber = subscriber
        self.window = window
        self.init: bytes | None = None
        self.segments: collections.deque[Segment] = collections.deque()
        self.ready = asyncio.Event()  # a first segment arrived, or the feed ended
        self.waiting = 0  # requests waiting for ``ready``: the feed is not idle meanwhile
        self._clock = clock
        self.last_fetch = clock()
        self._next = previous.next_sequence if previous is not None else 0
        self._discontinuity = previous.discontinuities + 1 if previous is not None else 0
        self._gap = previous is not None
        self.target: int = previous.target if previous is not None else 1  # never shrinks (RFC 8216 §4.3.3.1)
        self._scales: dict[int, int] = {}
        self._defaults: dict[int, int] = {}
        self._last_decode: float | None = None
        self.task = asyncio.create_task(self._fill(), name=f"hls feed {view_id}")

    @property
    def ended(self) -> str | None:
        """Why the feed's stream ended, or None while it runs."""
        return self.subscriber.ended

    @property
    def next_sequence(self) -> int:
        return self._next

    @property
    def discontinuities(self) -> int:
        """The discontinuity sequence number of this feed's segments."""
        return self._discontinuity

    def touch(self) -> None:
        """A player fetched something of this feed."""
        self.last_fetch = self._clock()

    def idle(self) -> bool:
        """Nobody fetched for ``IDLE_TARGETS`` target durations (and nobody is waiting for a first segment)."""
        return self.waiting == 0 and self._clock() - self.last_fetch > IDLE_TARGETS * self.target

    def segment(self, sequence: int) -> Segment | None:
        """Segment ``sequence`` if it is still in the window."""
        return next((s for s in self.segments if s.sequence == sequence), None)

    def playlist(self, key: str) -> str:
        """The live media playlist (HLS version 7) of the window; every address carries ``key``."""
        first = self.segments[0]
        lines = [
            "#EXTM3U", "#EXT-X-VERSION:7", f"#EXT-X-TARGETDURATION:{self.target}",
            f"#EXT-X-MEDIA-SEQUENCE:{first.sequence}", f"#EXT-X-DISCONTINUITY-SEQUENCE:{first.discontinuity}",
            "#EXT-X-INDEPENDENT-SEGMENTS", f'#EXT-X-MAP:URI="init.mp4?key={key}"',
        ]
        for segment in self.segments:
            if segment.after_gap:
                lines.append("#EXT-X-DISCONTINUITY")
            lines += [f"#EXTINF:{segment.duration:.3f},", f"seg-{segment.sequence}.m4s?key={key}"]
        return "\n".join(lines) + "\n"

    def _add(self, fragment: bytes) -> None:
        duration, decode = fragment_duration(fragment, self._scales, self._defaults)
        if duration <= 0 and decode is not None and self._last_decode is not None:
            # No durations in the boxes: the gap since the previous decode time (a steady GOP repeats itself).
            duration = decode - self._last_decode
        self._last_decode = decode
        if duration <= 0:
            duration = float(self.target)
        self.segments.append(Segment(self._next, duration, fragment, self._discontinuity, self._gap))
        self._gap = False
        self._next += 1
        self.target = max(self.target, math.ceil(round(duration, 3)))
        while len(self.segments) > self.window:
            self.segments.popleft()
        self.ready.set()

    async def _fill(self) -> None:
        try:
            while (piece := await self.subscriber.next()) is not None:
                if self.init is None:
                    self.init = piece
                    self._scales, self._defaults = track_timescales(piece)
                else:
                    self._add(piece)
        except Exception:  # noqa: BLE001 - a fragment it cannot read ends this feed (a player asks again), not more
            log.exception("live view %s: the HLS feed could not read a fragment", self.view_id)
            self.subscriber.end("the HLS feed could not read the video")
        finally:
            self.ready.set()

    def release(self, reason: str) -> None:
        """End the feed's stream and forget its segments; its numbering stays for the next feed of the view."""
        self.subscriber.end(reason)
        self.segments.clear()
        self.init = None
