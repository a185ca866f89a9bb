"""The camera catalogue: each camera shared with COP-BH, published retained.

``copbh/v1/<provider>/cameras/<camera>`` carries the camera's entry (retained) while the
share gate says it is shared, with a copy under ``copbh/v1/agency/<agency>/<provider>/
cameras/<camera>`` for each agency whose area covers the camera; when it stops being
shared every topic it was published on is cleared with an empty payload. ``sync`` runs whenever the registry changes and a few times a second
(a consent can expire with no write at all), and goes through the durable outbox, so a
withdrawal follows the camera's last event in order. A camera that was never shared is
never named on the uplink, not even by a clear (BH-07).

The entry's ``video`` tells the centre where to *ask* for the camera's video, never where the
video is: the views and playback addresses of this Guarita's API (from ``web.public_url``,
left out when it is unset) and the MQTT topic a view can be requested on. Asking goes through
the share gate, the token's role and agency, and the audit log (BH-09, BH-11). ``live_stream``
(the go2rtc stream's name) is kept, deprecated, for consumers of ``guarita.camera/1`` written
before ``video``; it is never an address.

Covers: BH-03, BH-04, BH-05, BH-07, BH-09, BH-11, PB-03.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from guarita import audit
from guarita.config import CameraConfig, GuaritaConfig, ProgramName
from guarita.consent.share_gate import CameraShareState, RegistryView, decide
from guarita.outbox import Outbox, OutboxMessage
from guarita.plugins._event_payload import iso_utc
from guarita.store import Store
from guarita.web.api_openapi import API_PREFIX

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
        rows = store.db.execute("SELECT camera, payload_sha256, topics FROM catalogue_state").fetchall()
        # camera → (entry digest, topics it is retained on)
        self._published: dict[str, tuple[str, tuple[str, ...]]] = {
            camera: (digest, tuple(json.loads(topics))) for camera, digest, topics in rows
        }
        # An entry depends only on the (static) config and the camera's registry state, so it
        # is encoded again only when that state changes, not on every sync.
        self._encoded: dict[str, tuple[CameraShareState, bytes, str]] = {}

    def topics(self, camera: str) -> tuple[str, ...]:
        """The retained topics of a camera's entry: the provider's own, then each agency's."""
        own = f"{self._config.provider.id}/cameras/{camera}"
        agencies = self._config.camera_agencies(camera)
        return (f"{self._root}/{own}", *(f"{self._root}/agency/{agency}/{own}" for agency in agencies))

    def entry(self, camera: str, settings: CameraConfig, state: CameraShareState) -> dict[str, Any]:
        """The catalogue entry of a shared camera (no credentials, no personal data)."""
        location = settings.location
        return {
            "schema": CAMERA_SCHEMA,
            "camera": camera,
            "provider": self._config.provider.id,
            "location": {"lat": location.lat, "lon": location.lon} if location else None,
            "heading": settings.heading,
            "sign_plate": state.signage_plate,
            "consent_since": iso_utc(state.consent.granted_at.timestamp()) if state.consent else None,
            "agencies": list(self._config.camera_agencies(camera)),
            "live_stream": {"frigate_camera": camera, "go2rtc_stream": settings.stream or camera},  # deprecated
            "video": self.video_pointer(),
        }

    def video_pointer(self) -> dict[str, str]:
        """Where the centre asks for video of a shared camera: addresses only, never credentials or a camera URL."""
        pointer = {"mqtt_request": f"{self._root}/{self._config.provider.id}/views/request"}
        base = self._config.web.public_url
        if base is not None:
            pointer = {"views": f"{base}{API_PREFIX}/views", "playback": f"{base}{API_PREFIX}/playback", **pointer}
        return pointer

    def sync(self) -> int:
        """Publish what changed since the last sync; returns how many messages were queued."""
        now = self._clock()
        messages: list[OutboxMessage] = []
        published: dict[str, tuple[str, tuple[str, ...]] | None] = {}  # None = withdrawn
        stamp = now.timestamp()
        configured = {n: c for n, c in self._config.cameras.items() if ProgramName.COP_BH in c.programs}
        # A camera published earlier and since removed from cop_bh (or from the config) is withdrawn.
        for camera in [c for c in self._published if c not in configured]:
            messages += self._clears(camera, self._published[camera][1], stamp)
            published[camera] = None
        for camera, settings in configured.items():
            before = self._published.get(camera)
            decision = decide(settings, camera, ProgramName.COP_BH, self._enabled, now, self._registry)
            if decision.shared:
                body, digest = self._encode(camera, settings)
                topics = self.topics(camera)
                if before == (digest, topics):
                    continue
                stale = [t for t in (before[1] if before else ()) if t not in topics]
                messages += [self._message(camera, topic, body, digest, stamp) for topic in topics]
                messages += self._clears(camera, stale, stamp)
                published[camera] = (digest, topics)
            elif before is not None:
                messages += self._clears(camera, before[1], stamp)
                published[camera] = None
        if published:
            self._commit(messages, published, stamp)
        return len(messages)

    def _encode(self, camera: str, settings: CameraConfig) -> tuple[bytes, str]:
        state = self._registry.camera_state(camera)
        cached = self._encoded.get(camera)
        if cached is not None and cached[0] == state:
            return cached[1], cached[2]
        body = json.dumps(self.entry(camera, settings, state), sort_keys=True, separators=(",", ":")).encode()
        digest = hashlib.sha256(body).hexdigest()
        self._encoded[camera] = (state, body, digest)
        return body, digest

    def _clears(self, camera: str, topics: Iterable[str], stamp: float) -> list[OutboxMessage]:
        """Empty retained payloads that clear ``camera``'s entry from ``topics``."""
        return [self._message(camera, topic, b"", None, stamp) for topic in topics]

    @staticmethod
    def _message(camera: str, topic: str, body: bytes, digest: str | None, stamp: float) -> OutboxMessage:
        return OutboxMessage(
            uplink=UPLINK,
            # Catalogue messages never come back from Frigate: a fresh key per message is enough.
            idem_key=f"catalogue:{topic}:{digest or 'withdrawn'}:{stamp!r}:{secrets.token_hex(8)}",
            order_key=camera,
            topic=topic,
            payload=body,
            retain=True,
        )

    def _commit(
        self, messages: list[OutboxMessage], published: dict[str, tuple[str, tuple[str, ...]] | None], stamp: float
    ) -> None:
        with self._store.transaction() as db:
            self._outbox.insert(db, messages)
            for camera, state in published.items():
                if state is None:
                    db.execute("DELETE FROM catalogue_state WHERE camera = ?", (camera,))
                else:
                    db.execute(
                        "INSERT INTO catalogue_state (camera, payload_sha256, topics, published_at) "
                        "VALUES (?, ?, ?, ?) ON CONFLICT (camera) DO UPDATE SET "
                        "payload_sha256 = excluded.payload_sha256, topics = excluded.topics, "
                        "published_at = excluded.published_at",
                        (camera, state[0], json.dumps(state[1]), stamp),
                    )
                action = "catalogue.withdraw" if state is None else "catalogue.publish"
                details = {"sha256": None if state is None else state[0], "topics": [] if state is None else list(state[1])}
                audit.append(db, at=stamp, actor="guarita", action=action, subject=camera, details=details)
        self._outbox.committed(messages)
        for camera, state in published.items():
            if state is None:
                self._published.pop(camera, None)
                log.info("catalogue: %s withdrawn from COP-BH", camera)
            else:
                self._published[camera] = state
                log.info("catalogue: %s published to COP-BH (%d topics)", camera, len(state[1]))
