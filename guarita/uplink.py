"""The uplink publisher: drains one program's outbox into its broker over TLS, QoS 1.

Each connection announces ``<root>/<provider>/status`` = ``online`` (retained), with the Last
Will ``offline`` (retained) for when the link dies; a clean stop publishes ``offline`` itself.
Messages go in outbox order with up to ``inflight`` awaiting PUBACK; a message is marked
delivered only on its PUBACK (marks are batched, one commit per ``FLUSH_S``). When the link
drops, every unacknowledged message is sent again on the next connection, from the oldest:
at-least-once, in order.

One message never blocks the rest: a message the broker refuses (an MQTT 5 PUBACK with a
failure reason code: 0x87 not authorised, 0x95 packet too large, 0x99 payload format
invalid...), one larger than the maximum packet size the broker announced in its CONNACK,
and one the broker drops the connection on ``poison_after`` times in a row (what a broker
does with an oversized packet, and all MQTT 3.1.1 can say) is set aside as a dead letter
(``Outbox.dead_letter``) and the messages behind it go on.

If the delivery marks cannot be written (a full disk), they are kept and written again every
``MARK_RETRY_S``; should the link drop first, those messages are sent again on the next
connection (a duplicate, never a loss).

Covers: PB-05, DT-02, DT-08, DT-21.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from guarita.errors import LinkError, PublishRefused, StoreError
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
        poison_after: int = 3,
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
        self._poison_after = poison_after
        self._suspect: int | None = None  # id of the message the link last dropped on, and how often
        self._strikes = 0

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
                    if message.id == self._suspect:
                        self._suspect, self._strikes = None, 0
                elif isinstance(error, PublishRefused):
                    self._metrics.refused.inc(self.name)
                    if not self._set_aside(message, "refused", str(error)):
                        await link.close()  # not recorded: resend from here on a new connection
                elif not link.closed.is_set():
                    log.error("uplink %s could not publish on %s: %s", self.name, message.topic, error)
                    await link.close()
            room = window - len(inflight)
            if room > 0 and not link.closed.is_set():
                for message in self._outbox.pending(self.name, cursor, room):
                    limit = link.max_packet_size
                    size = link.publish_size(message.topic, message.payload)
                    if limit is not None and size > limit:
                        reason = f"{size} bytes > the broker's maximum packet size of {limit}"
                        if not self._set_aside(message, "too_large", reason):
                            break  # the store cannot be written: try again on the next round
                    else:
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
        unacked: list[PendingMessage] = []
        for message, future in inflight.values():
            error = future.exception() if future.done() and not future.cancelled() else LinkError("no PUBACK")
            if error is None:
                acked.append(message)
            elif isinstance(error, PublishRefused):  # refused, then the broker closed the link
                self._metrics.refused.inc(self.name)
                self._set_aside(message, "refused", str(error))
            else:
                unacked.append(message)
        self._flush(acked)
        if not stop.is_set() and unacked:
            self._strike(min(unacked, key=lambda m: m.id), link.close_reason)

    def _strike(self, oldest: PendingMessage, close_reason: str) -> None:
        """The link dropped with ``oldest`` the first message awaiting its PUBACK.

        A broker that drops the connection on a message (too large for it, malformed for it)
        does so every time it is resent, and it is always the oldest one waiting: after
        ``poison_after`` drops in a row on the same message it is set aside.
        """
        if oldest.id == self._suspect:
            self._strikes += 1
        else:
            self._suspect, self._strikes = oldest.id, 1
        if self._strikes >= self._poison_after:
            reason = (
                f"the broker dropped the connection {self._strikes} times in a row while this message "
                f"awaited its PUBACK (last: {close_reason})"
            )
            if self._set_aside(oldest, "poison", reason):
                self._suspect, self._strikes = None, 0

    def _set_aside(self, message: PendingMessage, kind: str, reason: str) -> bool:
        """Dead-letter ``message``; False if the store cannot record it (it stays queued)."""
        try:
            self._outbox.dead_letter(self.name, message, kind, reason)
        except StoreError as exc:
            log.error("uplink %s: could not set a message on %s aside: %s", self.name, message.topic, exc)
            return False
        return True

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
