"""Playback of a bus's archived DVR footage for the regulator: a window cut from the DETRO archive.

The DVR offload (``guarita.adapters.dvr``) keeps each camera's segments under
``data_dir/archive/<vehicle>/<camera>/<yyyymmddhhmmss>.mp4`` with their UTC start and length
in the ``dvr_segments`` index. ``plan_playback`` picks the segments that overlap the window
from the index, with where to enter and leave each (``inpoint``/``outpoint``), and the gaps
the archive has in the window (a bus that was not synced, a DVR that did not record);
``cut_playback`` joins them with ffmpeg's concat demuxer, stream copy (no re-encoding: a
window costs little CPU whatever its length). A stream copy starts each piece at the key
frame at or before its in-point, so the clip may begin up to one GOP early. A camera the
config gives ``dvr.privacy_masks`` is re-encoded with them burned in
(``privacy_mask.mask_clip``, as evidence exports are).

The clip holds the footage there is, back to back: the gaps are not filled with black but
reported as ``no_recording`` gaps, and the runs of continuous footage are its served
periods (source ``archive``), in clip order, so a player can put each part back on the
clock. The clip is a playback like a shared camera's (``guarita.video.playback``): the
``PlaybackBook`` keeps it, serves it with HTTP Range, ends it and audits it.

Only the window the archive is bound to keep (``fleet.archive_days``, DT-12) may be asked
for; a window starting earlier is refused, even if a file not yet swept lies there. A
window is at most ``video.playback_max_minutes`` long (413 past it, as for cop_bh) and may
not reach into the future.

Covers: DT-04, DT-12, DT-05.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

from guarita.adapters.dvr.archive import GAP_TOLERANCE_S, segment_path
from guarita.config import GuaritaConfig
from guarita.errors import GuaritaError
from guarita.privacy_mask import mask_clip
from guarita.retention.footage import TimeWindow, iso
from guarita.retention.frigate_export import run_ffmpeg
from guarita.store import Store
from guarita.video.playback import Gap, Served

__all__ = ["ARCHIVE_SOURCE", "MAX_SEGMENT_S", "PlaybackPiece", "PlaybackPlan", "PlaybackRefused", "cut_playback",
           "plan_playback"]

log = logging.getLogger(__name__)

ARCHIVE_SOURCE = "archive"
"""The ``source`` of a served period that comes from the DVR archive."""
MAX_SEGMENT_S = 3600.0
"""No archived segment is longer than this (DT-11 asks for 1–5 minutes): bounds the index lookup."""
_MIN_PIECE_S = 0.05


class PlaybackRefused(GuaritaError):
    """A playback cannot be given as asked; ``status`` is the HTTP answer (404 nothing there, 400/413 bad window)."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field


@dataclass(frozen=True)
class PlaybackPiece:
    """The part of one archived file that goes into the clip: seconds ``inpoint``–``outpoint`` of the file."""

    path: Path
    start_utc: float
    inpoint: float
    outpoint: float

    @property
    def span(self) -> tuple[float, float]:
        """The piece on the clock (UTC epoch seconds)."""
        return self.start_utc + self.inpoint, self.start_utc + self.outpoint


@dataclass(frozen=True)
class PlaybackPlan:
    """What a playback of one camera's window is made of."""

    vehicle: str
    channel: int
    window: TimeWindow
    pieces: tuple[PlaybackPiece, ...]
    gaps: tuple[TimeWindow, ...]

    @property
    def runs(self) -> tuple[TimeWindow, ...]:
        """Continuous footage, in clip order (pieces closer than ``GAP_TOLERANCE_S`` are one run)."""
        runs: list[TimeWindow] = []
        for piece in self.pieces:
            start, end = piece.span
            if runs and start <= runs[-1].end + GAP_TOLERANCE_S:
                runs[-1] = TimeWindow(runs[-1].start, max(runs[-1].end, end))
            else:
                runs.append(TimeWindow(start, end))
        return tuple(runs)

    def served(self) -> list[Served]:
        """The runs as a playback's served periods (source ``archive``; their length from the index)."""
        served = []
        for run in self.runs:
            seconds = sum(min(p.span[1], run.end) - max(p.span[0], run.start) for p in self.pieces
                          if p.span[0] < run.end and p.span[1] > run.start)
            served.append(Served(run.start, run.end, ARCHIVE_SOURCE, round(seconds, 3)))
        return served

    def gap_list(self) -> list[Gap]:
        """The gaps as a playback's: the archive has no recording there."""
        return [Gap(gap.start, gap.end, "no_recording") for gap in self.gaps]


def _retention_start(config: GuaritaConfig, now: float) -> float:
    assert config.fleet is not None
    return now - config.fleet.archive_days * 86400.0


def plan_playback(config: GuaritaConfig, store: Store, vehicle: str, channel: int, window: TimeWindow,
                  now: float) -> PlaybackPlan:
    """The archived pieces and the gaps of ``vehicle``'s camera ``channel`` over ``window``.

    Raises:
        PlaybackRefused: 404, the vehicle, its DVR or the camera is not in the config, or the
            archive holds nothing of the window; 413, the window is longer than
            ``video.playback_max_minutes``; 400, it reaches into the future or starts before the
            archive's retention (``fleet.archive_days``).
    """
    settings = config.fleet.vehicles.get(vehicle) if config.fleet is not None else None
    if settings is None:
        raise PlaybackRefused(404, f"vehicle {vehicle!r} is not under fleet.vehicles")
    if settings.dvr is None or channel not in settings.dvr.cameras:
        raise PlaybackRefused(404, f"vehicle {vehicle} has no DVR camera {channel}")
    longest = config.video.playback_max_minutes
    if window.end - window.start > longest * 60:
        raise PlaybackRefused(413, f"the window lasts {(window.end - window.start) / 60:g} minutes, longer than the "
                                   f"{longest:g} of video.playback_max_minutes; ask for shorter windows")
    if window.end > now:
        raise PlaybackRefused(400, f"the window ends in the future ({iso(window.end)}, now {iso(now)}): use a live "
                                   "view", "to")
    kept_from = _retention_start(config, now)
    if window.start < kept_from:
        assert config.fleet is not None
        raise PlaybackRefused(400, f"the window starts {iso(window.start)}, outside the DETRO archive's retention "
                                   f"(fleet.archive_days = {config.fleet.archive_days}: footage from "
                                   f"{iso(kept_from)} on)", "from")
    rows = store.db.execute(
        "SELECT name, start_utc, duration_s FROM dvr_segments WHERE vehicle = ? AND camera = ? AND start_utc < ? "
        "AND start_utc > ? ORDER BY start_utc, name",
        (vehicle, channel, window.end, window.start - MAX_SEGMENT_S),
    ).fetchall()
    pieces: list[PlaybackPiece] = []
    gaps: list[TimeWindow] = []
    covered_to = window.start
    for name, start, duration in rows:
        start, duration = float(start), float(duration)
        enter = max(window.start, covered_to, start) - start
        leave = min(window.end, start + duration) - start
        if leave - enter < _MIN_PIECE_S:
            continue
        path = segment_path(config.storage.data_dir, vehicle, channel, str(name))
        if not path.is_file():  # swept or lost since it was indexed: a gap, not a failure
            log.warning("playback of vehicle %s camera %d: archived file %s is missing", vehicle, channel, path)
            continue
        if start + enter > covered_to + GAP_TOLERANCE_S:
            gaps.append(TimeWindow(covered_to, start + enter))
        pieces.append(PlaybackPiece(path, start, enter, leave))
        covered_to = start + leave
    if covered_to < window.end - GAP_TOLERANCE_S:
        gaps.append(TimeWindow(covered_to, window.end))
    if not pieces:
        raise PlaybackRefused(404, f"the archive holds no footage of vehicle {vehicle} camera {channel} from "
                                   f"{iso(window.start)} to {iso(window.end)}")
    return PlaybackPlan(vehicle, channel, window, tuple(pieces), tuple(gaps))


async def cut_playback(plan: PlaybackPlan, dest: Path, masks: list[str] | None = None) -> None:
    """Write the plan's pieces, joined (stream copy), as one MP4 (index first) at ``dest``; ``masks`` burned in.

    Raises:
        EvidenceError: ffmpeg could not join the files (the message names the camera).
        PrivacyMaskError: the joined clip could not be masked.
    """
    lines = []
    for piece in plan.pieces:
        quoted = str(piece.path.resolve()).replace("'", "'\\''")
        lines.append(f"file '{quoted}'\ninpoint {piece.inpoint:.3f}\noutpoint {piece.outpoint:.3f}\n")
    with tempfile.TemporaryDirectory(prefix=f"guarita-dvr-{plan.vehicle}-", dir=dest.parent) as scratch:
        listing = Path(scratch) / "pieces.txt"
        await asyncio.to_thread(listing.write_text, "".join(lines), encoding="utf-8")
        joined = Path(scratch) / "joined.mp4" if masks else dest
        await run_ffmpeg(["-f", "concat", "-safe", "0", "-i", str(listing), "-map", "0:v", "-c", "copy",
                          "-movflags", "+faststart", str(joined)],
                         f"ffmpeg could not join the archive of vehicle {plan.vehicle} camera {plan.channel}")
        if masks:
            await mask_clip(joined, dest, masks)
