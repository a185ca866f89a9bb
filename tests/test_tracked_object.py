"""Parsing Frigate's ``<prefix>/events`` and ``<prefix>/reviews`` payloads.

Good input comes from the Frigate contract files and from the stand-in's generator for every
supported version; bad input must raise ``MalformedPayload`` with a countable ``kind`` and a
reason that names the offending field.
"""

from __future__ import annotations

import copy
import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
from frigate_payloads import frigate_example

from guarita.standin.frigate_events import review_lifecycle, tracked_object_lifecycle
from guarita.tracked_object import (
    EventType,
    MalformedPayload,
    ReviewMessage,
    TrackedObjectEvent,
    parse_event,
    parse_review,
)

def contract(name: str) -> dict[str, Any]:
    return frigate_example(name)  # type: ignore[no-any-return]


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode()


def malformed(payload: bytes, parse: Any = parse_event) -> MalformedPayload:
    with pytest.raises(MalformedPayload) as info:
        parse(payload)
    assert isinstance(info.value, ValueError)
    assert str(info.value) == info.value.reason
    return info.value


def event_with(**after: Any) -> bytes:
    """The contract's ``new`` message with ``after`` fields replaced (``...`` deletes one)."""
    message = copy.deepcopy(contract("mqtt-events-new.json"))
    for key, value in after.items():
        if value is ...:
            del message["after"][key]
        else:
            message["after"][key] = value
    return encode(message)


# ---- good input ----------------------------------------------------------------------------


# covers PB-05, BH-11, DT-02
def test_the_three_contract_payloads_parse() -> None:
    new = parse_event(encode(contract("mqtt-events-new.json")))
    update = parse_event(encode(contract("mqtt-events-update.json")))
    end = parse_event(encode(contract("mqtt-events-end.json")))
    assert new == TrackedObjectEvent(
        type=EventType.NEW, id="1782824400.512345-k3v9qp", camera="front_door", label="person", sub_label=None,
        score=0.83984375, top_score=0.79296875, start_time=1782824400.512345, end_time=None,
        frame_time=1782824401.112345, zones=(), has_clip=True, has_snapshot=True,
    )
    assert update.type is EventType.UPDATE and update.zones == ("porch",) and update.end_time is None
    assert end.type is EventType.END
    assert end.sub_label == "john", "0.15+ [name, score] becomes the name"
    assert end.end_time == 1782824415.912345 and end.frame_time == 1782824410.912345
    assert len({new.id, update.id, end.id}) == 1


# covers PB-05, BH-11
@pytest.mark.parametrize("version", ["0.14", "0.15", "0.16", "0.17"])
def test_every_supported_version_of_the_lifecycle_parses(version: str) -> None:
    messages = tracked_object_lifecycle(
        "street_front", "person", 1_782_824_400.0, updates=2, rng=random.Random(11), version=version,
        sub_label="maria", zones=("sidewalk",),
    )
    parsed = [parse_event(encode(m)) for m in messages]
    assert [p.type for p in parsed] == [EventType.NEW, EventType.UPDATE, EventType.UPDATE, EventType.END]
    assert [p.sub_label for p in parsed] == [None, None, "maria", "maria"]
    assert parsed[1].zones == ("sidewalk",)
    assert all(p.camera == "street_front" and p.label == "person" for p in parsed)
    assert parsed[-1].end_time is not None and all(p.end_time is None for p in parsed[:-1])


# covers PB-05
def test_the_014_shape_sends_sub_label_as_a_plain_string() -> None:
    messages = tracked_object_lifecycle(
        "bus_10234_front", "person", 1_782_824_400.0, updates=0, rng=random.Random(1), version="0.14", sub_label="maria"
    )
    assert messages[-1]["after"]["sub_label"] == "maria"
    assert "active" not in messages[-1]["after"] and "max_severity" not in messages[-1]["after"]
    assert parse_event(encode(messages[-1])).sub_label == "maria"


# covers PB-05
def test_unknown_keys_are_ignored_and_sub_label_may_be_null_string_or_pair() -> None:
    message = contract("mqtt-events-new.json")
    message["after"]["added_in_0_18"] = {"anything": [1, 2]}
    message["something_new"] = True
    assert parse_event(encode(message)).id == "1782824400.512345-k3v9qp"
    assert parse_event(event_with(sub_label=["ana", 1])).sub_label == "ana"
    assert parse_event(event_with(sub_label="ana")).sub_label == "ana"
    assert parse_event(event_with(sub_label=None)).sub_label is None
    assert parse_event(event_with(sub_label=...)).sub_label is None
    assert parse_event(event_with(end_time=...)).end_time is None
    assert parse_event(event_with(entered_zones=...)).zones == ()


# covers PB-05
@pytest.mark.parametrize("field", ["start_time", "frame_time", "end_time"])
@pytest.mark.parametrize("value", [946_684_800, 946_684_800.0, 4_102_444_800])
def test_timestamps_from_2000_to_2100_inclusive_are_accepted(field: str, value: float) -> None:
    assert getattr(parse_event(event_with(**{field: value})), field) == value


# covers PB-05
@pytest.mark.parametrize("score", [0, 0.0, 1, 1.0])
def test_scores_at_the_bounds_are_accepted(score: float) -> None:
    event = parse_event(event_with(score=score, top_score=score))
    assert event.score == score and event.top_score == score


# ---- bad input -----------------------------------------------------------------------------


# covers PB-05, BH-07
@pytest.mark.parametrize(
    "payload",
    [b"not json {", b"", b"   ", b"\xff\xfe", b'{"type": "new", "after": {', b"{'type': 'new'}"],
    ids=["garbage", "empty", "blank", "binary", "truncated", "python_repr"],
)
def test_not_json(payload: bytes) -> None:
    error = malformed(payload)
    assert error.kind == "not_json"
    assert error.reason.startswith("not valid JSON")


# covers PB-05, BH-07
@pytest.mark.parametrize(
    ("literal", "field"),
    [("NaN", "score"), ("Infinity", "top_score"), ("-Infinity", "frame_time")],
)
def test_nan_and_infinity_literals_are_not_json(literal: str, field: str) -> None:
    # Python's json.dumps writes these for float('nan') / inf; they are not JSON (RFC 8259).
    message = contract("mqtt-events-new.json")
    message["after"][field] = "PLACEHOLDER"
    payload = encode(message).replace(b'"PLACEHOLDER"', literal.encode())
    error = malformed(payload)
    assert error.kind == "not_json"
    assert "invalid character" in error.reason and "byte" in error.reason, "the reason points at where"


# covers PB-05
@pytest.mark.parametrize("payload", [b"[1, 2]", b'"new"', b"42", b"null", b"true"])
def test_not_an_object(payload: bytes) -> None:
    error = malformed(payload)
    assert (error.kind, error.reason) == ("not_an_object", "payload is not a JSON object")


# covers PB-05
@pytest.mark.parametrize(
    "field", ["id", "camera", "label", "score", "top_score", "start_time", "frame_time", "has_clip", "has_snapshot"]
)
def test_missing_field_in_after(field: str) -> None:
    error = malformed(event_with(**{field: ...}))
    assert (error.kind, error.reason) == ("missing_field", f"missing field after.{field}")


# covers PB-05
@pytest.mark.parametrize("field", ["type", "after"])
def test_missing_top_level_field(field: str) -> None:
    message = contract("mqtt-events-new.json")
    del message[field]
    assert (malformed(encode(message)).kind, malformed(encode(message)).reason) == ("missing_field", f"missing field {field}")


# covers PB-05
@pytest.mark.parametrize("kind", ["teleport", "NEW", "", "genai"])
def test_unknown_event_type(kind: str) -> None:
    message = contract("mqtt-events-new.json")
    message["type"] = kind
    error = malformed(encode(message))
    assert (error.kind, error.reason) == ("unknown_type", f"unknown event type {kind!r}")


# covers PB-05, BH-07
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"score": "high"}, "after.score"),
        ({"score": None}, "after.score"),
        ({"score": True}, "after.score"),
        ({"has_clip": "true"}, "after.has_clip"),
        ({"has_snapshot": 1}, "after.has_snapshot"),
        ({"camera": 7}, "after.camera"),
        ({"camera": ""}, "after.camera"),
        ({"id": "x" * 129}, "after.id"),
        ({"label": ""}, "after.label"),
        ({"entered_zones": "porch"}, "after.entered_zones"),
        ({"entered_zones": ["porch", 3]}, "after.entered_zones[1]"),
        ({"start_time": "2026-06-30T13:00:00Z"}, "after.start_time"),
    ],
    ids=lambda v: "-".join(map(str, v)) if isinstance(v, dict) else v,
)
def test_wrong_type(change: dict[str, Any], field: str) -> None:
    error = malformed(event_with(**change))
    assert error.kind == "wrong_type"
    assert error.reason.startswith(f"{field}: "), error.reason


# covers PB-05
@pytest.mark.parametrize("value", ["x", 1, ["teleport"]], ids=["string", "number", "array"])
def test_the_whole_after_or_type_of_the_wrong_type(value: Any) -> None:
    message = contract("mqtt-events-new.json")
    message["after"] = value
    error = malformed(encode(message))
    assert error.kind == "wrong_type" and error.reason.startswith("after: ")
    message = contract("mqtt-events-new.json")
    message["type"] = 1
    error = malformed(encode(message))
    assert error.kind == "wrong_type" and error.reason.startswith("type: ")


# covers PB-05
@pytest.mark.parametrize("field", ["score", "top_score"])
@pytest.mark.parametrize("value", [-0.01, 1.0001, 2, -1])
def test_score_outside_zero_to_one(field: str, value: float) -> None:
    error = malformed(event_with(**{field: value}))
    assert error.kind == "wrong_type" and error.reason.startswith(f"after.{field}: ")


# covers PB-05, BH-11
@pytest.mark.parametrize("field", ["start_time", "frame_time", "end_time"])
@pytest.mark.parametrize(
    "value", [0, 946_684_799.999, -1_782_824_400, 4_102_444_800.001, 1_782_824_400_000], ids=str
)
def test_timestamps_before_2000_or_after_2100(field: str, value: float) -> None:
    error = malformed(event_with(**{field: value}))
    assert error.kind == "wrong_type" and error.reason.startswith(f"after.{field}: ")


# covers PB-05, BH-07
@pytest.mark.parametrize(
    "sub_label",
    [["john"], ["john", "high"], [1, 0.9], ["john", 0.9, "extra"], [], 42, {"name": "john"}, True],
    ids=["one_item", "score_not_number", "name_not_string", "three_items", "empty_list", "number", "object", "bool"],
)
def test_sub_label_of_the_wrong_shape(sub_label: Any) -> None:
    error = malformed(event_with(sub_label=sub_label))
    assert error.kind == "wrong_type"
    assert re.match(r"after\.sub_label(\[\d\])?: ", error.reason), error.reason


# covers PB-05
def test_with_several_problems_the_reason_names_one_of_the_fields() -> None:
    error = malformed(event_with(score="high", top_score="low", has_clip="yes"))
    assert error.kind == "wrong_type"
    assert re.match(r"after\.(score|top_score|has_clip): ", error.reason), error.reason


# ---- reviews --------------------------------------------------------------------------------


# covers PB-05, BH-11
@pytest.mark.parametrize("name", ["mqtt-reviews-new.json", "mqtt-reviews.json", "mqtt-reviews-end.json"])
def test_contract_reviews_parse(name: str) -> None:
    raw = contract(name)
    review = parse_review(encode(raw))
    assert isinstance(review, ReviewMessage)
    assert review.type == raw["type"]
    assert review.after.id == "1782824401.112345-fqk5ka" and review.after.camera == "front_door"
    assert review.after.severity == "alert"
    assert review.after.end_time == raw["after"]["end_time"]


# covers PB-05
def test_generated_reviews_parse() -> None:
    events = tracked_object_lifecycle("street_front", "car", 1_782_824_400.0, updates=2, rng=random.Random(2))
    reviews = review_lifecycle(events, rng=random.Random(2))
    assert [parse_review(encode(r)).type for r in reviews] == [r["type"] for r in reviews]


def review_with(**after: Any) -> bytes:
    message = copy.deepcopy(contract("mqtt-reviews-new.json"))
    for key, value in after.items():
        if value is ...:
            del message["after"][key]
        else:
            message["after"][key] = value
    return encode(message)


# covers PB-05, BH-07
def test_malformed_reviews() -> None:
    assert malformed(b"{", parse_review).kind == "not_json"
    assert malformed(b"[]", parse_review).kind == "not_an_object"
    error = malformed(b'{"type": "new"}', parse_review)
    assert (error.kind, error.reason) == ("missing_field", "missing field after")
    for field in ("id", "camera", "start_time", "severity"):
        error = malformed(review_with(**{field: ...}), parse_review)
        assert (error.kind, error.reason) == ("missing_field", f"missing field after.{field}")
    for field, value in (("severity", "critical"), ("start_time", 0), ("end_time", 5e9), ("camera", ""), ("id", 3)):
        error = malformed(review_with(**{field: value}), parse_review)
        assert error.kind == "wrong_type" and error.reason.startswith(f"after.{field}: "), error.reason


# covers PB-05
def test_unknown_review_type_is_counted_as_unknown_type() -> None:
    message = contract("mqtt-reviews-new.json")
    message["type"] = "teleport"
    error = malformed(encode(message), parse_review)
    assert error.kind == "unknown_type"
    assert "'teleport'" in error.reason
