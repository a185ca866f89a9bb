"""The one SQLite database in ``data_dir``: WAL journal, numbered migrations.

One ``Store`` (one connection) per process. Calls run on the event loop thread: every
statement is a short indexed read or a batched write (one commit per batch, WAL), measured
in microseconds, so an executor hop would cost more than it saves.

``synchronous=FULL`` makes every commit durable against power loss, not only process
crashes; callers batch their writes so the hot path pays one fsync per batch.

A full disk is a state, not a crash: a write that fails for want of space raises
``StoreFullError`` naming the directory, ``full`` holds that message (for /healthz) until
a later commit succeeds, and the change is logged once each way. A transaction SQLite
already ended on its own (as it does on SQLITE_FULL) is not rolled back a second time,
so the caller sees the real error.

Covers: PB-01, DT-21, BH-07.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from guarita.errors import StoreError, StoreFullError

__all__ = ["DB_FILE", "MIGRATIONS", "Store"]

log = logging.getLogger(__name__)

DB_FILE = "guarita.db"

# Each entry migrates from version N (its index) to N + 1. Append only; never edit a
# released migration.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        uplink TEXT NOT NULL,
        idem_key TEXT NOT NULL,
        order_key TEXT NOT NULL,
        topic TEXT NOT NULL,
        payload BLOB NOT NULL,
        qos INTEGER NOT NULL,
        retain INTEGER NOT NULL,
        created_at REAL NOT NULL,
        delivered_at REAL,
        UNIQUE (idem_key, uplink)
    );
    CREATE INDEX outbox_pending ON outbox (uplink, id) WHERE delivered_at IS NULL;
    CREATE INDEX outbox_delivered ON outbox (delivered_at) WHERE delivered_at IS NOT NULL;
    CREATE TABLE quarantine (
        id INTEGER PRIMARY KEY,
        received_at REAL NOT NULL,
        topic TEXT NOT NULL,
        kind TEXT NOT NULL,
        reason TEXT NOT NULL,
        payload_sha256 TEXT NOT NULL,
        payload_size INTEGER NOT NULL,
        payload BLOB
    );
    CREATE TABLE event_forwarding (
        uplink TEXT NOT NULL,
        event_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        last_forwarded_frame_time REAL NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (event_id, uplink)
    ) WITHOUT ROWID;
    CREATE TABLE counters (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    ) WITHOUT ROWID;
    """,
    # 2: the consent registry (append-only: a change is a new row) and the audit chain.
    """
    CREATE TABLE registry_clients (
        seq INTEGER PRIMARY KEY,
        client_id TEXT NOT NULL,
        name TEXT NOT NULL,
        contact TEXT,
        document_hmac TEXT,
        recorded_at REAL NOT NULL,
        recorded_by TEXT NOT NULL
    );
    CREATE INDEX registry_clients_id ON registry_clients (client_id, seq);
    CREATE TABLE registry_ownership (
        seq INTEGER PRIMARY KEY,
        camera TEXT NOT NULL,
        client_id TEXT NOT NULL,
        recorded_at REAL NOT NULL,
        recorded_by TEXT NOT NULL
    );
    CREATE INDEX registry_ownership_camera ON registry_ownership (camera, seq);
    CREATE TABLE registry_consents (
        seq INTEGER PRIMARY KEY,
        camera TEXT NOT NULL,
        action TEXT NOT NULL CHECK (action IN ('grant', 'revoke')),
        client_id TEXT,
        programs TEXT,
        evidence_sha256 TEXT,
        expires_at REAL,
        reason TEXT,
        recorded_at REAL NOT NULL,
        recorded_by TEXT NOT NULL
    );
    CREATE INDEX registry_consents_camera ON registry_consents (camera, seq);
    CREATE TABLE registry_attestations (
        seq INTEGER PRIMARY KEY,
        camera TEXT NOT NULL,
        public_facing INTEGER NOT NULL,
        evidence_sha256 TEXT NOT NULL,
        recorded_at REAL NOT NULL,
        recorded_by TEXT NOT NULL
    );
    CREATE INDEX registry_attestations_camera ON registry_attestations (camera, seq);
    CREATE TABLE registry_signage (
        seq INTEGER PRIMARY KEY,
        camera TEXT NOT NULL,
        plate TEXT NOT NULL,
        photo_sha256 TEXT NOT NULL,
        installed_on TEXT NOT NULL,
        recorded_at REAL NOT NULL,
        recorded_by TEXT NOT NULL
    );
    CREATE INDEX registry_signage_camera ON registry_signage (camera, seq);
    CREATE TABLE catalogue_state (
        camera TEXT PRIMARY KEY,
        payload_sha256 TEXT NOT NULL,
        topics TEXT NOT NULL,
        published_at REAL NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        subject TEXT NOT NULL,
        details TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    """,
    # 3: bus garages: the DVR archive index, its quarantine and sync runs; positions,
    # sensor events and their handling trail.
    """
    CREATE TABLE dvr_segments (
        vehicle TEXT NOT NULL,
        camera INTEGER NOT NULL,
        name TEXT NOT NULL,
        start_utc REAL NOT NULL,
        duration_s REAL NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        synced_at REAL NOT NULL,
        PRIMARY KEY (vehicle, camera, name)
    ) WITHOUT ROWID;
    CREATE INDEX dvr_segments_start ON dvr_segments (start_utc);
    CREATE TABLE dvr_deletions (
        path TEXT PRIMARY KEY,
        queued_at REAL NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE dvr_telemetry_files (
        vehicle TEXT NOT NULL,
        name TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        samples INTEGER NOT NULL,
        synced_at REAL NOT NULL,
        PRIMARY KEY (vehicle, name)
    ) WITHOUT ROWID;
    CREATE TABLE dvr_quarantine (
        id INTEGER PRIMARY KEY,
        vehicle TEXT NOT NULL,
        folder TEXT NOT NULL,
        name TEXT NOT NULL,
        size INTEGER,
        sha256 TEXT,
        reason TEXT NOT NULL,
        path TEXT,
        quarantined_at REAL NOT NULL,
        UNIQUE (vehicle, folder, name, size)
    );
    CREATE TABLE dvr_syncs (
        id INTEGER PRIMARY KEY,
        vehicle TEXT NOT NULL,
        started_at REAL NOT NULL,
        finished_at REAL,
        status TEXT NOT NULL,
        files INTEGER NOT NULL DEFAULT 0,
        bytes INTEGER NOT NULL DEFAULT 0,
        quarantined INTEGER NOT NULL DEFAULT 0,
        detail TEXT
    );
    CREATE INDEX dvr_syncs_vehicle ON dvr_syncs (vehicle, id);
    CREATE TABLE vehicle_positions (
        vehicle TEXT NOT NULL,
        ts REAL NOT NULL,
        lat REAL,
        lon REAL,
        speed_kmh REAL,
        heading REAL,
        odometer_km REAL,
        rpm REAL,
        accel_long_mps2 REAL,
        accel_lat_mps2 REAL,
        extra TEXT,
        PRIMARY KEY (vehicle, ts)
    ) WITHOUT ROWID;
    CREATE INDEX vehicle_positions_ts ON vehicle_positions (ts);
    CREATE TABLE vehicle_events (
        id TEXT PRIMARY KEY,
        vehicle TEXT NOT NULL,
        type TEXT NOT NULL,
        ts REAL NOT NULL,
        lat REAL,
        lon REAL,
        speed_kmh REAL,
        value REAL,
        threshold REAL,
        source TEXT NOT NULL,
        details TEXT NOT NULL,
        created_at REAL NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX vehicle_events_ts ON vehicle_events (ts);
    CREATE INDEX vehicle_events_vehicle ON vehicle_events (vehicle, ts);
    CREATE TABLE vehicle_event_acks (
        seq INTEGER PRIMARY KEY,
        event_id TEXT NOT NULL REFERENCES vehicle_events (id),
        action TEXT NOT NULL,
        acked_by TEXT NOT NULL,
        acked_at REAL NOT NULL
    );
    CREATE INDEX vehicle_event_acks_event ON vehicle_event_acks (event_id, seq);
    """,
    # 4: legal holds (a release is a row of its own) and evidence requests with their chain of
    # custody; all append-only: no row is ever updated or deleted.
    """
    CREATE TABLE legal_holds (
        id INTEGER PRIMARY KEY,
        camera TEXT,
        vehicle TEXT,
        camera_number INTEGER,
        start_utc REAL NOT NULL,
        end_utc REAL NOT NULL,
        ref TEXT NOT NULL,
        evidence_request INTEGER,
        frigate_export_id TEXT,
        export_note TEXT,
        created_at REAL NOT NULL,
        created_by TEXT NOT NULL,
        CHECK ((camera IS NULL) <> (vehicle IS NULL)),
        CHECK (end_utc > start_utc)
    );
    CREATE TABLE legal_hold_releases (
        hold_id INTEGER PRIMARY KEY REFERENCES legal_holds (id),
        reason TEXT NOT NULL,
        released_at REAL NOT NULL,
        released_by TEXT NOT NULL
    );
    CREATE TABLE evidence_requests (
        id INTEGER PRIMARY KEY,
        type TEXT NOT NULL,
        ref TEXT NOT NULL,
        requester TEXT NOT NULL,
        sources TEXT NOT NULL,
        start_utc REAL NOT NULL,
        end_utc REAL NOT NULL,
        recorded_at REAL NOT NULL,
        recorded_by TEXT NOT NULL
    );
    CREATE TABLE evidence_custody (
        seq INTEGER PRIMARY KEY,
        request_id INTEGER NOT NULL REFERENCES evidence_requests (id),
        action TEXT NOT NULL,
        at REAL NOT NULL,
        by TEXT NOT NULL,
        details TEXT NOT NULL
    );
    CREATE INDEX evidence_custody_request ON evidence_custody (request_id, seq);
    """,
    # 5: the cloud copy: one row per object known complete in the bucket (written after the
    # store answered the PUT), and how far the walk of Frigate's recordings folder got.
    """
    CREATE TABLE cloud_objects (
        key TEXT PRIMARY KEY,
        camera TEXT NOT NULL,
        start_utc REAL NOT NULL,
        end_utc REAL NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        uploaded_at REAL NOT NULL
    );
    CREATE INDEX cloud_objects_camera ON cloud_objects (camera, start_utc);
    CREATE INDEX cloud_objects_end ON cloud_objects (end_utc);
    CREATE TABLE cloud_cursor (
        source TEXT PRIMARY KEY,
        hour TEXT NOT NULL
    );
    """,
    # 6: what became of each camera hold's Frigate export (pending, in progress, done with its
    # file, failed with the reason); append-only, the latest row of a hold is its state.
    """
    CREATE TABLE legal_hold_exports (
        seq INTEGER PRIMARY KEY,
        hold_id INTEGER NOT NULL REFERENCES legal_holds (id),
        state TEXT NOT NULL CHECK (state IN ('pending', 'in_progress', 'done', 'failed')),
        at REAL NOT NULL,
        attempt INTEGER NOT NULL,
        export_id TEXT,
        file TEXT,
        duration_s REAL,
        sha256 TEXT,
        reason TEXT
    );
    CREATE INDEX legal_hold_exports_hold ON legal_hold_exports (hold_id, seq);
    """,
    # 7: dead letters: outbox messages set aside because a broker refused them or they were too
    # large to queue, so what follows them is delivered. The outbox gets AUTOINCREMENT ids: an
    # uplink reads on from the last id it sent, so an id must never come back after the newest
    # row left the table (dead-lettered, or pruned once delivered).
    """
    CREATE TABLE outbox_v7 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        uplink TEXT NOT NULL,
        idem_key TEXT NOT NULL,
        order_key TEXT NOT NULL,
        topic TEXT NOT NULL,
        payload BLOB NOT NULL,
        qos INTEGER NOT NULL,
        retain INTEGER NOT NULL,
        created_at REAL NOT NULL,
        delivered_at REAL,
        UNIQUE (idem_key, uplink)
    );
    INSERT INTO outbox_v7 SELECT id, uplink, idem_key, order_key, topic, payload, qos, retain, created_at,
        delivered_at FROM outbox;
    DROP TABLE outbox;
    ALTER TABLE outbox_v7 RENAME TO outbox;
    CREATE INDEX outbox_pending ON outbox (uplink, id) WHERE delivered_at IS NULL;
    CREATE INDEX outbox_delivered ON outbox (delivered_at) WHERE delivered_at IS NOT NULL;
    CREATE TABLE dead_letters (
        id INTEGER PRIMARY KEY,
        uplink TEXT NOT NULL,
        idem_key TEXT NOT NULL,
        order_key TEXT NOT NULL,
        topic TEXT NOT NULL,
        payload BLOB NOT NULL,
        qos INTEGER NOT NULL,
        retain INTEGER NOT NULL,
        payload_size INTEGER NOT NULL,
        payload_sha256 TEXT NOT NULL,
        created_at REAL NOT NULL,
        dead_at REAL NOT NULL,
        reason TEXT NOT NULL,
        UNIQUE (idem_key, uplink)
    );
    """,
    # 8: an optional free-text note on an event's ack (DT-17); acks recorded before it have none.
    """
    ALTER TABLE vehicle_event_acks ADD COLUMN note TEXT;
    """,
    # 9: homeowner invitations (PB-07) and their withdrawal links: only each link's SHA-256 is kept.
    # An invitation is used once (``used_at``); a withdrawal link stays valid (``last_used_at``).
    """
    CREATE TABLE homeowner_invitations (
        id INTEGER PRIMARY KEY,
        token_sha256 TEXT NOT NULL UNIQUE,
        client_id TEXT NOT NULL,
        cameras TEXT NOT NULL,
        created_at REAL NOT NULL,
        created_by TEXT NOT NULL,
        expires_at REAL NOT NULL,
        used_at REAL
    );
    CREATE TABLE homeowner_withdrawal_links (
        id INTEGER PRIMARY KEY,
        token_sha256 TEXT NOT NULL UNIQUE,
        invitation_id INTEGER NOT NULL REFERENCES homeowner_invitations (id),
        client_id TEXT NOT NULL,
        cameras TEXT NOT NULL,
        acceptance_sha256 TEXT NOT NULL,
        created_at REAL NOT NULL,
        last_used_at REAL
    );
    """,
    # 10: whether a cloud object was masked before upload (a camera with privacy masks, BH-07);
    # the objects uploaded before it were not.
    """
    ALTER TABLE cloud_objects ADD COLUMN masked INTEGER NOT NULL DEFAULT 0;
    """,
)


class Store:
    """The process's connection to ``data_dir/guarita.db``."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.db = connection
        self.path = path
        self.full: str | None = None  # why the last write failed for want of space, until one succeeds

    @classmethod
    def open(cls, data_dir: Path) -> Store:
        """Open (creating and migrating as needed) the store in ``data_dir``.

        Raises:
            StoreError: the directory or database cannot be used.
        """
        path = data_dir / DB_FILE
        try:
            data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            _private_file(path)
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA busy_timeout=5000")
            db.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            if _out_of_space(exc, path):
                raise StoreFullError(
                    f"the disk holding {data_dir} is full ({_free_text(path)}); cannot open the store at "
                    f"{path}: {exc}; free space on that disk and start again"
                ) from exc
            raise StoreError(f"cannot open the store at {path}: {exc}") from exc
        except OSError as exc:
            raise StoreError(f"cannot open the store at {path}: {exc}") from exc
        store = cls(db, path)
        store._migrate()
        return store

    def _migrate(self) -> None:
        (version,) = self.db.execute("PRAGMA user_version").fetchone()
        if version > len(MIGRATIONS):
            raise StoreError(
                f"{self.path} is at schema version {version}, newer than this Guarita "
                f"({len(MIGRATIONS)}); upgrade Guarita or restore an older backup"
            )
        for number in range(version, len(MIGRATIONS)):
            try:
                self.db.execute("BEGIN IMMEDIATE")
                for statement in _statements(MIGRATIONS[number]):
                    self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {number + 1}")
                self.db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise self._write_error(f"migration {number + 1} of {self.path} failed", exc) from exc
        if version < len(MIGRATIONS):
            log.info("store %s migrated from schema version %d to %d", self.path, version, len(MIGRATIONS))

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on error).

        Raises:
            StoreFullError: the disk holding the store is full (nothing was written).
            StoreError: the store cannot be written for another reason.
        """
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._write_error(f"cannot write to {self.path}", exc) from exc
        try:
            yield self.db
        except sqlite3.Error as exc:
            self._rollback()
            if _out_of_space(exc, self.path):
                raise self._write_error(f"cannot write to {self.path}", exc) from exc
            raise
        except BaseException:
            self._rollback()
            raise
        try:
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise self._write_error(f"cannot commit to {self.path}", exc) from exc
        if self.full is not None:
            self.full = None
            log.warning("the disk holding %s has room again: writing resumed", self.path.parent)

    def _rollback(self) -> None:
        """Undo the open transaction, if SQLite has not already ended it itself."""
        if not self.db.in_transaction:
            return
        try:
            self.db.execute("ROLLBACK")
        except sqlite3.Error as exc:  # the original error matters more; say this one and go on
            log.warning("rollback on %s failed: %s", self.path, exc)

    def _write_error(self, what: str, exc: sqlite3.Error) -> StoreError:
        """The error for a failed write; a full disk becomes ``StoreFullError`` and sets ``full``."""
        if not _out_of_space(exc, self.path):
            return StoreError(f"{what}: {exc}")
        message = (
            f"the disk holding {self.path.parent} is full ({_free_text(self.path)}); "
            f"{what}: {exc}; free space on that disk"
        )
        if self.full is None:
            log.error("%s", message)
        self.full = message
        return StoreFullError(message)

    def bump_counter(self, name: str, by: int = 1) -> None:
        """Add to a persistent counter (inside the caller's transaction if any)."""
        self.db.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
            (name, by),
        )

    def counter(self, name: str) -> int:
        """A persistent counter's value (0 if never bumped)."""
        row = self.db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        """Close the connection (checkpointing the WAL)."""
        self.db.close()


def _private_file(path: Path) -> None:
    """Create ``path`` readable by its owner only, or make it so (with its WAL files): BH-07."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists() and file.stat().st_mode & 0o077:
            file.chmod(0o600)


def _out_of_space(exc: sqlite3.Error, path: Path) -> bool:
    """True if ``exc`` says the disk is full (SQLITE_FULL, or an I/O error on a disk with no room)."""
    primary = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if primary == sqlite3.SQLITE_FULL:
        return True
    if primary == sqlite3.SQLITE_IOERR:
        try:
            return shutil.disk_usage(path.parent).free < 64 * 1024
        except OSError:
            return False
    return False


def _free_text(path: Path) -> str:
    try:
        usage = shutil.disk_usage(path.parent)
    except OSError:
        return "free space unknown"
    return f"{usage.free / 1e6:.1f} MB free of {usage.total / 1e6:.1f} MB"


def _statements(script: str) -> Iterator[str]:
    for statement in script.split(";"):
        if statement.strip():
            yield statement
