"""The camera catalogue: each camera shared with COP-BH, published retained.

``copbh/v1/<provider>/cameras/<camera>`` carries the camera's entry (retained) while the
share gate says it is shared; when it stops being shared the retained message is cleared
with an empty payload. ``sync`` runs whenever the registry changes and a few times a second
(a consent can expire with no write at all), and goes through the durable outbox, so a
withdrawal follows the camera's last event in order. A camera that was never shared is
never named on the uplink, not even by a clear (BH-07).

Covers: BH-03, BH-04, BH-07, BH-11, PB-03.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from guarita import audit
from guarita.config import CameraConfig, GuaritaConfig, ProgramName
from guarita.consent.share_gate import RegistryView, decide
from guarita.outbox import Outbox, OutboxMessage
from guarita.plugins._event_payload import iso_utc
from guarita.store import Store

__all__ = ["CAMERA_SCHEMA", "Catalogue"]

log = logging.getLogger(__name__)

CAMERA_SCHEMA = "guarita.camera/1"
UPLINK = ProgramName.COP_BH.value


class Catalogue:
    """Keeps COP-BH's retained catalogue equal to what the share gate allows."""

    def __init__(
        self, config: GuaritaConfig, registry: RegistryView, store: Store, outbox: Outbox, clock: Callable[[], datetime]
    ) -> None:
        self._config = config
        self._registry = registry
        self._store = store
        self._outbox = outbox
        self._clock = clock
        program = config.programs.get(ProgramName.COP_BH)
        self._enabled = program is not None and program.enabled
        self._root = config.topic_root(ProgramName.COP_BH) if program is not None else ""
        rows = store.db.execute("SELECT camera, payload_sha256 FROM catalogue_state").fetchall()
        self._published: dict[str, str] = {camera: digest for camera, digest in rows}

    def topic(self, camera: str) -> str:
        """The retained topic of a camera's entry."""
        return f"{self._root}/{self._config.provider.id}/cameras/{camera}"

    def entry(self, camera: str, settings: CameraConfig) -> dict[str, Any]:
        """The catalogue entry of a shared camera (no credentials, no personal data)."""
        state = self._registry.camera_state(camera)
        location = settings.location
        return {
            "schema": CAMERA_SCHEMA,
            "camera": camera,
            "provider": self._config.provider.id,
            "location": {"lat": location.lat, "lon": location.lon} if location else None,
            "heading": settings.heading,
            "sign_plate": state.signage_plate,
            "consent_since": iso_utc(state.consent.granted_at.timestamp()) if state.consent else None,
            "agencies": [],
            "live_stream": {"frigate_camera": camera, "go2rtc_stream": settings.stream or camera},
        }

    def sync(self) -> int:
        """Publish what changed since the last sync; returns how many messages were queued."""
        now = self._clock()
        changes: list[tuple[str, bytes, str | None]] = []  # (camera, payload, digest or None = withdrawn)
        for camera, settings in self._config.cameras.items():
            if ProgramName.COP_BH not in settings.programs:
                continue
            decision = decide(settings, camera, ProgramName.COP_BH, self._enabled, now, self._registry)
            if decision.shared:
                body = json.dumps(self.entry(camera, settings), sort_keys=True, separators=(",", ":")).encode()
                digest = hashlib.sha256(body).hexdigest()
                if self._published.get(camera) != digest:
                    changes.append((camera, body, digest))
            elif camera in self._published:
                changes.append((camera, b"", None))
        if changes:
            self._commit(changes, now)
        return len(changes)

    def _commit(self, changes: list[tuple[str, bytes, str | None]], now: datetime) -> None:
        stamp = now.timestamp()
        messages = [
            OutboxMessage(
                uplink=UPLINK,
                idem_key=f"catalogue:{camera}:{digest or 'withdrawn'}:{stamp!r}",
                order_key=camera,
                topic=self.topic(camera),
                payload=body,
                retain=True,
            )
            for camera, body, digest in changes
        ]
        with self._store.transaction() as db:
            self._outbox.insert(db, messages)
            for camera, _, digest in changes:
                if digest is None:
                    db.execute("DELETE FROM catalogue_state WHERE camera = ?", (camera,))
                else:
                    db.execute(
                        "INSERT INTO catalogue_state (camera, payload_sha256, published_at) VALUES (?, ?, ?) "
                        "ON CONFLICT (camera) DO UPDATE SET payload_sha256 = excluded.payload_sha256, "
                        "published_at = excluded.published_at",
                        (camera, digest, stamp),
                    )
                action = "catalogue.withdraw" if digest is None else "catalogue.publish"
                audit.append(db, at=stamp, actor="guarita", action=action, subject=camera, details={"sha256": digest})
        self._outbox.committed(messages)
        for camera, _, digest in changes:
            if digest is None:
                self._published.pop(camera, None)
                log.info("catalogue: %s withdrawn from COP-BH", camera)
            else:
                self._published[camera] = digest
                log.info("catalogue: %s published to COP-BH", camera)
