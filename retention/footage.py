"""Which footage a hold or an evidence request names: a Frigate camera, or a bus DVR's camera.

A ``FootageSource`` is either a Frigate camera by name (a security company's camera; its
footage lives in Frigate and, later, in the cloud copy) or a vehicle's DVR camera by number
(the DETRO archive). A vehicle without a camera number stands for all its cameras. Times are
aware UTC; ISO 8601 text without an offset is read in the fleet's time zone.

Covers: PB-04, BH-08, DT-04, DT-06.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from guarita.config import GuaritaConfig
from guarita.errors import GuaritaError
from guarita.local_time import local_zone

__all__ = ["FootageSource", "RetentionError", "TimeWindow", "check_source", "iso", "parse_instant", "parse_window"]


class RetentionError(GuaritaError):
    """A retention, hold or evidence command cannot be carried out as asked."""


def iso(moment: float) -> str:
    """``moment`` (epoch seconds) as ISO 8601 UTC, to the second."""
    return dt.datetime.fromtimestamp(moment, dt.UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class FootageSource:
    """A Frigate camera (``camera``) or a vehicle's DVR camera (``vehicle``, ``camera_number``)."""

    camera: str | None = None
    vehicle: str | None = None
    camera_number: int | None = None

    def __post_init__(self) -> None:
        if (self.camera is None) == (self.vehicle is None):
            raise RetentionError("name either a camera (--camera) or a vehicle (--vehicle), not both or neither")
        if self.camera_number is not None and self.vehicle is None:
            raise RetentionError("--camera-number goes with --vehicle")

    @property
    def label(self) -> str:
        """How commands and manifests name it."""
        if self.camera is not None:
            return f"camera {self.camera}"
        number = "all cameras" if self.camera_number is None else f"camera {self.camera_number}"
        return f"vehicle {self.vehicle} {number}"

    def covers(self, other: FootageSource) -> bool:
        """True when footage of ``other`` falls under this source."""
        if self.camera is not None:
            return self.camera == other.camera
        return self.vehicle == other.vehicle and self.camera_number in (None, other.camera_number)

    def as_json(self) -> dict[str, Any]:
        """The JSON form kept in the store and the manifest."""
        if self.camera is not None:
            return {"camera": self.camera}
        return {"vehicle": self.vehicle, "camera_number": self.camera_number}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FootageSource:
        """Read :meth:`as_json` back."""
        return cls(camera=data.get("camera"), vehicle=data.get("vehicle"), camera_number=data.get("camera_number"))


@dataclass(frozen=True)
class TimeWindow:
    """``[start, end)`` in epoch seconds."""

    start: float
    end: float

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise RetentionError(f"the window ends ({iso(self.end)}) before it starts ({iso(self.start)})")

    def overlaps(self, start: float, end: float) -> bool:
        """True when ``[start, end)`` shares any instant with the window."""
        return start < self.end and end > self.start

    def as_json(self) -> dict[str, str]:
        """``{"from": ISO, "to": ISO}``."""
        return {"from": iso(self.start), "to": iso(self.end)}


def parse_instant(text: str, zone: dt.tzinfo) -> dt.datetime:
    """ISO 8601 ``text``; without an offset it is local time in ``zone``.

    Raises:
        RetentionError: ``text`` is not an ISO 8601 date and time.
    """
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise RetentionError(f"{text!r} is not an ISO 8601 date and time (e.g. 2026-11-20T08:00)") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def parse_window(start: str, end: str, config: GuaritaConfig) -> TimeWindow:
    """``--from``/``--to`` as a window, read in the fleet's time zone (the system's without a fleet)."""
    zone = local_zone(config.fleet.timezone) if config.fleet is not None else local_zone()
    return TimeWindow(parse_instant(start, zone).timestamp(), parse_instant(end, zone).timestamp())


def check_source(config: GuaritaConfig, source: FootageSource) -> None:
    """Refuse a camera or vehicle the config does not have.

    Raises:
        RetentionError: unknown camera, vehicle, or camera number.
    """
    if source.camera is not None:
        if source.camera not in config.cameras:
            raise RetentionError(f"camera {source.camera!r} is not under `cameras` in the config")
        return
    vehicles = config.fleet.vehicles if config.fleet is not None else {}
    if source.vehicle not in vehicles:
        raise RetentionError(f"vehicle {source.vehicle!r} is not under fleet.vehicles")
    dvr = vehicles[source.vehicle].dvr
    if source.camera_number is not None and (dvr is None or source.camera_number not in dvr.cameras):
        raise RetentionError(f"vehicle {source.vehicle} has no DVR camera {source.camera_number}")
