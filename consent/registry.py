"""The consent registry: clients, consents, public-facing attestations and signage.

Nothing is updated in place: every change is a new row, so the history is the table. Each
write runs in one transaction with its audit entry and bumps the ``registry_version``
counter, which a running ``guarita run`` polls to apply the change within a second.
Evidence files are kept under ``data_dir/evidence`` by SHA-256; a client's CPF/CNPJ is
kept only as an HMAC with a key of this installation (personal data minimised, BH-07).

Covers: BH-01, BH-02, BH-03, BH-04, BH-07, BH-13, PB-03, PB-07.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import shutil
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from guarita import audit
from guarita.config import GuaritaConfig, ProgramName
from guarita.consent.share_gate import CameraShareState, ConsentRecord, RegistryUnavailable, StaticRegistry
from guarita.errors import GuaritaError, StoreError
from guarita.key_file import make_key_file
from guarita.local_time import local_zone
from guarita.store import Store

__all__ = [
    "REGISTRY_VERSION",
    "ClientRecord",
    "LiveRegistry",
    "Registry",
    "RegistryRefusal",
    "RegistrySnapshot",
    "normalise_document",
]

log = logging.getLogger(__name__)

REGISTRY_VERSION = "registry_version"
_CLIENT_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")


class RegistryRefusal(GuaritaError):
    """A registry operation refused, with the reason a technician can act on."""


@dataclass(frozen=True)
class ClientRecord:
    """A client as last recorded (the national id only as a keyed hash)."""

    client_id: str
    name: str
    contact: str | None
    has_document: bool
    recorded_at: datetime
    recorded_by: str


@dataclass(frozen=True)
class RegistrySnapshot(StaticRegistry):
    """The registry's state at one version; a ``RegistryView`` for the share gate."""

    version: int = 0


def _check_digits(digits: str, weights: list[int]) -> int:
    total = sum(int(d) * w for d, w in zip(digits, weights, strict=False))
    rest = total % 11
    return 0 if rest < 2 else 11 - rest


def normalise_document(document: str) -> str:
    """A CPF (11 digits) or CNPJ (14 digits) with valid check digits, punctuation removed.

    Raises:
        RegistryRefusal: not a valid CPF or CNPJ.
    """
    digits = re.sub(r"[.\-/\s]", "", document)
    if not (digits.isascii() and digits.isdigit()) or len(digits) not in (11, 14) or len(set(digits)) == 1:
        raise RegistryRefusal("the document must be a CPF (11 digits) or a CNPJ (14 digits)")
    if len(digits) == 11:
        first = _check_digits(digits[:9], list(range(10, 1, -1)))
        second = _check_digits(digits[:10], list(range(11, 1, -1)))
    else:
        weights = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]
        first = _check_digits(digits[:12], weights)
        second = _check_digits(digits[:13], [6, *weights])
    if digits[-2:] != f"{first}{second}":
        raise RegistryRefusal("the CPF/CNPJ check digits do not match: check the number")
    return digits


def _at(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


class Registry:
    """Reads and writes the registry in the store; see the module docstring."""

    def __init__(self, store: Store, data_dir: Path, *, accredited: bool, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._data_dir = data_dir
        self._accredited = accredited
        self._clock = clock

    @classmethod
    def for_config(cls, config: GuaritaConfig, store: Store, clock: Callable[[], datetime] | None = None) -> Registry:
        """The registry in ``store``, accredited as ``config`` says; ``clock`` (default: now, UTC) stamps writes."""
        return cls(store, config.storage.data_dir, accredited=config.provider.accreditation is not None,
                   clock=clock or (lambda: datetime.now(UTC)))

    # ---- helpers ---------------------------------------------------------------------
    def _document_key(self) -> bytes:
        path = self._data_dir / "keys" / "document-hmac.key"
        if not path.exists():
            in_use = self._store.db.execute(
                "SELECT 1 FROM registry_clients WHERE document_hmac IS NOT NULL LIMIT 1"
            ).fetchone()
            if in_use:
                raise RegistryRefusal(
                    f"the document key {path} is missing but documents were hashed with it: restore it "
                    "from the backup of this data_dir (a new key would make every stored document unmatchable)"
                )
            return make_key_file(path)
        return path.read_bytes()

    def _keep_evidence(self, source: Path) -> str:
        """Copy an evidence file under ``data_dir/evidence`` by its SHA-256; returns the hash."""
        try:
            digest = hashlib.sha256(source.read_bytes()).hexdigest()
        except OSError as exc:
            raise RegistryRefusal(f"cannot read the evidence file {source}: {exc.strerror}") from exc
        target = self._data_dir / "evidence" / digest[:2] / digest
        if not target.exists():
            for folder in (target.parent.parent, target.parent):  # the owner's only (BH-07)
                folder.mkdir(exist_ok=True, mode=0o700)
            partial = target.with_suffix(".part")
            shutil.copyfile(source, partial)
            partial.chmod(0o600)
            partial.replace(target)
        return digest

    def _write(self, action: str, subject: str, by: str, details: dict[str, Any], sql: str, row: tuple[Any, ...]) -> None:
        self._write_all(by, [(action, subject, details, sql, row)])

    def _write_all(self, by: str, changes: list[tuple[str, str, dict[str, Any], str, tuple[Any, ...]]], *,
                   also: Callable[[sqlite3.Connection], None] | None = None) -> None:
        """Record changes (each with its audit entry), then ``also(db)``, in one transaction: all or none."""
        now = self._clock().timestamp()
        try:
            with self._store.transaction() as db:
                for action, subject, details, sql, row in changes:
                    db.execute(sql, row)
                    audit.append(db, at=now, actor=by, action=action, subject=subject, details=details)
                if also is not None:
                    also(db)
                self._store.bump_counter(REGISTRY_VERSION)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot record {changes[0][0]} for {changes[0][1]}: {exc}") from exc

    def _client_exists(self, client_id: str) -> bool:
        row = self._store.db.execute("SELECT 1 FROM registry_clients WHERE client_id = ?", (client_id,)).fetchone()
        return row is not None

    def _active_consent(self, camera: str) -> sqlite3.Row | tuple[Any, ...] | None:
        row = self._store.db.execute(
            "SELECT action, client_id FROM registry_consents WHERE camera = ? ORDER BY seq DESC LIMIT 1", (camera,)
        ).fetchone()
        return row if row is not None and row[0] == "grant" else None

    def owner(self, camera: str) -> str | None:
        """The client a camera belongs to, as last recorded."""
        row = self._store.db.execute(
            "SELECT client_id FROM registry_ownership WHERE camera = ? ORDER BY seq DESC LIMIT 1", (camera,)
        ).fetchone()
        return str(row[0]) if row else None

    # ---- writes -----------------------------------------------------------------------
    def assign(self, camera: str, *, client_id: str, by: str) -> None:
        """Record which client ``camera`` belongs to (a consent counts only from its owner).

        Raises:
            RegistryRefusal: unknown client.
        """
        if not self._client_exists(client_id):
            raise RegistryRefusal(f"no client {client_id!r}: add it first with `guarita clients add`")
        self._write_all(by, [self._ownership_change(camera, client_id, self.owner(camera), by)])

    def _ownership_change(
        self, camera: str, client_id: str, previous: str | None, by: str
    ) -> tuple[str, str, dict[str, Any], str, tuple[Any, ...]]:
        return (
            "camera.assign",
            camera,
            {"client": client_id, "previous": previous},
            "INSERT INTO registry_ownership (camera, client_id, recorded_at, recorded_by) VALUES (?, ?, ?, ?)",
            (camera, client_id, self._clock().timestamp(), by),
        )

    def keyed_document(self, document: str) -> str:
        """The keyed hash the registry keeps for a CPF/CNPJ (its check digits checked first).

        Raises:
            RegistryRefusal: not a valid CPF or CNPJ.
        """
        return hmac.new(self._document_key(), normalise_document(document).encode(), "sha256").hexdigest()

    def client_document(self, client_id: str) -> str | None:
        """The keyed hash of ``client_id``'s CPF/CNPJ as last recorded, or None."""
        row = self._store.db.execute(
            "SELECT document_hmac FROM registry_clients WHERE client_id = ? ORDER BY seq DESC LIMIT 1", (client_id,)
        ).fetchone()
        return str(row[0]) if row is not None and row[0] is not None else None

    def add_client(
        self, client_id: str, name: str, *, by: str, document: str | None = None, contact: str | None = None
    ) -> None:
        """Record a client (again, to change its details: a new row).

        Raises:
            RegistryRefusal: bad id, empty name, invalid CPF/CNPJ.
        """
        if not _CLIENT_ID.match(client_id):
            raise RegistryRefusal(f"client id {client_id!r} must be lowercase letters, digits, '.', '_' or '-'")
        if not name.strip():
            raise RegistryRefusal("the client needs a name")
        keyed = self.keyed_document(document) if document is not None else None
        previous = self._store.db.execute(
            "SELECT contact, document_hmac FROM registry_clients WHERE client_id = ? ORDER BY seq DESC LIMIT 1",
            (client_id,),
        ).fetchone()
        if previous is not None:  # a change is a new row: what is not given again is kept
            contact = contact if contact is not None else previous[0]
            keyed = keyed if keyed is not None else previous[1]
        now = self._clock().timestamp()
        self._write(
            "client.add",
            client_id,
            by,
            # Personal data stays out of the audit log: only that it was given, and its hashes.
            {
                "name_sha256": hashlib.sha256(name.strip().encode()).hexdigest(),
                "contact_given": contact is not None,
                "document_hmac": keyed,
                "update": previous is not None,
            },
            "INSERT INTO registry_clients (client_id, name, contact, document_hmac, recorded_at, recorded_by) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (client_id, name.strip(), contact, keyed, now, by),
        )

    def grant(
        self,
        camera: str,
        *,
        client_id: str,
        evidence: Path,
        by: str,
        programs: frozenset[ProgramName] = frozenset({ProgramName.COP_BH}),
        expires_at: datetime | None = None,
    ) -> str:
        """Record a client's consent to share ``camera``; returns the evidence's SHA-256.

        Raises:
            RegistryRefusal: unknown client, no programs, expiry in the past, unreadable evidence.
        """
        digest, changes = self._grant_changes(camera, client_id, evidence, by, programs, expires_at)
        self._write_all(by, changes)
        return digest

    def grant_all(
        self,
        cameras: Sequence[str],
        *,
        client_id: str,
        evidence: Path,
        by: str,
        programs: frozenset[ProgramName] = frozenset({ProgramName.COP_BH}),
        also: Callable[[sqlite3.Connection], None] | None = None,
    ) -> str:
        """Record one consent (one evidence) for every camera of ``cameras``: all of them or none.

        Every camera is checked before any is written, then all are written in one
        transaction, with ``also(db)`` run inside it last (a refusal from it undoes them all).

        Raises:
            RegistryRefusal: as ``grant``, for any one camera, or from ``also``.
        """
        if not cameras:
            raise RegistryRefusal("a consent names at least one camera")
        changes: list[tuple[str, str, dict[str, Any], str, tuple[Any, ...]]] = []
        digest = ""
        for camera in cameras:
            digest, more = self._grant_changes(camera, client_id, evidence, by, programs, None)
            changes.extend(more)
        self._write_all(by, changes, also=also)
        return digest

    def _grant_changes(
        self, camera: str, client_id: str, evidence: Path, by: str, programs: frozenset[ProgramName],
        expires_at: datetime | None,
    ) -> tuple[str, list[tuple[str, str, dict[str, Any], str, tuple[Any, ...]]]]:
        """The checks of a grant, then (evidence SHA-256, the rows to write)."""
        if not self._client_exists(client_id):
            raise RegistryRefusal(f"no client {client_id!r}: add it first with `guarita clients add`")
        owner = self.owner(camera)
        if owner is not None and owner != client_id:
            raise RegistryRefusal(
                f"camera {camera!r} belongs to client {owner!r}: only its owner can consent "
                "(record a new owner with `guarita cameras assign` first)"
            )
        if not programs:
            raise RegistryRefusal("a consent names at least one program")
        now = self._clock()
        if expires_at is not None and expires_at <= now:
            raise RegistryRefusal(f"the expiry {expires_at.isoformat()} is not in the future")
        digest = self._keep_evidence(evidence)
        names = sorted(p.value for p in programs)
        expiry = expires_at.timestamp() if expires_at else None
        changes: list[tuple[str, str, dict[str, Any], str, tuple[Any, ...]]] = []
        if owner is None:  # the first consent names the camera's owner
            changes.append(self._ownership_change(camera, client_id, None, by))
        changes.append((
            "consent.grant",
            camera,
            {"client": client_id, "programs": names, "evidence_sha256": digest, "expires_at": expiry},
            "INSERT INTO registry_consents (camera, action, client_id, programs, evidence_sha256, expires_at, "
            "recorded_at, recorded_by) VALUES (?, 'grant', ?, ?, ?, ?, ?, ?)",
            (camera, client_id, json.dumps(names), digest, expiry, now.timestamp(), by),
        ))
        return digest, changes

    def revoke(self, camera: str, *, by: str, reason: str) -> None:
        """Record that the client withdrew consent for ``camera``.

        Raises:
            RegistryRefusal: no active consent, or no reason given.
        """
        active = self._active_consent(camera)
        if active is None:
            raise RegistryRefusal(f"camera {camera!r} has no active consent to revoke")
        if not reason.strip():
            raise RegistryRefusal("a revocation needs a reason")
        self._write(
            "consent.revoke",
            camera,
            by,
            {"client": active[1], "reason": reason},
            "INSERT INTO registry_consents (camera, action, client_id, reason, recorded_at, recorded_by) "
            "VALUES (?, 'revoke', ?, ?, ?, ?)",
            (camera, active[1], reason.strip(), self._clock().timestamp(), by),
        )

    def attest(self, camera: str, *, public_facing: bool, evidence: Path, by: str) -> str:
        """Record whether ``camera`` looks only at public space, with a snapshot as evidence."""
        digest = self._keep_evidence(evidence)
        self._write(
            "camera.attest",
            camera,
            by,
            {"public_facing": public_facing, "evidence_sha256": digest},
            "INSERT INTO registry_attestations (camera, public_facing, evidence_sha256, recorded_at, recorded_by) "
            "VALUES (?, ?, ?, ?, ?)",
            (camera, int(public_facing), digest, self._clock().timestamp(), by),
        )
        return digest

    def record_signage(self, camera: str, *, plate: str, photo: Path, by: str, installed_on: date | None = None) -> str:
        """Record the BH + Segura sign installed at ``camera``, with a photo as evidence."""
        if not plate.strip():
            raise RegistryRefusal("the sign's plate code is missing")
        digest = self._keep_evidence(photo)
        installed = (installed_on or self._clock().astimezone(local_zone()).date()).isoformat()
        self._write(
            "signage.record",
            camera,
            by,
            {"plate": plate.strip(), "photo_sha256": digest, "installed_on": installed},
            "INSERT INTO registry_signage (camera, plate, photo_sha256, installed_on, recorded_at, recorded_by) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (camera, plate.strip(), digest, installed, self._clock().timestamp(), by),
        )
        return digest

    # ---- reads ------------------------------------------------------------------------
    def version(self) -> int:
        """Bumped by every write; cheap to poll."""
        return self._store.counter(REGISTRY_VERSION)

    def clients(self) -> list[ClientRecord]:
        """Every client as last recorded, by id."""
        rows = self._store.db.execute(
            "SELECT client_id, name, contact, document_hmac, recorded_at, recorded_by FROM registry_clients "
            "WHERE seq IN (SELECT MAX(seq) FROM registry_clients GROUP BY client_id) ORDER BY client_id"
        ).fetchall()
        return [ClientRecord(r[0], r[1], r[2], r[3] is not None, _at(r[4]), r[5]) for r in rows]

    def snapshot(self) -> RegistrySnapshot:
        """The whole registry state at one instant, for the share gate and the catalogue.

        All reads run in one deferred read transaction: a write committed meanwhile (by the
        CLI, in another process) is either wholly in the snapshot or wholly out of it.
        """
        db = self._store.db
        db.execute("BEGIN")
        try:
            return self._snapshot(db)
        finally:
            db.execute("COMMIT")

    def snapshot_as_of(self, moment: float, camera: str) -> RegistrySnapshot:
        """``camera``'s state as the registry held it at ``moment`` (rows recorded at or before it)."""
        return self._snapshot(self._store.db, as_of=moment, camera=camera)

    def change_times(self, camera: str) -> list[float]:
        """Every instant ``camera``'s gate state may have changed: its rows' ``recorded_at``, its grants' expiries."""
        rows = self._store.db.execute(
            "SELECT recorded_at FROM registry_consents WHERE camera = ?1 "
            "UNION SELECT expires_at FROM registry_consents WHERE camera = ?1 AND expires_at IS NOT NULL "
            "UNION SELECT recorded_at FROM registry_ownership WHERE camera = ?1 "
            "UNION SELECT recorded_at FROM registry_attestations WHERE camera = ?1 "
            "UNION SELECT recorded_at FROM registry_signage WHERE camera = ?1",
            (camera,),
        )
        return sorted(float(row[0]) for row in rows)

    def _snapshot(self, db: sqlite3.Connection, *, as_of: float | None = None, camera: str | None = None) -> RegistrySnapshot:
        """The state from every row (or those recorded at or before ``as_of``; of one ``camera`` only)."""
        version = self.version()
        bound, args = _row_bound(as_of, camera)
        cameras: dict[str, dict[str, Any]] = {}
        latest = "SELECT * FROM {t} WHERE seq IN (SELECT MAX(seq) FROM {t} WHERE " + bound + " GROUP BY camera)"
        for row in db.execute(
            "SELECT camera, action, client_id, programs, expires_at, recorded_at FROM registry_consents "
            f"WHERE {bound} ORDER BY seq", args
        ):  # replayed in order: the last grant, and whether a revoke followed it
            camera_name, action, client_id, programs, expires_at, recorded_at = row
            entry = cameras.setdefault(camera_name, {})
            entry["consent_client"] = client_id
            if action == "grant":
                entry["consent"] = ConsentRecord(
                    frozenset(ProgramName(p) for p in json.loads(programs)),
                    granted_at=_at(recorded_at),
                    expires_at=_at(expires_at) if expires_at is not None else None,
                )
            elif "consent" in entry:
                granted: ConsentRecord = entry["consent"]
                entry["consent"] = ConsentRecord(granted.programs, granted.granted_at, granted.expires_at, _at(recorded_at))
        owners = {row[1]: row[2] for row in db.execute(latest.format(t="registry_ownership"), args)}
        for camera_name in set(cameras) | set(owners):
            entry = cameras.setdefault(camera_name, {})
            owner = owners.get(camera_name)
            entry["client_id"] = owner
            consent_client = entry.pop("consent_client", owner)
            if owner is None or consent_client != owner:
                entry.pop("consent", None)  # consent from a previous owner no longer counts
        for row in db.execute(latest.format(t="registry_attestations"), args):
            cameras.setdefault(row[1], {})["public_facing"] = bool(row[2])
        for row in db.execute(latest.format(t="registry_signage"), args):
            cameras.setdefault(row[1], {})["signage_plate"] = row[2]
        states = {name: CameraShareState(**fields) for name, fields in cameras.items()}
        return RegistrySnapshot(accredited=self._accredited, cameras=states, version=version)


def _row_bound(as_of: float | None, camera: str | None) -> tuple[str, dict[str, Any]]:
    """The ``WHERE`` condition (and its named parameters) that keeps the rows a snapshot replays."""
    conditions = ["1"]
    if as_of is not None:
        conditions.append("recorded_at <= :as_of")
    if camera is not None:
        conditions.append("camera = :camera")
    return " AND ".join(conditions), {"as_of": as_of, "camera": camera}


class LiveRegistry:
    """A running process's view: the last snapshot, reloaded when the version moves.

    If the store cannot be read, every question raises ``RegistryUnavailable`` and the
    share gate shares nothing until a read succeeds again (fail closed).
    """

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._snapshot: RegistrySnapshot | None = None
        self._error: str | None = None

    def refresh(self) -> bool:
        """Reload if the registry changed; True when what the gate sees may have changed."""
        try:
            version = self._registry.version()
            if self._snapshot is not None and self._error is None and version == self._snapshot.version:
                return False
            self._snapshot = self._registry.snapshot()
        except (sqlite3.Error, StoreError) as exc:
            if self._error is None:
                log.error("cannot read the consent registry (%s): nothing is shared with COP-BH until it can", exc)
            self._error = str(exc)
            return True
        if self._error is not None:
            log.info("consent registry readable again")
        self._error = None
        return True

    def _current(self) -> RegistrySnapshot:
        if self._error is not None or self._snapshot is None:
            raise RegistryUnavailable(self._error or "the registry has not been read yet")
        return self._snapshot

    def provider_accredited(self) -> bool:
        return self._current().accredited

    def camera_state(self, camera: str) -> CameraShareState:
        return self._current().camera_state(camera)
