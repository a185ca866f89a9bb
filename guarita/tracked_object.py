"""Parse Frigate's MQTT ``<prefix>/events`` and ``<prefix>/reviews`` payloads.

Only the fields Guarita forwards are typed; Frigate adds keys between versions, so other
keys are ignored. Anything that does not parse raises ``MalformedPayload`` with a reason a
technician can read (the bridge quarantines it). ``sub_label`` is a plain string in
0.14 and ``[name, score]`` from 0.15 on; both become the name.

Covers: PB-05, BH-11, DT-02.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, ValidationError

__all__ = [
    "EventType",
    "MalformedPayload",
    "ReviewMessage",
    "TrackedObjectEvent",
    "parse_event",
    "parse_review",
]


class EventType(StrEnum):
    """Frigate's tracked-object message types."""

    NEW = "new"
    UPDATE = "update"
    END = "end"


class MalformedPayload(ValueError):
    """A Frigate payload that cannot be used; ``kind`` groups reasons for counting."""

    def __init__(self, kind: str, reason: str) -> None:
        self.kind = kind
        self.reason = reason
        super().__init__(reason)


def _sub_label_name(value: object) -> object:
    """0.14 sends ``"john"``; 0.15+ send ``["john", 0.91]``; both mean the name."""
    if isinstance(value, list | tuple):
        if len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], int | float):
            return value[0]
        raise ValueError("sub_label must be a string, [name, score] or null")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)


# Epoch seconds between 2000-01-01 and 2100-01-01: anything else is a corrupt clock or payload.
Timestamp = Annotated[float, Field(ge=946_684_800, le=4_102_444_800)]
Score = Annotated[float, Field(ge=0, le=1)]


class _TrackedObject(_Strict):
    id: str = Field(min_length=1, max_length=128)
    camera: str = Field(min_length=1, max_length=128)
    label: str = Field(min_length=1, max_length=128)
    sub_label: Annotated[str | None, BeforeValidator(_sub_label_name)] = None
    score: Score
    top_score: Score
    start_time: Timestamp
    end_time: Timestamp | None = None
    frame_time: Timestamp
    entered_zones: list[str] = Field(default_factory=list)
    has_clip: StrictBool
    has_snapshot: StrictBool


class _EventMessage(_Strict):
    type: EventType
    after: _TrackedObject  # `before` is not needed: `after` is the state to forward


@dataclass(frozen=True)
class TrackedObjectEvent:
    """One Frigate tracked-object message, reduced to what Guarita forwards."""

    type: EventType
    id: str
    camera: str
    label: str
    sub_label: str | None
    score: float
    top_score: float
    start_time: float
    end_time: float | None
    frame_time: float
    zones: tuple[str, ...]
    has_clip: bool
    has_snapshot: bool


def _describe(exc: ValidationError) -> tuple[str, str]:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(payload)"
    kind = first["type"]
    if kind == "json_invalid":
        return "not_json", f"not valid JSON: {first['msg']}"
    if kind == "model_type" and not first["loc"]:
        return "not_an_object", "payload is not a JSON object"
    if kind == "missing":
        return "missing_field", f"missing field {where}"
    if kind == "enum":
        return "unknown_type", f"unknown event type {first.get('input')!r}"
    extra = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return "wrong_type", f"{where}: {first['msg']}{extra}"


def parse_event(payload: bytes) -> TrackedObjectEvent:
    """Parse a ``<prefix>/events`` payload.

    Raises:
        MalformedPayload: not JSON, wrong types, missing fields or an unknown type.
    """
    try:
        message = _EventMessage.model_validate_json(payload)
    except ValidationError as exc:
        raise MalformedPayload(*_describe(exc)) from exc
    after = message.after
    return TrackedObjectEvent(
        type=message.type,
        id=after.id,
        camera=after.camera,
        label=after.label,
        sub_label=after.sub_label,
        score=after.score,
        top_score=after.top_score,
        start_time=after.start_time,
        end_time=after.end_time,
        frame_time=after.frame_time,
        zones=tuple(after.entered_zones),
        has_clip=after.has_clip,
        has_snapshot=after.has_snapshot,
    )


class _ReviewSegment(_Strict):
    id: str = Field(min_length=1)
    camera: str = Field(min_length=1)
    start_time: Timestamp
    end_time: Timestamp | None = None
    severity: Literal["alert", "detection"]


class ReviewMessage(_Strict):
    """A ``<prefix>/reviews`` message (validated and counted; not forwarded yet)."""

    type: Literal["new", "update", "end", "genai"]
    after: _ReviewSegment


def parse_review(payload: bytes) -> ReviewMessage:
    """Parse a ``<prefix>/reviews`` payload.

    Raises:
        MalformedPayload: as for ``parse_event``.
    """
    try:
        return ReviewMessage.model_validate_json(payload)
    except ValidationError as exc:
        raise MalformedPayload(*_describe(exc)) from exc
