"""What a program plugin is: map a Frigate event to the program's topic and payload.

Covers: PB-05.
"""

from __future__ import annotations

from typing import Any, Protocol

from guarita.config import CameraConfig, ProgramName
from guarita.tracked_object import TrackedObjectEvent

__all__ = ["ProgramPlugin"]


class ProgramPlugin(Protocol):
    """One program's view of an event; a new program is one module implementing this."""

    @property
    def program(self) -> ProgramName:
        """The program this plugin serves."""
        ...

    def event_topics(self, camera_name: str, camera: CameraConfig) -> list[str]:
        """The uplink topics for this camera's events (the first is the provider's own)."""
        ...

    def event_payload(self, event: TrackedObjectEvent, seq: int, camera: CameraConfig) -> dict[str, Any]:
        """The JSON-ready payload for one event message."""
        ...
