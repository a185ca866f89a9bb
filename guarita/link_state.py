"""Whether a link is up, with reconnect backoff; each change is logged once at INFO.

Covers: PB-05, DT-08.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from guarita.errors import LinkError
from guarita.metrics import Metrics
from guarita.mqtt import LinkSettings, MqttLink

__all__ = ["Backoff", "LinkState", "keep_link", "wait_or_stop"]

log = logging.getLogger(__name__)


@dataclass
class Backoff:
    """Exponential reconnect delay with jitter: min_s, 2·min_s, … capped at max_s."""

    min_s: float = 0.5
    max_s: float = 30.0
    _next: float = field(default=0.0, init=False)

    def next_delay(self) -> float:
        self._next = self.min_s if self._next == 0 else min(self.max_s, self._next * 2)
        return self._next * random.uniform(0.8, 1.0)

    def reset(self) -> None:
        self._next = 0.0


class LinkState:
    """Tracks one link ("frigate", "uplink cop_bh", ...) for logs, metrics and /healthz."""

    def __init__(self, name: str, metrics: Metrics) -> None:
        self.name = name
        self.up = False
        self.detail = "not connected yet"
        self._metrics = metrics
        self._announced_down = False
        metrics.link_up.set(0, name)

    def mark_up(self, where: str) -> None:
        if not self.up:
            log.info("%s link up (%s)", self.name, where)
        self.up = True
        self._announced_down = False
        self.detail = f"connected to {where}"
        self._metrics.link_up.set(1, self.name)

    def mark_down(self, reason: str) -> None:
        if self.up or not self._announced_down:
            log.info("%s link down: %s; retrying with backoff", self.name, reason)
        self.up = False
        self._announced_down = True
        self.detail = reason
        self._metrics.link_up.set(0, self.name)


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds`` unless ``stop`` is set first."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass


async def keep_link(
    stop: asyncio.Event,
    settings: LinkSettings,
    state: LinkState,
    backoff: Backoff,
    *,
    prepare: Callable[[MqttLink], Awaitable[object]],
    serve: Callable[[MqttLink], Awaitable[None]],
    manual_ack: bool = False,
) -> None:
    """Keep one MQTT link up until ``stop``: connect, ``prepare``, ``serve``, retry with backoff.

    ``prepare`` runs once per connection (subscribe, announce ``online``); a ``LinkError`` or
    ``TimeoutError`` there counts as a failed connection. ``serve`` returns when the link
    closes or ``stop`` is set. A link failure never ends this loop.
    """
    while not stop.is_set():
        try:
            link = MqttLink(settings, manual_ack=manual_ack)
        except LinkError as exc:  # e.g. TLS files replaced by unreadable ones since start-up
            state.mark_down(str(exc))
            await wait_or_stop(stop, backoff.next_delay())
            continue
        try:
            await link.connect()
            await prepare(link)
        except (LinkError, TimeoutError) as exc:
            await link.close()
            state.mark_down(str(exc) or "the broker did not answer in time")
            await wait_or_stop(stop, backoff.next_delay())
            continue
        state.mark_up(settings.name)
        backoff.reset()
        try:
            await serve(link)
        finally:
            await link.close()
        if not stop.is_set():
            state.mark_down(link.close_reason)
            await wait_or_stop(stop, backoff.next_delay())
