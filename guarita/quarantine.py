"""Where malformed input goes: a bounded table, a counter, one log line per kind.

Nothing is dropped silently, and bad input cannot fill the disk: each entry keeps the
topic, the reason, the time, the payload's size and SHA-256, and only its first
``keep_bytes`` (``storage.quarantine_keep_bytes``). The table keeps the newest ``max_rows``
entries (``storage.quarantine_max_rows``): each add prunes the oldest beyond that in the same
transaction and counts them in the persistent counter ``quarantine_pruned`` (metric
``guarita_quarantine_pruned_total``). Past ``WARN_RATIO`` of ``max_rows``, /healthz warns:
something keeps sending Guarita bad input.

Covers: PB-05, BH-07, DT-21.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3

from guarita.config import StorageConfig
from guarita.metrics import Metrics

__all__ = ["DEFAULT_KEEP_BYTES", "DEFAULT_MAX_ROWS", "PRUNED_COUNTER", "WARN_RATIO", "Quarantine"]

log = logging.getLogger(__name__)

DEFAULT_KEEP_BYTES = 4096
DEFAULT_MAX_ROWS = 10_000
PRUNED_COUNTER = "quarantine_pruned"
WARN_RATIO = 0.8


class Quarantine:
    """Records bad input inside the caller's transaction."""

    def __init__(
        self, metrics: Metrics, *, keep_bytes: int = DEFAULT_KEEP_BYTES, max_rows: int = DEFAULT_MAX_ROWS
    ) -> None:
        self._metrics = metrics
        self.keep_bytes = keep_bytes
        self.max_rows = max_rows
        self._kinds_logged: set[str] = set()
        self._prune_logged = False

    @classmethod
    def for_config(cls, metrics: Metrics, config: StorageConfig) -> Quarantine:
        """The quarantine with the bounds the config's ``storage`` section sets."""
        return cls(metrics, keep_bytes=config.quarantine_keep_bytes, max_rows=config.quarantine_max_rows)

    def add(self, db: sqlite3.Connection, *, topic: str, payload: bytes, kind: str, reason: str, now: float) -> None:
        """Quarantine one message and prune past ``max_rows``; the caller commits, then calls ``note``."""
        digest = hashlib.sha256(payload).hexdigest()
        cursor = db.execute(
            "INSERT INTO quarantine (received_at, topic, kind, reason, payload_sha256, payload_size, payload) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (now, topic, kind, reason, digest, len(payload), payload[: self.keep_bytes]),
        )
        # Only the oldest rows are ever deleted, so the ids of the newest max_rows are a range.
        newest = int(cursor.lastrowid or 0)
        pruned = db.execute("DELETE FROM quarantine WHERE id <= ?", (newest - self.max_rows,)).rowcount
        if pruned > 0:
            db.execute(
                "INSERT INTO counters (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
                (PRUNED_COUNTER, pruned),
            )
            if not self._prune_logged:
                self._prune_logged = True
                log.warning(
                    "the quarantine reached storage.quarantine_max_rows (%d): from now on the oldest entries "
                    "are pruned (counted in guarita_quarantine_pruned_total)",
                    self.max_rows,
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

    @staticmethod
    def rows(db: sqlite3.Connection) -> int:
        """Entries in the quarantine table."""
        return int(db.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0])

    @staticmethod
    def pruned(db: sqlite3.Connection) -> int:
        """Entries pruned since the store was created."""
        row = db.execute("SELECT value FROM counters WHERE name = ?", (PRUNED_COUNTER,)).fetchone()
        return int(row[0]) if row else 0

    def warning(self, db: sqlite3.Connection) -> str | None:
        """The /healthz warning when the table is near its cap, else None."""
        rows = self.rows(db)
        if rows < WARN_RATIO * self.max_rows:
            return None
        return (
            f"the quarantine holds {rows} of at most {self.max_rows} entries ({self.pruned(db)} oldest pruned): "
            "something keeps sending bad input"
        )
