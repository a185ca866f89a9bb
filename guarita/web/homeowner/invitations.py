"""Homeowner invitations and withdrawal links: one-time or permanent links, kept only as SHA-256.

A clerk invites a client to consent for some of its cameras (``guarita consent invite``, or
the console): the invitation's token is 256 random bits, handed out once in the link and
kept only as its SHA-256, with an expiry (default 7 days). Accepting uses it up and makes a
withdrawal link, also kept only hashed, that stays valid. Creating either is audited in the
same transaction.

Covers: PB-07, BH-03, BH-07.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from guarita import audit
from guarita.config import GuaritaConfig, ProgramName
from guarita.consent.registry import Registry, RegistryRefusal
from guarita.registry_input import known_camera
from guarita.store import Store

__all__ = [
    "DEFAULT_DAYS",
    "Invitation",
    "NewInvitation",
    "WithdrawalLink",
    "create_invitation",
    "find_invitation",
    "find_withdrawal_link",
    "invitation_link",
    "mark_withdrawal_used",
    "public_base",
    "token_sha256",
    "use_invitation",
    "withdrawal_link",
    "write_qr",
]

DEFAULT_DAYS = 7.0
INVITE_PATH = "/h/i/"
WITHDRAW_PATH = "/h/w/"


@dataclass(frozen=True)
class Invitation:
    """An invitation as stored (never its token)."""

    id: int
    client_id: str
    cameras: tuple[str, ...]
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None

    def open_at(self, now: datetime) -> bool:
        """True while it may still be accepted: not used, not expired."""
        return self.used_at is None and now < self.expires_at


@dataclass(frozen=True)
class NewInvitation:
    """A created invitation with its one-time token and link (shown once, never stored)."""

    invitation: Invitation
    token: str
    link: str


@dataclass(frozen=True)
class WithdrawalLink:
    """A homeowner's permanent withdrawal link as stored."""

    id: int
    invitation_id: int
    client_id: str
    cameras: tuple[str, ...]
    acceptance_sha256: str
    created_at: datetime


def token_sha256(token: str) -> str:
    """What is stored of a link's token."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def public_base(config: GuaritaConfig) -> str:
    """``web.public_url``, or the address ``guarita run`` listens on."""
    if config.web.public_url:
        return config.web.public_url.rstrip("/")
    host = f"[{config.web.host}]" if ":" in config.web.host else config.web.host
    return f"http://{host}:{config.web.port}"


def invitation_link(config: GuaritaConfig, token: str) -> str:
    """The link a homeowner opens to accept."""
    return f"{public_base(config)}{INVITE_PATH}{token}"


def withdrawal_link(config: GuaritaConfig, token: str) -> str:
    """The homeowner's permanent withdrawal link."""
    return f"{public_base(config)}{WITHDRAW_PATH}{token}"


def _at(timestamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, UTC) if timestamp is not None else None


def create_invitation(
    config: GuaritaConfig,
    store: Store,
    registry: Registry,
    *,
    client_id: str,
    cameras: Sequence[str],
    by: str,
    clock: Callable[[], datetime],
    days: float = DEFAULT_DAYS,
) -> NewInvitation:
    """Invite ``client_id`` to consent to sharing ``cameras`` with COP-BH; audited.

    Raises:
        RegistryRefusal: unknown client or camera, a camera not in cop_bh or owned by another client,
            no cameras, or a lifetime that is not positive.
    """
    if not by.strip():
        raise RegistryRefusal("say who creates the invitation (--by USER)")
    if not (days > 0):
        raise RegistryRefusal(f"--days must be more than 0 (got {days})")
    if client_id not in {c.client_id for c in registry.clients()}:
        raise RegistryRefusal(f"no client {client_id!r}: add it first with `guarita clients add`")
    names = list(dict.fromkeys(c.strip() for c in cameras if c.strip()))
    if not names:
        raise RegistryRefusal("name at least one camera (--cameras a,b)")
    for camera in names:
        known_camera(config, camera)
        if ProgramName.COP_BH not in config.cameras[camera].programs:
            raise RegistryRefusal(f"camera {camera!r} is not in the cop_bh program (cameras.{camera}.programs)")
        owner = registry.owner(camera)
        if owner is not None and owner != client_id:
            raise RegistryRefusal(f"camera {camera!r} belongs to client {owner!r}: only its owner can consent")
    token = secrets.token_urlsafe(32)  # 256 random bits
    now = clock()
    expires = now + timedelta(days=days)
    with store.transaction() as db:
        cursor = db.execute(
            "INSERT INTO homeowner_invitations (token_sha256, client_id, cameras, created_at, created_by, expires_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (token_sha256(token), client_id, json.dumps(names), now.timestamp(), by.strip(), expires.timestamp()),
        )
        number = int(cursor.lastrowid or 0)
        audit.append(db, at=now.timestamp(), actor=by.strip(), action="invitation.create", subject=client_id,
                     details={"invitation": number, "cameras": names, "expires_at": expires.timestamp()})
    invitation = Invitation(number, client_id, tuple(names), now, expires, None)
    return NewInvitation(invitation, token, invitation_link(config, token))


def find_invitation(db: sqlite3.Connection, token: str) -> Invitation | None:
    """The invitation whose token this is, used or not; None if there is none."""
    row = db.execute(
        "SELECT id, client_id, cameras, created_at, expires_at, used_at FROM homeowner_invitations "
        "WHERE token_sha256 = ?", (token_sha256(token),)
    ).fetchone()
    if row is None:
        return None
    created, expires = _at(row[3]), _at(row[4])
    assert created is not None and expires is not None
    return Invitation(int(row[0]), str(row[1]), tuple(json.loads(row[2])), created, expires, _at(row[5]))


def use_invitation(
    db: sqlite3.Connection, invitation: Invitation, now: datetime, actor: str, acceptance_sha256: str
) -> str:
    """Mark ``invitation`` used and make its withdrawal link, in the caller's transaction; returns the link's token.

    Raises:
        RegistryRefusal: it was used meanwhile.
    """
    changed = db.execute(
        "UPDATE homeowner_invitations SET used_at = ? WHERE id = ? AND used_at IS NULL", (now.timestamp(), invitation.id)
    ).rowcount
    if changed != 1:
        raise RegistryRefusal(f"invitation {invitation.id} was used already")
    token = secrets.token_urlsafe(32)
    cursor = db.execute(
        "INSERT INTO homeowner_withdrawal_links (token_sha256, invitation_id, client_id, cameras, acceptance_sha256, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?)",
        (token_sha256(token), invitation.id, invitation.client_id, json.dumps(list(invitation.cameras)),
         acceptance_sha256, now.timestamp()),
    )
    audit.append(db, at=now.timestamp(), actor=actor, action="invitation.accept", subject=invitation.client_id,
                 details={"invitation": invitation.id, "cameras": list(invitation.cameras),
                          "acceptance_sha256": acceptance_sha256, "withdrawal_link": int(cursor.lastrowid or 0)})
    return token


def find_withdrawal_link(db: sqlite3.Connection, token: str) -> WithdrawalLink | None:
    """The withdrawal link whose token this is; None if there is none."""
    row = db.execute(
        "SELECT id, invitation_id, client_id, cameras, acceptance_sha256, created_at FROM homeowner_withdrawal_links "
        "WHERE token_sha256 = ?", (token_sha256(token),)
    ).fetchone()
    if row is None:
        return None
    created = _at(row[5])
    assert created is not None
    return WithdrawalLink(int(row[0]), int(row[1]), str(row[2]), tuple(json.loads(row[3])), str(row[4]), created)


def mark_withdrawal_used(db: sqlite3.Connection, link: WithdrawalLink, now: datetime) -> None:
    """Note when the withdrawal link was last used."""
    db.execute("UPDATE homeowner_withdrawal_links SET last_used_at = ? WHERE id = ?", (now.timestamp(), link.id))


def write_qr(link: str, path: Path) -> None:
    """A QR code of ``link`` to print: SVG or PNG by ``path``'s suffix.

    Raises:
        RegistryRefusal: another suffix, or the file cannot be written.
    """
    import segno

    if path.suffix.lower() not in (".svg", ".png"):
        raise RegistryRefusal(f"--qr {path}: give a file name ending in .svg or .png")
    try:
        segno.make(link, error="m").save(str(path), scale=8, border=4)
    except OSError as exc:
        raise RegistryRefusal(f"cannot write the QR code to {path}: {exc.strerror}") from exc
