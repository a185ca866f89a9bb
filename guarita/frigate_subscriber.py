"""The Frigate-side MQTT service: a persistent, manually acknowledged subscription.

Guarita keeps a fixed client id and a persistent session (clean start off, with a session
expiry under MQTT 5) so the broker queues Frigate's QoS 1 messages while Guarita is down.
Each batch is acknowledged only after the bridge committed it to the outbox. When the outbox
is full the batch is held (not acknowledged) until the uplinks drain; when the store cannot be
written (the disk holding it is full) the batch is held too and tried again every
``STORE_RETRY_S``, so Frigate's broker keeps what Guarita could not store.

Covers: PB-05, DT-02, DT-08, DT-21.
"""

from __future__ import annotations

import asyncio
import logging

from guarita.bridge import EventBridge
from guarita.errors import OutboxFullError, StoreError
from guarita.link_state import Backoff, LinkState, keep_link, wait_or_stop
from guarita.mqtt import InboundMessage, LinkSettings, MqttLink
from guarita.outbox import Outbox

__all__ = ["FrigateSubscriber"]

log = logging.getLogger(__name__)

BATCH_MAX = 500
STORE_RETRY_S = 1.0


class FrigateSubscriber:
    """Runs the Frigate-side link until ``stop`` is set."""

    def __init__(
        self, settings: LinkSettings, bridge: EventBridge, outbox: Outbox, state: LinkState, backoff: Backoff
    ) -> None:
        self._settings = settings
        self._bridge = bridge
        self._outbox = outbox
        self.state = state
        self._backoff = backoff

    async def run(self, stop: asyncio.Event) -> None:
        """Connect, consume, reconnect with backoff; never ends on a link failure."""
        topics = [(topic, 1) for topic in self._bridge.topics]
        await keep_link(
            stop,
            self._settings,
            self.state,
            self._backoff,
            prepare=lambda link: link.subscribe(topics),
            serve=lambda link: self._consume(link, stop),
            manual_ack=True,
        )

    def _process_what_fits(self, held: list[InboundMessage]) -> int:
        """Commit the longest prefix of ``held`` the outbox has room for; returns its length.

        A batch is all-or-nothing, so when the whole batch does not fit, halves are tried
        (only under quota pressure). A single message that does not fit even an empty outbox
        would wait forever: it is quarantined instead.
        """
        for size in (len(held), *_halves(len(held))):
            try:
                self._bridge.process(held[:size])
                return size
            except OutboxFullError as exc:
                if size == 1 and self._outbox.pending_bytes == 0:
                    self._bridge.reject(held[0], "over_quota", str(exc))
                    return 1
        return 0

    async def _consume(self, link: MqttLink, stop: asyncio.Event) -> None:
        held: list[InboundMessage] = []
        while not stop.is_set() and not link.closed.is_set():
            if not held:
                await link.wait_messages(0.25)
                held = link.take_messages(BATCH_MAX)
                if not held:
                    continue
            try:
                taken = self._process_what_fits(held)
            except StoreError as exc:
                # Not acknowledged; the store logged a full disk once (and /healthz shows it).
                log.debug("Frigate batch held back: %s", exc)
                await wait_or_stop(stop, STORE_RETRY_S)
                continue
            if taken == 0:
                # Not acknowledged: the broker keeps these (and what follows) for us.
                self._outbox.space_freed.clear()
                await _wait_any(self._outbox.space_freed, stop, 1.0)
                continue
            for message in held[:taken]:
                link.ack(message)
            held = held[taken:]
            # Let the uplinks and the sockets run between batches: with a backlog waiting,
            # nothing else in this loop would await, and the uplinks would starve.
            await asyncio.sleep(0)


def _halves(count: int) -> list[int]:
    sizes = []
    while count > 1:
        count //= 2
        sizes.append(count)
    return sizes


async def _wait_any(event: asyncio.Event, stop: asyncio.Event, timeout_s: float) -> None:
    waiters = {asyncio.ensure_future(event.wait()), asyncio.ensure_future(stop.wait())}
    try:
        await asyncio.wait(waiters, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
