"""The live view's centre: the share gate for cop_bh, the view book, one upstream per camera, the watcher.

``shareable`` asks the share gate (``consent.share_gate.decide`` over a ``LiveRegistry``,
the same view of the registry ``guarita run`` forwards events through) whether a camera
passes for cop_bh now, and for a token bound to an agency whether the camera lies inside
its area. ``watch`` re-reads the registry every ``POLL_S`` (0.25 s) and ends every view,
and so every stream, of a camera the gate stops passing (a revocation, a withdrawal, an
expired consent) and every view past its expiry: within one second of the change.

``stream`` gives a view a ``Subscriber`` on its camera's single upstream ffmpeg, within
the per-camera and total limits; ``release`` gives it back, and the last one stops ffmpeg.
``hls_feed`` gives a view its HLS window (``guarita.video.hls``), one such stream while a
player keeps fetching it; the watcher releases a feed left idle.

``guarita run`` builds one hub over the runtime's ``LiveRegistry`` (the view the forwarder
and the catalogue read) and runs ``watch`` as the supervised service ``video_views``; an
API app built alone (tests, ``make_api_app`` without a hub) builds its own and runs the
watcher with the app.

A bus's onboard camera (``<vehicle>/<channel>``, ``guarita.video.vehicle``) shares the same
book, limits and upstreams; instead of the share gate, its view ends when its ``live``
source or the detro program leaves the config.

Covers: BH-03, BH-05, BH-07, BH-09, BH-11, DT-05.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from guarita.config import GuaritaConfig, ProgramName
from guarita.consent.registry import LiveRegistry, Registry
from guarita.consent.share_gate import RegistryView, ShareReason, decide
from guarita.link_state import wait_or_stop
from guarita.metrics import Metrics
from guarita.store import Store
from guarita.video.hls import IDLE_TARGETS, HlsFeed
from guarita.video.source import VideoSource, camera_source
from guarita.video.upstream import Subscriber, Upstream
from guarita.video.vehicle import VehicleCamera, is_vehicle_key, live_problem, vehicle_masks, vehicle_source
from guarita.video.views import View, ViewBook, ViewLimitReached

__all__ = ["POLL_S", "VideoHub"]

log = logging.getLogger(__name__)

POLL_S = 0.25


class VideoHub:
    """Views, upstreams and the gate of one Guarita."""

    def __init__(self, config: GuaritaConfig, registry: Registry, store: Store, clock: Callable[[], datetime],
                 *, live: RegistryView | None = None, ffmpeg_binary: str = "ffmpeg") -> None:
        """``live``: the registry view the gate reads (``guarita run`` passes its own); by default a new
        ``LiveRegistry`` over ``registry``."""
        self.config = config
        self.book = ViewBook(store, config.video, clock)
        self._clock = clock
        self._live: RegistryView = live if live is not None else LiveRegistry(registry)
        self._upstreams: dict[str, Upstream] = {}
        self._feeds: dict[str, tuple[View, HlsFeed]] = {}  # view id -> the view and its HLS window
        self._released: dict[str, HlsFeed] = {}  # view id -> its last feed, released: where numbering goes on
        self.ffmpeg_binary = ffmpeg_binary  # the ffmpeg the upstreams run
        self._metrics: Metrics | None = None
        self.refresh()

    def report_to(self, metrics: Metrics) -> None:
        """Feed ``guarita_video_viewers`` and ``guarita_video_source_failures_total`` of ``metrics``."""
        self._metrics = metrics
        metrics.video_viewers.source = self.viewer_counts

    def _source_failed(self, camera: str) -> None:
        if self._metrics is not None:
            self._metrics.video_source_failures.inc(camera)

    # ---- the gate -----------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the registry if it changed (a fixed view, as some tests pass, has nothing to re-read)."""
        if isinstance(self._live, LiveRegistry):
            self._live.refresh()

    def gate_reasons(self, camera: str) -> tuple[ShareReason, ...]:
        """Why the share gate holds ``camera`` back from cop_bh now (empty: it is shared)."""
        program = self.config.programs.get(ProgramName.COP_BH)
        enabled = program is not None and program.enabled
        decision = decide(self.config.cameras[camera], camera, ProgramName.COP_BH, enabled, self._clock(),
                          self._live)
        return decision.reasons

    def blocked(self, camera: str) -> str | None:
        """Why a view of ``camera`` (a Frigate camera or ``<vehicle>/<channel>``) may not go on now, or None."""
        if is_vehicle_key(camera):
            return live_problem(self.config, VehicleCamera.parse(camera))
        reasons = self.gate_reasons(camera)
        if reasons:
            return "the camera is no longer shared with cop_bh (" + ", ".join(r.value for r in reasons) + ")"
        return None

    def _source(self, camera: str) -> tuple[VideoSource, list[str]]:
        """Where ``camera``'s video comes from, and the masks to burn in."""
        if is_vehicle_key(camera):
            bus = VehicleCamera.parse(camera)
            return vehicle_source(self.config, bus), vehicle_masks(self.config, bus)
        return camera_source(self.config, camera), self.config.cameras[camera].privacy_masks

    def in_area(self, camera: str, agency: str | None) -> bool:
        """Whether a token bound to ``agency`` may see ``camera`` (always, for an unbound token)."""
        return agency is None or agency in self.config.camera_agencies(camera)

    # ---- streams ------------------------------------------------------------------------
    def viewer_counts(self) -> dict[tuple[str, ...], float]:
        """Streams being watched, per cop_bh camera (the ``guarita_video_viewers`` gauge)."""
        counts: dict[tuple[str, ...], float] = {(camera,): 0.0 for camera, c in self.config.cameras.items() if ProgramName.COP_BH in c.programs}
        for view in self.book.active():
            counts[(view.camera,)] = counts.get((view.camera,), 0.0) + len(view.streams)
        return counts

    def upstream(self, camera: str) -> Upstream | None:
        """The running upstream of ``camera``, if any."""
        return self._upstreams.get(camera)

    def stream(self, view: View) -> Subscriber:
        """A new stream of ``view``'s camera on its shared upstream.

        Raises:
            ViewLimitReached: the camera or the whole Guarita has as many streams as allowed.
        """
        settings = self.config.video
        camera_streams = sum(len(v.streams) for v in self.book.of_camera(view.camera))
        if camera_streams >= settings.max_viewers_per_camera:
            raise ViewLimitReached(f"camera {view.camera!r} already has {camera_streams} streams "
                                   "(video.max_viewers_per_camera); close one or try later")
        if sum(len(v.streams) for v in self.book.active()) >= settings.max_viewers:
            raise ViewLimitReached(f"{settings.max_viewers} streams are open (video.max_viewers); try later")
        upstream = self._upstreams.get(view.camera)
        if upstream is None or upstream.closing:
            source, masks = self._source(view.camera)
            upstream = Upstream(view.camera, source, masks, start_timeout_s=settings.start_timeout_s,
                                on_stopped=self._stopped, on_failure=self._source_failed,
                                ffmpeg_binary=self.ffmpeg_binary)
            self._upstreams[view.camera] = upstream
        subscriber = upstream.subscribe()
        view.streams.add(subscriber)
        view.streams_opened += 1
        return subscriber

    def release(self, view: View, subscriber: Subscriber) -> None:
        """The stream is over (its viewer left or it was ended)."""
        view.streams.discard(subscriber)
        upstream = self._upstreams.get(subscriber.camera)
        if upstream is not None:
            upstream.unsubscribe(subscriber)

    def hls_feed(self, view: View) -> HlsFeed:
        """The view's HLS window, started (as one more stream of the view) if it has none running.

        A feed whose stream ended (its source stopped) is replaced, numbering on after a discontinuity.

        Raises:
            ViewLimitReached: the camera or the whole Guarita has as many streams as allowed.
        """
        feed = self.running_feed(view)
        if feed is not None and feed.ended is None:
            feed.touch()
            return feed
        if feed is not None:
            self._drop_feed(view.id, "its stream ended")
        subscriber = self.stream(view)
        feed = HlsFeed(view.id, subscriber, previous=self._released.pop(view.id, None))
        self._feeds[view.id] = (view, feed)
        log.info("live view %s: HLS feed of camera %s started", view.id, view.camera)
        return feed

    def running_feed(self, view: View) -> HlsFeed | None:
        """The view's HLS window if one was started (for its segments), else None."""
        held = self._feeds.get(view.id)
        return held[1] if held is not None else None

    def _drop_feed(self, view_id: str, why: str) -> None:
        view, feed = self._feeds.pop(view_id)
        feed.release(f"the HLS feed was released ({why})")
        self.release(view, feed.subscriber)
        if self.book.get(view_id) is not None:
            self._released[view_id] = feed
        log.info("live view %s: HLS feed of camera %s released (%s)", view.id, view.camera, why)

    def _release_idle_feeds(self) -> None:
        """Release each feed nobody fetches any more, or whose view ended: it stops counting as a stream."""
        for view_id in [v for v in self._released if self.book.get(v) is None]:
            del self._released[view_id]
        for view_id, (view, feed) in list(self._feeds.items()):
            if self.book.get(view_id) is None:
                self._drop_feed(view_id, "the view ended")
            elif feed.idle():
                self._drop_feed(view_id, f"no request for {IDLE_TARGETS * feed.target:g} s")

    def _stopped(self, upstream: Upstream) -> None:
        if self._upstreams.get(upstream.camera) is upstream:
            del self._upstreams[upstream.camera]

    # ---- the watcher --------------------------------------------------------------------
    def check(self) -> None:
        """End every view past its expiry, or whose camera the gate no longer passes; release idle HLS feeds."""
        self.refresh()
        now = self._clock().timestamp()
        for view in self.book.active():
            if view.expires <= now:
                self.book.end(view, "expired")
                continue
            problem = self.blocked(view.camera)
            if problem is not None:
                self.book.end(view, problem)
        self._release_idle_feeds()

    async def watch(self, stop: asyncio.Event) -> None:
        """``check`` every ``POLL_S`` until ``stop``; a failing check is logged and tried again."""
        while not stop.is_set():
            try:
                self.check()
            except Exception:  # noqa: BLE001 - the watcher must outlive any one bad check
                log.exception("live view check failed; trying again")
            await wait_or_stop(stop, POLL_S)

    async def close(self) -> None:
        """End every view and stop every upstream (the server is stopping)."""
        for view in self.book.active():
            self.book.end(view, "guarita is stopping")
        self._release_idle_feeds()
        upstreams = list(self._upstreams.values())
        for upstream in upstreams:
            upstream.stop()
        for upstream in upstreams:
            await upstream.wait_stopped()
