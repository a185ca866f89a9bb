"""Live views asked for over a program's MQTT uplink, pushed out to the centre's ingest (Guarita behind NAT).

The centre publishes ``{request_id, action, camera, reason, agency?, view?}`` on
``<root>/<provider>/views/request``; an agency on ``<root>/<provider>/views/request/<agency>``.
The broker's ACL (``guarita acl mosquitto``) lets only the centre's user write the first and
only that agency write its own, so the agency is taken from the topic, never from the
payload: a payload ``agency`` that differs from the topic's is refused.

``start`` opens a view through the same ``VideoHub`` as HTTP (share gate for cop_bh, the
agency's area, limits, ``video.view.start``/``end`` audit entries, expiry) and pushes it to
``programs.<program>.video_ingest.url`` (``guarita.video.push``). Every answer is a
``guarita.view_reply/1`` on ``<root>/<provider>/views/reply/<request_id>`` for the centre, and
on ``<root>/agency/<agency>/<provider>/views/reply/<request_id>`` for an agency (inside the
subtree only that agency reads): ``started`` (view id, expiry, ingest path), ``refused`` with a
reason code, and later ``ended`` with why (``stopped``, ``expired``, ``not_shared``,
``ingest_unreachable``, ``source_failed``, ``stopping``). To an agency an unknown camera, an
unshared one and one outside its area are the same ``not_available``.
``stop`` and ``renew`` name the ``view``; only the requester that opened it may.

On the detro uplink (DT-05, DT-04) DETRO's platform (``video_ingest.centre_user``) asks on
``<root>/<provider>/views/request`` for a bus camera: ``{request_id, action, vehicle, channel,
reason}``. The view of ``<vehicle>/<channel>`` is opened in the same book, with the same checks
(``guarita.video.vehicle.live_problem``) and audit details as DETRO's HTTP live view, and pushed
to ``<ingest>/<provider>/<vehicle>-<channel>/<view>``. An unknown vehicle or camera and one
without a ``live`` source are all ``not_available``; ``stop`` and expiry end the push (``ended``).

The service runs on its own connection to the program's broker (client id
``<uplink client id>-views``, the uplink's credentials, no Last Will), reconnecting with
backoff; pushes go on while that link is down and their answers wait for it.

Covers: BH-11, BH-03, BH-05, BH-07, BH-09, DT-05, DT-04.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import json
import logging
import re
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from guarita.config import CAMERA_NAME_PATTERN, VEHICLE_ID_PATTERN, GuaritaConfig, ProgramName, VideoIngestConfig
from guarita import audit
from guarita.consent.registry import Registry
from guarita.errors import LinkError, StoreError
from guarita.retention._s3 import CloudError
from guarita.store import Store
from guarita.link_state import Backoff, LinkState, keep_link
from guarita.metrics import Metrics
from guarita.mqtt import InboundMessage, LinkSettings, MqttLink
from guarita.video.access import camera_denial
from guarita.video.cloud_playback import PLAYBACK_URL_S, PLAYBACK_URLS_ACTION, PlaybackRefused, cloud_playback
from guarita.video.hub import VideoHub
from guarita.video.push import PUSH_ATTEMPTS, Push, ingest_target
from guarita.video.vehicle import VehicleCamera, is_vehicle_key, live_problem, vehicle_view_details
from guarita.video.views import View, ViewLimitReached

__all__ = ["REPLY_SCHEMA", "ViewReply", "ViewRequest", "ViewRequests", "bus_refusal", "request_topic"]

log = logging.getLogger(__name__)

REPLY_SCHEMA = "guarita.view_reply/1"
MAX_QUEUED_REPLIES = 1000
_POLL_S = 0.05
_REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def request_topic(config: GuaritaConfig, program: ProgramName, agency: str | None = None) -> str:
    """Where the centre (``agency`` None) or an agency asks for views of this provider's cameras."""
    base = f"{config.topic_root(program)}/{config.provider.id}/views/request"
    return base if agency is None else f"{base}/{agency}"


class ViewRequest(BaseModel):
    """A request for a view, as the centre or an agency publishes it."""

    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)

    request_id: str = Field(pattern=_REQUEST_ID.pattern)
    action: Literal["start", "stop", "renew", "playback"] = "start"
    camera: str | None = Field(default=None, pattern=CAMERA_NAME_PATTERN.pattern, max_length=64)
    vehicle: str | None = Field(default=None, pattern=VEHICLE_ID_PATTERN)  # detro: a bus's order number
    channel: int | None = Field(default=None, ge=1, le=64)  # detro: its DVR camera number
    reason: str | None = Field(default=None, min_length=1, max_length=500, pattern=r"\S")
    agency: str | None = Field(default=None, max_length=63)
    view: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{22}$")
    from_: str | None = Field(default=None, alias="from", max_length=40)  # playback: ISO 8601 with offset
    to: str | None = Field(default=None, max_length=40)


@dataclass(frozen=True)
class ViewReply:
    """One ``guarita.view_reply/1``."""

    request_id: str
    state: Literal["started", "refused", "ended"]
    reason: str
    detail: str
    camera: str | None = None
    view: str | None = None
    ingest_path: str | None = None
    expires_at: str | None = None
    segments: list[dict[str, Any]] | None = None  # playback: [{from, to, url}]
    gaps: list[dict[str, Any]] | None = None  # playback: [{from, to, reason}], segments left out

    def payload(self, provider: str) -> bytes:
        body: dict[str, Any] = {"schema": REPLY_SCHEMA, "provider": provider, **dataclasses.asdict(self),
                                "at": datetime.now(UTC).isoformat(timespec="milliseconds")}
        return json.dumps(body, ensure_ascii=False).encode()


@dataclass(frozen=True)
class _Requester:
    """Who asked, as proven by the topic the broker let them write."""

    agency: str | None  # None: the centre

    @property
    def holder(self) -> str:
        return "mqtt:centre" if self.agency is None else f"mqtt:{self.agency}"

    @property
    def role(self) -> str:
        return "centre" if self.agency is None else "agency"


@dataclass
class _Pushed:
    view: View
    requester: _Requester
    request_id: str
    task: asyncio.Task[None] | None = None


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")


def end_code(why: str) -> str:
    """The reason code of a view's end, from the view book's words."""
    if why == "expired":
        return "expired"
    if why.startswith("the camera is no longer shared"):
        return "not_shared"
    if why == "guarita is stopping":
        return "stopping"
    if why.startswith("ended by "):
        return "stopped"
    if why.startswith("ingest_unreachable"):
        return "ingest_unreachable"
    return "source_failed"


def bus_refusal(config: GuaritaConfig, camera: str) -> tuple[str, str] | None:
    """Why the bus camera ``camera`` may not be pushed to DETRO now, or None (the HTTP view's ``live_problem``)."""
    program = config.programs.get(ProgramName.DETRO)
    if program is None or not program.enabled:
        return "program_disabled", "the detro program is not configured and enabled"
    if not is_vehicle_key(camera):
        return "not_available", f"no bus camera {camera!r}"
    problem = live_problem(config, VehicleCamera.parse(camera))
    return None if problem is None else ("not_available", problem)


class ViewRequests:
    """The ``views_<program>`` service: requests in, pushes out, answers back."""

    def __init__(self, config: GuaritaConfig, program: ProgramName, settings: LinkSettings,
                 hub: Callable[[], VideoHub | None], metrics: Metrics, state: LinkState, backoff: Backoff,
                 *, registry: Registry | None = None, store: Store | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        ingest = config.programs[program].video_ingest
        assert ingest is not None
        self.config = config
        self.program = program
        self.ingest: VideoIngestConfig = ingest
        self.settings = settings
        self.state = state
        self.pushes: dict[str, _Pushed] = {}
        self._hub = hub
        self._metrics = metrics
        self._backoff = backoff
        self._replies: collections.deque[tuple[str, bytes]] = collections.deque(maxlen=MAX_QUEUED_REPLIES)
        self._root = config.topic_root(program)
        self._provider = config.provider.id
        self._registry = registry
        self._store = store
        self._clock = clock
        self._playbacks: set[asyncio.Task[None]] = set()

    # ---- the link ---------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Serve requests until ``stop``; then end this service's views and their pushes."""
        try:
            await keep_link(stop, self.settings, self.state, self._backoff, prepare=self._subscribe,
                            serve=lambda link: self._serve(link, stop))
        finally:
            await self.close()

    async def _subscribe(self, link: MqttLink) -> None:
        base = request_topic(self.config, self.program)
        await link.subscribe([(base, 1), (f"{base}/+", 1)])

    async def _serve(self, link: MqttLink, stop: asyncio.Event) -> None:
        while not stop.is_set() and not link.closed.is_set():
            await self._flush(link)
            await link.wait_messages(_POLL_S)
            for message in link.take_messages(100):
                try:
                    self._handle(message)
                except Exception:  # noqa: BLE001 - one bad request must not stop the others
                    log.exception("view request on %s could not be handled", message.topic)
        await self._flush(link)

    async def _flush(self, link: MqttLink) -> None:
        while self._replies and not link.closed.is_set():
            topic, payload = self._replies[0]
            try:
                await asyncio.wait_for(link.publish(topic, payload, 1), 10)
            except (LinkError, TimeoutError) as exc:
                log.info("view answer on %s waits for the link: %s", topic, exc)
                return
            self._replies.popleft()

    async def close(self) -> None:
        """End every view this service opened (guarita is stopping) and wait for the pushes."""
        hub = self._hub()
        for pushed in list(self.pushes.values()):
            if hub is not None and hub.book.get(pushed.view.id) is not None:
                hub.book.end(pushed.view, "guarita is stopping")
        tasks = [p.task for p in self.pushes.values() if p.task is not None] + list(self._playbacks)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    # ---- answers ----------------------------------------------------------------------
    def _reply(self, requester: _Requester, reply: ViewReply) -> None:
        own = f"{self._provider}/views/reply/{reply.request_id}"
        topic = (f"{self._root}/{own}" if requester.agency is None
                 else f"{self._root}/agency/{requester.agency}/{own}")
        self._replies.append((topic, reply.payload(self._provider)))
        log.info("view request %s (%s): %s %s", reply.request_id, requester.holder, reply.state, reply.reason)

    # ---- requests ---------------------------------------------------------------------
    def _requester(self, topic: str) -> _Requester | None:
        base = request_topic(self.config, self.program)
        if topic == base:
            return _Requester(None)
        agency = topic.removeprefix(base + "/")
        program = self.config.programs[self.program]
        if agency != topic and agency in program.agencies:
            return _Requester(agency)
        return None

    def _handle(self, message: InboundMessage) -> None:
        requester = self._requester(message.topic)
        if requester is None:
            log.warning("view request on %s ignored: not a configured agency's topic", message.topic)
            return
        try:
            raw = json.loads(message.payload)
        except (UnicodeDecodeError, json.JSONDecodeError):
            log.warning("view request on %s ignored: not JSON", message.topic)
            return
        try:
            request = ViewRequest.model_validate(raw)
        except ValidationError as exc:
            request_id = raw.get("request_id") if isinstance(raw, dict) else None
            if isinstance(request_id, str) and _REQUEST_ID.match(request_id):
                fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
                self._reply(requester, ViewReply(request_id, "refused", "bad_request", f"invalid fields: {fields}"))
            else:
                log.warning("view request on %s ignored: no usable request_id", message.topic)
            return
        hub = self._hub()
        if hub is None:
            self._reply(requester, ViewReply(request.request_id, "refused", "unavailable",
                                             "guarita is starting; ask again"))
            return
        if request.action == "start":
            self._start(hub, requester, request)
        elif request.action == "playback":
            task = asyncio.create_task(self._playback(requester, request), name=f"playback {request.request_id}")
            self._playbacks.add(task)
            task.add_done_callback(self._playbacks.discard)
        else:
            self._stop_or_renew(hub, requester, request)

    def _refusal(self, hub: VideoHub, requester: _Requester, camera: str, agency: str | None) -> tuple[str, str] | None:
        """Why ``camera`` may not be pushed for this request, or None (``guarita.video.access`` decides, as for HTTP)."""
        if self.program is ProgramName.DETRO:
            return bus_refusal(self.config, camera)
        if self.program is not ProgramName.COP_BH:
            return "not_available", f"live view over MQTT serves cop_bh cameras only, not {self.program.value}"
        denial = camera_denial(self.config, hub, camera, agency, hide=requester.agency is not None)
        return None if denial is None else (denial.code.value, denial.detail)

    def _subject(self, requester: _Requester, request: ViewRequest) -> tuple[str, str, str | None, dict[str, object]] | None:
        """(camera, ingest name, agency, audit details) of a ``start``; None once it is refused."""
        rid = request.request_id
        if self.program is ProgramName.DETRO:
            if request.vehicle is None or request.channel is None or request.reason is None:
                self._reply(requester, ViewReply(rid, "refused", "bad_request",
                                                 "start needs `vehicle`, `channel` and `reason`"))
                return None
            bus = VehicleCamera(request.vehicle, request.channel)
            return bus.key, bus.ingest_name, None, vehicle_view_details(bus)
        if request.camera is None or request.reason is None:
            self._reply(requester, ViewReply(rid, "refused", "bad_request", "start needs `camera` and `reason`"))
            return None
        agency = requester.agency
        if request.agency is not None:
            if agency is not None and request.agency != agency:
                self._reply(requester, ViewReply(rid, "refused", "bad_request",
                                                 "`agency` differs from the agency of the request topic"))
                return None
            if request.agency not in self.config.programs[self.program].agencies:
                self._reply(requester, ViewReply(rid, "refused", "bad_request",
                                                 f"no agency {request.agency!r} is configured"))
                return None
            agency = request.agency
        return request.camera, request.camera, agency, {}

    def _start(self, hub: VideoHub, requester: _Requester, request: ViewRequest) -> None:
        rid = request.request_id
        subject = self._subject(requester, request)
        if subject is None:
            return
        camera, ingest_name, agency, details = subject
        assert request.reason is not None
        refusal = self._refusal(hub, requester, camera, agency)
        if refusal is not None:
            self._reply(requester, ViewReply(rid, "refused", refusal[0], refusal[1], camera=camera))
            return
        try:
            view = hub.book.open(camera, request.reason.strip(), holder=requester.holder,
                                 role=requester.role, agency=agency, details=details)
        except ViewLimitReached as exc:
            self._reply(requester, ViewReply(rid, "refused", "limit", str(exc), camera=camera))
            return
        try:
            subscriber = hub.stream(view)
        except ViewLimitReached as exc:
            hub.book.end(view, "ended by guarita: no stream could be opened within the limits")
            self._reply(requester, ViewReply(rid, "refused", "limit", str(exc), camera=camera))
            return
        target = ingest_target(self.ingest, self._provider, ingest_name, view.id)
        pushed = _Pushed(view, requester, rid)
        self.pushes[view.id] = pushed

        def count(sent: int) -> None:
            view.bytes_sent += sent

        push = Push(view.id, subscriber, target, ffmpeg_binary=hub.ffmpeg_binary, on_bytes=count)
        pushed.task = asyncio.create_task(self._follow(hub, pushed, push), name=f"live view push {view.id}")
        log.info("live view %s of camera %s: pushing to %s", view.id, view.camera, target.shown)
        self._reply(requester, ViewReply(rid, "started", "ok", f"pushing to the ingest at {target.path}",
                                         camera=view.camera, view=view.id, ingest_path=target.path,
                                         expires_at=_iso(view.expires)))

    async def _follow(self, hub: VideoHub, pushed: _Pushed, push: Push) -> None:
        """Run the push; as soon as the view ends (or the ingest gives up) answer ``ended``, then clean up."""
        view = pushed.view
        running = asyncio.create_task(push.run(), name=f"push ffmpeg {view.id}")
        view_gone = asyncio.create_task(push.view_ended.wait())
        try:
            await asyncio.wait({running, view_gone}, return_when=asyncio.FIRST_COMPLETED)
            failed, detail = False, push.subscriber.ended or "the view ended"
            if running.done():
                try:
                    outcome = running.result()
                    failed, detail = outcome.failed, outcome.detail
                except Exception as exc:  # noqa: BLE001 - a missing ffmpeg or a bug: the view must still end
                    log.exception("live view %s: the push failed", view.id)
                    failed, detail = True, str(exc) or type(exc).__name__
            self._answer_end(hub, pushed, push, failed, detail)
            if not running.done():  # ffmpeg is closing the session at the ingest
                try:
                    await running
                except Exception:  # noqa: BLE001 - already answered; only the log is left
                    log.exception("live view %s: the push failed while closing", view.id)
        finally:
            view_gone.cancel()
            hub.release(view, push.subscriber)
            self.pushes.pop(view.id, None)

    def _answer_end(self, hub: VideoHub, pushed: _Pushed, push: Push, failed: bool, detail: str) -> None:
        """End the view if it is still open, and answer ``ended`` with why."""
        view = pushed.view
        if failed:
            self._metrics.video_push_failures.inc(self.program.value)
            log.error("live view %s of camera %s: the ingest %s could not be reached after %d attempts (%s)",
                      view.id, view.camera, push.target.shown, PUSH_ATTEMPTS, detail)
            if hub.book.get(view.id) is not None:
                hub.book.end(view, f"ingest_unreachable: {detail}")
            code, said = "ingest_unreachable", f"the ingest did not take the push after {PUSH_ATTEMPTS} attempts"
        else:
            if hub.book.get(view.id) is not None:  # the source failed under it, or it fell behind
                hub.book.end(view, f"the push stopped: {detail}")
            why = hub.book.ended.get(view.id, detail)
            code, said = end_code(why), why
        self._reply(pushed.requester, ViewReply(pushed.request_id, "ended", code, said, camera=view.camera,
                                                view=view.id, ingest_path=push.target.path))

    async def _playback(self, requester: _Requester, request: ViewRequest) -> None:
        """Answer a playback request with presigned addresses of the shared periods' cloud segments."""
        rid, camera = request.request_id, request.camera
        if camera is None or request.reason is None or request.from_ is None or request.to is None:
            self._reply(requester, ViewReply(rid, "refused", "bad_request", "playback needs `camera`, `reason`, "
                                             "`from` and `to`"))
            return
        try:
            start, end = (datetime.fromisoformat(t).timestamp() for t in (request.from_, request.to))
        except ValueError:
            self._reply(requester, ViewReply(rid, "refused", "bad_request", "`from` and `to` are ISO 8601 times"))
            return
        agency = requester.agency
        settings = self.config.cameras.get(camera)
        if (self.program is not ProgramName.COP_BH or settings is None or ProgramName.COP_BH not in settings.programs
                or (agency is not None and agency not in self.config.camera_agencies(camera))):
            reason = ("not_available", f"no camera {camera!r} is available for playback to agency {agency!r}")
            if agency is None:
                reason = ("unknown_camera", f"camera {camera!r} is not a cop_bh camera of this Guarita")
            self._reply(requester, ViewReply(rid, "refused", *reason, camera=camera))
            return
        if self._registry is None or self._store is None:
            self._reply(requester, ViewReply(rid, "refused", "unavailable", "playback is not set up", camera=camera))
            return
        now = self._clock().timestamp()
        try:
            played = await cloud_playback(self.config, self._registry, camera, start, end, now, self._store)
            found = played.segments
            with self._store.transaction() as db:
                audit.append(db, at=now, actor=requester.holder, action=PLAYBACK_URLS_ACTION, subject=camera,
                             details={"playback": secrets.token_urlsafe(16), "request_id": rid,
                                      "role": requester.role, "agency": agency, "reason": request.reason,
                                      "window": {"from": _iso(start), "to": _iso(end)}, "segments": len(found),
                                      "expires": now + PLAYBACK_URL_S})
        except PlaybackRefused as exc:
            self._reply(requester, ViewReply(rid, "refused", exc.code, str(exc), camera=camera))
            return
        except (CloudError, StoreError, sqlite3.Error) as exc:
            log.error("playback %s of camera %s failed: %s", rid, camera, exc)
            self._reply(requester, ViewReply(rid, "refused", "unavailable", "the cloud copy cannot be read now",
                                             camera=camera))
            return
        segments = [{"from": _iso(s.start), "to": _iso(s.end), "url": s.url} for s in found]
        gaps = [{"from": _iso(g.start), "to": _iso(g.end), "reason": g.reason} for g in played.gaps]
        self._reply(requester, ViewReply(rid, "started", "playback", f"{len(found)} segments of the shared periods",
                                         camera=camera, expires_at=_iso(now + PLAYBACK_URL_S), segments=segments,
                                         gaps=gaps or None))

    def _stop_or_renew(self, hub: VideoHub, requester: _Requester, request: ViewRequest) -> None:
        rid = request.request_id
        pushed = self.pushes.get(request.view or "")
        view = hub.book.get(request.view or "")
        if pushed is None or view is None or pushed.requester != requester:
            self._reply(requester, ViewReply(rid, "refused", "unknown_view",
                                             f"no open view {request.view} of yours", view=request.view))
            return
        if request.action == "stop":
            hub.book.end(view, f"ended by {requester.holder}")
            self._reply(requester, ViewReply(rid, "ended", "stopped", f"ended by {requester.holder}",
                                             camera=view.camera, view=view.id))
            return
        refusal = self._refusal(hub, requester, view.camera, view.agency)
        if refusal is not None:
            hub.book.end(view, "the camera is no longer shared with cop_bh" if self.program is ProgramName.COP_BH
                         else f"the camera is no longer available: {refusal[1]}")
            self._reply(requester, ViewReply(rid, "refused", refusal[0], refusal[1], camera=view.camera, view=view.id))
            return
        hub.book.renew(view, request.reason)
        self._reply(requester, ViewReply(rid, "started", "renewed", "the view goes on", camera=view.camera,
                                         view=view.id, expires_at=_iso(view.expires)))
