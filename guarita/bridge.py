"""The event bridge: Frigate MQTT messages in, program messages into the outbox.

For each batch of messages from the Frigate-side broker, in one transaction: parse (bad
input → quarantine), look the camera up, ask the share gate for every program the camera
belongs to, throttle ``update``s, number each forwarded message (``seq`` per event and
program), and queue it in the outbox. The caller acknowledges the batch to the broker
only after this commit returns, so nothing received is ever lost.

A message that cannot be handled for any reason is quarantined with that reason rather
than raised: a poison message left unacknowledged would come back after every restart and
stop the bridge for good.

Covers: PB-05, BH-07, BH-09, BH-11, DT-02, DT-08.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from guarita.config import CameraConfig, GuaritaConfig, ProgramName
from guarita.consent.share_gate import RegistryView, decide
from guarita.metrics import Metrics
from guarita.mqtt import InboundMessage
from guarita.outbox import Outbox, OutboxMessage
from guarita.plugins.program import ProgramPlugin
from guarita.quarantine import Quarantine
from guarita.store import Store
from guarita.tracked_object import EventType, MalformedPayload, TrackedObjectEvent, parse_event, parse_review

__all__ = ["EventBridge"]

log = logging.getLogger(__name__)

_IN_CHUNK = 500  # SQLite parameters per IN (...) query
AVAILABLE_CHARS = 32  # of frigate/available kept for /healthz

StateKey = tuple[str, str]  # (uplink, Frigate event id)


@dataclass
class _Batch:
    """What one batch produced; applied to memory and metrics only once it commits."""

    staged: list[OutboxMessage] = field(default_factory=list)
    staged_keys: set[tuple[str, str]] = field(default_factory=set)
    rejected: list[tuple[InboundMessage, str, str]] = field(default_factory=list)
    state: dict[StateKey, tuple[int, float]] = field(default_factory=dict)
    increments: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)

    def add(self, metric: str, *labels: str) -> None:
        self.increments.append((metric, labels))


def idempotency_key(event: TrackedObjectEvent) -> str:
    """Identifies one Frigate message: a redelivered copy has the same key."""
    return f"{event.id}:{event.type.value}:{event.frame_time!r}"


class EventBridge:
    """Turns Frigate messages into outbox messages; see the module docstring."""

    def __init__(
        self,
        config: GuaritaConfig,
        store: Store,
        outbox: Outbox,
        quarantine: Quarantine,
        registry: RegistryView,
        plugins: dict[ProgramName, ProgramPlugin],
        metrics: Metrics,
        clock: Callable[[], datetime],
    ) -> None:
        prefix = config.frigate.mqtt.topic_prefix
        self.events_topic = f"{prefix}/events"
        self.reviews_topic = f"{prefix}/reviews"
        self.available_topic = f"{prefix}/available"
        self.frigate_available: str | None = None
        self._config = config
        self._store = store
        self._outbox = outbox
        self._quarantine = quarantine
        self._registry = registry
        self._plugins = plugins
        self._metrics = metrics
        self._clock = clock
        self._unknown_logged: set[str] = set()
        # Write-through cache of event_forwarding: this process is the table's only writer.
        self._state: dict[StateKey, tuple[int, float]] = {}

    @property
    def topics(self) -> list[str]:
        """Frigate topics the bridge consumes."""
        return [self.events_topic, self.reviews_topic, self.available_topic]

    def process(self, batch: Sequence[InboundMessage]) -> None:
        """Handle a batch in one transaction.

        Raises:
            OutboxFullError: the outbox quota is reached; nothing of the batch was kept and
                the caller must not acknowledge it.
            StoreError: the store cannot be written.
        """
        now = self._clock()
        work = _Batch()
        events = [(m, e) for m in batch if (e := self._parse(m, work)) is not None]
        with self._store.transaction() as db:
            known = self._outbox.known(db, (idempotency_key(e) for _, e in events))
            self._load_states(db, [e.id for _, e in events])
            for message, event in events:
                try:
                    self._route(db, event, now, known, work)
                except Exception as exc:  # noqa: BLE001 - see the module docstring
                    work.rejected.append((message, "unprocessable", f"{type(exc).__name__}: {exc}"))
            for message, kind, reason in work.rejected:
                self._quarantine.add(
                    db, topic=message.topic, payload=message.payload, kind=kind, reason=reason, now=now.timestamp()
                )
            if work.state:
                db.executemany(
                    "INSERT INTO event_forwarding (uplink, event_id, seq, last_forwarded_frame_time, updated_at) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (uplink, event_id) DO UPDATE SET seq = excluded.seq, "
                    "last_forwarded_frame_time = excluded.last_forwarded_frame_time, updated_at = excluded.updated_at",
                    [(u, e, seq, frame, now.timestamp()) for (u, e), (seq, frame) in work.state.items()],
                )
            if work.staged:
                self._outbox.insert(db, work.staged)
        self._state.update(work.state)
        self._outbox.committed(work.staged)
        self._apply(work)

    def reject(self, message: InboundMessage, kind: str, reason: str) -> None:
        """Quarantine one message outright (committed), e.g. one larger than the outbox quota."""
        now = self._clock()
        with self._store.transaction() as db:
            self._quarantine.add(
                db, topic=message.topic, payload=message.payload, kind=kind, reason=reason, now=now.timestamp()
            )
        self._quarantine.note(message.topic, kind, reason)

    # ---- parsing (no database) -----------------------------------------------------
    def _parse(self, message: InboundMessage, work: _Batch) -> TrackedObjectEvent | None:
        work.add("received", message.topic)
        if message.topic == self.available_topic:
            # Frigate says online/offline; anything else is echoed in /healthz only in part.
            text = message.payload[: AVAILABLE_CHARS + 1].decode("utf-8", "replace")
            self.frigate_available = text if len(text) <= AVAILABLE_CHARS else text[:AVAILABLE_CHARS] + "…"
            return None
        limit = self._config.forward.max_payload_bytes
        if len(message.payload) > limit:
            work.rejected.append((message, "oversize", f"{len(message.payload)} bytes > limit of {limit}"))
            return None
        try:
            if message.topic == self.reviews_topic:
                parse_review(message.payload)
                return None
            return parse_event(message.payload)
        except MalformedPayload as exc:
            work.rejected.append((message, exc.kind, exc.reason))
        return None

    def _load_states(self, db: sqlite3.Connection, event_ids: list[str]) -> None:
        """Bring the numbering of this batch's events into the cache with one query per chunk."""
        missing = list({i for i in event_ids if not any((p.value, i) in self._state for p in self._plugins)})
        for start in range(0, len(missing), _IN_CHUNK):
            chunk = missing[start : start + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = db.execute(
                f"SELECT uplink, event_id, seq, last_forwarded_frame_time FROM event_forwarding "
                f"WHERE event_id IN ({marks})",
                chunk,
            )
            for uplink, event_id, seq, frame in rows:
                self._state[(uplink, event_id)] = (int(seq), float(frame))

    # ---- routing (inside the transaction) -----------------------------------------
    def _route(
        self,
        db: sqlite3.Connection,
        event: TrackedObjectEvent,
        now: datetime,
        known: set[tuple[str, str]],
        work: _Batch,
    ) -> None:
        camera = self._config.cameras.get(event.camera)
        if camera is None:
            work.add("skipped", "unknown_camera")
            if event.camera not in self._unknown_logged:
                self._unknown_logged.add(event.camera)
                log.info("events of camera %r are not forwarded: it is not in the config", event.camera)
            return
        if not camera.programs:
            work.add("skipped", "no_program")
            return
        for program in camera.programs:
            self._forward(db, event, camera, program, now, known, work)

    def _previous(self, key: StateKey, work: _Batch) -> tuple[int, float | None]:
        """(seq, frame time) last forwarded for this event and uplink; ``_load_states`` ran."""
        return work.state.get(key) or self._state.get(key) or (0, None)

    def _forward(
        self,
        db: sqlite3.Connection,
        event: TrackedObjectEvent,
        camera: CameraConfig,
        program: ProgramName,
        now: datetime,
        known: set[tuple[str, str]],
        work: _Batch,
    ) -> None:
        plugin = self._plugins.get(program)
        settings = self._config.programs.get(program)
        enabled = plugin is not None and settings is not None and settings.enabled
        decision = decide(camera, event.camera, program, enabled, now, self._registry)
        if not decision.shared or plugin is None:
            for reason in decision.reasons:
                work.add("blocked", program.value, reason.value)
            return
        uplink = program.value
        key = (uplink, idempotency_key(event))
        if key in known or key in work.staged_keys:
            work.add("skipped", "duplicate")
            return
        seq, last_frame = self._previous((uplink, event.id), work)
        interval = self._config.forward.update_interval
        if event.type is EventType.UPDATE and last_frame is not None and event.frame_time - last_frame < interval:
            work.add("skipped", "throttled")
            return
        payload = plugin.event_payload(event, seq + 1, camera)
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
        work.state[(uplink, event.id)] = (seq + 1, event.frame_time)
        work.staged_keys.add(key)
        for index, topic in enumerate(plugin.event_topics(event.camera, camera)):
            # Copies (an agency's subtree) get their own key; the first is the one checked.
            idem_key = key[1] if index == 0 else f"{key[1]}@{topic}"
            work.staged.append(
                OutboxMessage(uplink=uplink, idem_key=idem_key, order_key=event.camera, topic=topic, payload=body)
            )
        work.add("forwarded", program.value)

    def _apply(self, work: _Batch) -> None:
        m = self._metrics
        counters = {"received": m.received, "forwarded": m.forwarded, "blocked": m.blocked, "skipped": m.skipped}
        for name, labels in work.increments:
            counters[name].inc(*labels)
        for message, kind, reason in work.rejected:
            self._quarantine.note(message.topic, kind, reason)

    def prune_state(self, older_than_s: float) -> None:
        """Forget per-event numbering of events not seen for ``older_than_s``."""
        cutoff = self._clock().timestamp() - older_than_s
        with self._store.transaction() as db:
            db.execute("DELETE FROM event_forwarding WHERE updated_at < ?", (cutoff,))
        self._state.clear()  # reloaded from the table on demand
