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
reported (``gaps``), with the runs of continuous footage in clip order (``runs``) so a
player can put each part back on the clock.

Only the window the archive is bound to keep (``fleet.archive_days``, DT-12) may be asked
for; a window starting earlier is refused, even if a file not yet swept lies there. A
window is at most ``MAX_WINDOW_S`` long.

Covers: DT-04, DT-12, DT-05.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from guarita.adapters.dvr.archive import GAP_TOLERANCE_S, segment_path
from guarita.config import GuaritaConfig
from guarita.errors import GuaritaError
from guarita.privacy_mask import mask_clip
from guarita.retention.footage import TimeWindow, iso
from guarita.retention.frigate_export import run_ffmpeg
from guarita.store import Store

__all__ = ["MAX_SEGMENT_S", "MAX_WINDOW_S", "PlaybackPiece", "PlaybackPlan", "PlaybackRefused", "cut_playback",
           "plan_playback"]

log = logging.getLogger(__name__)

MAX_WINDOW_S = 2 * 3600.0
"""Longest window one playback may ask for."""
MAX_SEGMENT_S = 3600.0
"""No archived segment is longer than this (DT-11 asks for 1–5 minutes): bounds the index lookup."""
_MIN_PIECE_S = 0.05


class PlaybackRefused(GuaritaError):
    """A playback cannot be given as asked; ``status`` is the HTTP answer (404 nothing there, 400 bad window)."""

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

    @property
    def seconds(self) -> float:
        """Seconds of footage in the clip."""
        return sum(piece.outpoint - piece.inpoint for piece in self.pieces)


def _retention_start(config: GuaritaConfig, now: float) -> float:
    assert config.fleet is not None
    return now - config.fleet.archive_days * 86400.0


def plan_playback(config: GuaritaConfig, store: Store, vehicle: str, channel: int, window: TimeWindow,
                  now: float) -> PlaybackPlan:
    """The archived pieces and the gaps of ``vehicle``'s camera ``channel`` over ``window``.

    Raises:
        PlaybackRefused: 404, the vehicle, its DVR or the camera is not in the config, or the
            archive holds nothing of the window; 400, the window is longer than ``MAX_WINDOW_S``
            or starts before the archive's retention (``fleet.archive_days``).
    """
    settings = config.fleet.vehicles.get(vehicle) if config.fleet is not None else None
    if settings is None:
        raise PlaybackRefused(404, f"vehicle {vehicle!r} is not under fleet.vehicles")
    if settings.dvr is None or channel not in settings.dvr.cameras:
        raise PlaybackRefused(404, f"vehicle {vehicle} has no DVR camera {channel}")
    if window.end - window.start > MAX_WINDOW_S:
        raise PlaybackRefused(400, f"a playback window is at most {MAX_WINDOW_S / 3600:g} h; ask for shorter ones",
                              "to")
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
    """Write the plan's pieces, joined (stream copy), as one MP4 at ``dest``; with ``masks`` burned in if any.

    Raises:
        EvidenceError: ffmpeg could not join the files (the message names the camera).
        PrivacyMaskError: the joined clip could not be masked.
    """
    listing = dest.with_suffix(".txt")
    lines = []
    for piece in plan.pieces:
        quoted = str(piece.path.resolve()).replace("'", "'\\''")
        lines.append(f"file '{quoted}'\ninpoint {piece.inpoint:.3f}\noutpoint {piece.outpoint:.3f}\n")
    listing.write_text("".join(lines), encoding="utf-8")
    joined = dest.with_name("joined.mp4") if masks else dest
    await run_ffmpeg(["-f", "concat", "-safe", "0", "-i", str(listing), "-map", "0:v", "-c", "copy",
                      "-movflags", "+faststart", str(joined)],
                     f"ffmpeg could not join the archive of vehicle {plan.vehicle} camera {plan.channel}")
    if masks:
        await mask_clip(joined, dest, masks)
        joined.unlink()
