"""The book of open live views: who opened which camera's view, why, until when, and what it sent.

A view is opened for one camera by one API token (its holder, role and agency are kept),
with a reason (an incident number or free text). It lasts ``video.view_minutes`` and may be
renewed (each renewal is noted in the end entry); it ends when its holder ends it, when it expires, or when the share gate stops
passing its camera. Each view is two audit entries: ``video.view.start`` (holder, role,
agency, camera, reason, expiry) and ``video.view.end`` (why, duration, bytes sent, streams,
renewals).

The view id (in every address) and the stream key (in the stream address only, returned
to the holder alone) are random: 128 and 256 bits. Limits: ``video.max_viewers_per_camera``
open views of a camera and ``video.max_viewers`` in all (``ViewLimitReached``).

Covers: BH-05, BH-07, BH-09, BH-11.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from guarita import audit
from guarita.config import VideoConfig
from guarita.errors import StoreError
from guarita.store import Store
from guarita.video.holdings import ENDED_REMEMBERED, Holding, LimitReached, check_limits, remember_ended
from guarita.video.upstream import Subscriber

__all__ = ["ENDED_REMEMBERED", "View", "ViewBook", "ViewLimitReached"]

log = logging.getLogger(__name__)

class ViewLimitReached(LimitReached):
    """Too many views of a camera, or in all (answered 429)."""


@dataclass(eq=False)
class View(Holding):
    """One open live view."""

    opened: float
    expires: float
    bytes_sent: int = 0
    streams_opened: int = 0
    renewals: list[dict[str, object]] = field(default_factory=list)
    details: dict[str, object] = field(default_factory=dict)  # more for both audit entries (a bus's vehicle, channel)
    streams: set[Subscriber] = field(default_factory=set)


class ViewBook:
    """Open views by id, their limits and their audit entries."""

    def __init__(self, store: Store, settings: VideoConfig, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        self._views: dict[str, View] = {}
        self.ended: OrderedDict[str, str] = OrderedDict()  # view id -> why it ended

    def now(self) -> float:
        return self._clock().timestamp()

    @property
    def lifetime_s(self) -> float:
        return self._settings.view_minutes * 60.0

    def active(self) -> list[View]:
        """Every open view, oldest first."""
        return sorted(self._views.values(), key=lambda v: v.opened)

    def get(self, view_id: str) -> View | None:
        return self._views.get(view_id)

    def of_camera(self, camera: str) -> list[View]:
        return [v for v in self._views.values() if v.camera == camera]

    def open(self, camera: str, reason: str, *, holder: str, role: str, agency: str | None,
             details: dict[str, object] | None = None) -> View:
        """Open a view and write its start entry (``details`` go into both of its entries).

        Raises:
            ViewLimitReached: the camera or the whole Guarita has as many views as allowed.
            StoreError, sqlite3.Error: the audit entry could not be written (no view is opened).
        """
        check_limits([v.camera for v in self._views.values()], camera, noun="views", setting="max_viewers",
                     per_camera=self._settings.max_viewers_per_camera, in_all=self._settings.max_viewers,
                     error=ViewLimitReached)
        now = self.now()
        view = View(id=secrets.token_urlsafe(16), key=secrets.token_urlsafe(32), camera=camera, reason=reason,
                    holder=holder, role=role, agency=agency, opened=now, expires=now + self.lifetime_s,
                    details=dict(details or {}))
        with self._store.transaction() as db:
            audit.append(db, at=now, actor=holder, action="video.view.start", subject=camera, details={
                **view.details, "view": view.id, "role": role, "agency": agency, "reason": reason,
                "expires": view.expires,
            })
        self._views[view.id] = view
        log.info("live view %s of camera %s opened by %s", view.id, camera, holder)
        return view

    def renew(self, view: View, reason: str | None = None) -> None:
        """Push the view's expiry ``view_minutes`` from now (noted, with ``reason``, for the end entry)."""
        now = self.now()
        view.expires = now + self.lifetime_s
        view.renewals.append({"at": now, "reason": reason})

    def end(self, view: View, why: str) -> None:
        """End the view: its streams stop now, and its end entry is written (a failure is logged)."""
        if self._views.pop(view.id, None) is None:
            return
        for stream in list(view.streams):
            stream.end(f"the view ended: {why}")
        remember_ended(self.ended, view.id, why)
        now = self.now()
        try:
            with self._store.transaction() as db:
                audit.append(db, at=now, actor=view.holder, action="video.view.end", subject=view.camera, details={
                    **view.details, "view": view.id, "why": why, "duration_s": round(now - view.opened, 3),
                    "bytes_sent": view.bytes_sent, "streams": view.streams_opened, "renewals": view.renewals,
                })
        except (StoreError, sqlite3.Error) as exc:
            log.error("live view %s of camera %s ended (%s) but its audit entry could not be written: %s",
                      view.id, view.camera, why, exc)
        log.info("live view %s of camera %s ended: %s (%d bytes sent)", view.id, view.camera, why, view.bytes_sent)
