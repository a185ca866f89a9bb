"""The ``guarita.event/1`` payload common to every program.

Identifying fields (Frigate's ``sub_label``, e.g. a face match, and its recognised licence
plate) are withheld unless the program's config opts in with a legal basis
(``programs.<program>.forward``): a withheld field is absent from the payload, not null.

Covers: PB-05, BH-07, BH-11, DT-02.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from guarita.config import ProgramForwardConfig
from guarita.tracked_object import TrackedObjectEvent

__all__ = ["EVENT_SCHEMA", "base_event_payload", "iso_utc"]

EVENT_SCHEMA = "guarita.event/1"
_WITHHOLD_ALL = ProgramForwardConfig()


def iso_utc(timestamp: float | None) -> str | None:
    """Frigate's epoch-seconds float → ISO 8601 UTC with milliseconds (``...Z``)."""
    if timestamp is None:
        return None
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def base_event_payload(
    event: TrackedObjectEvent, seq: int, provider: str, forward: ProgramForwardConfig = _WITHHOLD_ALL
) -> dict[str, Any]:
    """Fields every program receives. No image bytes and nothing about the client (BH-07)."""
    payload: dict[str, Any] = {
        "schema": EVENT_SCHEMA,
        "id": event.id,
        "type": event.type.value,
        "seq": seq,
        "provider": provider,
        "camera": event.camera,
        "label": event.label,
    }
    if forward.sub_label.enabled:
        payload["sub_label"] = event.sub_label
    if forward.license_plate.enabled:
        payload["license_plate"] = event.license_plate
    payload.update({
        "score": round(event.score, 4),
        "top_score": round(event.top_score, 4),
        "start_time": iso_utc(event.start_time),
        "end_time": iso_utc(event.end_time),
        "zones": list(event.zones),
        "has_clip": event.has_clip,
        "has_snapshot": event.has_snapshot,
    })
    return payload
