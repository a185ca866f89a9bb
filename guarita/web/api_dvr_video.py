"""The REST API's video of a bus's onboard cameras for DETRO (docs/video.md, "DETRO").

* ``POST /vehicles/{vehicle}/views`` ``{channel, reason}``: a live view of the DVR camera
  ``channel`` through its ``live`` RTSP source (DT-05). It is a view like any other
  (``guarita.web.api_views``): same book, limits, expiry and audit, camera named
  ``<vehicle>/<channel>``; it is watched, renewed and ended at ``/views/{id}``.
* ``POST /vehicles/{vehicle}/playback`` ``{channel, from, to, reason}``: a window of that
  camera's archived DVR footage (stream copy of the offloaded files, DT-04), only inside
  ``fleet.archive_days`` (DT-12). It is a playback like a shared camera's
  (``guarita.web.api_playback``): the answer names its served periods (source ``archive``)
  and its gaps (``no_recording``: what the archive lacks), and the ``video_url`` of one
  seekable MP4; it is listed, read and ended at ``/playback…``, and audited as
  ``video.playback.start``/``.end`` with ``program``, ``vehicle`` and ``channel``.

Who: a token of DETRO's platform (``web.tokens.<name>.program: detro``) and the provider's
admin tokens. A token of COP-BH's side (``program: cop_bh`` or bound to an agency) gets the
same 404 for every bus camera as for one that does not exist; the provider's other tokens
get 403. To the tokens allowed, a camera without a live source is a 404 saying
``no live source configured``.

Covers: DT-04, DT-05, DT-12.
"""

from __future__ import annotations

import logging
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from guarita.config import VEHICLE_ID_PATTERN, ApiRole, ProgramName
from guarita.local_time import local_zone
from guarita.retention.footage import RetentionError, TimeWindow, iso, parse_instant
from guarita.video.dvr_playback import PlaybackRefused, cut_playback, plan_playback
from guarita.video.playback import Gap, Playback, PlaybackLimitReached, Served
from guarita.video.vehicle import VehicleCamera, live_problem, vehicle_masks, vehicle_view_details
from guarita.video.views import ViewLimitReached
from guarita.web.api_http import (
    API_CLOCK,
    API_CONFIG,
    API_STORE,
    ApiProblem,
    Caller,
    Handler,
    guarded,
    invalid,
    json_answer,
    read_body,
)
from guarita.web.api_openapi import ApiOperation, QueryParam
from guarita.web.api_playback import API_PLAYBACK, PlaybackOpened, opened_playback
from guarita.web.api_views import API_VIDEO, MAX_REASON_CHARS, ViewOpened, opened_view, token_program

__all__ = ["DVR_VIDEO_OPERATIONS", "VehiclePlaybackBody", "VehicleViewBody", "add_dvr_video_routes"]

log = logging.getLogger(__name__)

Channel = Annotated[int, Field(ge=1, le=64,
                               description="The DVR camera number, as under `fleet.vehicles.<v>.dvr.cameras`.")]
Reason = Annotated[str, Field(min_length=1, max_length=MAX_REASON_CHARS, pattern=r"\S",
                              description="Why: an inspection or incident number, or free text; in the audit log.")]


class VehicleViewBody(BaseModel):
    """``POST /vehicles/{vehicle}/views``: which camera of the bus, and why."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    channel: Channel
    reason: Reason


class VehiclePlaybackBody(BaseModel):
    """``POST /vehicles/{vehicle}/playback``: which camera, which window, and why."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    channel: Channel
    start: str = Field(alias="from", min_length=1, max_length=40,
                       description="Start of the window, ISO 8601; without an offset, in `fleet.timezone`.")
    end: str = Field(alias="to", min_length=1, max_length=40,
                     description="End of the window, ISO 8601; without an offset, in `fleet.timezone`.")
    reason: Reason


def _bus_camera(request: web.Request, caller: Caller, channel: int) -> VehicleCamera:
    """The ``{vehicle}``'s camera ``channel``, if the caller may ask for it (404 or 403 otherwise)."""
    camera = VehicleCamera(request.match_info["vehicle"], channel)
    program = token_program(request, caller)
    if program is ProgramName.COP_BH:  # the same answer as for a bus that does not exist
        raise ApiProblem(404, f"no camera {camera.key} is available to this token")
    if program is None and caller.role is not ApiRole.ADMIN:
        raise ApiProblem(403, "a bus's cameras are for DETRO's tokens (web.tokens.<name>.program: detro) and the "
                              "provider's admin tokens")
    return camera


async def _post_vehicle_view(request: web.Request, caller: Caller) -> web.Response:
    body = await read_body(request, VehicleViewBody)
    camera = _bus_camera(request, caller, body.channel)
    problem = live_problem(request.app[API_CONFIG], camera)
    if problem is not None:
        raise ApiProblem(404, problem)
    try:
        view = request.app[API_VIDEO].book.open(camera.key, body.reason.strip(), holder=caller.name,
                                                role=caller.role.value, agency=None,
                                                details=vehicle_view_details(camera))
    except ViewLimitReached as exc:
        raise ApiProblem(429, str(exc)) from None
    return json_answer(opened_view(view), 201)


def _window(request: web.Request, body: VehiclePlaybackBody) -> TimeWindow:
    config = request.app[API_CONFIG]
    zone = local_zone(config.fleet.timezone) if config.fleet is not None else local_zone()
    moments = []
    for field, text in (("from", body.start), ("to", body.end)):
        try:
            moments.append(parse_instant(text, zone).timestamp())
        except RetentionError as exc:
            raise invalid(field, str(exc)) from None
    if moments[1] <= moments[0]:
        raise invalid("to", f"the window ends ({iso(moments[1])}) before it starts ({iso(moments[0])})")
    return TimeWindow(moments[0], moments[1])


async def _post_playback(request: web.Request, caller: Caller) -> web.Response:
    body = await read_body(request, VehiclePlaybackBody)
    camera = _bus_camera(request, caller, body.channel)
    window = _window(request, body)
    config = request.app[API_CONFIG]
    try:
        plan = plan_playback(config, request.app[API_STORE], camera.vehicle, camera.channel, window,
                             request.app[API_CLOCK]().timestamp())
    except PlaybackRefused as exc:
        if exc.status == 400 and exc.field:
            raise invalid(exc.field, str(exc)) from None
        raise ApiProblem(exc.status, str(exc)) from None
    masks = vehicle_masks(config, camera)

    async def build(playback: Playback) -> tuple[list[Served], list[Gap]]:
        await cut_playback(plan, playback.path, masks)  # a failure ends the playback with why (PlaybackBook)
        return plan.served(), plan.gap_list()

    try:
        playback = request.app[API_PLAYBACK].open_with(
            camera.key, window, plan.runs, [], build, body.reason.strip(), holder=caller.name,
            role=caller.role.value, agency=None, details={**vehicle_view_details(camera), "files": len(plan.pieces)})
    except PlaybackLimitReached as exc:
        raise ApiProblem(429, str(exc)) from None
    return json_answer(opened_playback(playback), 201)


_OPENERS = (ApiRole.ADMIN, ApiRole.OPERATOR, ApiRole.VIEWER)
_VEHICLE = (QueryParam("vehicle", "The vehicle's order number, as under `fleet.vehicles`.",
                       {"type": "string", "pattern": VEHICLE_ID_PATTERN}),)

DVR_VIDEO_ROUTES: tuple[tuple[ApiOperation, Handler], ...] = (
    (ApiOperation("POST", "/vehicles/{vehicle}/views", "openVehicleView", "Open a live view of a bus camera",
                  "A live view of DVR camera `channel` of the bus through its `live` RTSP source (DT-05), for "
                  "`video.view_minutes`; watched, renewed and ended like any view (`/views/{id}`). DETRO's tokens "
                  "(`program: detro`) and admin tokens; a cop_bh token gets 404. Audited as `video.view.start`.",
                  _OPENERS, {201: ViewOpened}, VehicleViewBody, writes=True, path_params=_VEHICLE,
                  refusals=(429,)), _post_vehicle_view),
    (ApiOperation("POST", "/vehicles/{vehicle}/playback", "openVehiclePlayback",
                  "Open a playback of a bus camera's archive",
                  "A window of DVR camera `channel`'s archived footage (stream copy of the offloaded files), inside "
                  "`fleet.archive_days` (DT-04, DT-12): served periods (source `archive`), gaps (`no_recording`) "
                  "and the `video_url` of one seekable MP4; listed, read and ended at `/playback` like any playback. "
                  "DETRO's tokens and admin tokens. Audited as `video.playback.start`.",
                  _OPENERS, {201: PlaybackOpened}, VehiclePlaybackBody, writes=True, path_params=_VEHICLE,
                  refusals=(413, 429)), _post_playback),
)
DVR_VIDEO_OPERATIONS: tuple[ApiOperation, ...] = tuple(op for op, _ in DVR_VIDEO_ROUTES)


def add_dvr_video_routes(app: web.Application) -> None:
    """Register the bus cameras' routes (after ``add_view_routes`` and ``add_playback_routes``: their books)."""
    for operation, handler in DVR_VIDEO_ROUTES:
        app.router.add_route(operation.method, operation.path, guarded(operation, handler))
