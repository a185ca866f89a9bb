"""What onboard telemetry sends DETRO: topics, payloads and idempotency keys.

=========================================================  ==============================
``<root>/<provider>/vehicles/<vehicle>/telemetry``         ``guarita.telemetry/1``
``<root>/<provider>/vehicles/<vehicle>/events``            ``guarita.vehicle_event/1`` and
                                                           ``guarita.vehicle_event_ack/1``
=========================================================  ==============================

Payloads are built field by field (nothing unknown passes through) and are a function of
the data alone, so the same sample or event gives the same bytes and the same key whether
it came over MQTT or from the DVR's file. Schemas: ``docs/schemas/``.

Covers: DT-02, DT-13, DT-17, DT-21, PB-05.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from guarita.config import GuaritaConfig, ProgramName
from guarita.outbox import OutboxMessage
from guarita.telemetry.detect import Episode, unit_of
from guarita.telemetry.sample import Sample

__all__ = [
    "ACK_SCHEMA",
    "EVENT_SCHEMA",
    "TELEMETRY_SCHEMA",
    "UPLINK",
    "ack_message",
    "detro_enabled",
    "event_message",
    "iso_ms",
    "telemetry_message",
    "vehicle_topic",
]

TELEMETRY_SCHEMA = "guarita.telemetry/1"
EVENT_SCHEMA = "guarita.vehicle_event/1"
ACK_SCHEMA = "guarita.vehicle_event_ack/1"
UPLINK = ProgramName.DETRO.value


def iso_ms(timestamp: float) -> str:
    """Epoch seconds → ISO 8601 UTC with milliseconds and ``Z``."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def detro_enabled(config: GuaritaConfig) -> bool:
    """Whether ``programs.detro`` is configured and enabled (else nothing is queued for it)."""
    program = config.programs.get(ProgramName.DETRO)
    return program is not None and program.enabled


def vehicle_topic(config: GuaritaConfig, vehicle: str, leaf: str) -> str:
    """``<detro root>/<provider>/vehicles/<vehicle>/<leaf>``."""
    return f"{config.topic_root(ProgramName.DETRO)}/{config.provider.id}/vehicles/{vehicle}/{leaf}"


def _line(config: GuaritaConfig, vehicle: str) -> str | None:
    fleet = config.fleet
    settings = fleet.vehicles.get(vehicle) if fleet is not None else None
    return settings.line if settings is not None else None


def _encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def telemetry_message(config: GuaritaConfig, vehicle: str, sample: Sample) -> OutboxMessage:
    """One position for DETRO; key ``telemetry:<vehicle>:<epoch ms>``."""
    payload = {
        "schema": TELEMETRY_SCHEMA,
        "provider": config.provider.id,
        "vehicle": vehicle,
        "line": _line(config, vehicle),
        "ts": iso_ms(sample.ts),
        "lat": sample.lat,
        "lon": sample.lon,
        "speed_kmh": sample.speed_kmh,
        "heading": sample.heading,
        "odometer_km": sample.odometer_km,
        "rpm": sample.rpm,
        "accel_long_mps2": sample.accel_long_mps2,
        "accel_lat_mps2": sample.accel_lat_mps2,
        "main_power": sample.main_power,
    }
    return OutboxMessage(
        uplink=UPLINK,
        idem_key=f"telemetry:{vehicle}:{sample.epoch_ms}",
        order_key=vehicle,
        topic=vehicle_topic(config, vehicle, "telemetry"),
        payload=_encode(payload),
    )


def event_message(config: GuaritaConfig, episode: Episode) -> OutboxMessage:
    """An event as it stands (sent when it begins and whenever its peak grows); key ``vehicle-event:<id>:<peak>``."""
    payload = {
        "schema": EVENT_SCHEMA,
        "id": episode.id,
        "provider": config.provider.id,
        "vehicle": episode.vehicle,
        "line": _line(config, episode.vehicle),
        "type": episode.type.value,
        "ts": iso_ms(episode.ts),
        "peak_ts": iso_ms(episode.peak_ts),
        "lat": episode.lat,
        "lon": episode.lon,
        "speed_kmh": episode.speed_kmh,
        "value": episode.value,
        "threshold": episode.threshold,
        "unit": unit_of(episode.type),
    }
    return OutboxMessage(
        uplink=UPLINK,
        idem_key=f"vehicle-event:{episode.id}:{episode.value!r}",
        order_key=episode.vehicle,
        topic=vehicle_topic(config, episode.vehicle, "events"),
        payload=_encode(payload),
    )


def ack_message(
    config: GuaritaConfig,
    *,
    event_id: str,
    vehicle: str,
    kind: str,
    seq: int,
    action: str,
    by: str,
    at: float,
    note: str | None = None,
) -> OutboxMessage:
    """An operator's handling of an event (DT-17); key ``vehicle-event-ack:<id>:<seq>``; ``note`` only when given."""
    payload: dict[str, object] = {
        "schema": ACK_SCHEMA,
        "event_id": event_id,
        "provider": config.provider.id,
        "vehicle": vehicle,
        "type": kind,
        "seq": seq,
        "action": action,
        "by": by,
        "at": iso_ms(at),
    }
    if note is not None:
        payload["note"] = note
    return OutboxMessage(
        uplink=UPLINK,
        idem_key=f"vehicle-event-ack:{event_id}:{seq}",
        order_key=vehicle,
        topic=vehicle_topic(config, vehicle, "events"),
        payload=_encode(payload),
    )
