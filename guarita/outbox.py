"""The durable store-and-forward queue in front of every uplink.

A message enters in the same transaction as the state that produced it, and leaves only
when its uplink's broker sent the PUBACK (``mark_delivered``). Each message carries an
idempotency key: a message whose key the outbox already holds (pending, or delivered within
``delivered_keep_s``) is refused, so a Frigate message redelivered after a crash is not sent
twice. Messages of one uplink leave in insertion order, which keeps each camera's order.

The outbox has a disk quota. Past ``warn_ratio`` it raises an alarm (log once, metric,
status); at the quota it refuses new messages with ``OutboxFullError`` and the caller stops
acknowledging Frigate, so the Frigate-side broker holds the backlog: nothing is dropped.

One message must never block those behind it. A message larger than ``max_message_bytes``
is not queued, and a message the uplink's broker refuses (``dead_letter``) leaves the queue:
both go to the ``dead_letters`` table with the reason, are counted
(``guarita_messages_dead_lettered_total``), logged at ERROR, shown in /healthz, and listed,
re-queued or discarded with ``guarita outbox dead-letters``. Their keys still count as known,
so a redelivered Frigate message is not set aside twice. A dead letter keeps at most
``max_message_bytes`` of its payload (with the size and SHA-256 of the whole), and dead
letters count against the quota like queued messages: a broker that refuses everything (a
wrong ACL) fills the quota and holds Frigate's events back; it cannot fill the disk. Another
process (the CLI) may change the tables: ``reload_counts`` (housekeeping) catches up.

Covers: PB-05, DT-02, DT-06, DT-08, DT-21.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from guarita import audit
from guarita.config import OutboxConfig
from guarita.errors import OutboxFullError
from guarita.store import Store

__all__ = ["DeadLetter", "Outbox", "OutboxMessage", "PendingMessage", "QuotaLevel"]

log = logging.getLogger(__name__)

_IN_CHUNK = 500  # SQLite parameters per IN (...) query

# Per-row bookkeeping (index entries, row header, key) counted against the quota.
ROW_OVERHEAD_BYTES = 160
DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024


class QuotaLevel(StrEnum):
    """How full the outbox is."""

    OK = "ok"
    WARN = "warn"
    FULL = "full"


@dataclass(frozen=True)
class OutboxMessage:
    """A message to queue for an uplink."""

    uplink: str
    idem_key: str
    order_key: str
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False

    @property
    def cost(self) -> int:
        """Bytes this message counts against the quota."""
        return len(self.payload) + len(self.topic) + len(self.idem_key) + ROW_OVERHEAD_BYTES


@dataclass(frozen=True)
class PendingMessage:
    """A queued, undelivered message as read back from the store."""

    id: int
    topic: str
    payload: bytes
    qos: int
    retain: bool
    created_at: float
    cost: int


@dataclass(frozen=True)
class DeadLetter:
    """A message set aside: what it was, for which uplink, when and why."""

    id: int
    uplink: str
    idem_key: str
    topic: str
    payload: bytes
    qos: int
    retain: bool
    created_at: float
    dead_at: float
    reason: str
    size: int  # of the whole payload; ``payload`` may hold only its first max_message_bytes
    sha256: str

    @property
    def whole(self) -> bool:
        """True if ``payload`` is the whole message (so it can be sent again)."""
        return len(self.payload) == self.size


class Outbox:
    """Durable queue per uplink; see the module docstring."""

    def __init__(
        self,
        store: Store,
        *,
        quota_bytes: int,
        warn_ratio: float,
        delivered_keep_s: float,
        clock: Callable[[], float],
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        on_dead_letter: Callable[[str, str], None] | None = None,
    ) -> None:
        self._store = store
        self._quota = quota_bytes
        self._max_message = max_message_bytes
        self.on_dead_letter = on_dead_letter  # (uplink, reason kind) once each dead letter commits
        self._warn_at = int(quota_bytes * warn_ratio)
        self._keep_s = delivered_keep_s
        self._clock = clock
        self._depth: dict[str, int] = {}
        self._bytes = 0
        self._new: dict[str, asyncio.Event] = {}
        self.space_freed = asyncio.Event()
        self.level = QuotaLevel.OK
        self.reload_counts()

    @classmethod
    def for_config(cls, store: Store, config: OutboxConfig, clock: Callable[[], float]) -> Outbox:
        """The outbox with the quota and memory the config's ``outbox`` section sets."""
        return cls(
            store,
            quota_bytes=int(config.quota_mb * 1_000_000),
            warn_ratio=config.warn_ratio,
            delivered_keep_s=config.delivered_keep_s,
            clock=clock,
            max_message_bytes=config.max_message_bytes,
        )

    def reload_counts(self) -> None:
        """Count depth and bytes from the store (at start, and after another process changed it)."""
        depth: dict[str, int] = {}
        used = 0
        for table, where in (("outbox", "WHERE delivered_at IS NULL"), ("dead_letters", "")):
            rows = self._store.db.execute(
                f"SELECT uplink, COUNT(*), COALESCE(SUM(LENGTH(payload) + LENGTH(topic) + LENGTH(idem_key)), 0) "
                f"FROM {table} {where} GROUP BY uplink"
            ).fetchall()
            for uplink, count, size in rows:
                if table == "outbox":
                    depth[uplink] = int(count)
                used += int(size) + int(count) * ROW_OVERHEAD_BYTES
        freed = used < self._bytes
        self._depth, self._bytes = depth, used
        self._update_level()
        if freed:
            self.space_freed.set()

    # ---- producers ----------------------------------------------------------------
    def known(self, db: sqlite3.Connection, idem_keys: Iterable[str]) -> set[tuple[str, str]]:
        """(uplink, key) of every message with one of these keys: queued, delivered recently, dead letter."""
        keys = list(set(idem_keys))
        found: set[tuple[str, str]] = set()
        for start in range(0, len(keys), _IN_CHUNK):
            chunk = keys[start : start + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            for table in ("outbox", "dead_letters"):
                rows = db.execute(f"SELECT uplink, idem_key FROM {table} WHERE idem_key IN ({marks})", chunk)
                found.update((row[0], row[1]) for row in rows)
        return found

    def holds(self, db: sqlite3.Connection, uplink: str, idem_key: str) -> bool:
        """True if a message with this key is queued, was delivered recently, or is a dead letter."""
        return (uplink, idem_key) in self.known(db, [idem_key])

    def insert(self, db: sqlite3.Connection, messages: Sequence[OutboxMessage]) -> None:
        """Insert ``messages`` inside the caller's open transaction.

        A message larger than ``max_message_bytes`` goes to the dead letters instead. Call
        ``committed(messages)`` after the transaction commits.

        Raises:
            OutboxFullError: the messages would pass the quota (nothing is inserted).
        """
        queued = [m for m in messages if not self._too_large(m)]
        cost = sum(self._kept_cost(m) for m in messages)
        if self._bytes + cost > self._quota:
            self._set_level(QuotaLevel.FULL)
            raise OutboxFullError(
                f"outbox quota of {self._quota / 1e6:.1f} MB reached ({self._bytes / 1e6:.1f} MB pending); "
                "holding new events at the Frigate broker until the uplinks drain"
            )
        now = self._clock()
        db.executemany(
            "INSERT INTO outbox (uplink, idem_key, order_key, topic, payload, qos, retain, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(m.uplink, m.idem_key, m.order_key, m.topic, m.payload, m.qos, int(m.retain), now) for m in queued],
        )
        db.executemany(
            "INSERT OR REPLACE INTO dead_letters (uplink, idem_key, order_key, topic, payload, qos, retain, "
            "payload_size, payload_sha256, created_at, dead_at, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (m.uplink, m.idem_key, m.order_key, m.topic, m.payload[: self._max_message], m.qos, int(m.retain),
                 len(m.payload), hashlib.sha256(m.payload).hexdigest(), now, now, self._too_large_reason(m))
                for m in messages
                if self._too_large(m)
            ],
        )

    def committed(self, messages: Iterable[OutboxMessage]) -> None:
        """Account for messages whose insert transaction committed, and wake their publishers."""
        for message in messages:
            self._bytes += self._kept_cost(message)
            if self._too_large(message):
                self._report_dead_letter(message.uplink, message.topic, "too_large", self._too_large_reason(message))
                continue
            self._depth[message.uplink] = self._depth.get(message.uplink, 0) + 1
            self._event(message.uplink).set()
        self._update_level()

    def _too_large(self, message: OutboxMessage) -> bool:
        return len(message.payload) > self._max_message

    def _kept_cost(self, message: OutboxMessage) -> int:
        """Bytes this message takes in the store: queued whole, or as a dead letter's first bytes."""
        return message.cost - len(message.payload) + min(len(message.payload), self._max_message)

    def _too_large_reason(self, message: OutboxMessage) -> str:
        return (
            f"too_large: {len(message.payload)} bytes > outbox.max_message_bytes of {self._max_message}; "
            f"never queued, its first {self._max_message} bytes kept"
        )

    # ---- consumers -------------------------------------------------------------------
    def pending(self, uplink: str, after_id: int, limit: int) -> list[PendingMessage]:
        """Undelivered messages of ``uplink`` with id > ``after_id``, oldest first."""
        rows = self._store.db.execute(
            "SELECT id, topic, payload, qos, retain, created_at, LENGTH(idem_key) FROM outbox "
            "WHERE uplink = ? AND delivered_at IS NULL AND id > ? ORDER BY id LIMIT ?",
            (uplink, after_id, limit),
        ).fetchall()
        return [
            PendingMessage(
                id=r[0],
                topic=r[1],
                payload=bytes(r[2]),
                qos=r[3],
                retain=bool(r[4]),
                created_at=r[5],
                cost=len(r[2]) + len(r[1]) + r[6] + ROW_OVERHEAD_BYTES,
            )
            for r in rows
        ]

    def mark_delivered(self, uplink: str, messages: Sequence[PendingMessage]) -> None:
        """Record PUBACKed messages as delivered (one transaction)."""
        if not messages:
            return
        now = self._clock()
        updated: set[int] = set()
        with self._store.transaction() as db:
            for start in range(0, len(messages), _IN_CHUNK):
                chunk = [m.id for m in messages[start : start + _IN_CHUNK]]
                marks = ",".join("?" * len(chunk))
                # RETURNING names the rows really changed: one marked twice counts once.
                rows = db.execute(
                    f"UPDATE outbox SET delivered_at = ? WHERE id IN ({marks}) AND delivered_at IS NULL RETURNING id",
                    [now, *chunk],
                ).fetchall()
                updated.update(int(row[0]) for row in rows)
        marked = [m for m in messages if m.id in updated]
        self._depth[uplink] = max(0, self._depth.get(uplink, 0) - len(marked))
        self._bytes = max(0, self._bytes - sum(m.cost for m in marked))
        self._update_level()
        self.space_freed.set()

    def dead_letter(self, uplink: str, message: PendingMessage, kind: str, reason: str) -> None:
        """Move a queued message to the dead letters (one transaction), so the next can go.

        ``kind`` is a short label for the metric (``refused``, ``poison``); ``reason`` says why
        for a technician.

        Raises:
            StoreError: the store cannot be written (the message stays queued).
        """
        with self._store.transaction() as db:
            moved = db.execute(
                "INSERT OR REPLACE INTO dead_letters (uplink, idem_key, order_key, topic, payload, qos, retain, "
                "payload_size, payload_sha256, created_at, dead_at, reason) SELECT uplink, idem_key, order_key, "
                "topic, payload, qos, retain, LENGTH(payload), ?, created_at, ?, ? FROM outbox "
                "WHERE id = ? AND uplink = ? AND delivered_at IS NULL",
                (hashlib.sha256(message.payload).hexdigest(), self._clock(), f"{kind}: {reason}", message.id, uplink),
            ).rowcount
            gone = db.execute(
                "DELETE FROM outbox WHERE id = ? AND uplink = ? AND delivered_at IS NULL", (message.id, uplink)
            ).rowcount
        if gone:  # its bytes stay counted: the dead letter holds them now
            self._depth[uplink] = max(0, self._depth.get(uplink, 0) - 1)
        if moved or gone:
            self._report_dead_letter(uplink, message.topic, kind, reason)

    def _report_dead_letter(self, uplink: str, topic: str, kind: str, reason: str) -> None:
        log.error(
            "uplink %s: a message on %s was set aside as a dead letter (%s); the messages behind it go on. "
            "See `guarita outbox dead-letters`",
            uplink, topic, reason if reason.startswith(kind) else f"{kind}: {reason}",
        )
        if self.on_dead_letter is not None:
            self.on_dead_letter(uplink, kind)

    def dead_letters(self, uplink: str | None = None) -> list[DeadLetter]:
        """Every dead letter (of ``uplink`` if given), oldest first."""
        rows = self._store.db.execute(
            "SELECT id, uplink, idem_key, topic, payload, qos, retain, created_at, dead_at, reason, payload_size, "
            "payload_sha256 FROM dead_letters WHERE ? IS NULL OR uplink = ? ORDER BY id",
            (uplink, uplink),
        ).fetchall()
        return [
            DeadLetter(
                id=r[0], uplink=r[1], idem_key=r[2], topic=r[3], payload=bytes(r[4]), qos=r[5], retain=bool(r[6]),
                created_at=r[7], dead_at=r[8], reason=r[9], size=r[10], sha256=r[11],
            )
            for r in rows
        ]

    def dead_letter_count(self) -> int:
        """How many dead letters wait for a technician."""
        return int(self._store.db.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0])

    def requeue(self, dead_letter_id: int, by: str) -> DeadLetter:
        """Put a dead letter back at the end of its uplink's queue (e.g. after the broker's limit was raised).

        ``by`` is who asked; the audit log records it with the change.

        Raises:
            KeyError: no dead letter has this id.
            ValueError: only the first bytes of this dead letter were kept.
        """
        letter = self._take_dead_letter(dead_letter_id, by, requeue=True)
        self._depth[letter.uplink] = self._depth.get(letter.uplink, 0) + 1
        self._event(letter.uplink).set()
        return letter

    def discard(self, dead_letter_id: int, by: str) -> DeadLetter:
        """Forget a dead letter for good (a technician looked at it and decided); audited as ``by``.

        Raises:
            KeyError: no dead letter has this id.
        """
        letter = self._take_dead_letter(dead_letter_id, by, requeue=False)
        self._bytes = max(0, self._bytes - _letter_cost(letter))
        self._update_level()
        self.space_freed.set()
        return letter

    def _take_dead_letter(self, dead_letter_id: int, by: str, *, requeue: bool) -> DeadLetter:
        found = [d for d in self.dead_letters() if d.id == dead_letter_id]
        if not found:
            raise KeyError(dead_letter_id)
        letter = found[0]
        if requeue and not letter.whole:
            raise ValueError(
                f"dead letter {dead_letter_id} was kept only in part ({len(letter.payload)} of {letter.size} bytes) "
                "and cannot be sent again; whoever produced it must send it smaller"
            )
        with self._store.transaction() as db:
            audit.append(
                db,
                at=self._clock(),
                actor=by,
                action="outbox.requeue" if requeue else "outbox.discard",
                subject=f"dead_letter:{dead_letter_id}",
                details={
                    "uplink": letter.uplink,
                    "topic": letter.topic,
                    "bytes": letter.size,
                    "sha256": letter.sha256,
                    "reason": letter.reason,
                },
            )
            if requeue:
                db.execute(
                    "INSERT INTO outbox (uplink, idem_key, order_key, topic, payload, qos, retain, created_at) "
                    "SELECT uplink, idem_key, order_key, topic, payload, qos, retain, ? FROM dead_letters WHERE id = ?",
                    (self._clock(), dead_letter_id),
                )
            db.execute("DELETE FROM dead_letters WHERE id = ?", (dead_letter_id,))
        return letter

    def wake_event(self, uplink: str) -> asyncio.Event:
        """The event set whenever new messages for ``uplink`` commit (its publisher clears it)."""
        return self._event(uplink)

    def prune_delivered(self) -> int:
        """Forget delivered messages older than ``delivered_keep_s``; returns how many."""
        cutoff = self._clock() - self._keep_s
        with self._store.transaction() as db:
            cursor = db.execute("DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?", (cutoff,))
        return cursor.rowcount

    # ---- observation -----------------------------------------------------------------
    def depth(self, uplink: str) -> int:
        """Undelivered messages of ``uplink``."""
        return self._depth.get(uplink, 0)

    @property
    def pending_bytes(self) -> int:
        """Bytes counted against the quota, all uplinks together."""
        return self._bytes

    @property
    def quota_bytes(self) -> int:
        """The configured quota."""
        return self._quota

    def _event(self, uplink: str) -> asyncio.Event:
        return self._new.setdefault(uplink, asyncio.Event())

    def _update_level(self) -> None:
        if self._bytes >= self._quota:
            self._set_level(QuotaLevel.FULL)
        elif self._bytes >= self._warn_at:
            self._set_level(QuotaLevel.WARN)
        else:
            self._set_level(QuotaLevel.OK)

    def _set_level(self, level: QuotaLevel) -> None:
        if level is self.level:
            return
        previous, self.level = self.level, level
        used = f"{self._bytes / 1e6:.1f} of {self._quota / 1e6:.1f} MB"
        if level is QuotaLevel.FULL:
            log.error("outbox full (%s): new events wait at the Frigate broker until the uplinks drain", used)
        elif level is QuotaLevel.WARN:
            log.warning("outbox nearly full (%s): an uplink has been down for a while", used)
        else:
            log.info("outbox back under its warning level (%s), was %s", used, previous.value)


def _letter_cost(letter: DeadLetter) -> int:
    return len(letter.payload) + len(letter.topic) + len(letter.idem_key) + ROW_OVERHEAD_BYTES
