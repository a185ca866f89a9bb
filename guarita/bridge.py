"""The event bridge: Frigate MQTT messages in, program messages into the outbox.

For each batch of messages from the Frigate-side broker, in one transaction: parse (bad
input → quarantine), look the camera up, ask the share gate for every program the camera
belongs to, throttle ``update``s, number each forwarded message (``seq`` per event and
program), and queue it in the outbox. The caller acknowledges the batch to the broker
only after this commit returns, so nothing received is ever lost.

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


@dataclass
class _Tally:
    """Metric increments of a batch, applied only once the batch commits."""

    increments: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    quarantined_kinds: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, metric: str, *labels: str) -> None:
        self.increments.append((metric, labels))


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
        staged: list[OutboxMessage] = []
        tally = _Tally()
        with self._store.transaction() as db:
            for message in batch:
                self._handle(db, message, now, staged, tally)
            if staged:
                self._outbox.insert(db, staged)
        self._outbox.committed(staged)
        self._apply(tally)

    # ---- per message -------------------------------------------------------------
    def _handle(
        self, db: sqlite3.Connection, message: InboundMessage, now: datetime, staged: list[OutboxMessage], tally: _Tally
    ) -> None:
        tally.add("received", message.topic)
        if message.topic == self.available_topic:
            self.frigate_available = message.payload.decode("utf-8", "replace")
            return
        if len(message.payload) > self._config.forward.max_payload_bytes:
            limit = self._config.forward.max_payload_bytes
            self._reject(db, message, now, tally, "oversize", f"{len(message.payload)} bytes > limit of {limit}")
            return
        try:
            if message.topic == self.reviews_topic:
                parse_review(message.payload)
                return
            event = parse_event(message.payload)
        except MalformedPayload as exc:
            self._reject(db, message, now, tally, exc.kind, exc.reason)
            return
        camera = self._config.cameras.get(event.camera)
        if camera is None:
            tally.add("skipped", "unknown_camera")
            if event.camera not in self._unknown_logged:
                self._unknown_logged.add(event.camera)
                log.info("events of camera %r are not forwarded: it is not in the config", event.camera)
            return
        if not camera.programs:
            tally.add("skipped", "no_program")
            return
        for program in camera.programs:
            self._forward(db, event, camera, program, now, staged, tally)

    def _reject(
        self, db: sqlite3.Connection, message: InboundMessage, now: datetime, tally: _Tally, kind: str, reason: str
    ) -> None:
        self._quarantine.add(
            db, topic=message.topic, payload=message.payload, kind=kind, reason=reason, now=now.timestamp()
        )
        tally.quarantined_kinds.append((message.topic, kind, reason))

    def _forward(
        self,
        db: sqlite3.Connection,
        event: TrackedObjectEvent,
        camera: CameraConfig,
        program: ProgramName,
        now: datetime,
        staged: list[OutboxMessage],
        tally: _Tally,
    ) -> None:
        plugin = self._plugins.get(program)
        settings = self._config.programs.get(program)
        enabled = plugin is not None and settings is not None and settings.enabled
        decision = decide(camera, event.camera, program, enabled, now, self._registry)
        if not decision.shared or plugin is None:
            for reason in decision.reasons:
                tally.add("blocked", program.value, reason.value)
            return
        uplink = program.value
        idem_key = f"{event.id}:{event.type.value}:{event.frame_time!r}"
        if any(m.uplink == uplink and m.idem_key == idem_key for m in staged) or self._outbox.holds(
            db, uplink, idem_key
        ):
            tally.add("skipped", "duplicate")
            return
        row = db.execute(
            "SELECT seq, last_forwarded_frame_time FROM event_forwarding WHERE uplink = ? AND event_id = ?",
            (uplink, event.id),
        ).fetchone()
        seq, last_frame = (row[0], row[1]) if row else (0, None)
        interval = self._config.forward.update_interval
        if event.type is EventType.UPDATE and last_frame is not None and event.frame_time - last_frame < interval:
            tally.add("skipped", "throttled")
            return
        seq += 1
        db.execute(
            "INSERT INTO event_forwarding (uplink, event_id, seq, last_forwarded_frame_time, updated_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (uplink, event_id) DO UPDATE SET seq = excluded.seq, "
            "last_forwarded_frame_time = excluded.last_forwarded_frame_time, updated_at = excluded.updated_at",
            (uplink, event.id, seq, event.frame_time, now.timestamp()),
        )
        payload = plugin.event_payload(event, seq, camera)
        staged.append(
            OutboxMessage(
                uplink=uplink,
                idem_key=idem_key,
                order_key=event.camera,
                topic=plugin.event_topic(event.camera, camera),
                payload=json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode(),
            )
        )
        tally.add("forwarded", program.value)

    def _apply(self, tally: _Tally) -> None:
        m = self._metrics
        counters = {"received": m.received, "forwarded": m.forwarded, "blocked": m.blocked, "skipped": m.skipped}
        for name, labels in tally.increments:
            counters[name].inc(*labels)
        for topic, kind, reason in tally.quarantined_kinds:
            self._quarantine.note(topic, kind, reason)

    def prune_state(self, older_than_s: float) -> None:
        """Forget per-event numbering of events not seen for ``older_than_s``."""
        cutoff = self._clock().timestamp() - older_than_s
        with self._store.transaction() as db:
            db.execute("DELETE FROM event_forwarding WHERE updated_at < ?", (cutoff,))
