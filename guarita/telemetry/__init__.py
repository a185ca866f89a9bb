"""Onboard telemetry of the fleet's buses: samples, sensor events, storage and forwarding to DETRO.

* ``sample``: one JSON sample, checked field by field;
* ``detect``: sensor events (harsh braking and acceleration, sharp turns, overspeed, power loss);
* ``ingest``: positions and events stored and queued for DETRO in one transaction, from MQTT
  or a DVR's JSON-lines file;
* ``subscriber``: the persistent MQTT session on Frigate's broker;
* ``detro``: DETRO's topics and payloads.

The handling trail of events (DT-17) is ``guarita.vehicle_events``.

Covers: DT-13, DT-16, DT-21, DT-22.
"""

from guarita.telemetry.detect import Episode, EventDetector, SensorEventType, event_id
from guarita.telemetry.ingest import IngestResult, IngestSource, Rejected, TelemetryIngest, UnknownVehicle
from guarita.telemetry.sample import BadSample, Sample, TelemetryError, parse_payload, parse_sample, read_json_lines
from guarita.telemetry.subscriber import TelemetrySubscriber, TopicTemplate, telemetry_link_settings

__all__ = [
    "BadSample",
    "Episode",
    "EventDetector",
    "IngestResult",
    "IngestSource",
    "Rejected",
    "Sample",
    "SensorEventType",
    "TelemetryError",
    "TelemetryIngest",
    "TelemetrySubscriber",
    "TopicTemplate",
    "UnknownVehicle",
    "event_id",
    "parse_payload",
    "parse_sample",
    "read_json_lines",
    "telemetry_link_settings",
]
