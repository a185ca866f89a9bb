"""Parse Frigate's MQTT ``<prefix>/events`` and ``<prefix>/reviews`` payloads.

Only the fields Guarita forwards are typed; Frigate adds keys between versions, so other
keys are ignored. Anything that does not parse raises ``MalformedPayload`` with a reason a
technician can read (the bridge quarantines it). ``sub_label`` is a plain string in
0.14 and ``[name, score]`` from 0.15 on; both become the name. ``recognized_license_plate``
(0.16 on) is ``[plate, score]``; it becomes the plate. Whether either leaves is the
program's choice (``programs.<program>.forward``), not the parser's.

Covers: PB-05, BH-11, DT-02.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Literal

import msgspec
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from guarita.errors import GuaritaError

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


class MalformedPayload(GuaritaError, ValueError):
    """A Frigate payload that cannot be used; ``kind`` groups reasons for counting."""

    def __init__(self, kind: str, reason: str) -> None:
        self.kind = kind
        self.reason = reason
        super().__init__(reason)


# Epoch seconds between 2000-01-01 and 2100-01-01: anything else is a corrupt clock or payload.
_EPOCH_MIN, _EPOCH_MAX = 946_684_800, 4_102_444_800
_Timestamp = Annotated[float, msgspec.Meta(ge=_EPOCH_MIN, le=_EPOCH_MAX)]
_Score = Annotated[float, msgspec.Meta(ge=0, le=1)]
_Text = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class _TrackedObject(msgspec.Struct, frozen=True):
    """The fields of Frigate's ``after`` object that Guarita uses; other keys are skipped."""

    id: _Text
    camera: _Text
    label: _Text
    score: _Score
    top_score: _Score
    start_time: _Timestamp
    frame_time: _Timestamp
    has_clip: bool
    has_snapshot: bool
    # 0.14 sends "john"; 0.15+ send ["john", 0.91]; both mean the name.
    sub_label: str | tuple[str, float] | None = None
    # 0.16+ send ["ABC1D23", 0.93]; older docs show a plain string.
    recognized_license_plate: str | tuple[str, float] | None = None
    end_time: _Timestamp | None = None
    entered_zones: list[str] = []


class _EventMessage(msgspec.Struct, frozen=True):
    type: EventType
    after: _TrackedObject  # `before` is not needed: `after` is the state to forward


# msgspec decodes and validates a 4 KB event in ~5 µs against ~25 µs for pydantic; this is
# the bridge's hot path, so events use it (reviews, rare, keep pydantic below).
_EVENT_DECODER = msgspec.json.Decoder(_EventMessage)
_MISSING = re.compile(r"Object missing required field `([^`]+)`(?: - at `\$\.?([^`]*)`)?")
_AT = re.compile(r"^(.*) - at `\$\.?([^`]*)`$")


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
    license_plate: str | None = None


def _name_of(value: str | tuple[str, float] | None) -> str | None:
    """``"john"`` and ``["john", 0.85]`` both mean ``"john"``; the score is dropped."""
    return value[0] if isinstance(value, tuple) else value


def _describe_msgspec(exc: msgspec.MsgspecError) -> tuple[str, str]:
    text = str(exc)
    if not isinstance(exc, msgspec.ValidationError):  # ValidationError is a DecodeError too
        return "not_json", f"not valid JSON: {text}"
    if text.startswith("Expected `object`") and " - at " not in text:
        return "not_an_object", "payload is not a JSON object"
    missing = _MISSING.match(text)
    if missing:
        where = ".".join(p for p in (missing.group(2), missing.group(1)) if p)
        return "missing_field", f"missing field {where}"
    at = _AT.match(text)
    message, where = (at.group(1), at.group(2)) if at else (text, "")
    if message.startswith("Invalid enum value") and where == "type":
        return "unknown_type", f"unknown event type {message.removeprefix('Invalid enum value ')}"
    return "wrong_type", f"{where or '(payload)'}: {message}"


def parse_event(payload: bytes) -> TrackedObjectEvent:
    """Parse a ``<prefix>/events`` payload.

    Raises:
        MalformedPayload: not JSON, wrong types, missing fields or an unknown type.
    """
    try:
        message = _EVENT_DECODER.decode(payload)
    except msgspec.MsgspecError as exc:
        raise MalformedPayload(*_describe_msgspec(exc)) from exc
    after = message.after
    return TrackedObjectEvent(
        type=message.type,
        id=after.id,
        camera=after.camera,
        label=after.label,
        sub_label=_name_of(after.sub_label),
        score=after.score,
        top_score=after.top_score,
        start_time=after.start_time,
        end_time=after.end_time,
        frame_time=after.frame_time,
        zones=tuple(after.entered_zones),
        has_clip=after.has_clip,
        has_snapshot=after.has_snapshot,
        license_plate=_name_of(after.recognized_license_plate),
    )


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)


Timestamp = Annotated[float, Field(ge=_EPOCH_MIN, le=_EPOCH_MAX)]


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
    if kind == "literal_error" and where == "type":
        return "unknown_type", f"unknown review type {first.get('input')!r}"
    extra = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return "wrong_type", f"{where}: {first['msg']}{extra}"


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
