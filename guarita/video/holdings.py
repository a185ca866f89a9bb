"""What live views and playbacks have in common: who holds one and why, the open-count limits,
and the memory of ended ids.

Both books (``views.ViewBook``, ``playback.PlaybackBook``) keep their open items as a
``Holding``, refuse a new one past ``video.max_<kind>_per_camera`` or ``video.max_<kind>``
(``LimitReached``, answered 429), and remember the last ``ENDED_REMEMBERED`` ended ids so a
late request hears that its item ended rather than "unknown".

Covers: BH-05, BH-07, BH-09, BH-11.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass, field

from guarita.errors import GuaritaError

__all__ = ["ENDED_REMEMBERED", "Holding", "LimitReached", "check_limits", "remember_ended"]

ENDED_REMEMBERED = 1000
"""Ended ids remembered, so a late request hears that its view or playback ended rather than "unknown"."""


class LimitReached(GuaritaError):
    """Too many open of a camera, or in all (answered 429)."""


@dataclass(eq=False)
class Holding:
    """One open view or playback: its ids, camera, and who holds it and why."""

    id: str
    key: str = field(repr=False)
    camera: str
    reason: str
    holder: str
    role: str
    agency: str | None


def check_limits(open_cameras: Collection[str], camera: str, *, per_camera: int, in_all: int, noun: str,
                 setting: str, error: type[LimitReached]) -> None:
    """Refuse one more ``noun`` (plural, "views") of ``camera`` given the cameras of those open.

    Raises:
        LimitReached: (as ``error``) ``video.<setting>_per_camera`` open of the camera or ``video.<setting>``
            in all.
    """
    if sum(1 for open_camera in open_cameras if open_camera == camera) >= per_camera:
        raise error(f"camera {camera!r} already has {per_camera} open {noun} (video.{setting}_per_camera); "
                    "end one or try later")
    if len(open_cameras) >= in_all:
        raise error(f"{in_all} {noun} are open (video.{setting}); end one or try later")


def remember_ended(ended: OrderedDict[str, str], item_id: str, why: str) -> None:
    """Note why ``item_id`` ended, forgetting the oldest past ``ENDED_REMEMBERED``."""
    ended[item_id] = why
    while len(ended) > ENDED_REMEMBERED:
        ended.popitem(last=False)
