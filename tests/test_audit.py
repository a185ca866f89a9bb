"""The audit log: a hash chain that names the first entry someone edited, deleted or moved.

Tampering is done the way an intruder with the database file would do it: plain SQL on
the ``audit_log`` table through a connection of its own.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from guarita import audit
from guarita.errors import StoreError
from guarita.consent.registry import Registry
from guarita.store import Store

T0 = 1_782_824_400.25
COLUMNS = ("at", "actor", "action", "subject", "details", "prev_hash", "hash")
CPF = "529.982.247-25"
CPF_DIGITS = "52998224725"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A store holding a chain of six entries (seq 1..6)."""
    opened = Store.open(tmp_path / "data")
    for n in range(1, 7):
        with opened.transaction() as db:
            audit.append(
                db, at=T0 + n, actor=f"op{n}", action="consent.grant", subject=f"cam{n}",
                details={"n": n, "note": "ação"},
            )
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def intruder(store: Store) -> Iterator[sqlite3.Connection]:
    """A second connection to the same file, editing it behind Guarita's back."""
    db = sqlite3.connect(store.path, isolation_level=None)
    try:
        yield db
    finally:
        db.close()


def row(db: sqlite3.Connection, seq: int) -> tuple[Any, ...]:
    return tuple(db.execute(f"SELECT {', '.join(COLUMNS)} FROM audit_log WHERE seq = ?", (seq,)).fetchone())


# covers BH-07, PB-03
def test_an_untouched_chain_verifies(store: Store) -> None:
    assert audit.verify(store.db) == (6, None)
    first = row(store.db, 1)
    assert first[COLUMNS.index("prev_hash")] == audit.GENESIS
    # Each entry's prev_hash is the hash of the one before it.
    for seq in range(2, 7):
        assert row(store.db, seq)[COLUMNS.index("prev_hash")] == row(store.db, seq - 1)[COLUMNS.index("hash")]


# covers BH-07, PB-03
def test_an_empty_log_verifies(tmp_path: Path) -> None:
    empty = Store.open(tmp_path / "empty")
    try:
        assert audit.verify(empty.db) == (0, None)
    finally:
        empty.close()


# covers BH-07, PB-03
@pytest.mark.parametrize(
    ("column", "value"),
    [("actor", "mallory"), ("action", "consent.revoke"), ("subject", "other_cam"), ("details", '{"n":99}'), ("at", T0 + 99)],
)
def test_editing_a_field_of_a_middle_row_is_named(store: Store, intruder: sqlite3.Connection, column: str, value: object) -> None:
    intruder.execute(f"UPDATE audit_log SET {column} = ? WHERE seq = 3", (value,))
    checked, broken = audit.verify(store.db)
    assert broken is not None and broken.seq == 3
    assert "edited" in broken.problem
    assert checked == 3
    assert str(broken).startswith("audit entry 3:")


# covers BH-07, PB-03
def test_deleting_a_middle_row_is_named(store: Store, intruder: sqlite3.Connection) -> None:
    intruder.execute("DELETE FROM audit_log WHERE seq = 3")
    _, broken = audit.verify(store.db)
    assert broken is not None
    assert broken.seq == 4, "the entry after the gap is the first that no longer follows"
    assert "deleted" in broken.problem


# covers BH-07, PB-03
def test_swapping_the_content_of_two_rows_is_named(store: Store, intruder: sqlite3.Connection) -> None:
    second, fourth = row(intruder, 2), row(intruder, 4)
    assignments = ", ".join(f"{c} = ?" for c in COLUMNS)
    intruder.execute("BEGIN")
    intruder.execute(f"UPDATE audit_log SET {assignments} WHERE seq = 2", fourth)
    intruder.execute(f"UPDATE audit_log SET {assignments} WHERE seq = 4", second)
    intruder.execute("COMMIT")
    _, broken = audit.verify(store.db)
    assert broken is not None and broken.seq == 2, "the earlier of the two moved rows is reported"


# covers BH-07, PB-03
def test_moving_a_row_to_the_end_is_named(store: Store, intruder: sqlite3.Connection) -> None:
    """Re-inserting entry 3 after entry 6 (its seq kept) still leaves a gap at 3."""
    moved = intruder.execute("SELECT * FROM audit_log WHERE seq = 3").fetchone()
    intruder.execute("BEGIN")
    intruder.execute("DELETE FROM audit_log WHERE seq = 3")
    intruder.execute("INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash) VALUES (7, ?, ?, ?, ?, ?, ?, ?)", moved[1:])
    intruder.execute("COMMIT")
    _, broken = audit.verify(store.db)
    assert broken is not None and broken.seq == 4


# covers BH-07, PB-03
@pytest.mark.parametrize("column", ["hash", "prev_hash"])
def test_changing_a_hash_is_named(store: Store, intruder: sqlite3.Connection, column: str) -> None:
    intruder.execute(f"UPDATE audit_log SET {column} = ? WHERE seq = 3", ("f" * 64,))
    _, broken = audit.verify(store.db)
    assert broken is not None and broken.seq == 3


# covers BH-07, PB-03
def test_changing_the_last_hash_is_named(store: Store, intruder: sqlite3.Connection) -> None:
    intruder.execute("UPDATE audit_log SET hash = ? WHERE seq = 6", ("0" * 64,))
    assert audit.verify(store.db) == (6, audit.AuditBreak(6, "its content does not match its hash: the entry was edited"))


# covers BH-07, PB-03
def test_an_edit_with_a_plain_hash_recomputed_is_named_at_that_entry(store: Store, intruder: sqlite3.Connection) -> None:
    at, _, action, subject, details, prev, _ = row(intruder, 3)
    forged = audit.entry_hash(prev, 3, at, "mallory", action, subject, details)
    intruder.execute("UPDATE audit_log SET actor = 'mallory', hash = ? WHERE seq = 3", (forged,))
    _, broken = audit.verify(store.db)
    assert broken is not None and broken.seq == 3
    assert "without the audit key" in broken.problem


# covers BH-07, PB-03
def test_only_the_first_of_several_breaks_is_reported(store: Store, intruder: sqlite3.Connection) -> None:
    intruder.execute("UPDATE audit_log SET actor = 'x' WHERE seq IN (2, 5)")
    intruder.execute("DELETE FROM audit_log WHERE seq = 4")
    assert audit.verify(store.db)[1] == audit.AuditBreak(2, "its content does not match its hash: the entry was edited")


# covers BH-07, PB-03
def test_an_entry_at_a_whole_second_given_as_int_verifies(tmp_path: Path) -> None:
    opened = Store.open(tmp_path / "data")
    try:
        with opened.transaction() as db:
            audit.append(db, at=1_782_824_400, actor="op", action="config.load", subject="acme", details={})
        assert audit.verify(opened.db) == (1, None)
    finally:
        opened.close()


# covers BH-07, PB-03
def test_registry_changes_are_audited_without_the_raw_document(tmp_path: Path) -> None:
    data = tmp_path / "data"
    opened = Store.open(data)
    try:
        registry = Registry(opened, data, accredited=True, clock=lambda: datetime(2026, 6, 30, 13, tzinfo=UTC))
        evidence = tmp_path / "consent.pdf"
        evidence.write_bytes(b"%PDF signed authorisation")
        registry.add_client("condo-1", "Condomínio Flores", by="ana", document=CPF, contact="síndico: +55 31 99999-0000")
        registry.grant("street_front", client_id="condo-1", evidence=evidence, by="ana")
        registry.attest("street_front", public_facing=True, evidence=evidence, by="ana")
        registry.record_signage("street_front", plate="BH-0001", photo=evidence, by="ana")
        registry.revoke("street_front", by="ana", reason="client asked")
        actions = [r[0] for r in opened.db.execute("SELECT action FROM audit_log ORDER BY seq")]
        assert [a for a in actions if a != "camera.assign"] == [
            "client.add", "consent.grant", "camera.attest", "signage.record", "consent.revoke"
        ]
        assert audit.verify(opened.db) == (len(actions), None)
        everything = "\n".join(
            "|".join(str(v) for v in r) for r in opened.db.execute("SELECT * FROM audit_log").fetchall()
        )
        for raw in (CPF, CPF_DIGITS, "99999-0000", "síndico", "Flores", "PDF signed"):
            assert raw not in everything
        (details,) = opened.db.execute("SELECT details FROM audit_log WHERE action = 'client.add'").fetchone()
        assert '"document_hmac":"' in details, "the document appears only as its keyed hash"
    finally:
        opened.close()


def plain_append(db: sqlite3.Connection, seq: int, actor: str, action: str = "consent.grant") -> str:
    """Append an entry the way a writer without the key can: plain SHA-256 over the previous hash."""
    last = db.execute("SELECT hash FROM audit_log WHERE seq = ?", (seq - 1,)).fetchone()
    prev = str(last[0]) if last else audit.GENESIS
    at, subject, details = T0 + seq, "cam1", json.dumps({"n": seq}, separators=(",", ":"))
    digest = audit.entry_hash(prev, seq, at, actor, action, subject, details)
    db.execute(
        "INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (seq, at, actor, action, subject, details, prev, digest),
    )
    return digest


# covers BH-07, BH-09, PB-03
def test_an_entry_forged_at_the_end_with_a_plain_sha256_is_detected(store: Store, intruder: sqlite3.Connection) -> None:
    plain_append(intruder, 7, "mallory", "consent.revoke")
    result = audit.check(store.db)
    assert result.broken == audit.AuditBreak(
        7, "an unkeyed entry after keying began at entry 1: written by someone without the audit key"
    )
    assert (result.entries, result.unkeyed, result.keyed_from) == (7, 0, 1)


# covers BH-07, PB-03
def test_the_audit_key_is_kept_apart_from_the_database_readable_by_its_owner_only(store: Store) -> None:
    key = store.path.parent / audit.KEY_FILE
    assert len(key.read_bytes()) == 32
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(key.parent).st_mode) == 0o700
    assert key.read_bytes() not in store.path.read_bytes()


# covers BH-07, PB-03
def test_an_old_unkeyed_log_still_verifies_and_keying_starts_at_a_marked_switch_over(tmp_path: Path) -> None:
    opened = Store.open(tmp_path / "data")
    try:
        for seq in (1, 2, 3):  # written by a Guarita from before keying
            plain_append(opened.db, seq, f"op{seq}")
        assert not (tmp_path / "data" / audit.KEY_FILE).exists()
        assert audit.check(opened.db) == audit.AuditCheck(3, None, 3, None)
        assert audit.check(opened.db).describe_keying() == "all 3 entries unkeyed (plain SHA-256; written before keying)"

        with opened.transaction() as db:
            entry = audit.append(db, at=T0 + 10, actor="ana", action="client.add", subject="c1", details={})
        assert entry.seq == 5
        marker = opened.db.execute("SELECT action, details FROM audit_log WHERE seq = 4").fetchone()
        assert marker == (audit.SWITCH_OVER, '{"unkeyed_entries":3}')
        result = audit.check(opened.db)
        assert result == audit.AuditCheck(5, None, 3, 4)
        assert result.describe_keying() == "entries 1-3 unkeyed (before keying), keyed (HMAC-SHA-256) from entry 4"

        plain_append(opened.db, 6, "mallory")  # after the switch-over, a plain entry is a forgery
        assert audit.verify(opened.db)[1] == audit.AuditBreak(
            6, "an unkeyed entry after keying began at entry 4: written by someone without the audit key"
        )
    finally:
        opened.close()


# covers BH-07, PB-03
def test_a_lost_audit_key_is_refused_not_replaced(store: Store) -> None:
    key = store.path.parent / audit.KEY_FILE
    key.unlink()
    with pytest.raises(StoreError, match="audit key .* is missing but the audit log was keyed with it"):
        with store.transaction() as db:
            audit.append(db, at=T0 + 50, actor="op", action="consent.grant", subject="cam", details={})
    assert not key.exists()
    broken = audit.verify(store.db)[1]
    assert broken is not None and broken.seq == 1 and "audit key" in broken.problem and "missing" in broken.problem
