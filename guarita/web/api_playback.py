"""The REST API's playback of a past window of a shared camera (docs/video.md).

* ``POST /playback`` ``{camera, from, to, reason}`` (roles admin, operator, viewer): answered
  at once (201, ``state: building``) with the id, the address of one seekable MP4, the planned
  periods (the shared parts, source not known yet) and the ``not_shared`` gaps; the MP4 is built
  in the background. At most ``video.max_playbacks`` open, ``video.max_playbacks_per_camera``
  of one camera: 429 naming the key;
* ``GET /playback/{id}`` (the token that opened it, or an admin): ``state`` ``building``,
  ``ready`` (the served pieces with their source, ``frigate`` or ``cloud``, and the gaps with
  why) or ``failed`` (with ``error``);
* ``GET /playback``: the open playbacks (an agency-bound token sees only its agency's);
* ``DELETE /playback/{id}``: by the token that opened it (or an admin); stops a build;
* ``GET /playback/{id}/video.mp4?key=…``: while building, 409 with ``Retry-After``; when ready,
  the whole file, with HTTP Range (``206``) so a ``<video>`` element can seek. The key (256
  random bits) is given only to who opened it; the opener's bearer token works instead. Not in
  the OpenAPI document (it answers video).

The camera is checked as a live view's is (``api_views.check_camera``: unknown, outside the
agency's area, or not listed for cop_bh by the config → the same 404 to an agency-bound
token), except that the registry is judged over the window, not now: only the parts of the
window inside the camera's shared periods (``consent.share_history``) are served. A window
with no shared part is refused like an unshared camera (403 with why to a provider's token,
the same 404 to an agency's), before any footage is looked for. A window longer than
``video.playback_max_minutes`` is 413; one reaching before ``retention.cop_bh_days`` or
into the future is 400.

Covers: BH-05, BH-06, BH-07, BH-09, BH-10, BH-11.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from guarita.config import CAMERA_NAME_PATTERN, ApiRole, ProgramName
from guarita.consent.share_history import CONFIG_REASONS, shared_periods
from guarita.frigate import FrigateClient
from guarita.frigate_check import frigate_client
from guarita.link_state import wait_or_stop
from guarita.retention._s3 import CloudError, S3Access
from guarita.retention.footage import TimeWindow, iso
from guarita.video.playback import Playback, PlaybackBook, PlaybackLimitReached, split_shared
from guarita.web.api_http import (
    API_CLOCK,
    API_CONFIG,
    API_REGISTRY,
    API_STORE,
    ApiProblem,
    Caller,
    Handler,
    authenticate,
    guarded,
    invalid,
    json_answer,
    read_body,
)
from guarita.web.api_models import ErrorBody
from guarita.web.api_openapi import API_PREFIX, ApiOperation, QueryParam
from guarita.video.vehicle import is_vehicle_key
from guarita.web.api_views import MAX_REASON_CHARS, caller_agency, check_camera, hidden_camera, token_program

__all__ = ["API_PLAYBACK", "PLAYBACK_OPERATIONS", "PlaybackBody", "PlaybackEnded", "PlaybackModel", "PlaybackOpened",
           "PlaybacksReport", "add_playback_routes", "opened_playback"]

log = logging.getLogger(__name__)

API_PLAYBACK: web.AppKey[PlaybackBook] = web.AppKey("api_playback", PlaybackBook)
_DATE_TIME: JsonDict = {"format": "date-time"}
_PLAYBACK_ID = r"^[A-Za-z0-9_-]{22}$"
_DAY_S = 86400.0
RETRY_AFTER_S = 5
"""What ``Retry-After`` says to a video request while the playback builds."""


@dataclass
class _Sources:
    """Where footage comes from: Frigate's client and the cloud copy's bucket (set while the server runs)."""

    frigate: FrigateClient | None = None
    cloud: S3Access | None = None


_SOURCES: web.AppKey[_Sources] = web.AppKey("api_playback_sources", _Sources)


class PlaybackBody(BaseModel):
    """``POST /playback``: which camera, which window, and why."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    camera: str = Field(pattern=CAMERA_NAME_PATTERN.pattern, max_length=64, description="Frigate camera name.")
    start: AwareDatetime = Field(alias="from", description="Start of the window: ISO 8601 with its UTC offset.")
    end: AwareDatetime = Field(alias="to", description="End of the window: ISO 8601 with its UTC offset.")
    reason: str = Field(min_length=1, max_length=MAX_REASON_CHARS, pattern=r"\S",
                        description="Why: an incident number or free text; recorded in the audit log.")


class _Response(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, serialize_by_alias=True, validate_by_name=True)


class PlaybackPeriod(_Response):
    """A piece of the window that is in the video, in order (while building: a shared part planned)."""

    start: str = Field(alias="from", json_schema_extra=_DATE_TIME, description="Start of the piece (UTC).")
    end: str = Field(alias="to", json_schema_extra=_DATE_TIME, description="End of the piece (UTC).")
    source: str | None = Field(description="`frigate` (its recordings), `cloud` (the cloud copy) or `archive` (a "
                                           "bus's DVR archive); null while building.")
    duration_s: float | None = Field(description="Seconds of video of this piece (it starts at its first key "
                                                 "frame); null while building.")


class PlaybackGap(_Response):
    """A piece of the window that is not in the video, and why."""

    start: str = Field(alias="from", json_schema_extra=_DATE_TIME, description="Start of the gap (UTC).")
    end: str = Field(alias="to", json_schema_extra=_DATE_TIME, description="End of the gap (UTC).")
    reason: str = Field(description="`not_shared` (the camera was not shared then: never served), `no_recording` "
                                    "(neither Frigate nor the cloud copy has it) or `unavailable` (it could not be "
                                    "fetched).")


class PlaybackOpened(_Response):
    """A playback: being built, ready to watch, or failed."""

    playback: str = Field(description="The playback id.")
    state: str = Field(description="`building` (the video is being made: `video_url` answers 409 with "
                                   "`Retry-After`), `ready` (it plays) or `failed` (see `error`; it has ended).")
    error: str | None = Field(default=None, description="Why the build failed (state `failed`), else null.")
    camera: str = Field(description="The camera.")
    start: str = Field(alias="from", json_schema_extra=_DATE_TIME, description="Start of the window asked (UTC).")
    end: str = Field(alias="to", json_schema_extra=_DATE_TIME, description="End of the window asked (UTC).")
    reason: str = Field(description="The reason given.")
    expires_at: str = Field(json_schema_extra=_DATE_TIME, description="When it ends by itself (UTC).")
    video_url: str = Field(description="Path of the MP4 (H.264, index first, HTTP Range) with the playback's key: "
                                       "give it to a `<video src>` as is.")
    periods: list[PlaybackPeriod] = Field(description="The served pieces, in the video's order (while building: "
                                                      "the shared parts planned, without source).")
    gaps: list[PlaybackGap] = Field(description="The parts of the window not served, with why (while building: "
                                                "the `not_shared` ones).")


class PlaybackModel(_Response):
    """An open playback, as listed (no key)."""

    playback: str = Field(description="The playback id.")
    state: str = Field(description="`building` or `ready`.")
    camera: str = Field(description="The camera.")
    holder: str = Field(description="Name of the token that opened it.")
    role: str = Field(description="That token's role.")
    agency: str | None = Field(description="That token's agency, or null.")
    reason: str = Field(description="The reason given.")
    start: str = Field(alias="from", json_schema_extra=_DATE_TIME, description="Start of the window (UTC).")
    end: str = Field(alias="to", json_schema_extra=_DATE_TIME, description="End of the window (UTC).")
    opened_at: str = Field(json_schema_extra=_DATE_TIME, description="When it was opened (UTC).")
    expires_at: str = Field(json_schema_extra=_DATE_TIME, description="When it ends by itself (UTC).")
    bytes_sent: int = Field(description="Bytes of video sent so far.")


class PlaybacksReport(_Response):
    """``GET /playback``."""

    playbacks: list[PlaybackModel] = Field(description="Open playbacks, oldest first.")


class PlaybackEnded(_Response):
    """A playback ended by its holder."""

    playback: str = Field(description="The playback id.")
    camera: str = Field(description="The camera.")
    duration_s: float = Field(description="Seconds it was open.")
    bytes_sent: int = Field(description="Bytes of video sent.")


def opened_playback(playback: Playback) -> PlaybackOpened:
    periods = ([s.as_json() for s in playback.served] if playback.state == "ready" else
               [{**w.as_json(), "source": None, "duration_s": None} for w in playback.shared]
               if playback.state == "building" else [])
    return PlaybackOpened.model_validate({
        "playback": playback.id, "state": playback.state, "error": playback.failure, "camera": playback.camera,
        "from": iso(playback.window.start), "to": iso(playback.window.end), "reason": playback.reason,
        "expires_at": iso(playback.expires),
        "video_url": f"{API_PREFIX}/playback/{playback.id}/video.mp4?key={playback.key}",
        "periods": periods, "gaps": [g.as_json() for g in playback.gaps],
    })


def _window(request: web.Request, body: PlaybackBody) -> TimeWindow:
    """The asked window, if it is not empty, not too long, inside the retention and not in the future."""
    config = request.app[API_CONFIG]
    start, end = body.start.timestamp(), body.end.timestamp()
    if end <= start:
        raise invalid("to", f"the window ends ({iso(end)}) before it starts ({iso(start)})")
    longest = config.video.playback_max_minutes
    if end - start > longest * 60:
        raise ApiProblem(413, f"the window lasts {(end - start) / 60:g} minutes, longer than the "
                              f"{longest:g} of video.playback_max_minutes; ask for shorter windows")
    now = request.app[API_CLOCK]().timestamp()
    if end > now:
        raise invalid("to", f"the window ends in the future ({iso(end)}, now {iso(now)}): use a live view")
    oldest = now - config.retention.cop_bh_days * _DAY_S
    if start < oldest:
        raise invalid("from", f"the window starts at {iso(start)}, before the retention window (footage is kept "
                              f"{config.retention.cop_bh_days} days, retention.cop_bh_days: from {iso(oldest)})")
    return TimeWindow(start, end)


async def _post_playback(request: web.Request, caller: Caller) -> web.Response:
    body = await read_body(request, PlaybackBody)
    agency = caller_agency(request, caller)
    if token_program(request, caller) is ProgramName.DETRO:  # DETRO's platform plays back buses only
        raise ApiProblem(404, f"no camera {body.camera!r} is available for playback to this token")
    check_camera(request, body.camera, agency, counted=CONFIG_REASONS, what="no playback")
    window = _window(request, body)
    book = request.app[API_PLAYBACK]
    periods = shared_periods(request.app[API_REGISTRY], body.camera)
    shared, not_shared = split_shared(periods, window.start, window.end)
    if not shared:
        if agency is not None:
            raise hidden_camera(body.camera, agency)
        raise ApiProblem(403, f"camera {body.camera!r} was not shared with cop_bh at any moment of "
                              f"{iso(window.start)} → {iso(window.end)}: no playback")
    sources = request.app[_SOURCES]
    try:
        playback = book.open(body.camera, window, shared, not_shared, body.reason.strip(), holder=caller.name,
                             role=caller.role.value, agency=agency, frigate=sources.frigate, cloud=sources.cloud)
    except PlaybackLimitReached as exc:
        raise ApiProblem(429, str(exc)) from None
    return json_answer(opened_playback(playback), 201)


async def _get_playbacks(request: web.Request, caller: Caller) -> web.Response:
    agency = caller_agency(request, caller)
    program = token_program(request, caller)
    listed = [
        PlaybackModel.model_validate({
            "playback": p.id, "state": p.state, "camera": p.camera, "holder": p.holder, "role": p.role, "agency": p.agency,
            "reason": p.reason, "from": iso(p.window.start), "to": iso(p.window.end), "opened_at": iso(p.opened),
            "expires_at": iso(p.expires), "bytes_sent": p.bytes_sent})
        for p in request.app[API_PLAYBACK].active()
        if (agency is None or p.agency == agency)
        and (program is None or is_vehicle_key(p.camera) == (program is ProgramName.DETRO))
    ]
    return json_answer(PlaybacksReport(playbacks=listed))


def _gone_or_unknown(book: PlaybackBook, playback_id: str, unknown: str) -> ApiProblem:
    why = book.ended.get(playback_id)
    return ApiProblem(410, f"playback {playback_id} has ended: {why}") if why is not None else ApiProblem(404, unknown)


async def _get_playback(request: web.Request, caller: Caller) -> web.Response:
    book = request.app[API_PLAYBACK]
    playback_id = request.match_info["id"]
    playback = book.get(playback_id) or book.failed.get(playback_id)
    if playback is None or (playback.holder != caller.name and caller.role is not ApiRole.ADMIN):
        if playback is None:
            raise _gone_or_unknown(book, playback_id, f"no open playback {playback_id} of yours")
        raise ApiProblem(404, f"no open playback {playback_id} of yours")
    return json_answer(opened_playback(playback))


async def _delete_playback(request: web.Request, caller: Caller) -> web.Response:
    book = request.app[API_PLAYBACK]
    playback_id = request.match_info["id"]
    playback = book.get(playback_id)
    if playback is None or (playback.holder != caller.name and caller.role is not ApiRole.ADMIN):
        if playback is None:
            raise _gone_or_unknown(book, playback_id, f"no open playback {playback_id} of yours")
        raise ApiProblem(404, f"no open playback {playback_id} of yours")
    book.end(playback, f"ended by {caller.name}")
    return json_answer(PlaybackEnded(playback=playback.id, camera=playback.camera,
                                     duration_s=round(book.now() - playback.opened, 3),
                                     bytes_sent=playback.bytes_sent))


def _video_playback(request: web.Request) -> Playback:
    """The playback the video request may read: by its key, or by the bearer token that opened it."""
    book = request.app[API_PLAYBACK]
    playback_id = request.match_info["id"]
    playback = book.get(playback_id)
    if playback is None:
        raise _gone_or_unknown(book, playback_id, f"no open playback {playback_id}")
    key = request.query.get("key")
    if key is not None:
        if not hmac.compare_digest(key.encode(), playback.key.encode()):
            raise ApiProblem(404, f"no open playback {playback_id}")
        return playback
    caller = authenticate(request)
    if caller.name != playback.holder and caller.role is not ApiRole.ADMIN:
        raise ApiProblem(404, f"no open playback {playback_id}")
    return playback


class _CountedFile(web.FileResponse):
    """The playback's file (aiohttp answers Range, If-Range, HEAD); the bytes it sent go to the playback."""

    def __init__(self, playback: Playback) -> None:
        super().__init__(playback.path, chunk_size=256 * 1024, headers={
            "Content-Type": "video/mp4", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})
        self._playback = playback

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter | None:
        writer = await super().prepare(request)
        if 200 <= self.status < 300 and request.method == "GET":
            self._playback.bytes_sent += self.content_length or 0
        return writer


async def _get_video(request: web.Request) -> web.StreamResponse:
    try:
        playback = _video_playback(request)
    except ApiProblem as problem:
        return problem.response()
    if playback.state == "building":
        return json_answer(ErrorBody(error=f"playback {playback.id} is still being built: try again in "
                                           f"{RETRY_AFTER_S} s (GET /api/v1/playback/{playback.id} says when it is "
                                           "ready)", status=409), 409, {"Retry-After": str(RETRY_AFTER_S)})
    playback.requests += 1
    return _CountedFile(playback)


_OPENERS = (ApiRole.ADMIN, ApiRole.OPERATOR, ApiRole.VIEWER)
_PLAYBACK_ID_PARAM = (QueryParam("id", "The playback id, as `POST /playback` gave it.",
                                 {"type": "string", "pattern": _PLAYBACK_ID}),)

PLAYBACK_ROUTES: tuple[tuple[ApiOperation, Handler], ...] = (
    (ApiOperation("POST", "/playback", "openPlayback", "Open a playback of a past window of a shared camera",
                  "The parts of the window inside the camera's shared periods with cop_bh, from Frigate's "
                  "recordings or, where Frigate no longer has them, the cloud copy; the rest are `gaps`, never "
                  "served. At most `video.playback_max_minutes` long, inside `retention.cop_bh_days`. Answered at "
                  "once with `state: building` (audited as `video.playback.start`); the video is built in the "
                  "background: `GET /playback/{id}` says when it is `ready` (or `failed`, and why), and the "
                  "answer's `video_url` then plays (and seeks) in a `<video>` element. At most "
                  "`video.max_playbacks` open, `video.max_playbacks_per_camera` of one camera (429).",
                  _OPENERS, {201: PlaybackOpened}, PlaybackBody, writes=True, refusals=(404, 413, 429)),
     _post_playback),
    (ApiOperation("GET", "/playback/{id}", "getPlayback", "Read one playback",
                  "Its `state` (`building`, `ready`, or `failed` with its `error`), its periods and gaps and its "
                  "`video_url`. Only the token that opened it (or an admin).", _OPENERS, {200: PlaybackOpened},
                  path_params=_PLAYBACK_ID_PARAM, refusals=(410,)),
     _get_playback),
    (ApiOperation("GET", "/playback", "listPlaybacks", "Read the open playbacks",
                  "Open playbacks, oldest first (`guarita views list`); a token bound to an agency sees its agency's.",
                  tuple(ApiRole), {200: PlaybacksReport}), _get_playbacks),
    (ApiOperation("DELETE", "/playback/{id}", "endPlayback", "End a playback",
                  "End the playback and delete its file; audited as `video.playback.end`. Only the token that "
                  "opened it (or an admin).", _OPENERS, {200: PlaybackEnded}, path_params=_PLAYBACK_ID_PARAM,
                  refusals=(410,)),
     _delete_playback),
)
PLAYBACK_OPERATIONS: tuple[ApiOperation, ...] = tuple(op for op, _ in PLAYBACK_ROUTES)


async def _playback_lifetime(app: web.Application) -> AsyncIterator[None]:
    """Frigate's client and the cloud copy while the server runs; expired playbacks end every second."""
    config = app[API_CONFIG]
    book = app[API_PLAYBACK]
    book.clear_leftovers()
    sources = app[_SOURCES]
    async with aiohttp.ClientSession() as session:
        sources.frigate = frigate_client(config, session)
        if config.retention.cloud is not None:
            try:
                sources.cloud = S3Access.for_config(config.retention.cloud)
            except CloudError as exc:
                log.warning("playback will not use the cloud copy: %s", exc)
        stop = asyncio.Event()

        async def watch() -> None:
            while not stop.is_set():
                await book.check()
                await wait_or_stop(stop, 1.0)

        watcher = asyncio.create_task(watch(), name="playback watcher")
        yield
        stop.set()
        await watcher
        await book.close()
        sources.frigate = None


def add_playback_routes(app: web.Application) -> None:
    """Register the playback's routes on an API application (config, registry, store, clock and views set)."""
    app[API_PLAYBACK] = PlaybackBook(app[API_STORE], app[API_CONFIG], app[API_CLOCK])
    app[_SOURCES] = _Sources()
    for operation, handler in PLAYBACK_ROUTES:
        app.router.add_route(operation.method, operation.path, guarded(operation, handler))
    app.router.add_get("/playback/{id}/video.mp4", _get_video)
    app.cleanup_ctx.append(_playback_lifetime)
