"""COP-BH (Belo Horizonte, program "BH + Segura"): events of shared street cameras.

Topic ``<root>/<provider>/events/<camera>``, and a copy under
``<root>/agency/<agency>/<provider>/events/<camera>`` for every agency whose area covers the
camera (so the city's broker can give each institution only its own subtree); payload
``guarita.event/1`` plus ``location`` and ``agencies``.

Covers: BH-01, BH-05, BH-11, PB-05.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from guarita.config import CameraConfig, ProgramForwardConfig, ProgramName
from guarita.plugins._event_payload import base_event_payload
from guarita.tracked_object import TrackedObjectEvent

__all__ = ["CopBhPlugin"]


@dataclass(frozen=True)
class CopBhPlugin:
    """Maps events for COP-BH."""

    provider: str
    topic_root: str = "copbh/v1"
    agencies: Callable[[str], tuple[str, ...]] = field(default=lambda camera: ())
    program: ProgramName = ProgramName.COP_BH
    forward: ProgramForwardConfig = field(default_factory=ProgramForwardConfig)  # identifying fields: off

    def event_topics(self, camera_name: str, camera: CameraConfig) -> list[str]:
        own = f"{self.provider}/events/{camera_name}"
        return [f"{self.topic_root}/{own}"] + [
            f"{self.topic_root}/agency/{agency}/{own}" for agency in self.agencies(camera_name)
        ]

    def event_payload(self, event: TrackedObjectEvent, seq: int, camera: CameraConfig) -> dict[str, Any]:
        payload = base_event_payload(event, seq, self.provider, self.forward)
        location = camera.location
        payload["location"] = (
            {"lat": location.lat, "lon": location.lon, "heading": camera.heading} if location is not None else None
        )
        payload["agencies"] = list(self.agencies(event.camera))
        return payload
