"""Typed async client for Frigate NVR's HTTP API, versions 0.14 to 0.17.

Built on an injected ``aiohttp.ClientSession`` (Frigate has no usable client library) and
shaped after Frigate's own source and the example payloads in ``tests/fixtures/frigate/``:

* ``FrigateClient`` - the methods, one per endpoint Guarita uses;
* ``FrigateVersion`` - ``0.17.2-3d4dd3a`` parsed and comparable;
* the response models (frozen pydantic, unknown keys ignored).

Errors come from :mod:`guarita.errors` (``FrigateUnavailable``, ``FrigateAuthError``,
``FrigateHttpError``); aiohttp, OS and timeout errors are translated once, in ``_http``.

Covers: PB-01, PB-09.
"""

from guarita.frigate._base import EventSort, Playback, RetainMode, Severity
from guarita.frigate._client import FrigateClient, Timestamp
from guarita.frigate._config import (
    CameraConfig,
    DaysSetting,
    DetectSettings,
    FrigateConfig,
    LegacyEventRetain,
    LegacyRecordEvents,
    MqttSettings,
    RecordSettings,
    RetainSettings,
    ReviewRetention,
    SnapshotRetain,
    SnapshotSettings,
    ZoneSettings,
)
from guarita.frigate._models import (
    CameraStats,
    DetectorStats,
    Event,
    EventAttribute,
    EventData,
    Export,
    FrigateStats,
    RecordingsDay,
    RecordingSegment,
    RecordingsHour,
    ReviewData,
    ReviewItem,
    ServiceStats,
    StorageStats,
)
from guarita.frigate._version import FrigateVersion

__all__ = [
    "CameraConfig",
    "CameraStats",
    "DaysSetting",
    "DetectSettings",
    "DetectorStats",
    "Event",
    "EventAttribute",
    "EventData",
    "EventSort",
    "Export",
    "FrigateClient",
    "FrigateConfig",
    "FrigateStats",
    "FrigateVersion",
    "LegacyEventRetain",
    "LegacyRecordEvents",
    "MqttSettings",
    "Playback",
    "RecordSettings",
    "RecordingSegment",
    "RecordingsDay",
    "RecordingsHour",
    "RetainMode",
    "RetainSettings",
    "ReviewData",
    "ReviewItem",
    "ReviewRetention",
    "ServiceStats",
    "Severity",
    "SnapshotRetain",
    "SnapshotSettings",
    "StorageStats",
    "Timestamp",
    "ZoneSettings",
]
