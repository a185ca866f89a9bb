"""Realistic Frigate MQTT payloads for ``<prefix>/events`` and ``<prefix>/reviews``.

Part of the Frigate **stand-in**: these payloads are generated from the contract
(``tests/fixtures/frigate/mqtt-events-*.json``, ``mqtt-reviews-*.json``, and the field history
below), not captured from Frigate. Keys, key order and value types follow those files; the
numbers are invented but plausible (one object walking across the detect frame).

Everything here is a pure function of its arguments and the given ``random.Random``.
Versions: ``"0.17"`` (default) and ``"0.16"`` give the full shape; ``"0.15"`` drops the speed,
``path_data`` and ``recognized_license_plate`` fields; ``"0.14"`` also drops ``active``,
``pending_loitering`` and ``max_severity`` and sends ``sub_label`` as a plain string. Snapshot
blocks follow the same rule; the 0.14 snapshot keeps ``frame_time, box, area, region, score,
attributes``. Review payloads always have the 0.17 shape.

Covers: PB-05, BH-11, DT-02.
"""

from __future__ import annotations

import copy
import random
import re
import statistics
import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "JsonObject",
    "event_detail",
    "event_row",
    "new_event_id",
    "random_suffix",
    "review_lifecycle",
    "review_row",
    "standin_minor",
    "tracked_object_lifecycle",
]

JsonObject = dict[str, Any]
"""A JSON object exactly as Frigate would publish or serve it."""

_ALPHABET = string.ascii_lowercase + string.digits
_ALERT_LABELS = frozenset({"person", "car"})
_MAX_DISAPPEARED_S = 5.0
_SIZES = {  # (width, height) as a fraction of the detect frame
    "person": (0.085, 0.46),
    "car": (0.24, 0.2),
    "bus": (0.42, 0.36),
    "bicycle": (0.1, 0.22),
    "motorcycle": (0.12, 0.2),
    "dog": (0.08, 0.12),
}
_ATTRIBUTE = {"person": "face", "car": "license_plate", "bus": "license_plate"}


def standin_minor(version: str) -> int:
    """Return the minor number of a supported Frigate version (``"0.16"``, ``"0.17.2-3d4dd3a"``).

    Raises:
        ValueError: not a 0.14-0.17 version.
    """
    match = re.match(r"^0\.(\d+)", version)
    if match is None or not 14 <= int(match.group(1)) <= 17:
        raise ValueError(f"the Frigate stand-in knows versions 0.14 to 0.17, not {version!r}")
    return int(match.group(1))


def random_suffix(rng: random.Random) -> str:
    """Six random ``[a-z0-9]`` characters, as Frigate appends to its ids."""
    return "".join(rng.choice(_ALPHABET) for _ in range(6))


def new_event_id(start: float, rng: random.Random) -> str:
    """A Frigate id: ``"<frame time>-<6 random [a-z0-9]>"``, e.g. ``1782824400.512345-k3v9qp``."""
    return f"{start}-{random_suffix(rng)}"


@dataclass
class _Track:
    """Mutable state of one simulated object while its lifecycle is generated."""

    rng: random.Random
    width: int
    height: int
    fps: int
    start: float
    label: str
    x0: float
    y0: float
    vx: float
    vy: float
    scores: list[float] = field(default_factory=list)
    path: list[list[Any]] = field(default_factory=list)

    def frame_time(self, frame: int) -> float:
        return round(self.start + frame / self.fps, 6)

    def box(self, t: float) -> list[int]:
        """Pixel box ``[x1, y1, x2, y2]`` at time ``t``, kept inside the frame."""
        fw, fh = _SIZES.get(self.label, (0.12, 0.2))
        grow = 1 + 0.04 * (t - self.start)
        w = min(int(fw * self.width * grow), self.width // 2)
        h = min(int(fh * self.height * grow), int(self.height * 0.9))
        cx = min(max(self.x0 + self.vx * (t - self.start), w / 2), self.width - w / 2)
        bottom = min(max(self.y0 + self.vy * (t - self.start), h), self.height)
        x1 = int(cx - w / 2)
        y1 = int(bottom - h)
        return [x1, y1, x1 + w, y1 + h]

    def region(self, box: list[int]) -> list[int]:
        """Square detection region around ``box``, a multiple of 32 px, inside the frame."""
        side = max(box[2] - box[0], box[3] - box[1])
        side = min(max(320, -(-int(side * 1.2) // 32) * 32), self.width, self.height)
        cx, cy = (box[0] + box[2]) // 2, (box[1] + box[3]) // 2
        x1 = min(max(cx - side // 2, 0), self.width - side) // 16 * 16
        y1 = min(max(cy - side // 2, 0), self.height - side) // 16 * 16
        return [x1, y1, x1 + side, y1 + side]

    def point(self, t: float) -> list[Any]:
        """A ``path_data`` entry: bottom-centre relative to the frame, and the time."""
        box = self.box(t)
        return [[round((box[0] + box[2]) / 2 / self.width, 4), round(box[3] / self.height, 4)], t]

    def score(self, low: int = 196, high: int = 236) -> float:
        value = self.rng.randint(low, high) / 256
        self.scores.append(value)
        return value

    def attribute_box(self, box: list[int]) -> list[int]:
        w = max((box[2] - box[0]) // 3, 8)
        x1 = box[0] + (box[2] - box[0] - w) // 2
        if self.label == "person":
            return [x1, box[1] + 12, x1 + w, box[1] + 12 + int(w * 1.3)]
        return [x1, box[3] - w // 2 - 6, x1 + w, box[3] - 6]


def _geometry(box: list[int]) -> tuple[int, float]:
    w, h = box[2] - box[0], box[3] - box[1]
    return w * h, w / h


def _snapshot(track: _Track, minor: int, t: float, score: float, attrs: list[JsonObject],
              plate: list[Any] | None) -> JsonObject:
    box = track.box(t)
    area, _ = _geometry(box)
    snap: JsonObject = {
        "frame_time": t,
        "box": box,
        "area": area,
        "region": track.region(box),
        "score": score,
        "attributes": copy.deepcopy(attrs),
    }
    if minor >= 16:
        snap["current_estimated_speed"] = 0
        snap["velocity_angle"] = 0
        snap["path_data"] = [copy.deepcopy(p) for p in track.path if p[1] < t]
        snap["recognized_license_plate"] = plate[0] if plate else None
        snap["recognized_license_plate_score"] = plate[1] if plate else None
    return snap


def tracked_object_lifecycle(
    camera: str,
    label: str,
    start: float,
    *,
    updates: int,
    rng: random.Random,
    version: str = "0.17",
    sub_label: str | None = None,
    zones: Sequence[str] = (),
    event_id: str | None = None,
    license_plate: str | None = None,
    frame_size: tuple[int, int] = (1280, 720),
    fps: int = 5,
    record_enabled: bool = True,
    severity: str | None = None,
) -> list[JsonObject]:
    """Generate the ``<prefix>/events`` messages of one tracked object: new, updates, end.

    Each message is ``{"before", "after", "type"}``; ``before`` is the previous ``after``
    (the object's initial, false-positive state for ``new``), ``frame_time`` and ``path_data``
    grow, ``end_time`` is set only on ``end``. The object enters ``zones`` on the first update
    and leaves them on the second; ``sub_label`` (and ``license_plate``, 0.16+) is recognised on
    the last update (on ``end`` when ``updates`` is 0).

    Args:
        camera: Camera name.
        label: Object label, e.g. ``person`` or ``car``.
        start: Epoch seconds of the first detection (also the id's prefix).
        updates: Number of ``update`` messages between ``new`` and ``end`` (>= 0).
        rng: Source of every random choice; same seed, same payloads.
        version: Frigate version whose shape to produce (0.14-0.17).
        sub_label: Recognised name (face, or any sub label), or None.
        zones: Zones the object walks through.
        event_id: Id to use instead of ``"<start>-<rand6>"``.
        license_plate: Plate read on the object (0.16+ only), or None.
        frame_size: Detect width and height in pixels.
        fps: Detect frames per second.
        record_enabled: Whether the camera records (drives ``has_clip``).
        severity: ``max_severity`` (0.15+); default ``alert`` for person/car, else ``detection``.

    Returns:
        The messages in publication order (``updates + 2`` of them).

    Raises:
        ValueError: unsupported version or negative ``updates``.
    """
    minor = standin_minor(version)
    if updates < 0:
        raise ValueError(f"updates must be >= 0, got {updates}")
    start = round(start, 6)
    width, height = frame_size
    object_id = event_id or new_event_id(start, rng)
    track = _Track(
        rng=rng, width=width, height=height, fps=fps, start=start, label=label,
        x0=rng.uniform(0.3, 0.55) * width, y0=rng.uniform(0.62, 0.78) * height,
        vx=rng.choice((-1, 1)) * rng.uniform(0.02, 0.05) * width, vy=rng.uniform(0.0, 0.02) * height,
    )
    max_severity = severity or ("alert" if label in _ALERT_LABELS else "detection")
    attribute_label = _ATTRIBUTE.get(label)
    # mutable state of the object, turned into a payload by build()
    state: JsonObject = {
        "snapshot": None, "sub_label": None, "top_score": 0.0, "false_positive": True,
        "position_changes": 0, "current_zones": [], "entered_zones": [], "attributes": {},
        "current_attributes": [], "plate": None,
    }

    def build(frame: int, score: float, end_time: float | None = None) -> JsonObject:
        t = track.frame_time(frame)
        box = track.box(t)
        area, ratio = _geometry(box)
        sub = state["sub_label"]
        moved = state["position_changes"] > 0
        obj: JsonObject = {
            "id": object_id, "camera": camera, "frame_time": t,
            "snapshot": copy.deepcopy(state["snapshot"]), "label": label,
            "sub_label": (list(sub) if minor >= 15 else sub[0]) if sub else None,
            "top_score": state["top_score"], "false_positive": state["false_positive"],
            "start_time": start, "end_time": end_time, "score": score, "box": box,
            "area": area, "ratio": ratio, "region": track.region(box),
        }
        if minor >= 15:
            obj["active"] = True
        obj |= {
            "stationary": False, "motionless_count": 0,
            "position_changes": state["position_changes"],
            "current_zones": list(state["current_zones"]),
            "entered_zones": list(state["entered_zones"]),
            "has_clip": record_enabled and moved and not state["false_positive"],
            "has_snapshot": moved and not state["false_positive"],
            "attributes": dict(state["attributes"]),
            "current_attributes": copy.deepcopy(state["current_attributes"]),
        }
        if minor >= 15:
            obj["pending_loitering"] = False
            obj["max_severity"] = max_severity
        if minor >= 16:
            obj |= {
                "current_estimated_speed": 0, "average_estimated_speed": 0, "velocity_angle": 0,
                "path_data": copy.deepcopy(track.path),
                "recognized_license_plate": list(state["plate"]) if state["plate"] else None,
            }
        return obj

    def take_snapshot(frame: int, score: float, attrs: list[JsonObject]) -> None:
        shot = state["snapshot"]
        if shot is None or score > shot["score"]:
            t = track.frame_time(frame)
            state["snapshot"] = _snapshot(track, minor, t, score, attrs, state["plate"])

    def recognise(frame: int) -> None:
        if sub_label is not None:
            state["sub_label"] = (sub_label, round(rng.uniform(0.8, 0.97), 4))
        if license_plate is not None and minor >= 16:
            state["plate"] = (license_plate, round(rng.uniform(0.85, 0.98), 4))

    messages: list[JsonObject] = []
    # new: the initial (false positive) state, then the first confirmed frame
    initial = build(0, track.score(180, 195))
    frame = 3
    track.path.append(track.point(track.frame_time(frame)))
    score = track.score()
    state |= {"false_positive": False, "position_changes": 1}
    state["top_score"] = statistics.median(track.scores)
    take_snapshot(frame, score, [])
    after = build(frame, score)
    messages.append({"before": initial, "after": after, "type": "new"})

    for index in range(1, updates + 1):
        step = rng.randint(max(1, fps), 4 * fps)
        if step > 1.5 * fps:  # an intermediate path point, as Frigate records several per update
            track.path.append(track.point(track.frame_time(frame + step // 2)))
        frame += step
        t = track.frame_time(frame)
        track.path.append(track.point(t))
        score = track.score()
        state["top_score"] = statistics.median(track.scores)
        attrs: list[JsonObject] = []
        if index == 1:
            state["current_zones"] = list(zones)
            state["entered_zones"] = list(zones)
            if attribute_label is not None:
                a_score = rng.randint(170, 200) / 256
                a_box = track.attribute_box(track.box(t))
                attrs = [{"label": attribute_label, "score": a_score, "box": a_box}]
                state["attributes"] = {attribute_label: a_score}
        elif index == 2:
            state["current_zones"] = []
            if attribute_label is not None and state["attributes"]:
                best = max(state["attributes"][attribute_label], rng.randint(190, 215) / 256)
                state["attributes"] = {attribute_label: best}
        state["current_attributes"] = copy.deepcopy(attrs)
        if index == updates:
            recognise(frame)
        snap_attrs = [{"label": a["label"], "score": a["score"],
                       "box": track.attribute_box(track.box(track.frame_time(frame - 1)))}
                      for a in attrs]
        take_snapshot(frame - 1, score + 0.015625, snap_attrs)
        before, after = after, build(frame, score)
        messages.append({"before": before, "after": after, "type": "update"})

    # end: the object's last frame, ended max_disappeared later
    frame += rng.randint(2 * fps, 5 * fps)
    t = track.frame_time(frame)
    track.path.append(track.point(t))
    state["current_attributes"] = []
    if updates == 0:
        recognise(frame)
    score = track.score(190, 215)
    end_time = round(t + _MAX_DISAPPEARED_S, 6)
    messages.append({"before": after, "after": build(frame, score, end_time), "type": "end"})
    return copy.deepcopy(messages)


# --- review items --------------------------------------------------------------------------


def review_lifecycle(
    event_messages: Sequence[JsonObject],
    *,
    rng: random.Random,
    review_id: str | None = None,
) -> list[JsonObject]:
    """Generate the ``<prefix>/reviews`` messages matching one tracked object's lifecycle.

    ``new`` (before == after) when the object is confirmed; ``update`` whenever its zones or
    sub label change; ``end`` with ``end_time`` = the object's last activity, if the object ended.
    Each message is ``{"type", "before", "after"}`` (Frigate's order for reviews).

    Args:
        event_messages: Output of :func:`tracked_object_lifecycle` (or a prefix of it).
        rng: Source of the id's random part.
        review_id: Id to use instead of ``"<first frame time>-<rand6>"``.
    """
    if not event_messages:
        raise ValueError("a review needs at least the object's 'new' message")
    first = event_messages[0]["after"]
    start = first["frame_time"]
    camera = first["camera"]
    item_id = review_id or new_event_id(start, rng)
    severity = first.get("max_severity") or (
        "alert" if first["label"] in _ALERT_LABELS else "detection"
    )

    def segment(obj: JsonObject, thumb_time: float, end_time: float | None) -> JsonObject:
        sub = obj["sub_label"]
        name = sub[0] if isinstance(sub, list) else sub
        objects = [f"{obj['label']}-verified"] if name else [obj["label"]]
        return {
            "id": item_id,
            "camera": camera,
            "start_time": start,
            "end_time": end_time,
            "severity": severity,
            "thumb_path": f"/media/frigate/clips/review/thumb-{camera}-{item_id}.webp",
            "data": {
                "detections": [obj["id"]],
                "objects": objects,
                "verified_objects": list(objects) if name else [],
                "sub_labels": [name] if name else [],
                "zones": list(obj["entered_zones"]),
                "audio": [],
                "thumb_time": thumb_time,
                "metadata": None,
            },
        }

    current = segment(first, round(start + 0.05, 6), None)
    messages: list[JsonObject] = [{"type": "new", "before": current, "after": current}]
    for message in event_messages[1:]:
        obj = message["after"]
        if message["type"] == "end":
            ended = copy.deepcopy(current)
            ended["end_time"] = obj["frame_time"]
            messages.append({"type": "end", "before": current, "after": ended})
            break
        changed = segment(obj, current["data"]["thumb_time"], None)
        if changed["data"] != current["data"]:
            changed["data"]["thumb_time"] = round(obj["frame_time"] + 0.05, 6)
            messages.append({"type": "update", "before": current, "after": changed})
            current = changed
    return copy.deepcopy(messages)


def review_row(segment: JsonObject, *, reviewed: bool = False) -> JsonObject:
    """The ``GET /api/review`` row of a review segment (a reviews message's ``after``)."""
    return copy.deepcopy(segment) | {"has_been_reviewed": reviewed}


# --- API rows ------------------------------------------------------------------------------


def _relative(box: list[int], width: int, height: int) -> list[float]:
    """``[x1, y1, x2, y2]`` px to ``[x, y, w, h]`` relative, as in the events table."""
    return [box[0] / width, box[1] / height, (box[2] - box[0]) / width, (box[3] - box[1]) / height]


def event_row(
    obj: JsonObject,
    *,
    frame_size: tuple[int, int] = (1280, 720),
    version: str = "0.17",
    retain_indefinitely: bool = False,
    include_thumbnail: bool = True,
) -> JsonObject:
    """The ``GET /api/events`` row of a tracked object (a events message's ``after``)."""
    minor = standin_minor(version)
    width, height = frame_size
    snap = obj["snapshot"] or {
        "box": obj["box"], "region": obj["region"], "score": obj["score"], "attributes": []
    }
    sub = obj["sub_label"]
    name, sub_score = (sub[0], sub[1]) if isinstance(sub, list) else (sub, None)
    data: JsonObject = {
        "box": _relative(snap["box"], width, height),
        "region": _relative(snap["region"], width, height),
        "score": snap["score"],
        "top_score": obj["top_score"],
        "attributes": [
            {"box": _relative(a["box"], width, height), "label": a["label"], "score": a["score"]}
            for a in snap["attributes"]
        ],
    }
    if minor >= 16:
        data |= {"average_estimated_speed": 0, "velocity_angle": 0}
    data["type"] = "object"
    if minor >= 15:
        data["max_severity"] = obj.get("max_severity")
    if minor >= 16:
        data["path_data"] = copy.deepcopy(obj["path_data"])
    if name is not None and sub_score is not None:
        data["sub_label_score"] = sub_score
    plate = obj.get("recognized_license_plate")
    if plate:
        data["recognized_license_plate"] = plate[0]
        data["recognized_license_plate_score"] = plate[1]
    row: JsonObject = {
        "id": obj["id"], "camera": obj["camera"], "label": obj["label"],
        "zones": list(obj["entered_zones"]), "start_time": obj["start_time"],
        "end_time": obj["end_time"], "has_clip": obj["has_clip"],
        "has_snapshot": obj["has_snapshot"], "plus_id": None,
        "retain_indefinitely": retain_indefinitely, "sub_label": name, "top_score": None,
        "false_positive": None, "box": None, "data": data,
    }
    if include_thumbnail:
        row["thumbnail"] = None
    return row


def event_detail(row: JsonObject, *, model_hash: str, detector_type: str = "cpu",
                 model_type: str = "ssd") -> JsonObject:
    """The ``GET /api/events/<id>`` object (``EventResponse`` key order) of an events row."""
    keys = ("id", "label", "sub_label", "camera", "start_time", "end_time", "false_positive",
            "zones", "thumbnail", "has_clip", "has_snapshot", "retain_indefinitely", "plus_id")
    detail: JsonObject = {key: copy.deepcopy(row.get(key)) for key in keys}
    detail |= {"model_hash": model_hash, "detector_type": detector_type, "model_type": model_type,
               "data": copy.deepcopy(row["data"])}
    return detail
