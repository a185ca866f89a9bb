"""Sensor events from one vehicle's samples, in time order, by the configured thresholds.

=====================  ================================================================
``harsh_braking``      ``accel_long_mps2`` at or below ``harsh_braking_mps2`` (−2.5)
``harsh_acceleration`` ``accel_long_mps2`` at or above ``harsh_acceleration_mps2`` (2.5)
``sharp_turn``         ``|accel_lat_mps2|`` at or above ``sharp_turn_mps2`` (3.0)
``overspeed``          ``speed_kmh`` above the vehicle's line limit
                       (``line_speed_limits_kmh``), else ``overspeed_kmh`` (80)
``power_loss``         ``main_power`` goes false
=====================  ================================================================

One event per episode: a sample over a threshold within ``cooldown_s`` of the last sample
over the same threshold (same vehicle) belongs to the same event, whose value is the peak
(the most extreme sample). A ``power_loss`` lasts until a sample says the power is back, and
a new loss within ``cooldown_s`` of the last one is the same event.

An event's id is ``<vehicle>-<type>-<epoch ms of its first sample>``: the same samples give
the same ids whether they arrive over MQTT or later from the DVR's file.

Covers: DT-13, DT-16, DT-22.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum

from guarita.config import TelemetryThresholds
from guarita.telemetry.sample import Sample

__all__ = ["Episode", "EventDetector", "SensorEventType", "event_id", "more_extreme", "unit_of"]


class SensorEventType(StrEnum):
    """What a sensor event says happened."""

    HARSH_BRAKING = "harsh_braking"
    HARSH_ACCELERATION = "harsh_acceleration"
    SHARP_TURN = "sharp_turn"
    OVERSPEED = "overspeed"
    POWER_LOSS = "power_loss"


_UNITS = {
    SensorEventType.HARSH_BRAKING: "m/s2",
    SensorEventType.HARSH_ACCELERATION: "m/s2",
    SensorEventType.SHARP_TURN: "m/s2",
    SensorEventType.OVERSPEED: "km/h",
}


def unit_of(kind: SensorEventType) -> str | None:
    """The unit of an event's value and threshold (None for ``power_loss``, which has none)."""
    return _UNITS.get(kind)


def event_id(vehicle: str, kind: SensorEventType, first: Sample) -> str:
    """``<vehicle>-<type>-<epoch ms of the first sample>``."""
    return f"{vehicle}-{kind.value}-{first.epoch_ms}"


def more_extreme(kind: SensorEventType, value: float | None, than: float | None) -> bool:
    """Whether ``value`` is a new peak over ``than`` for this kind of event."""
    if value is None:
        return False
    if than is None:
        return True
    if kind is SensorEventType.HARSH_BRAKING:
        return value < than
    if kind is SensorEventType.SHARP_TURN:
        return abs(value) > abs(than)
    return value > than


@dataclass(frozen=True)
class Episode:
    """One sensor event as far as the samples seen tell.

    ``ts``, ``lat``, ``lon`` and ``speed_kmh`` are those of the first sample; ``value`` is
    the peak and ``peak_ts`` its time; ``last_ts`` is the last sample over the threshold;
    ``ended_ts`` (``power_loss`` only) is when a sample said the power was back.
    """

    id: str
    vehicle: str
    type: SensorEventType
    ts: float
    lat: float | None
    lon: float | None
    speed_kmh: float | None
    value: float | None
    threshold: float | None
    peak_ts: float
    last_ts: float
    ended_ts: float | None = None


class EventDetector:
    """Feeds one vehicle's samples, oldest first, into episodes; see the module docstring.

    ``open_episodes`` are the latest stored events of the vehicle (at most one per type),
    so an episode that began in an earlier batch or file goes on in this one.
    """

    def __init__(
        self,
        vehicle: str,
        thresholds: TelemetryThresholds,
        line: str | None,
        open_episodes: Iterable[Episode] = (),
    ) -> None:
        self.vehicle = vehicle
        self._t = thresholds
        self.speed_limit = thresholds.line_speed_limits_kmh.get(line or "", thresholds.overspeed_kmh)
        self._open: dict[SensorEventType, Episode] = {e.type: e for e in open_episodes}
        self._touched: dict[str, Episode] = {}

    def _over(self, sample: Sample) -> list[tuple[SensorEventType, float | None, float | None]]:
        t = self._t
        found: list[tuple[SensorEventType, float | None, float | None]] = []
        if sample.accel_long_mps2 <= t.harsh_braking_mps2:
            found.append((SensorEventType.HARSH_BRAKING, sample.accel_long_mps2, t.harsh_braking_mps2))
        if sample.accel_long_mps2 >= t.harsh_acceleration_mps2:
            found.append((SensorEventType.HARSH_ACCELERATION, sample.accel_long_mps2, t.harsh_acceleration_mps2))
        if abs(sample.accel_lat_mps2) >= t.sharp_turn_mps2:
            found.append((SensorEventType.SHARP_TURN, sample.accel_lat_mps2, t.sharp_turn_mps2))
        if sample.speed_kmh > self.speed_limit:
            found.append((SensorEventType.OVERSPEED, sample.speed_kmh, self.speed_limit))
        if sample.main_power is False:
            found.append((SensorEventType.POWER_LOSS, None, None))
        return found

    def _continues(self, episode: Episode, sample: Sample) -> bool:
        if episode.type is SensorEventType.POWER_LOSS and episode.ended_ts is None:
            return True  # the power never came back: still the same loss, however long the gap
        return sample.ts - episode.last_ts <= self._t.cooldown_s

    def feed(self, sample: Sample) -> None:
        """Take the next sample (not older than the previous one fed)."""
        power = self._open.get(SensorEventType.POWER_LOSS)
        if sample.main_power is True and power is not None and power.ended_ts is None and sample.ts > power.last_ts:
            self._keep(replace(power, ended_ts=sample.ts))
        for kind, value, threshold in self._over(sample):
            current = self._open.get(kind)
            if current is not None and self._continues(current, sample):
                grown = replace(current, last_ts=max(current.last_ts, sample.ts), ended_ts=None)
                if more_extreme(kind, value, current.value):
                    grown = replace(grown, value=value, peak_ts=sample.ts)
                self._keep(grown)
            else:
                self._keep(Episode(
                    id=event_id(self.vehicle, kind, sample), vehicle=self.vehicle, type=kind, ts=sample.ts,
                    lat=sample.lat, lon=sample.lon, speed_kmh=sample.speed_kmh, value=value, threshold=threshold,
                    peak_ts=sample.ts, last_ts=sample.ts,
                ))

    def _keep(self, episode: Episode) -> None:
        self._open[episode.type] = episode
        self._touched[episode.id] = episode

    def touched(self) -> list[Episode]:
        """Every episode begun or changed by the samples fed, by first sample time."""
        return sorted(self._touched.values(), key=lambda e: (e.ts, e.type.value))
