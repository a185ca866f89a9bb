"""Pydantic models of Frigate's API answers other than the config, after the 0.14-0.17 contract.

Every model is frozen and ignores unknown keys, because Frigate adds keys from one release to
the next. Timestamps are Unix epoch seconds as floats (UTC), exactly as Frigate sends them.

Covers: PB-01, PB-09.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import Field, JsonValue, field_validator

from guarita.frigate._base import ApiModel, Severity

__all__ = [
    "CameraStats",
    "DetectorStats",
    "Event",
    "EventAttribute",
    "EventData",
    "Export",
    "FrigateStats",
    "RecordingSegment",
    "RecordingsDay",
    "RecordingsHour",
    "ReviewData",
    "ReviewItem",
    "ServiceStats",
    "StorageStats",
]


# --- /api/stats ---------------------------------------------------------------------------


class CameraStats(ApiModel):
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


class DetectorStats(ApiModel):
    """``stats.detectors.<name>``."""

    inference_speed: float = 0
    detection_start: float = 0
    pid: int | None = None


class StorageStats(ApiModel):
    """One mount in ``stats.service.storage`` (MiB)."""

    total: float = 0
    used: float = 0
    free: float = 0
    mount_type: str | None = None


class ServiceStats(ApiModel):
    """``stats.service``."""

    uptime: int = 0
    version: str = ""
    latest_version: str | None = None
    storage: dict[str, StorageStats] = {}
    last_updated: int | None = None


class FrigateStats(ApiModel):
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


class EventAttribute(ApiModel):
    """An attribute (face, license_plate, ...) seen on a tracked object; box relative 0-1."""

    box: list[float] = []
    label: str
    score: float


class EventData(ApiModel):
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


class Event(ApiModel):
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


class ReviewData(ApiModel):
    """The ``data`` of a review item."""

    detections: list[str] = []
    objects: list[str] = []
    verified_objects: list[str] = []
    sub_labels: list[str] = []
    zones: list[str] = []
    audio: list[str] = []
    thumb_time: float | None = None
    metadata: dict[str, JsonValue] | None = None


class ReviewItem(ApiModel):
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


class RecordingSegment(ApiModel):
    """One recorded segment from ``GET /api/<camera>/recordings``; size in MB."""

    id: str
    start_time: float
    end_time: float
    segment_size: float = 0
    motion: int | None = None
    objects: int | None = None
    duration: float = 0


class RecordingsHour(ApiModel):
    """One hour of ``GET /api/<camera>/recordings/summary``."""

    hour: str
    events: int = 0
    motion: int | None = None
    objects: int | None = None
    duration: float = 0


class RecordingsDay(ApiModel):
    """One day of ``GET /api/<camera>/recordings/summary`` (hours newest first)."""

    day: date
    events: int = 0
    hours: list[RecordingsHour] = []


class Export(ApiModel):
    """An export from ``GET /api/exports/<id>``; ``date`` is the export's start time."""

    id: str
    camera: str
    name: str = ""
    date: float
    video_path: str = ""
    thumb_path: str = ""
    in_progress: bool = False
