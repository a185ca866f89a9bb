"""Telemetry in: positions and sensor events stored, and queued for DETRO, in one transaction.

For each vehicle of a batch (samples sorted by time, one per time): positions are upserted
into ``vehicle_positions`` (DT-21: kept whether or not the uplink works); the detector,
resumed from the vehicle's latest stored events, finds sensor events, which are inserted or
(new peak, power back) updated in ``vehicle_events``; and, when ``programs.detro`` is
configured and enabled, the outbox gets

* each event when it begins and whenever its peak grows, on ``.../vehicles/<v>/events``;
* at most one position per vehicle per ``forward_interval_s`` window (epoch-aligned), on
  ``.../vehicles/<v>/telemetry``: the first sample stored in a window goes, and a window
  that already held a position (an earlier message, a redelivery, the MQTT copy of a DVR
  file) sends nothing more.

Every message has an idempotency key built from the data, so a redelivered MQTT message or
the DVR's file of samples that already came over MQTT queue nothing twice. Bad input (bad
lines of a file, bad MQTT payloads) goes to the quarantine in the same transaction.

Covers: DT-13, DT-16, DT-21, DT-22, PB-05.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from guarita.config import GuaritaConfig, TelemetryConfig
from guarita.errors import StoreError
from guarita.local_time import DEFAULT_ZONE, local_zone
from guarita.outbox import Outbox, OutboxMessage
from guarita.quarantine import Quarantine
from guarita.store import Store
from guarita.telemetry import _rows
from guarita.telemetry.detect import Episode, EventDetector, more_extreme
from guarita.telemetry.detro import detro_enabled, event_message, telemetry_message
from guarita.telemetry.sample import Sample, TelemetryError, read_json_lines

__all__ = ["IngestResult", "IngestSource", "Rejected", "TelemetryIngest", "UnknownVehicle"]

log = logging.getLogger(__name__)


class IngestSource(StrEnum):
    """Where samples came from (kept on each event as ``source``)."""

    MQTT = "mqtt"
    DVR = "dvr"


class UnknownVehicle(TelemetryError):
    """Telemetry names a vehicle that is not under ``fleet.vehicles``."""


@dataclass(frozen=True)
class Rejected:
    """Bad input to quarantine: where it was (topic, or ``file:line``), its bytes, and why."""

    where: str
    payload: bytes
    kind: str
    reason: str


@dataclass(frozen=True)
class IngestResult:
    """What one ingest stored and queued."""

    samples: int = 0
    new_events: tuple[str, ...] = ()
    updated_events: tuple[str, ...] = ()
    forwarded_telemetry: int = 0
    forwarded_events: int = 0
    quarantined: int = 0


@dataclass
class _Work:
    samples: int = 0
    new: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    messages: list[tuple[float, OutboxMessage]] = field(default_factory=list)


def _merge(stored: Episode | None, fresh: Episode) -> Episode:
    """``fresh`` (from this batch) over what the store holds for the same id."""
    if stored is None:
        return fresh
    if more_extreme(fresh.type, fresh.value, stored.value):
        value, peak_ts = fresh.value, fresh.peak_ts
    else:
        value, peak_ts = stored.value, stored.peak_ts
    if fresh.last_ts > stored.last_ts:
        last, ended = fresh.last_ts, fresh.ended_ts
    elif fresh.last_ts < stored.last_ts:
        last, ended = stored.last_ts, stored.ended_ts
    else:
        last, ended = stored.last_ts, stored.ended_ts if stored.ended_ts is not None else fresh.ended_ts
    return replace(stored, value=value, peak_ts=peak_ts, last_ts=last, ended_ts=ended)


class TelemetryIngest:
    """Stores and forwards telemetry; see the module docstring."""

    def __init__(
        self,
        config: GuaritaConfig,
        store: Store,
        outbox: Outbox,
        quarantine: Quarantine,
        clock: Callable[[], datetime],
    ) -> None:
        self._config = config
        self._store = store
        self._outbox = outbox
        self._quarantine = quarantine
        self._clock = clock
        fleet = config.fleet
        self.settings: TelemetryConfig = fleet.telemetry if fleet is not None else TelemetryConfig()
        self.zone = local_zone(fleet.timezone if fleet is not None else DEFAULT_ZONE)

    def known(self, vehicle: str) -> bool:
        """Whether ``vehicle`` is under ``fleet.vehicles``."""
        return self._config.fleet is not None and vehicle in self._config.fleet.vehicles

    def _line(self, vehicle: str) -> str | None:
        fleet = self._config.fleet
        return fleet.vehicles[vehicle].line if fleet is not None and vehicle in fleet.vehicles else None

    def _check(self, vehicle: str, where: str) -> None:
        if not self.known(vehicle):
            raise UnknownVehicle(f"{where}: vehicle {vehicle!r} is not under fleet.vehicles in the config")

    def ingest(self, vehicle: str, samples: Sequence[Sample], source: IngestSource | str) -> IngestResult:
        """Store and forward one vehicle's samples in one transaction.

        Raises:
            UnknownVehicle: ``vehicle`` is not in the fleet.
            OutboxFullError: the outbox is full; nothing was stored, try again later.
            StoreError: the store cannot be written.
        """
        self._check(vehicle, "telemetry")
        return self.ingest_batch({vehicle: samples}, IngestSource(source))

    def ingest_file(self, vehicle: str, path: Path) -> IngestResult:
        """Ingest a DVR's JSON-lines file; bad lines are quarantined (``file:line``) and the rest stored.

        Raises:
            UnknownVehicle: ``vehicle`` is not in the fleet.
            TelemetryError: the file cannot be read.
            OutboxFullError: the outbox is full; nothing was stored, try again later.
            StoreError: the store cannot be written.
        """
        self._check(vehicle, str(path))
        read = read_json_lines(path, self.zone)
        rejected = [Rejected(f"{path}:{number}", raw, bad.kind, str(bad)) for number, raw, bad in read.bad]
        result = self.ingest_batch({vehicle: read.samples}, IngestSource.DVR, rejected)
        log.info(
            "telemetry file %s of vehicle %s: %d samples stored, %d bad lines quarantined, %d new events",
            path, vehicle, result.samples, result.quarantined, len(result.new_events),
        )
        return result

    def ingest_batch(
        self, batch: Mapping[str, Sequence[Sample]], source: IngestSource, rejected: Sequence[Rejected] = ()
    ) -> IngestResult:
        """Several vehicles' samples (vehicles already checked) and bad input, in one transaction.

        Raises:
            OutboxFullError: the outbox is full; nothing was stored.
            StoreError: the store cannot be written.
        """
        now = self._clock().timestamp()
        forward = detro_enabled(self._config)
        work = _Work()
        try:
            with self._store.transaction() as db:
                for vehicle, samples in batch.items():
                    ordered = sorted({s.ts: s for s in samples}.values(), key=lambda s: s.ts)
                    if ordered:
                        self._vehicle(db, vehicle, ordered, source, now, forward, work)
                for bad in rejected:
                    self._quarantine.add(
                        db, topic=bad.where, payload=bad.payload, kind=bad.kind, reason=bad.reason, now=now
                    )
                messages = self._new_messages(db, work)
                if messages:
                    self._outbox.insert(db, messages)
        except sqlite3.OperationalError as exc:  # disk full, I/O error, locked: not the data's fault
            raise StoreError(f"cannot store telemetry in {self._store.path}: {exc}") from exc
        self._outbox.committed(messages)
        for bad in rejected:
            self._quarantine.note(bad.where, bad.kind, bad.reason)
        return IngestResult(
            samples=work.samples,
            new_events=tuple(work.new),
            updated_events=tuple(work.updated),
            forwarded_telemetry=sum(1 for m in messages if m.topic.endswith("/telemetry")),
            forwarded_events=sum(1 for m in messages if m.topic.endswith("/events")),
            quarantined=len(rejected),
        )

    def reject(self, rejected: Sequence[Rejected]) -> None:
        """Quarantine input outright (committed), e.g. a message that cannot be handled at all."""
        self.ingest_batch({}, IngestSource.MQTT, rejected)

    def _new_messages(self, db: sqlite3.Connection, work: _Work) -> list[OutboxMessage]:
        """This batch's messages in time order, without any the outbox already holds."""
        ordered = [m for _, m in sorted(work.messages, key=lambda pair: pair[0])]
        known = self._outbox.known(db, (m.idem_key for m in ordered))
        fresh: list[OutboxMessage] = []
        for message in ordered:
            key = (message.uplink, message.idem_key)
            if key not in known:
                known.add(key)
                fresh.append(message)
        return fresh

    def _vehicle(
        self,
        db: sqlite3.Connection,
        vehicle: str,
        samples: list[Sample],
        source: IngestSource,
        now: float,
        forward: bool,
        work: _Work,
    ) -> None:
        line = self._line(vehicle)
        interval = self.settings.forward_interval_s
        if forward:
            taken = _rows.occupied_buckets(db, vehicle, samples, interval)
            for sample in samples:
                slot = _rows.bucket(sample.ts, interval)
                if slot not in taken:
                    taken.add(slot)
                    work.messages.append((sample.ts, telemetry_message(self._config, vehicle, sample)))
        _rows.upsert_positions(db, vehicle, samples)
        work.samples += len(samples)
        detector = EventDetector(
            vehicle, self.settings.thresholds, line, _rows.open_episodes(db, vehicle, samples[0].ts)
        )
        for sample in samples:
            detector.feed(sample)
        touched = detector.touched()
        stored = _rows.stored_episodes(db, (e.id for e in touched))
        for fresh in touched:
            before = stored.get(fresh.id)
            merged = _merge(before, fresh)
            if before is None:
                _rows.insert_episode(db, merged, line=line, source=source.value, now=now)
                work.new.append(merged.id)
            elif merged != before:
                _rows.update_episode(db, merged, line=line)
                work.updated.append(merged.id)
            if forward and (before is None or merged.value != before.value):
                work.messages.append((merged.peak_ts, event_message(self._config, merged)))
