"""Onboard telemetry over MQTT: a second persistent, manually acknowledged session on Frigate's broker.

Client id ``<frigate client id>-telemetry``, clean start off, subscribed at QoS 1 to the
telemetry topic with ``{vehicle}`` as ``+`` (default ``vehicles/+/telemetry``). Each batch
is stored (``TelemetryIngest``) and only then acknowledged, so the broker keeps what
Guarita has not stored. A payload that is not a valid sample (or a JSON array of them), or
names a vehicle not in the fleet, is quarantined, counted and acknowledged; a message that
fails while being handled is quarantined as ``unprocessable``. While the outbox is full, or
the store cannot be written (a full disk), the batch waits, unacknowledged, at the broker.

Covers: DT-13, DT-21, DT-22, DT-08, PB-05.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence

from guarita.config import GuaritaConfig
from guarita.errors import OutboxFullError, StoreError
from guarita.link_state import Backoff, LinkState, keep_link
from guarita.mqtt import InboundMessage, LinkSettings, MqttLink
from guarita.outbox import Outbox
from guarita.telemetry.ingest import IngestResult, IngestSource, Rejected, TelemetryIngest
from guarita.telemetry.sample import BadSample, Sample, TelemetryError, parse_payload

__all__ = ["BATCH_MAX", "TelemetrySubscriber", "TopicTemplate", "telemetry_link_settings"]

log = logging.getLogger(__name__)

BATCH_MAX = 500
VEHICLE = "{vehicle}"


def telemetry_link_settings(config: GuaritaConfig, frigate: LinkSettings) -> LinkSettings:
    """The Frigate-side settings with the telemetry session's own client id."""
    return dataclasses.replace(frigate, client_id=f"{config.frigate_client_id()}-telemetry")


@dataclasses.dataclass(frozen=True)
class TopicTemplate:
    """``fleet.telemetry.topic``: one topic level is exactly ``{vehicle}``."""

    template: str

    def __post_init__(self) -> None:
        levels = self.template.split("/")
        odd = [level for level in levels if level != VEHICLE and ("{" in level or level in ("+", "#"))]
        if levels.count(VEHICLE) != 1 or odd:
            raise TelemetryError(
                f"fleet.telemetry.topic {self.template!r} must have exactly one level that is {VEHICLE} "
                "and no wildcards, e.g. vehicles/{vehicle}/telemetry"
            )

    @property
    def subscription(self) -> str:
        """The filter to subscribe to."""
        return self.template.replace(VEHICLE, "+")

    def vehicle(self, topic: str) -> str | None:
        """The vehicle a topic names, or None when the topic does not fit the template."""
        levels, pattern = topic.split("/"), self.template.split("/")
        if len(levels) != len(pattern):
            return None
        found = None
        for level, expected in zip(levels, pattern, strict=True):
            if expected == VEHICLE:
                found = level
            elif level != expected:
                return None
        return found or None


class TelemetrySubscriber:
    """Runs the telemetry session until ``stop`` is set; ``state`` is its link for /healthz."""

    def __init__(
        self,
        settings: LinkSettings,
        ingest: TelemetryIngest,
        outbox: Outbox,
        state: LinkState,
        backoff: Backoff,
        *,
        max_payload_bytes: int = 256 * 1024,
    ) -> None:
        self._settings = settings
        self._ingest = ingest
        self._outbox = outbox
        self.state = state
        self._backoff = backoff
        self._max_bytes = max_payload_bytes
        self.topic = TopicTemplate(ingest.settings.topic)

    async def run(self, stop: asyncio.Event) -> None:
        """Connect, consume, reconnect with backoff; never ends on a link failure or bad input."""
        await keep_link(
            stop,
            self._settings,
            self.state,
            self._backoff,
            prepare=lambda link: link.subscribe([(self.topic.subscription, 1)]),
            serve=lambda link: self._consume(link, stop),
            manual_ack=True,
        )

    def _sort(self, messages: Sequence[InboundMessage]) -> tuple[dict[str, list[Sample]], list[Rejected]]:
        batch: dict[str, list[Sample]] = {}
        rejected: list[Rejected] = []
        for message in messages:
            vehicle = self.topic.vehicle(message.topic)
            if vehicle is None or not self._ingest.known(vehicle):
                reason = f"vehicle {vehicle!r} is not under fleet.vehicles" if vehicle else "no vehicle in the topic"
                rejected.append(Rejected(message.topic, message.payload, "unknown_vehicle", reason))
            elif len(message.payload) > self._max_bytes:
                reason = f"{len(message.payload)} bytes > limit of {self._max_bytes}"
                rejected.append(Rejected(message.topic, message.payload, "oversize", reason))
            else:
                try:
                    batch.setdefault(vehicle, []).extend(parse_payload(message.payload, self._ingest.zone))
                except BadSample as exc:
                    rejected.append(Rejected(message.topic, message.payload, exc.kind, f"vehicle {vehicle}: {exc}"))
        return batch, rejected

    def handle(self, messages: Sequence[InboundMessage]) -> IngestResult:
        """Store one batch (one transaction); a message that breaks the batch is quarantined alone.

        Raises:
            OutboxFullError: nothing was stored; do not acknowledge.
            StoreError: the store cannot be written.
        """
        try:
            batch, rejected = self._sort(messages)
            return self._ingest.ingest_batch(batch, IngestSource.MQTT, rejected)
        except (OutboxFullError, StoreError):
            raise
        except Exception as exc:  # noqa: BLE001 - a poison message must not stop the session for good
            if len(messages) > 1:
                for message in messages:
                    self.handle([message])
                return IngestResult()
            reason = f"{type(exc).__name__}: {exc}"
            log.error("telemetry message on %s could not be handled: %s", messages[0].topic, reason)
            self._ingest.reject([Rejected(messages[0].topic, messages[0].payload, "unprocessable", reason)])
            return IngestResult(quarantined=1)

    async def _consume(self, link: MqttLink, stop: asyncio.Event) -> None:
        held: list[InboundMessage] = []
        while not stop.is_set() and not link.closed.is_set():
            if not held:
                await link.wait_messages(0.25)
                held = link.take_messages(BATCH_MAX)
                if not held:
                    continue
            try:
                self.handle(held)
            except (OutboxFullError, StoreError) as exc:
                # Not acknowledged: the broker keeps these (and what follows) until the uplink
                # drains or the disk has room again (the store logged that once).
                log.debug("telemetry batch held back: %s", exc)
                self._outbox.space_freed.clear()
                try:
                    await asyncio.wait_for(self._outbox.space_freed.wait(), 1.0)
                except TimeoutError:
                    pass
                continue
            for message in held:
                link.ack(message)
            held = []
            await asyncio.sleep(0)
