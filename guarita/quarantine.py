"""Where malformed Frigate messages go: a table, a counter, one log line per kind.

Nothing is dropped silently: the raw payload (up to ``KEEP_BYTES``), its SHA-256, the
topic, the reason and the time are kept for a technician to inspect.

Covers: PB-05, BH-07.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3

from guarita.metrics import Metrics

__all__ = ["KEEP_BYTES", "Quarantine"]

log = logging.getLogger(__name__)

KEEP_BYTES = 1024 * 1024


class Quarantine:
    """Records bad input inside the caller's transaction."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._kinds_logged: set[str] = set()

    def add(self, db: sqlite3.Connection, *, topic: str, payload: bytes, kind: str, reason: str, now: float) -> None:
        """Quarantine one message; the caller commits, then calls ``note``."""
        digest = hashlib.sha256(payload).hexdigest()
        kept = payload if len(payload) <= KEEP_BYTES else None
        db.execute(
            "INSERT INTO quarantine (received_at, topic, kind, reason, payload_sha256, payload_size, payload) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (now, topic, kind, reason, digest, len(payload), kept),
        )

    def note(self, topic: str, kind: str, reason: str) -> None:
        """Count a committed quarantine entry; log the first of each kind."""
        self._metrics.quarantined.inc(kind)
        if kind not in self._kinds_logged:
            self._kinds_logged.add(kind)
            log.warning(
                "quarantined a message on %s (%s): %s; further %s messages are counted, not logged",
                topic, kind, reason, kind,
            )
