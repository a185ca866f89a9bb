"""The audit log: append-only and hash-chained, so anyone can verify it was not edited.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's canonical JSON
(sorted keys, no spaces): editing, deleting or reordering any row breaks the chain from
that row on, and ``verify`` names the first broken entry. Entries are written in the same
transaction as the change they record. They carry ids, hashes and who/when, never image
bytes or raw personal data (a client's national id appears only as its keyed hash).

Covers: BH-07, BH-09, PB-03.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["GENESIS", "AuditBreak", "AuditEntry", "append", "entry_hash", "verify"]

GENESIS = "0" * 64


@dataclass(frozen=True)
class AuditEntry:
    """One row of the audit log."""

    seq: int
    at: float
    actor: str
    action: str
    subject: str
    details: str
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class AuditBreak:
    """Where the chain is broken, and how."""

    seq: int
    problem: str

    def __str__(self) -> str:
        return f"audit entry {self.seq}: {self.problem}"


def _canonical(seq: int, at: float, actor: str, action: str, subject: str, details: str) -> bytes:
    body = {"seq": seq, "at": repr(at), "actor": actor, "action": action, "subject": subject, "details": details}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(prev_hash: str, seq: int, at: float, actor: str, action: str, subject: str, details: str) -> str:
    """The chained hash of one entry."""
    return hashlib.sha256(prev_hash.encode() + _canonical(seq, at, actor, action, subject, details)).hexdigest()


def append(
    db: sqlite3.Connection, *, at: float, actor: str, action: str, subject: str, details: Mapping[str, Any]
) -> AuditEntry:
    """Append an entry inside the caller's open transaction (so it commits with the change)."""
    at = float(at)  # the REAL column gives back a float: hash what verify will read
    last = db.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (int(last[0]) + 1, str(last[1])) if last else (1, GENESIS)
    text = json.dumps(dict(details), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = entry_hash(prev, seq, at, actor, action, subject, text)
    db.execute(
        "INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (seq, at, actor, action, subject, text, prev, digest),
    )
    return AuditEntry(seq, at, actor, action, subject, text, prev, digest)


def verify(db: sqlite3.Connection) -> tuple[int, AuditBreak | None]:
    """Check the whole chain; returns (entries checked, the first break or None)."""
    expected_prev = GENESIS
    expected_seq = 1
    count = 0
    for row in db.execute(
        "SELECT seq, at, actor, action, subject, details, prev_hash, hash FROM audit_log ORDER BY rowid"
    ):
        entry = AuditEntry(*row)
        count += 1
        if entry.seq != expected_seq:
            return count, AuditBreak(entry.seq, f"expected entry {expected_seq} here: an entry was deleted or moved")
        if entry.prev_hash != expected_prev:
            return count, AuditBreak(entry.seq, "does not follow the entry before it (deleted, moved or edited)")
        recomputed = entry_hash(
            entry.prev_hash, entry.seq, entry.at, entry.actor, entry.action, entry.subject, entry.details
        )
        if recomputed != entry.hash:
            return count, AuditBreak(entry.seq, "its content does not match its hash: the entry was edited")
        expected_prev = entry.hash
        expected_seq += 1
    return count, None
