"""Models of ``GET /api/config``: the parts Guarita reads, in every schema generation (0.14-0.17).

Frozen; unknown keys are ignored because Frigate adds keys from one release to the next.

Covers: PB-01, PB-09.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, JsonValue

from guarita.frigate._base import ApiModel, RetainMode

__all__ = [
    "CameraConfig",
    "DaysSetting",
    "DetectSettings",
    "FrigateConfig",
    "LegacyEventRetain",
    "LegacyRecordEvents",
    "MqttSettings",
    "RecordSettings",
    "RetainSettings",
    "ReviewRetention",
    "SnapshotRetain",
    "SnapshotSettings",
    "ZoneSettings",
]


class MqttSettings(ApiModel):
    """The global ``mqtt`` section: how Frigate talks to its broker."""

    enabled: bool = True
    host: str | None = None
    port: int = 1883
    topic_prefix: str = "frigate"
    client_id: str = "frigate"
    user: str | None = None
    stats_interval: int = 60
    qos: int = Field(default=0, ge=0, le=2)


class DaysSetting(ApiModel):
    """A ``{days: N}`` block (0.17 ``record.continuous`` / ``record.motion``)."""

    days: float = 0


class RetainSettings(ApiModel):
    """A ``retain: {days, mode}`` block."""

    days: float = 0
    mode: RetainMode | None = None


class ReviewRetention(ApiModel):
    """``record.alerts`` / ``record.detections`` (0.15+)."""

    pre_capture: int = 5
    post_capture: int = 5
    retain: RetainSettings = RetainSettings(days=10, mode=RetainMode.MOTION)


class LegacyEventRetain(ApiModel):
    """``record.events.retain`` (0.14 and older)."""

    default: float = 10
    mode: RetainMode | None = None
    objects: dict[str, float] = {}


class LegacyRecordEvents(ApiModel):
    """``record.events`` (0.14 and older)."""

    pre_capture: int = 5
    post_capture: int = 5
    retain: LegacyEventRetain = LegacyEventRetain()


class RecordSettings(ApiModel):
    """A ``record`` section in any schema generation (0.14 ``events``, 0.15-0.16 ``retain``, 0.17).

    Attributes:
        continuous: 0.17 continuous retention; None on older Frigate.
        motion: 0.17 motion retention; None on older Frigate.
        retain: 0.14-0.16 ``record.retain``; None on 0.17.
        alerts: 0.15+ retention of footage around alerts.
        detections: 0.15+ retention of footage around detections.
        events: 0.14 and older event retention.
    """

    enabled: bool = False
    expire_interval: int = 60
    sync_recordings: bool = False
    continuous: DaysSetting | None = None
    motion: DaysSetting | None = None
    retain: RetainSettings | None = None
    alerts: ReviewRetention | None = None
    detections: ReviewRetention | None = None
    events: LegacyRecordEvents | None = None

    @property
    def continuous_days(self) -> float:
        """Days every segment is kept, whatever the schema generation."""
        if self.continuous is not None:
            return self.continuous.days
        if self.retain is not None and self.retain.mode is RetainMode.ALL:
            return self.retain.days
        return 0

    @property
    def motion_days(self) -> float:
        """Days segments with motion are kept (Frigate's 0.17 migration rule for older keys)."""
        if self.motion is not None:
            return self.motion.days
        if self.retain is not None:
            return self.retain.days
        return 0

    @property
    def max_footage_days(self) -> float:
        """Upper bound of how long Frigate keeps any recorded segment of this camera."""
        days = [self.continuous_days, self.motion_days]
        for review in (self.alerts, self.detections):
            if review is not None:
                days.append(review.retain.days)
        if self.events is not None:
            days.append(self.events.retain.default)
            days.extend(self.events.retain.objects.values())
        return max(days)


class SnapshotRetain(ApiModel):
    """``snapshots.retain``."""

    default: float = 10
    objects: dict[str, float] = {}


class SnapshotSettings(ApiModel):
    """``snapshots`` (global or per camera)."""

    enabled: bool = False
    retain: SnapshotRetain = SnapshotRetain()


class DetectSettings(ApiModel):
    """``cameras.<name>.detect``."""

    enabled: bool = True
    width: int | None = None
    height: int | None = None
    fps: int = 5


class ZoneSettings(ApiModel):
    """``cameras.<name>.zones.<zone>``."""

    coordinates: str | list[str] = ""
    objects: list[str] = []


class CameraConfig(ApiModel):
    """One entry of ``cameras``."""

    name: str
    enabled: bool = True
    friendly_name: str | None = None
    detect: DetectSettings = DetectSettings()
    record: RecordSettings = RecordSettings()
    snapshots: SnapshotSettings = SnapshotSettings()
    zones: dict[str, ZoneSettings] = {}


class FrigateConfig(ApiModel):
    """``GET /api/config``: the parts Guarita reads, plus the whole answer in ``raw``.

    Attributes:
        version: Config-schema version written by Frigate's migrator, e.g. ``0.17-0``.
        mqtt: Global MQTT settings.
        cameras: Cameras by name.
        record: Global ``record`` section, if present.
        raw: The JSON object exactly as Frigate sent it.
    """

    version: str | None = None
    mqtt: MqttSettings = MqttSettings()
    cameras: dict[str, CameraConfig] = {}
    record: RecordSettings | None = None
    raw: dict[str, JsonValue] = Field(default_factory=dict, repr=False, exclude=True)

    @classmethod
    def from_api(cls, data: Any) -> FrigateConfig:
        """Validate Frigate's JSON answer and keep it whole in ``raw``.

        Raises:
            pydantic.ValidationError: the answer does not look like a Frigate config.
        """
        if not isinstance(data, dict):
            return cls.model_validate(data)
        return cls.model_validate({**data, "raw": data})

    @property
    def camera_names(self) -> tuple[str, ...]:
        """Camera names in Frigate's order."""
        return tuple(self.cameras)
