"""A stand-in for a receiving centre (COP-BH's or DETRO's systems, which are not ours).

It subscribes to an uplink broker over TLS with a persistent session (so what is published
while it reconnects after a broker restart is queued for it, as a real centre would set
up), records every message with its arrival time, and can call a function per message.
Used by the tests, the benchmark and ``guarita demo``.

Covers: PB-05.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from guarita.errors import LinkError
from guarita.mqtt import LinkSettings, LinkTls, MqttLink

__all__ = ["Centre", "Received"]


@dataclass(frozen=True)
class Received:
    """One message as the centre got it."""

    topic: str
    payload: bytes
    at: float

    @property
    def json(self) -> Any:
        """The payload parsed as JSON."""
        return json.loads(self.payload)


class Centre:
    """Receives everything under ``topic`` on an uplink broker until closed."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str,
        password: str,
        ca_file: Path | None,
        topic: str = "#",
        client_id: str | None = None,
        on_message: Callable[[Received], None] | None = None,
    ) -> None:
        self.messages: list[Received] = []
        self._settings = LinkSettings(
            host=host,
            port=port,
            client_id=client_id or f"centre-{secrets.token_hex(4)}",
            username=username,
            password=password,
            tls=LinkTls(ca_file=ca_file) if ca_file is not None else None,
            clean_start=False,
            session_expiry_s=3600,
            receive_maximum=65535,
            connect_timeout_s=3,
        )
        self._topic = topic
        self._on_message = on_message
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Centre:
        subscribed = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._run(subscribed))
        await asyncio.wait_for(subscribed, 15)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task

    async def _run(self, subscribed: asyncio.Future[None]) -> None:
        while not self._stop.is_set():
            link = MqttLink(self._settings)
            try:
                await link.connect()
                await link.subscribe([(self._topic, 1)])
            except LinkError:
                await link.close()
                await asyncio.sleep(0.2)
                continue
            if not subscribed.done():
                subscribed.set_result(None)
            while not self._stop.is_set() and not link.closed.is_set():
                await link.wait_messages(0.1)
                for message in link.take_messages(10_000):
                    received = Received(message.topic, message.payload, time.time())
                    self.messages.append(received)
                    if self._on_message is not None:
                        self._on_message(received)
                    link.ack(message)
            await link.close()

    def events(self, topic_part: str = "/events") -> list[Any]:
        """Parsed payloads of the event messages received so far."""
        return [m.json for m in self.messages if topic_part in m.topic]

    def on(self, topic: str) -> list[bytes]:
        """Payloads received on exactly ``topic``."""
        return [m.payload for m in self.messages if m.topic == topic]

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 20.0) -> None:
        """Wait for ``predicate`` to hold.

        Raises:
            TimeoutError: it did not within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met after {timeout}s; {len(self.messages)} messages received")
            await asyncio.sleep(0.05)
