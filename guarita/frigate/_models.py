"""Pydantic models of Frigate's API answers, shaped after the 0.14-0.17 contract.

Every model is frozen and ignores unknown keys, because Frigate adds keys from one release to
the next. Timestamps are Unix epoch seconds as floats (UTC), exactly as Frigate sends them.

Covers: PB-01, PB-09.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

__all__ = [
    "CameraConfig",
    "CameraStats",
    "DaysSetting",
    "DetectSettings",
    "DetectorStats",
    "Event",
    "EventAttribute",
    "EventData",
    "EventSort",
    "Export",
    "FrigateConfig",
    "FrigateStats",
    "LegacyEventRetain",
    "LegacyRecordEvents",
    "MqttSettings",
    "Playback",
    "RecordSettings",
    "RecordingSegment",
    "RecordingsDay",
    "RecordingsHour",
    "RetainMode",
    "RetainSettings",
    "ReviewData",
    "ReviewItem",
    "ReviewRetention",
    "ServiceStats",
    "Severity",
    "SnapshotRetain",
    "SnapshotSettings",
    "StorageStats",
    "ZoneSettings",
]


class _ApiModel(BaseModel):
    """Base of every API answer: frozen, unknown keys dropped."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class Severity(StrEnum):
    """Severity of a review item or of a tracked object's ``max_severity``."""

    ALERT = "alert"
    DETECTION = "detection"


class RetainMode(StrEnum):
    """Which segments a retention rule keeps."""

    ALL = "all"
    MOTION = "motion"
    ACTIVE_OBJECTS = "active_objects"


class EventSort(StrEnum):
    """Sort orders accepted by ``GET /api/events``."""

    DATE_DESC = "date_desc"
    DATE_ASC = "date_asc"
    SCORE_DESC = "score_desc"
    SCORE_ASC = "score_asc"
    SPEED_DESC = "speed_desc"
    SPEED_ASC = "speed_asc"


class Playback(StrEnum):
    """Export playback modes."""

    REALTIME = "realtime"
    TIMELAPSE_25X = "timelapse_25x"


# --- /api/config --------------------------------------------------------------------------


class MqttSettings(_ApiModel):
    """The global ``mqtt`` section: how Frigate talks to its broker."""

    enabled: bool = True
    host: str | None = None
    port: int = 1883
    topic_prefix: str = "frigate"
    client_id: str = "frigate"
    user: str | None = None
    stats_interval: int = 60
    qos: int = Field(default=0, ge=0, le=2)


class DaysSetting(_ApiModel):
    """A ``{days: N}`` block (0.17 ``record.continuous`` / ``record.motion``)."""

    days: float = 0


class RetainSettings(_ApiModel):
    """A ``retain: {days, mode}`` block."""

    days: float = 0
    mode: RetainMode | None = None


class ReviewRetention(_ApiModel):
    """``record.alerts`` / ``record.detections`` (0.15+)."""

    pre_capture: int = 5
    post_capture: int = 5
    retain: RetainSettings = RetainSettings(days=10, mode=RetainMode.MOTION)


class LegacyEventRetain(_ApiModel):
    """``record.events.retain`` (0.14 and older)."""

    default: float = 10
    mode: RetainMode | None = None
    objects: dict[str, float] = {}


class LegacyRecordEvents(_ApiModel):
    """``record.events`` (0.14 and older)."""

    pre_capture: int = 5
    post_capture: int = 5
    retain: LegacyEventRetain = LegacyEventRetain()


class RecordSettings(_ApiModel):
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


class SnapshotRetain(_ApiModel):
    """``snapshots.retain``."""

    default: float = 10
    objects: dict[str, float] = {}


class SnapshotSettings(_ApiModel):
    """``snapshots`` (global or per camera)."""

    enabled: bool = False
    retain: SnapshotRetain = SnapshotRetain()


class DetectSettings(_ApiModel):
    """``cameras.<name>.detect``."""

    enabled: bool = True
    width: int | None = None
    height: int | None = None
    fps: int = 5


class ZoneSettings(_ApiModel):
    """``cameras.<name>.zones.<zone>``."""

    coordinates: str | list[str] = ""
    objects: list[str] = []


class CameraConfig(_ApiModel):
    """One entry of ``cameras``."""

    name: str
    enabled: bool = True
    friendly_name: str | None = None
    detect: DetectSettings = DetectSettings()
    record: RecordSettings = RecordSettings()
    snapshots: SnapshotSettings = SnapshotSettings()
    zones: dict[str, ZoneSettings] = {}


class FrigateConfig(_ApiModel):
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


# --- /api/stats ---------------------------------------------------------------------------


class CameraStats(_ApiModel):
    """``stats.cameras.<name>``."""

    camera_fps: float = 0
    process_fps: float = 0
    skipped_fps: float = 0
    detection_fps: float = 0
    detection_enabled: bool | None = None
    pid: int | None = None
    capture_pid: int | None = None
    ffmpeg_pid: int | None = None
    audio_rms: float | None = None
    audio_dBFS: float | None = None


class DetectorStats(_ApiModel):
    """``stats.detectors.<name>``."""

    inference_speed: float = 0
    detection_start: float = 0
    pid: int | None = None


class StorageStats(_ApiModel):
    """One mount in ``stats.service.storage`` (MiB)."""

    total: float = 0
    used: float = 0
    free: float = 0
    mount_type: str | None = None


class ServiceStats(_ApiModel):
    """``stats.service``."""

    uptime: int = 0
    version: str = ""
    latest_version: str | None = None
    storage: dict[str, StorageStats] = {}
    last_updated: int | None = None


class FrigateStats(_ApiModel):
    """``GET /api/stats`` (same object as MQTT ``<prefix>/stats``)."""

    cameras: dict[str, CameraStats] = {}
    detectors: dict[str, DetectorStats] = {}
    camera_fps: float = 0
    process_fps: float = 0
    skipped_fps: float = 0
    detection_fps: float = 0
    service: ServiceStats = ServiceStats()
    raw: dict[str, JsonValue] = Field(default_factory=dict, repr=False, exclude=True)

    @classmethod
    def from_api(cls, data: Any) -> FrigateStats:
        """Validate Frigate's JSON answer and keep it whole in ``raw``."""
        if not isinstance(data, dict):
            return cls.model_validate(data)
        return cls.model_validate({**data, "raw": data})


# --- /api/events --------------------------------------------------------------------------

PathPoint = tuple[tuple[float, float], float]


class EventAttribute(_ApiModel):
    """An attribute (face, license_plate, ...) seen on a tracked object; box relative 0-1."""

    box: list[float] = []
    label: str
    score: float


class EventData(_ApiModel):
    """The ``data`` column of an event row (keys vary with type and Frigate version)."""

    type: str = "object"
    box: list[float] | None = None
    region: list[float] | None = None
    score: float | None = None
    top_score: float | None = None
    attributes: list[EventAttribute] | None = None
    average_estimated_speed: float | None = None
    velocity_angle: float | None = None
    max_severity: Severity | None = None
    path_data: list[PathPoint] | None = None
    sub_label_score: float | None = None
    recognized_license_plate: str | None = None
    recognized_license_plate_score: float | None = None
    description: str | None = None


class Event(_ApiModel):
    """A tracked object ("event") from ``GET /api/events`` or ``GET /api/events/<id>``."""

    id: str
    camera: str
    label: str
    zones: list[str] = []
    start_time: float
    end_time: float | None = None
    has_clip: bool = False
    has_snapshot: bool = False
    plus_id: str | None = None
    retain_indefinitely: bool = False
    sub_label: str | None = None
    top_score: float | None = None
    false_positive: bool | None = None
    box: list[float] | None = None
    data: EventData = EventData()
    thumbnail: str | None = None
    model_hash: str | None = None
    detector_type: str | None = None
    model_type: str | None = None

    @field_validator("sub_label", mode="before")
    @classmethod
    def _sub_label_name(cls, value: Any) -> Any:
        """Accept ``[name, score]`` (MQTT shape) as well as the plain name."""
        if isinstance(value, list | tuple):
            return value[0] if value else None
        return value

    @property
    def in_progress(self) -> bool:
        """True while Frigate still tracks the object (no ``end_time`` yet)."""
        return self.end_time is None


# --- /api/review --------------------------------------------------------------------------


class ReviewData(_ApiModel):
    """The ``data`` of a review item."""

    detections: list[str] = []
    objects: list[str] = []
    verified_objects: list[str] = []
    sub_labels: list[str] = []
    zones: list[str] = []
    audio: list[str] = []
    thumb_time: float | None = None
    metadata: dict[str, JsonValue] | None = None


class ReviewItem(_ApiModel):
    """A review item (alert or detection) from ``GET /api/review``."""

    id: str
    camera: str
    start_time: float
    end_time: float | None = None
    severity: Severity
    thumb_path: str | None = None
    data: ReviewData = ReviewData()
    has_been_reviewed: bool = False


# --- recordings and exports ---------------------------------------------------------------


class RecordingSegment(_ApiModel):
    """One recorded segment from ``GET /api/<camera>/recordings``; size in MB."""

    id: str
    start_time: float
    end_time: float
    segment_size: float = 0
    motion: int | None = None
    objects: int | None = None
    duration: float = 0


class RecordingsHour(_ApiModel):
    """One hour of ``GET /api/<camera>/recordings/summary``."""

    hour: str
    events: int = 0
    motion: int | None = None
    objects: int | None = None
    duration: float = 0


class RecordingsDay(_ApiModel):
    """One day of ``GET /api/<camera>/recordings/summary`` (hours newest first)."""

    day: date
    events: int = 0
    hours: list[RecordingsHour] = []


class Export(_ApiModel):
    """An export from ``GET /api/exports/<id>``; ``date`` is the export's start time."""

    id: str
    camera: str
    name: str = ""
    date: float
    video_path: str = ""
    thumb_path: str = ""
    in_progress: bool = False
