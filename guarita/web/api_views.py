"""The REST API's live views of shared cameras (docs/video.md).

* ``POST /views`` ``{camera, reason}``: open a view (roles admin, operator, viewer) → its id,
  expiry and stream address;
* ``GET /views``: the open views (an agency-bound token sees only its agency's);
* ``POST /views/{id}/renew`` (body ``{}`` or ``{"reason"}``, or none), ``DELETE /views/{id}``: by the
  token that opened it (or an admin);
* ``GET /views/{id}/stream.mp4?key=…``: the live fragmented MP4, for a plain ``<video src>``.
  The key is the view's own random secret, given only to who opened it; the opener's bearer
  token is accepted instead. Not in the OpenAPI document (it answers video, not JSON).
* ``GET /views/{id}/index.m3u8?key=…`` (and the ``init.mp4``, ``seg-<n>.m4s`` it lists, each
  with the key): the same video as HLS for a video wall's VMS (``guarita.video.hls``), from the
  same upstream ffmpeg; the same key, gate, expiry and revocation rules.

Refusals: a camera not in the config is 404; for a provider's token a camera the share gate
holds back is 403 with the gate's reasons; for an agency-bound token every camera it may not
see (unknown, not shared, outside its area) is the same 404, so it learns nothing about
cameras outside its remit; so does a token of DETRO's platform (``program: detro``), whose
views are of bus cameras (``guarita.web.api_dvr_video``), and which sees only those views in
the list. Limits are 429; an ended or expired view is 410 (with why).
Neither tokens nor stream keys are logged (the access log is off; handlers log view ids).

Covers: BH-03, BH-05, BH-07, BH-09, BH-11.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import AsyncIterator, Collection
from datetime import UTC, datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

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
    json_answer,
    read_body,
)
from guarita.web.api_openapi import API_PREFIX, ApiOperation, QueryParam
from guarita.config import CAMERA_NAME_PATTERN, ApiRole, GuaritaConfig, ProgramName
from guarita.consent.share_gate import ShareReason
from guarita.video.access import CameraDenial, camera_denial, hidden_detail
from guarita.video import VideoHub, View, ViewLimitReached
from guarita.video.upstream import START_ATTEMPTS
from guarita.video.vehicle import is_vehicle_key

__all__ = ["API_VIDEO", "VIEW_OPERATIONS", "ViewBody", "ViewEnded", "ViewModel", "ViewOpened", "ViewRenewBody",
           "ViewsReport", "add_view_routes", "caller_agency", "check_camera", "check_view_camera", "hidden_camera",
           "opened_view", "stream_path", "token_program"]

log = logging.getLogger(__name__)

API_VIDEO: web.AppKey[VideoHub] = web.AppKey("api_video", VideoHub)
_DATE_TIME: JsonDict = {"format": "date-time"}
_VIEW_ID = r"^[A-Za-z0-9_-]{22}$"
MAX_REASON_CHARS = 500


class ViewBody(BaseModel):
    """``POST /views``: which camera, and why."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    camera: str = Field(pattern=CAMERA_NAME_PATTERN.pattern, max_length=64, description="Frigate camera name.")
    reason: str = Field(min_length=1, max_length=MAX_REASON_CHARS, pattern=r"\S",
                        description="Why: an incident number or free text; recorded in the audit log.")


class ViewRenewBody(BaseModel):
    """``POST /views/{id}/renew``: optionally, why the view goes on (kept in the view's end entry)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    reason: str | None = Field(default=None, min_length=1, max_length=MAX_REASON_CHARS, pattern=r"\S",
                               description="Why the view is still needed (optional).")


class _Response(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ViewOpened(_Response):
    """A view opened or renewed: where to watch it, and until when."""

    view: str = Field(description="The view id.")
    camera: str = Field(description="The camera.")
    reason: str = Field(description="The reason given.")
    opened_at: str = Field(json_schema_extra=_DATE_TIME, description="When it was opened (UTC).")
    expires_at: str = Field(json_schema_extra=_DATE_TIME, description="When it ends unless renewed (UTC).")
    stream_url: str = Field(description="Path of the live fragmented MP4 (H.264), with the view's key: give it to "
                                        "a `<video src>` as is. No credentials of the camera are in it.")
    hls_url: str = Field(description="Path of the same live video as HLS (version 7, fMP4 segments), with the view's "
                                     "key: for a video wall's VMS. Counts as one stream while it is fetched.")


class ViewModel(_Response):
    """An open view, as listed (no stream key)."""

    view: str = Field(description="The view id.")
    camera: str = Field(description="The camera.")
    holder: str = Field(description="Name of the token that opened it.")
    role: str = Field(description="That token's role.")
    agency: str | None = Field(description="That token's agency, or null.")
    reason: str = Field(description="The reason given.")
    opened_at: str = Field(json_schema_extra=_DATE_TIME, description="When it was opened (UTC).")
    expires_at: str = Field(json_schema_extra=_DATE_TIME, description="When it ends unless renewed (UTC).")
    streams: int = Field(description="Streams of it being watched now.")
    bytes_sent: int = Field(description="Bytes of video sent so far.")


class ViewsReport(_Response):
    """``GET /views``."""

    views: list[ViewModel] = Field(description="Open views, oldest first.")


class ViewEnded(_Response):
    """A view ended by its holder."""

    view: str = Field(description="The view id.")
    camera: str = Field(description="The camera.")
    duration_s: float = Field(description="Seconds it was open.")
    bytes_sent: int = Field(description="Bytes of video sent.")


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")


def stream_path(view: View) -> str:
    """The view's stream address (path and key), for a plain ``<video src>``."""
    return f"{API_PREFIX}/views/{view.id}/stream.mp4?key={view.key}"


def opened_view(view: View) -> ViewOpened:
    return ViewOpened(view=view.id, camera=view.camera, reason=view.reason, opened_at=_iso(view.opened),
                      expires_at=_iso(view.expires), stream_url=stream_path(view),
                      hls_url=f"{API_PREFIX}/views/{view.id}/index.m3u8?key={view.key}")


def caller_agency(request: web.Request, caller: Caller) -> str | None:
    """The agency the caller's token is bound to, or None."""
    token = request.app[API_CONFIG].web.tokens.get(caller.name)
    return token.agency if token is not None else None


def token_program(request: web.Request, caller: Caller) -> ProgramName | None:
    """The program whose platform holds the caller's token (an agency's token is cop_bh's), or None: the provider's."""
    token = request.app[API_CONFIG].web.tokens.get(caller.name)
    if token is None:
        return None
    if token.program is not None:
        return token.program
    return ProgramName.COP_BH if token.agency is not None else None


def hidden_camera(camera: str, agency: str | None) -> ApiProblem:
    """The one 404 an agency-bound token gets for every camera it may not see (unknown, unshared, outside)."""
    return ApiProblem(404, hidden_detail(camera, agency))


def check_camera(request: web.Request, camera: str, agency: str | None, *,
                 counted: Collection[ShareReason] | None = None, what: str = "no live view") -> None:
    """Refuse a camera the caller may not watch now (see the module's docstring for which answer).

    ``counted``: only these reasons of the gate count (a playback leaves the registry's to its window).
    """
    check_view_camera(request.app[API_CONFIG], request.app[API_VIDEO], camera, agency, counted=counted, what=what)


def check_view_camera(config: GuaritaConfig, hub: VideoHub, camera: str, agency: str | None, *,
                      counted: Collection[ShareReason] | None = None, what: str = "no live view") -> None:
    """``check_camera`` given the config and the video hub: also the web console's live-view page's check.

    The decision is ``guarita.video.access.camera_denial``'s (as for MQTT); here it becomes a status.
    """
    denial = camera_denial(config, hub, camera, agency, counted=counted)
    if denial is None:
        return
    if denial.code is CameraDenial.NOT_SHARED:
        raise ApiProblem(403, f"{denial.detail}: {what}")
    if denial.code is CameraDenial.UNKNOWN_CAMERA:
        raise ApiProblem(404, denial.detail)
    raise hidden_camera(camera, agency)


def _own_view(request: web.Request, caller: Caller) -> View:
    """The ``{id}`` view, if the caller opened it (or is an admin); 404 otherwise, 410 once ended."""
    hub = request.app[API_VIDEO]
    view_id = request.match_info["id"]
    view = hub.book.get(view_id)
    if view is None or (view.holder != caller.name and caller.role is not ApiRole.ADMIN):
        why = hub.book.ended.get(view_id)
        if view is None and why is not None:
            raise ApiProblem(410, f"view {view_id} has ended: {why}")
        raise ApiProblem(404, f"no open view {view_id} of yours")
    return view


async def _post_view(request: web.Request, caller: Caller) -> web.Response:
    body = await read_body(request, ViewBody)
    agency = caller_agency(request, caller)
    if token_program(request, caller) is ProgramName.DETRO:  # DETRO's platform watches buses only
        raise ApiProblem(404, f"no camera {body.camera!r} is available for live view to this token")
    check_camera(request, body.camera, agency)
    try:
        view = request.app[API_VIDEO].book.open(body.camera, body.reason.strip(), holder=caller.name,
                                                role=caller.role.value, agency=agency)
    except ViewLimitReached as exc:
        raise ApiProblem(429, str(exc)) from None
    return json_answer(opened_view(view), 201)


async def _get_views(request: web.Request, caller: Caller) -> web.Response:
    agency = caller_agency(request, caller)
    program = token_program(request, caller)
    views = [
        ViewModel(view=v.id, camera=v.camera, holder=v.holder, role=v.role, agency=v.agency, reason=v.reason,
                  opened_at=_iso(v.opened), expires_at=_iso(v.expires), streams=len(v.streams),
                  bytes_sent=v.bytes_sent)
        for v in request.app[API_VIDEO].book.active()
        if (agency is None or v.agency == agency)
        and (program is None or is_vehicle_key(v.camera) == (program is ProgramName.DETRO))
    ]
    return json_answer(ViewsReport(views=views))


async def _post_renew(request: web.Request, caller: Caller) -> web.Response:
    view = _own_view(request, caller)
    body = await read_body(request, ViewRenewBody) if request.can_read_body else ViewRenewBody()
    hub = request.app[API_VIDEO]
    if is_vehicle_key(view.camera):
        problem = hub.blocked(view.camera)
        if problem is not None:
            hub.book.end(view, problem)
            raise ApiProblem(410, f"view {view.id} has ended: {problem}")
    else:
        try:
            check_camera(request, view.camera, view.agency)
        except ApiProblem:
            hub.book.end(view, "the camera is no longer shared with cop_bh")
            raise
    hub.book.renew(view, body.reason)
    return json_answer(opened_view(view))


async def _delete_view(request: web.Request, caller: Caller) -> web.Response:
    view = _own_view(request, caller)
    book = request.app[API_VIDEO].book
    book.end(view, f"ended by {caller.name}")
    return json_answer(ViewEnded(view=view.id, camera=view.camera, duration_s=round(book.now() - view.opened, 3),
                                 bytes_sent=view.bytes_sent))


def _stream_view(request: web.Request) -> View:
    """The view the stream request may read: by its key, or by the bearer token that opened it."""
    hub = request.app[API_VIDEO]
    view_id = request.match_info["id"]
    view = hub.book.get(view_id)
    if view is None:
        why = hub.book.ended.get(view_id)
        if why is not None:
            raise ApiProblem(410, f"view {view_id} has ended: {why}")
        raise ApiProblem(404, f"no open view {view_id}")
    key = request.query.get("key")
    if key is not None:
        if not hmac.compare_digest(key.encode(), view.key.encode()):
            raise ApiProblem(404, f"no open view {view_id}")
        return view
    caller = authenticate(request)
    if caller.name != view.holder and caller.role is not ApiRole.ADMIN:
        raise ApiProblem(404, f"no open view {view_id}")
    return view


async def _get_stream(request: web.Request) -> web.StreamResponse:
    hub = request.app[API_VIDEO]
    try:
        view = _stream_view(request)
        hub.refresh()
        problem = hub.blocked(view.camera)
        if problem is not None:
            hub.book.end(view, problem)
            raise ApiProblem(410, f"view {view.id} has ended: {problem}")
        subscriber = hub.stream(view)
    except ViewLimitReached as exc:
        return ApiProblem(429, str(exc)).response()
    except ApiProblem as problem:
        return problem.response()
    try:
        first = await subscriber.next()
        if first is None:
            status = 410 if hub.book.get(view.id) is None else 502  # the view ended, or the source failed
            return ApiProblem(status, subscriber.ended or "the stream ended").response()
        response = web.StreamResponse(headers={"Content-Type": "video/mp4", "Cache-Control": "no-store",
                                               "X-Content-Type-Options": "nosniff"})
        await response.prepare(request)
        chunk: bytes | None = first
        while chunk is not None:
            await response.write(chunk)
            view.bytes_sent += len(chunk)
            chunk = await subscriber.next()
        log.info("live view %s: stream of camera %s closed (%s)", view.id, view.camera, subscriber.ended)
        await response.write_eof()
        return response
    except ConnectionError:  # the viewer left (aiohttp's ClientConnectionResetError is one)
        log.info("live view %s: the viewer of camera %s left", view.id, view.camera)
        return response
    finally:
        hub.release(view, subscriber)


def _hls_view(request: web.Request) -> View:
    """The view an HLS request may read (as ``_stream_view``), while its camera may still be watched."""
    hub = request.app[API_VIDEO]
    view = _stream_view(request)
    hub.refresh()
    problem = hub.blocked(view.camera)
    if problem is not None:
        hub.book.end(view, problem)
        raise ApiProblem(410, f"view {view.id} has ended: {problem}")
    return view


def _hls_answer(view: View, body: bytes, content_type: str) -> web.Response:
    view.bytes_sent += len(body)
    return web.Response(body=body, headers={"Content-Type": content_type, "Cache-Control": "no-store",
                                            "X-Content-Type-Options": "nosniff"})


async def _get_playlist(request: web.Request) -> web.Response:
    hub = request.app[API_VIDEO]
    try:
        view = _hls_view(request)
        feed = hub.hls_feed(view)
    except ViewLimitReached as exc:
        return ApiProblem(429, str(exc)).response()
    except ApiProblem as problem:
        return problem.response()
    if not feed.segments:
        feed.waiting += 1
        try:
            # The source gets START_ATTEMPTS tries of start_timeout_s each before it is given up.
            await asyncio.wait_for(feed.ready.wait(), hub.config.video.start_timeout_s * START_ATTEMPTS + 5)
        except TimeoutError:
            return ApiProblem(504, "the camera gave no video in time; try again").response()
        finally:
            feed.waiting -= 1
            feed.touch()
        if not feed.segments:
            status = 410 if hub.book.get(view.id) is None else 502  # the view ended, or the source failed
            return ApiProblem(status, feed.ended or "the stream ended").response()
    text = feed.playlist(view.key)
    return web.Response(text=text, headers={"Content-Type": "application/vnd.apple.mpegurl",
                                            "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


async def _get_init(request: web.Request) -> web.Response:
    hub = request.app[API_VIDEO]
    try:
        view = _hls_view(request)
    except ApiProblem as problem:
        return problem.response()
    feed = hub.running_feed(view)
    if feed is None or feed.init is None:
        return ApiProblem(404, f"view {view.id} has no HLS stream running; read index.m3u8 first").response()
    feed.touch()
    return _hls_answer(view, feed.init, "video/mp4")


async def _get_segment(request: web.Request) -> web.Response:
    hub = request.app[API_VIDEO]
    try:
        view = _hls_view(request)
    except ApiProblem as problem:
        return problem.response()
    feed = hub.running_feed(view)
    segment = feed.segment(int(request.match_info["n"])) if feed is not None else None
    if feed is None or segment is None:
        return ApiProblem(404, f"segment {request.match_info['n']} of view {view.id} is not in the live window"
                          ).response()
    feed.touch()
    return _hls_answer(view, segment.data, "video/iso.segment")


_OPENERS = (ApiRole.ADMIN, ApiRole.OPERATOR, ApiRole.VIEWER)
_VIEW_ID_PARAM = (QueryParam("id", "The view id, as `POST /views` gave it.", {"type": "string", "pattern": _VIEW_ID}),)

VIEW_ROUTES: tuple[tuple[ApiOperation, Handler], ...] = (
    (ApiOperation("POST", "/views", "openView", "Open a live view of a shared camera",
                  "A view of a camera the share gate passes for cop_bh now (and, for a token bound to an agency, "
                  "inside its area), for `video.view_minutes`. Audited as `video.view.start`; the answer's "
                  "`stream_url` plays in a `<video>` element; `hls_url` is the same video as HLS for a video wall's VMS.",
                  _OPENERS, {201: ViewOpened}, ViewBody, writes=True, refusals=(404, 429)), _post_view),
    (ApiOperation("GET", "/views", "listViews", "Read the open live views",
                  "Open views, oldest first (`guarita views list`); a token bound to an agency sees its agency's.",
                  tuple(ApiRole), {200: ViewsReport}), _get_views),
    (ApiOperation("POST", "/views/{id}/renew", "renewView", "Renew a live view",
                  "Push the view's expiry `video.view_minutes` from now, if its camera is still shared. Only the "
                  "token that opened it (or an admin).",
                  _OPENERS, {200: ViewOpened}, ViewRenewBody, writes=True, path_params=_VIEW_ID_PARAM,
                  refusals=(403, 410)),
     _post_renew),
    (ApiOperation("DELETE", "/views/{id}", "endView", "End a live view",
                  "End the view and its streams now; audited as `video.view.end`. Only the token that opened it "
                  "(or an admin).", _OPENERS, {200: ViewEnded}, path_params=_VIEW_ID_PARAM, refusals=(410,)),
     _delete_view),
)
VIEW_OPERATIONS: tuple[ApiOperation, ...] = tuple(op for op, _ in VIEW_ROUTES)


async def _video_lifetime(app: web.Application) -> AsyncIterator[None]:
    """The watcher runs while the server does; at cleanup every view ends and every ffmpeg stops."""
    stop = asyncio.Event()
    watcher = asyncio.create_task(app[API_VIDEO].watch(stop), name="live view watcher")
    yield
    stop.set()
    await watcher
    await app[API_VIDEO].close()


async def _end_streams(app: web.Application) -> None:
    """Before the server waits for its handlers: end every view, so no stream holds the shutdown."""
    await app[API_VIDEO].close()


async def _close_hub(app: web.Application) -> None:
    """At cleanup, a hub whose watcher ran elsewhere (``guarita run``'s ``video_views``) ends its views too."""
    await app[API_VIDEO].close()


def add_view_routes(app: web.Application, hub: VideoHub | None = None) -> None:
    """Register the live view's routes on an API application (config, registry, store set).

    ``hub``: the one ``guarita run`` built, whose watcher it supervises; without one the app
    builds its own hub and runs the watcher while it serves.
    """
    for operation, handler in VIEW_ROUTES:
        app.router.add_route(operation.method, operation.path, guarded(operation, handler))
    app.router.add_get("/views/{id}/stream.mp4", _get_stream)
    app.router.add_get("/views/{id}/index.m3u8", _get_playlist)
    app.router.add_get("/views/{id}/init.mp4", _get_init)
    app.router.add_get(r"/views/{id}/seg-{n:[0-9]{1,12}}.m4s", _get_segment)
    app.on_shutdown.append(_end_streams)
    if hub is None:
        app[API_VIDEO] = VideoHub(app[API_CONFIG], app[API_REGISTRY], app[API_STORE], app[API_CLOCK])
        app.cleanup_ctx.append(_video_lifetime)
    else:
        app[API_VIDEO] = hub
        app.on_cleanup.append(_close_hub)
