"""The uplink publisher: drains one program's outbox into its broker over TLS, QoS 1.

Each connection announces ``<root>/<provider>/status`` = ``online`` (retained), with the Last
Will ``offline`` (retained) for when the link dies; a clean stop publishes ``offline`` itself.
Messages go in outbox order with up to ``inflight`` awaiting PUBACK; a message is marked
delivered only on its PUBACK (marks are batched, one commit per ``FLUSH_S``). When the link
drops, every unacknowledged message is sent again on the next connection, from the oldest:
at-least-once, in order, never dropped. If the marks cannot be written (a full disk), they
are kept and written again every ``MARK_RETRY_S``; should the link drop first, those
messages are sent again on the next connection (a duplicate, never a loss).

Covers: PB-05, DT-02, DT-08, DT-21.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from guarita.errors import LinkError, StoreError
from guarita.link_state import Backoff, LinkState, keep_link
from guarita.metrics import Metrics
from guarita.mqtt import LinkSettings, MqttLink
from guarita.outbox import Outbox, PendingMessage

__all__ = ["UplinkPublisher"]

log = logging.getLogger(__name__)

FLUSH_S = 0.05
STATUS_TIMEOUT_S = 5.0
MARK_RETRY_S = 1.0


class UplinkPublisher:
    """Runs one uplink until ``stop`` is set."""

    def __init__(
        self,
        name: str,
        settings: LinkSettings,
        status_topic: str,
        outbox: Outbox,
        metrics: Metrics,
        state: LinkState,
        backoff: Backoff,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self._settings = settings
        self._status_topic = status_topic
        self._outbox = outbox
        self._metrics = metrics
        self.state = state
        self._backoff = backoff
        self._clock = clock
        self._mark_retry_at = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        """Connect, drain, reconnect with backoff; never ends on a link failure."""
        await keep_link(
            stop,
            self._settings,
            self.state,
            self._backoff,
            prepare=self._say_online,
            serve=lambda link: self._serve(link, stop),
        )

    async def _say_online(self, link: MqttLink) -> None:
        await asyncio.wait_for(link.publish(self._status_topic, b"online", 1, True), STATUS_TIMEOUT_S)

    async def _serve(self, link: MqttLink, stop: asyncio.Event) -> None:
        await self._pump(link, stop)
        if stop.is_set():
            await self._say_offline(link)

    async def _say_offline(self, link: MqttLink) -> None:
        try:
            await asyncio.wait_for(link.publish(self._status_topic, b"offline", 1, True), STATUS_TIMEOUT_S)
        except (LinkError, TimeoutError):
            log.debug("could not publish offline status on %s", self.name)

    async def _pump(self, link: MqttLink, stop: asyncio.Event) -> None:
        wake = self._outbox.wake_event(self.name)
        window = self._settings.max_inflight
        cursor = 0
        inflight: dict[int, tuple[PendingMessage, asyncio.Future[None]]] = {}
        acked: list[PendingMessage] = []
        last_flush = time.monotonic()

        def on_done(_: asyncio.Future[None]) -> None:
            wake.set()

        while not stop.is_set() and not link.closed.is_set():
            wake.clear()
            # Collect acknowledgements before filling the window, or a full window that was
            # just acknowledged would sit idle until the next wake-up.
            for message_id in [i for i, (_, f) in inflight.items() if f.done()]:
                message, future = inflight.pop(message_id)
                error = future.exception()
                if error is None:
                    acked.append(message)
                elif not link.closed.is_set():
                    # Refused by the broker (e.g. not authorised): resend everything from
                    # this message on a new connection, so order holds and nothing is skipped.
                    log.error("uplink %s refused a message on %s: %s", self.name, message.topic, error)
                    self._metrics.refused.inc(self.name)
                    await link.close()
            room = window - len(inflight)
            if room > 0 and not link.closed.is_set():
                for message in self._outbox.pending(self.name, cursor, room):
                    future = link.publish(message.topic, message.payload, message.qos, message.retain)
                    future.add_done_callback(on_done)
                    inflight[message.id] = (message, future)
                    cursor = message.id
            if acked and (len(acked) >= window or time.monotonic() - last_flush >= FLUSH_S):
                self._flush(acked)
                last_flush = time.monotonic()
            if link.closed.is_set():
                break
            try:
                await asyncio.wait_for(wake.wait(), FLUSH_S if acked else 0.25)
            except TimeoutError:
                pass
        for message, future in inflight.values():
            if future.done() and not future.cancelled() and future.exception() is None:
                acked.append(message)
        self._flush(acked)

    def _flush(self, acked: list[PendingMessage]) -> None:
        if not acked or time.monotonic() < self._mark_retry_at:
            return
        try:
            self._outbox.mark_delivered(self.name, acked)
        except StoreError as exc:
            log.debug("uplink %s: delivery marks held back: %s", self.name, exc)
            self._mark_retry_at = time.monotonic() + MARK_RETRY_S
            return
        now = self._clock()
        for message in acked:
            self._metrics.latency.observe(max(0.0, now - message.created_at), self.name)
        self._metrics.delivered.inc(self.name, by=len(acked))
        acked.clear()
