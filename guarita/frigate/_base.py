"""Base model and enumerations shared by the Frigate API models.

Covers: PB-01, PB-09.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

__all__ = ["ApiModel", "EventSort", "Playback", "RetainMode", "Severity"]


class ApiModel(BaseModel):
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
