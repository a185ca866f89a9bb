"""Several stand-in Mosquitto brokers owned together, all stopped at the end.

The test fixtures, the benchmark and ``guarita demo`` start their brokers through a fleet,
so every broker they started is stopped even when a test or the demo fails.

Covers: PB-05.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Self

from guarita.standin.mosquitto import MosquittoBroker
from guarita.standin.mosquitto_bridge import PLAIN_NAME

__all__ = ["BrokerFleet"]


class BrokerFleet:
    """Several stand-in brokers under one root directory, all stopped by :meth:`close`."""

    def __init__(self, root: Path) -> None:
        """Use ``root`` as the parent of every broker's work directory."""
        self._root = root
        self._brokers: list[MosquittoBroker] = []
        self._names: set[str] = set()

    @property
    def brokers(self) -> tuple[MosquittoBroker, ...]:
        """Brokers owned so far, in the order they were added."""
        return tuple(self._brokers)

    def workdir(self, name: str) -> Path:
        """Reserve and return a work directory for the broker called ``name``.

        Raises:
            ValueError: ``name`` is already used or not a plain file name.
        """
        if not PLAIN_NAME.fullmatch(name) or name in self._names:
            raise ValueError(f"broker name {name!r} is taken or not a plain name")
        self._names.add(name)
        return self._root / name

    def add(self, broker: MosquittoBroker) -> MosquittoBroker:
        """Own ``broker`` (stop it on close) without starting it."""
        self._brokers.append(broker)
        return broker

    def start(self, broker: MosquittoBroker) -> MosquittoBroker:
        """Own ``broker`` and start it."""
        self.add(broker).start()
        return broker

    def close(self) -> None:
        """Stop every owned broker, the last added first."""
        for broker in reversed(self._brokers):
            broker.stop()

    def __enter__(self) -> Self:
        """Return the fleet."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop every owned broker."""
        self.close()
