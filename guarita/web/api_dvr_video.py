"""The REST API's video of a bus's onboard cameras for DETRO (docs/video.md, "DETRO").

* ``POST /vehicles/{vehicle}/views`` ``{channel, reason}``: a live view of the DVR camera
  ``channel`` through its ``live`` RTSP source (DT-05). It is a view like any other
  (``guarita.web.api_views``): same book, limits, expiry and audit, camera named
  ``<vehicle>/<channel>``; it is watched, renewed and ended at ``/views/{id}``.
* ``POST /vehicles/{vehicle}/playback`` ``{channel, from, to, reason}``: the window of that
  camera's archived DVR footage as one MP4 (stream copy of the offloaded files, DT-04),
  only inside ``fleet.archive_days`` (DT-12); the archive's gaps in the window are named in
  the ``Guarita-Gaps`` header, the continuous runs (in clip order) in ``Guarita-Runs``.
  Audited as ``video.playback.start`` (before any footage is read) and ``video.playback.end``
  (bytes sent).

Who: a token of DETRO's platform (``web.tokens.<name>.program: detro``) and the provider's
admin tokens. A token of COP-BH's side (``program: cop_bh`` or bound to an agency) gets the
same 404 for every bus camera as for one that does not exist; the provider's other tokens
get 403. To the tokens allowed, a camera without a live source is a 404 saying
``no live source configured``.

Covers: DT-04, DT-05, DT-12.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import tempfile
from pathlib import Path
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from guarita import audit
from guarita.adapters.dvr.archive import utc_iso
from guarita.config import VEHICLE_ID_PATTERN, ApiRole, ProgramName
from guarita.errors import GuaritaError, StoreError
from guarita.local_time import local_zone
from guarita.retention.footage import RetentionError, TimeWindow, iso, parse_instant
from guarita.video.dvr_playback import PlaybackPlan, PlaybackRefused, cut_playback, plan_playback
from guarita.video.vehicle import VehicleCamera, live_problem, vehicle_masks
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
from guarita.web.api_views import API_VIDEO, MAX_REASON_CHARS, ViewOpened, opened_view, token_program

__all__ = ["DVR_VIDEO_OPERATIONS", "MAX_PLAYBACKS", "PlaybackBody", "VehicleViewBody", "add_dvr_video_routes"]

log = logging.getLogger(__name__)

MAX_PLAYBACKS = 2
"""Playbacks being cut and sent at once; past it, 429."""
_CHUNK = 256 * 1024
_PLAYBACKS: web.AppKey[asyncio.Semaphore] = web.AppKey("api_dvr_playbacks", asyncio.Semaphore)

Channel = Annotated[int, Field(ge=1, le=64,
                               description="The DVR camera number, as under `fleet.vehicles.<v>.dvr.cameras`.")]
Reason = Annotated[str, Field(min_length=1, max_length=MAX_REASON_CHARS, pattern=r"\S",
                              description="Why: an inspection or incident number, or free text; in the audit log.")]


class VehicleViewBody(BaseModel):
    """``POST /vehicles/{vehicle}/views``: which camera of the bus, and why."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    channel: Channel
    reason: Reason


class PlaybackBody(BaseModel):
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


def _holder_details(camera: VehicleCamera) -> dict[str, object]:
    return {"program": ProgramName.DETRO.value, "vehicle": camera.vehicle, "channel": camera.channel}


async def _post_vehicle_view(request: web.Request, caller: Caller) -> web.Response:
    body = await read_body(request, VehicleViewBody)
    camera = _bus_camera(request, caller, body.channel)
    problem = live_problem(request.app[API_CONFIG], camera)
    if problem is not None:
        raise ApiProblem(404, problem)
    try:
        view = request.app[API_VIDEO].book.open(camera.key, body.reason.strip(), holder=caller.name,
                                                role=caller.role.value, agency=None,
                                                details=_holder_details(camera))
    except ViewLimitReached as exc:
        raise ApiProblem(429, str(exc)) from None
    return json_answer(opened_view(view), 201)


def _window(request: web.Request, body: PlaybackBody) -> TimeWindow:
    config = request.app[API_CONFIG]
    zone = local_zone(config.fleet.timezone) if config.fleet is not None else local_zone()
    moments = []
    for field, text in (("from", body.start), ("to", body.end)):
        try:
            moments.append(parse_instant(text, zone).timestamp())
        except RetentionError as exc:
            raise invalid(field, str(exc)) from None
    if moments[1] <= moments[0]:
        raise invalid("to", "the window ends before it starts")
    return TimeWindow(moments[0], moments[1])


def _audit(request: web.Request, caller: Caller, action: str, plan: PlaybackPlan, details: dict[str, object]) -> None:
    camera = VehicleCamera(plan.vehicle, plan.channel)
    with request.app[API_STORE].transaction() as db:
        audit.append(db, at=request.app[API_CLOCK]().timestamp(), actor=caller.name, action=action, subject=camera.key,
                     details={**_holder_details(camera), "role": caller.role.value, **details})


def _spans(windows: tuple[TimeWindow, ...]) -> list[list[str]]:
    return [[str(utc_iso(w.start)), str(utc_iso(w.end))] for w in windows]


async def _post_playback(request: web.Request, caller: Caller) -> web.StreamResponse:
    body = await read_body(request, PlaybackBody)
    camera = _bus_camera(request, caller, body.channel)
    window = _window(request, body)
    config, store = request.app[API_CONFIG], request.app[API_STORE]
    try:
        plan = plan_playback(config, store, camera.vehicle, camera.channel, window,
                             request.app[API_CLOCK]().timestamp())
    except PlaybackRefused as exc:
        if exc.status == 400 and exc.field:
            raise invalid(exc.field, str(exc)) from None
        raise ApiProblem(exc.status, str(exc)) from None
    slots = request.app[_PLAYBACKS]
    if slots.locked():
        raise ApiProblem(429, f"{MAX_PLAYBACKS} playbacks are being prepared; try again in a moment")
    reason = body.reason.strip()
    gaps, runs = _spans(plan.gaps), _spans(plan.runs)
    _audit(request, caller, "video.playback.start", plan, {
        "reason": reason, "from": utc_iso(window.start), "to": utc_iso(window.end), "gaps": gaps,
        "files": len(plan.pieces),
    })
    sent = 0
    why = "sent"
    response: web.StreamResponse | None = None
    async with slots:
        scratch_root = config.storage.data_dir / "playback"
        scratch_root.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            with tempfile.TemporaryDirectory(dir=scratch_root) as scratch:
                clip = Path(scratch) / "clip.mp4"
                try:
                    await cut_playback(plan, clip, vehicle_masks(config, camera))
                except GuaritaError as exc:
                    why = str(exc)
                    log.error("playback of %s: %s", camera.key, exc)
                    raise ApiProblem(502, f"the archive of vehicle {camera.vehicle} camera {camera.channel} "
                                          "could not be joined; see Guarita's log") from None
                name = f"{camera.vehicle}-{camera.channel}-{iso(window.start).replace(':', '')}.mp4"
                response = web.StreamResponse(headers={
                    "Content-Type": "video/mp4", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                    "Content-Disposition": f'attachment; filename="{name}"',
                    "Guarita-Gaps": json.dumps(gaps), "Guarita-Runs": json.dumps(runs),
                })
                response.content_length = clip.stat().st_size
                await response.prepare(request)
                with clip.open("rb") as stream:
                    while chunk := await asyncio.to_thread(stream.read, _CHUNK):
                        await response.write(chunk)
                        sent += len(chunk)
                await response.write_eof()
                return response
        except ConnectionError:  # the client left mid-file (aiohttp's ClientConnectionResetError is one)
            why = "the client left"
            assert response is not None
            return response
        finally:
            try:
                _audit(request, caller, "video.playback.end", plan, {"why": why, "bytes_sent": sent})
            except (StoreError, sqlite3.Error) as exc:
                log.error("playback of %s ended (%s) but its audit entry could not be written: %s",
                          camera.key, why, exc)


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
    (ApiOperation("POST", "/vehicles/{vehicle}/playback", "playVehicleArchive", "Play back a bus camera's archive",
                  "The window of DVR camera `channel`'s archived footage as one MP4 (stream copy), inside "
                  "`fleet.archive_days` (DT-04, DT-12); the archive's gaps are in the `Guarita-Gaps` header. "
                  "DETRO's tokens and admin tokens. Audited as `video.playback.start`/`.end`.",
                  _OPENERS, {200: None}, PlaybackBody, writes=True, path_params=_VEHICLE, refusals=(429, 502),
                  media="video/mp4"), _post_playback),
)
DVR_VIDEO_OPERATIONS: tuple[ApiOperation, ...] = tuple(op for op, _ in DVR_VIDEO_ROUTES)


def add_dvr_video_routes(app: web.Application) -> None:
    """Register the bus cameras' routes (after ``add_view_routes``: they share its view book)."""
    app[_PLAYBACKS] = asyncio.Semaphore(MAX_PLAYBACKS)
    for operation, handler in DVR_VIDEO_ROUTES:
        app.router.add_route(operation.method, operation.path, guarded(operation, handler))
