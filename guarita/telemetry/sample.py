"""One onboard telemetry sample: a JSON object, checked field by field.

A sample carries ``ts`` (ISO 8601, or epoch seconds), ``lat``, ``lon``, ``speed_kmh``,
``heading``, ``odometer_km``, ``rpm``, ``accel_long_mps2`` and ``accel_lat_mps2`` (all
required numbers), and optionally ``main_power`` (true/false: the main power sensor).
Fields Guarita does not know are kept as they came (``Sample.extra``) and never forwarded.
An ISO time without a zone is read in the fleet's time zone (the DVR's clock).

A bad sample raises ``BadSample`` naming the field, and the file and line when it came from
a DVR's JSON-lines file, so a technician can find it.

Covers: DT-13, DT-21, DT-22.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from guarita.errors import GuaritaError

__all__ = [
    "FIELDS",
    "BadSample",
    "JsonLines",
    "Sample",
    "TelemetryError",
    "parse_payload",
    "parse_sample",
    "read_json_lines",
]

# name, lowest, highest (None: unbounded); every one is required.
_NUMBERS: tuple[tuple[str, float | None, float | None], ...] = (
    ("lat", -90.0, 90.0),
    ("lon", -180.0, 180.0),
    ("speed_kmh", 0.0, None),
    ("heading", 0.0, 360.0),
    ("odometer_km", 0.0, None),
    ("rpm", 0.0, None),
    ("accel_long_mps2", None, None),
    ("accel_lat_mps2", None, None),
)
FIELDS: tuple[str, ...] = ("ts", *(name for name, _, _ in _NUMBERS), "main_power")
# A clock before this has not been set (a DVR that lost its RTC starts in 1970 or 2000).
_EARLIEST = datetime(2001, 1, 1, tzinfo=UTC).timestamp()


class TelemetryError(GuaritaError):
    """Onboard telemetry could not be read or stored; the message names vehicle, file or topic."""


class BadSample(TelemetryError):
    """One sample is not valid: ``kind`` classifies it for the quarantine, ``field`` names the culprit."""

    def __init__(self, kind: str, reason: str, *, field: str | None = None, where: str | None = None) -> None:
        self.kind = kind
        self.reason = reason
        self.field = field
        self.where = where
        text = f"field {field!r}: {reason}" if field is not None else reason
        super().__init__(f"{where}: {text}" if where else text)

    def located(self, where: str) -> BadSample:
        """The same problem, said to be at ``where`` (``file:line`` or a topic)."""
        return BadSample(self.kind, self.reason, field=self.field, where=where)


@dataclass(frozen=True)
class Sample:
    """A checked telemetry sample; ``ts`` is epoch seconds (UTC)."""

    ts: float
    lat: float
    lon: float
    speed_kmh: float
    heading: float
    odometer_km: float
    rpm: float
    accel_long_mps2: float
    accel_lat_mps2: float
    main_power: bool | None = None
    extra: str | None = None  # compact JSON object of the fields Guarita does not know, or None

    @property
    def epoch_ms(self) -> int:
        """``ts`` in whole milliseconds (what event ids carry)."""
        return round(self.ts * 1000)


def _no_constants(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _decode(raw: bytes) -> object:
    try:
        return json.loads(raw, parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadSample("not_json", f"not JSON ({exc})") from None


def _number(data: dict[str, object], name: str, low: float | None, high: float | None) -> float:
    if name not in data:
        raise BadSample("missing_field", "missing", field=name)
    value = data[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadSample("wrong_type", f"must be a number, not {type(value).__name__}", field=name)
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise BadSample("bad_value", f"{value!r} is not a finite number", field=name)
    if (low is not None and number < low) or (high is not None and number > high):
        bounds = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        raise BadSample("bad_value", f"{value!r} is out of range (must be {bounds})", field=name)
    return number


def _timestamp(value: object, zone: tzinfo) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise BadSample("wrong_type", "must be an ISO 8601 time or epoch seconds", field="ts")
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise BadSample("bad_value", f"{value!r} is not an ISO 8601 time", field="ts") from None
        seconds = (moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)).timestamp()
    else:
        try:
            seconds = float(value)
        except OverflowError:
            seconds = math.inf
    if not math.isfinite(seconds) or seconds < _EARLIEST or seconds > 4e9:
        raise BadSample("bad_value", f"{value!r} is not a plausible time: is the unit's clock set?", field="ts")
    return round(seconds, 6)


def parse_sample(data: object, zone: tzinfo = UTC) -> Sample:
    """Check one decoded JSON value as a sample.

    Raises:
        BadSample: not an object, or a field missing, of the wrong type or out of range.
    """
    if not isinstance(data, dict):
        raise BadSample("not_an_object", f"a sample must be a JSON object, not {type(data).__name__}")
    if "ts" not in data:
        raise BadSample("missing_field", "missing", field="ts")
    ts = _timestamp(data["ts"], zone)
    numbers = {name: _number(data, name, low, high) for name, low, high in _NUMBERS}
    power = data.get("main_power")
    if power is not None and not isinstance(power, bool):
        raise BadSample("wrong_type", "must be true or false", field="main_power")
    unknown = {key: value for key, value in data.items() if key not in FIELDS}
    extra = json.dumps(unknown, sort_keys=True, separators=(",", ":"), ensure_ascii=False) if unknown else None
    return Sample(ts=ts, main_power=power, extra=extra, **numbers)


def parse_payload(raw: bytes, zone: tzinfo = UTC) -> list[Sample]:
    """An MQTT payload: one sample object, or a JSON array of them (a unit catching up).

    Raises:
        BadSample: the payload or one of its samples is bad (the index is named).
    """
    data = _decode(raw)
    if not isinstance(data, list):
        return [parse_sample(data, zone)]
    samples: list[Sample] = []
    for index, item in enumerate(data):
        try:
            samples.append(parse_sample(item, zone))
        except BadSample as exc:
            raise exc.located(f"sample {index}") from None
    return samples


@dataclass(frozen=True)
class JsonLines:
    """A JSON-lines file read: the good samples, and each bad line with its number, bytes and problem."""

    samples: list[Sample]
    bad: list[tuple[int, bytes, BadSample]]


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            yield number, line.rstrip(b"\r\n")


def read_json_lines(path: Path, zone: tzinfo = UTC) -> JsonLines:
    """Read a DVR's telemetry file (one sample per line; blank lines are skipped).

    Raises:
        TelemetryError: the file cannot be read at all.
    """
    samples: list[Sample] = []
    bad: list[tuple[int, bytes, BadSample]] = []
    try:
        for number, line in _lines(path):
            if not line.strip():
                continue
            try:
                samples.append(parse_sample(_decode(line), zone))
            except BadSample as exc:
                bad.append((number, line, exc.located(f"{path}:{number}")))
    except OSError as exc:
        raise TelemetryError(f"cannot read telemetry file {path}: {exc.strerror or exc}") from exc
    return JsonLines(samples, bad)
