"""A stand-in for Frigate's MQTT side (not Frigate): publishes what Frigate would.

Like Frigate 0.17 it connects with the Last Will ``<prefix>/available`` = ``offline``
(retained, QoS 1), publishes ``online`` (retained) after connecting, and sends
``<prefix>/events`` and ``<prefix>/reviews`` unretained at the configured QoS (Frigate's
``mqtt.qos``, default 0; Guarita's docs ask users to set 1). Payloads come from
``guarita.standin.frigate_events``. Used by tests, the benchmark and ``guarita demo``.

Covers: PB-05.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from guarita.mqtt import LinkSettings, MqttLink, Will

__all__ = ["FrigateMqttStandin"]


class FrigateMqttStandin:
    """Publishes Frigate-shaped messages to a broker."""

    def __init__(self, host: str, port: int, *, prefix: str = "frigate", qos: int = 1, client_id: str = "frigate") -> None:
        self.prefix = prefix
        self.qos = qos
        self._settings = LinkSettings(
            host=host,
            port=port,
            client_id=client_id,
            will=Will(f"{prefix}/available", b"offline"),
            max_inflight=1000,
        )
        self._link: MqttLink | None = None

    async def __aenter__(self) -> FrigateMqttStandin:
        self._link = MqttLink(self._settings)
        await self._link.connect()
        await self._link.publish(f"{self.prefix}/available", b"online", 1, True)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._link is not None:
            await self._link.close()

    @property
    def link(self) -> MqttLink:
        """The connected link (inside ``async with``)."""
        if self._link is None:
            raise RuntimeError("use FrigateMqttStandin inside `async with`")
        return self._link

    async def publish_event(self, message: dict[str, Any] | bytes) -> None:
        """Publish one ``<prefix>/events`` message (a dict is JSON-encoded as Frigate does)."""
        await self.publish(f"{self.prefix}/events", message)

    async def publish(self, topic: str, message: dict[str, Any] | bytes) -> None:
        """Publish one message and wait for the broker's PUBACK (QoS 1)."""
        payload = message if isinstance(message, bytes) else json.dumps(message).encode()
        await self.link.publish(topic, payload, self.qos, False)

    async def publish_many(self, topic: str, messages: Sequence[dict[str, Any] | bytes], window: int = 500) -> None:
        """Publish messages in order with up to ``window`` awaiting PUBACK."""
        pending: list[asyncio.Future[None]] = []
        for message in messages:
            payload = message if isinstance(message, bytes) else json.dumps(message).encode()
            pending.append(self.link.publish(topic, payload, self.qos, False))
            if len(pending) >= window:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
