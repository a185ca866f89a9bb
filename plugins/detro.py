"""DETRO/RJ (Portaria 958/2009): events of onboard bus cameras, by vehicle.

Topic ``<root>/<provider>/vehicles/<vehicle>/events``; payload ``guarita.event/1`` plus
``vehicle``.

Covers: DT-02, DT-05, DT-08, PB-05.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from guarita.config import CameraConfig, ProgramForwardConfig, ProgramName
from guarita.plugins._event_payload import base_event_payload
from guarita.tracked_object import TrackedObjectEvent

__all__ = ["DetroPlugin"]


@dataclass(frozen=True)
class DetroPlugin:
    """Maps events for DETRO's control centre."""

    provider: str
    topic_root: str = "detro/v1"
    program: ProgramName = ProgramName.DETRO
    forward: ProgramForwardConfig = field(default_factory=ProgramForwardConfig)  # identifying fields: off

    def event_topics(self, camera_name: str, camera: CameraConfig) -> list[str]:
        return [f"{self.topic_root}/{self.provider}/vehicles/{camera.vehicle}/events"]

    def event_payload(self, event: TrackedObjectEvent, seq: int, camera: CameraConfig) -> dict[str, Any]:
        payload = base_event_payload(event, seq, self.provider, self.forward)
        payload["vehicle"] = camera.vehicle
        return payload
