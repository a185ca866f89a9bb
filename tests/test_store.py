"""The SQLite store's files: private to their owner, and one log line for all migrations."""

from __future__ import annotations

import logging
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from guarita.consent.registry import Registry
from guarita.store import DB_FILE, MIGRATIONS, Store


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# covers BH-07
def test_a_new_store_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = Store.open(data)
    try:
        store.bump_counter("x")  # a write, so the WAL files exist
        assert mode(data) == 0o700
        assert mode(data / DB_FILE) == 0o600
        for suffix in ("-wal", "-shm"):
            assert mode(data / (DB_FILE + suffix)) == 0o600, suffix
    finally:
        store.close()


# covers BH-07
def test_an_existing_world_readable_database_is_made_private(tmp_path: Path) -> None:
    Store.open(tmp_path).close()
    (tmp_path / DB_FILE).chmod(0o644)
    Store.open(tmp_path).close()
    assert mode(tmp_path / DB_FILE) == 0o600


# covers BH-07, PB-03
def test_kept_evidence_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = Store.open(data)
    try:
        registry = Registry(store, data, accredited=True, clock=lambda: datetime(2026, 6, 30, 13, tzinfo=UTC))
        form = tmp_path / "consent.pdf"
        form.write_bytes(b"%PDF signed authorisation")
        form.chmod(0o644)
        registry.add_client("condo-1", "Condomínio Flores", by="ana")
        registry.grant("street_front", client_id="condo-1", evidence=form, by="ana")
        kept = [p for p in (data / "evidence").rglob("*")]
        assert kept and all(mode(p) == (0o700 if p.is_dir() else 0o600) for p in kept), {
            str(p): oct(mode(p)) for p in kept}
        assert mode(data / "evidence") == 0o700
    finally:
        store.close()


# covers PB-01
def test_migrations_log_one_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="guarita.store")
    Store.open(tmp_path).close()
    lines = [r.getMessage() for r in caplog.records if r.name == "guarita.store"]
    assert lines == [f"store {tmp_path / DB_FILE} migrated from schema version 0 to {len(MIGRATIONS)}"]
    caplog.clear()
    Store.open(tmp_path).close()
    assert [r for r in caplog.records if r.name == "guarita.store"] == []
