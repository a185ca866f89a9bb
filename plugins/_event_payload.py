"""The ``guarita.event/1`` payload common to every program.

Covers: PB-05, BH-07, BH-11, DT-02.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from guarita.tracked_object import TrackedObjectEvent

__all__ = ["EVENT_SCHEMA", "base_event_payload", "iso_utc"]

EVENT_SCHEMA = "guarita.event/1"


def iso_utc(timestamp: float | None) -> str | None:
    """Frigate's epoch-seconds float → ISO 8601 UTC with milliseconds (``...Z``)."""
    if timestamp is None:
        return None
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def base_event_payload(event: TrackedObjectEvent, seq: int, provider: str) -> dict[str, Any]:
    """Fields every program receives. No image bytes and nothing about the client (BH-07)."""
    return {
        "schema": EVENT_SCHEMA,
        "id": event.id,
        "type": event.type.value,
        "seq": seq,
        "provider": provider,
        "camera": event.camera,
        "label": event.label,
        "sub_label": event.sub_label,
        "score": round(event.score, 4),
        "top_score": round(event.top_score, 4),
        "start_time": iso_utc(event.start_time),
        "end_time": iso_utc(event.end_time),
        "zones": list(event.zones),
        "has_clip": event.has_clip,
        "has_snapshot": event.has_snapshot,
    }
