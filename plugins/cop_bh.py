"""COP-BH (Belo Horizonte, program "BH + Segura"): events of shared street cameras.

Topic ``<root>/<provider>/events/<camera>``; payload ``guarita.event/1`` plus ``location``.

Covers: BH-01, BH-11, PB-05.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from guarita.config import CameraConfig, ProgramName
from guarita.plugins._event_payload import base_event_payload
from guarita.tracked_object import TrackedObjectEvent

__all__ = ["CopBhPlugin"]


@dataclass(frozen=True)
class CopBhPlugin:
    """Maps events for COP-BH."""

    provider: str
    topic_root: str = "copbh/v1"
    program: ProgramName = ProgramName.COP_BH

    def event_topic(self, camera_name: str, camera: CameraConfig) -> str:
        return f"{self.topic_root}/{self.provider}/events/{camera_name}"

    def event_payload(self, event: TrackedObjectEvent, seq: int, camera: CameraConfig) -> dict[str, Any]:
        payload = base_event_payload(event, seq, self.provider)
        location = camera.location
        payload["location"] = (
            {"lat": location.lat, "lon": location.lon, "heading": camera.heading} if location is not None else None
        )
        return payload
