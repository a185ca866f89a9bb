"""The audit log: append-only, hash-chained and keyed, so anyone can verify it was not edited.

Each entry's hash covers the previous entry's hash and the entry's canonical JSON (sorted
keys, no spaces): editing, deleting or reordering any row breaks the chain from that row on,
and ``verify`` names the first broken entry. Entries are written in the same transaction as
the change they record. They carry ids, hashes and who/when, never image bytes or raw
personal data (a client's national id appears only as its keyed hash).

The hash is an HMAC-SHA-256 keyed with ``data_dir/keys/audit-hmac.key`` (32 random bytes,
mode 0600, made on the first append), kept apart from ``guarita.db``: whoever can only write
the database cannot append entries that verify. Logs written before keying used a plain
SHA-256; the first append with the key writes an ``audit.keyed`` entry, the *switch-over*,
and every entry from there on is keyed. ``verify`` accepts plain entries only before the
first keyed one, and ``check`` says where the switch-over is. The chain's head (last entry
and hash) is what ``guarita run`` logs daily and at shutdown, to be kept off the machine.

Covers: BH-07, BH-09, PB-03.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from guarita.errors import StoreError
from guarita.key_file import make_key_file

__all__ = [
    "GENESIS",
    "KEY_FILE",
    "SWITCH_OVER",
    "AuditBreak",
    "AuditCheck",
    "AuditEntry",
    "append",
    "check",
    "entry_hash",
    "head",
    "keyed_hash",
    "verify",
]

GENESIS = "0" * 64
KEY_FILE = Path("keys") / "audit-hmac.key"
SWITCH_OVER = "audit.keyed"


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


@dataclass(frozen=True)
class AuditCheck:
    """What ``check`` found: entries read, the first break, and where keying began."""

    entries: int
    broken: AuditBreak | None
    unkeyed: int
    keyed_from: int | None

    def describe_keying(self) -> str:
        """One line saying which entries are plain SHA-256 and which are keyed."""
        if self.entries == 0:
            return "no entries yet"
        if self.keyed_from is None:
            return f"all {self.unkeyed} entries unkeyed (plain SHA-256; written before keying)"
        if self.unkeyed == 0:
            return "every entry keyed (HMAC-SHA-256)"
        return f"entries 1-{self.unkeyed} unkeyed (before keying), keyed (HMAC-SHA-256) from entry {self.keyed_from}"


def _canonical(seq: int, at: float, actor: str, action: str, subject: str, details: str) -> bytes:
    body = {"seq": seq, "at": repr(at), "actor": actor, "action": action, "subject": subject, "details": details}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(prev_hash: str, seq: int, at: float, actor: str, action: str, subject: str, details: str) -> str:
    """The plain (unkeyed) chained hash of one entry, as logs written before keying used."""
    return hashlib.sha256(prev_hash.encode() + _canonical(seq, at, actor, action, subject, details)).hexdigest()


def keyed_hash(
    key: bytes, prev_hash: str, seq: int, at: float, actor: str, action: str, subject: str, details: str
) -> str:
    """The keyed chained hash of one entry (HMAC-SHA-256)."""
    return hmac.new(key, prev_hash.encode() + _canonical(seq, at, actor, action, subject, details), "sha256").hexdigest()


def _key_path(db: sqlite3.Connection) -> Path:
    """``data_dir/keys/audit-hmac.key`` beside the database ``db`` is connected to."""
    for _, name, file in db.execute("PRAGMA database_list"):
        if name == "main" and file:
            return Path(file).parent / KEY_FILE
    raise StoreError("the audit log needs a database file (its key lives beside it in keys/)")


def _read_key(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"cannot read the audit key {path}: {exc.strerror}") from exc


def _is_keyed(key: bytes, entry: AuditEntry) -> bool:
    fields = (entry.prev_hash, entry.seq, entry.at, entry.actor, entry.action, entry.subject, entry.details)
    return hmac.compare_digest(keyed_hash(key, *fields), entry.hash)


def _insert(db: sqlite3.Connection, key: bytes, prev: str, seq: int, at: float, actor: str, action: str,
            subject: str, text: str) -> AuditEntry:
    digest = keyed_hash(key, prev, seq, at, actor, action, subject, text)
    db.execute(
        "INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (seq, at, actor, action, subject, text, prev, digest),
    )
    return AuditEntry(seq, at, actor, action, subject, text, prev, digest)


def append(
    db: sqlite3.Connection, *, at: float, actor: str, action: str, subject: str, details: Mapping[str, Any]
) -> AuditEntry:
    """Append a keyed entry inside the caller's open transaction (so it commits with the change).

    Raises:
        StoreError: the key is missing though the log was keyed with it (restore it from backup).
    """
    at = float(at)  # the REAL column gives back a float: hash what verify will read
    path = _key_path(db)
    row = db.execute(
        "SELECT seq, at, actor, action, subject, details, prev_hash, hash FROM audit_log ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    last = AuditEntry(*row) if row else None
    key = _read_key(path)
    if key is None:
        if last is not None and entry_hash(*_fields(last)) != last.hash:
            raise StoreError(
                f"the audit key {path} is missing but the audit log was keyed with it: restore it from the "
                "backup of this data_dir (a new key would make the log unverifiable)"
            )
        key = make_key_file(path)
    seq, prev = (last.seq + 1, last.hash) if last else (1, GENESIS)
    if last is not None and not _is_keyed(key, last):  # the switch-over: mark where keying begins
        marker = json.dumps({"unkeyed_entries": last.seq}, separators=(",", ":"))
        written = _insert(db, key, prev, seq, at, "guarita", SWITCH_OVER, "audit_log", marker)
        seq, prev = seq + 1, written.hash
    text = json.dumps(dict(details), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return _insert(db, key, prev, seq, at, actor, action, subject, text)


def _fields(entry: AuditEntry) -> tuple[str, int, float, str, str, str, str]:
    return (entry.prev_hash, entry.seq, entry.at, entry.actor, entry.action, entry.subject, entry.details)


def check(db: sqlite3.Connection) -> AuditCheck:
    """Check the whole chain, plain entries before the switch-over and keyed ones after it."""
    path = _key_path(db)
    key = _read_key(path)
    expected_prev, expected_seq, count, unkeyed = GENESIS, 1, 0, 0
    keyed_from: int | None = None

    def done(broken: AuditBreak | None) -> AuditCheck:
        return AuditCheck(count, broken, unkeyed, keyed_from)

    for row in db.execute(
        "SELECT seq, at, actor, action, subject, details, prev_hash, hash FROM audit_log ORDER BY rowid"
    ):
        entry = AuditEntry(*row)
        count += 1
        if entry.seq != expected_seq:
            return done(AuditBreak(entry.seq, f"expected entry {expected_seq} here: an entry was deleted or moved"))
        if entry.prev_hash != expected_prev:
            return done(AuditBreak(entry.seq, "does not follow the entry before it (deleted, moved or edited)"))
        if key is not None and _is_keyed(key, entry):
            keyed_from = entry.seq if keyed_from is None else keyed_from
        elif entry_hash(*_fields(entry)) == entry.hash:
            if keyed_from is not None:
                return done(AuditBreak(entry.seq, f"an unkeyed entry after keying began at entry {keyed_from}: "
                                                  "written by someone without the audit key"))
            unkeyed += 1
        elif key is None:
            return done(AuditBreak(entry.seq, f"its hash is not a plain SHA-256 and the audit key {path} is "
                                              "missing: restore the key, or the entry was edited"))
        else:
            return done(AuditBreak(entry.seq, "its content does not match its hash: the entry was edited"))
        expected_prev = entry.hash
        expected_seq += 1
    return done(None)


def verify(db: sqlite3.Connection) -> tuple[int, AuditBreak | None]:
    """Check the whole chain; returns (entries checked, the first break or None)."""
    result = check(db)
    return result.entries, result.broken


def head(db: sqlite3.Connection) -> tuple[int, str]:
    """The last entry's number and hash (0 and ``GENESIS`` for an empty log)."""
    row = db.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    return (int(row[0]), str(row[1])) if row else (0, GENESIS)
