"""A stand-in for Frigate's HTTP API, built from the contract - it is not Frigate.

``make_frigate_app`` returns an aiohttp application that answers under ``/api`` the way
Frigate 0.14-0.17 does according to its source and the examples in ``tests/fixtures/frigate/``:
same paths, key order, types and error bodies. It serves a handful of cameras
(:class:`StandinCameras`), event and review rows produced by
:mod:`guarita.standin.frigate_events` (the same payloads a test publishes on MQTT), synthetic
10 s recording segments, a fixed MP4-ish byte body (or a real file) as clips, asynchronous
exports whose MP4 nginx-style ``/exports/<file>`` serves (made with ffmpeg on first download, see
:mod:`guarita.standin._frigate_exports`; ``DELETE /api/export/<id>`` removes one, 400 while it is still
in progress, as Frigate does), and a tiny fixed JPEG. It runs no detector. Use it in tests and in
``guarita demo``; never point a real deployment at it.

``PUT /api/config/set`` checks ``{FRIGATE_*}`` placeholders in camera input paths (and ONVIF and
MQTT logins) against the variables the stand-in's "process" has (``environment``), as Frigate
0.17.2 does: a missing one gets the bare 400 "Error parsing config" and only the log names it.

With ``users``, it behaves like Frigate's authenticated port 8971: ``POST /api/login`` sets the
``frigate_token`` JWT (HS256) cookie, every other route needs that cookie or
``Authorization: Bearer``. A non-GET request with ``Origin`` and no ``X-CSRF-TOKEN`` is refused
as Frigate does. Serve it over TLS by giving :func:`serve_frigate` an ``ssl_context``.

Deviations, on purpose: ``/api/<camera>/recordings`` rejects a request without both ``after``
and ``before`` (Frigate silently uses stale defaults); ``latest.jpg`` ignores ``height``.

Covers: PB-01, PB-05.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import math
from collections.abc import Callable, Collection, Iterator, Mapping
from datetime import UTC, datetime, timezone, tzinfo
from email.utils import formatdate
from pathlib import Path
from ssl import SSLContext
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web

from guarita.standin._frigate_config import StandinMqtt, config_body, config_set_answer, stats_body
from guarita.standin.frigate_cameras import StandinCamera, StandinCameras, default_demo_cameras
from guarita.standin.frigate_events import JsonObject, event_detail
from guarita.standin.frigate_state import FrigateStandin, StandinActivity

__all__ = [
    "FRIGATE_CONFIG_SETS",
    "FRIGATE_STANDIN",
    "FrigateStandin",
    "StandinActivity",
    "StandinCamera",
    "StandinCameras",
    "StandinMqtt",
    "default_demo_cameras",
    "make_frigate_app",
    "serve_frigate",
]

TOKEN_COOKIE = "frigate_token"
_ALIVE = "Frigate is running. Alive and healthy!"
_NGINX_401 = (
    "<html>\r\n<head><title>401 Authorization Required</title></head>\r\n<body>\r\n"
    "<center><h1>401 Authorization Required</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
_NGINX_404 = _NGINX_401.replace("401 Authorization Required", "404 Not Found")
# 64x36 grey-blue JPEG made once with: ffmpeg -f lavfi -i color=c=0x406080:s=64x36 -frames:v 1
_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAgAAAQABAAD//gAQTGF2YzU5LjM3LjEwMAD/2wBDAAgQEBMQExYWFhYWFhoYGhsbGxoaGhob"
    "GxsdHR0iIiIdHR0bGx0dICAiIiUmJSMjIiMmJigoKDAwLi44ODpFRVP/xABMAAEBAAAAAAAAAAAAAAAAAAAABgEB"
    "AQAAAAAAAAAAAAAAAAAAAAUQAQAAAAAAAAAAAAAAAAAAAAARAQAAAAAAAAAAAAAAAAAAAAD/wAARCAAkAEADASIA"
    "AhEAAxEA/9oADAMBAAIRAxEAPwCZAVk0AAAAAAAAAAAAAAAAAAAAAB//2Q=="
)
_MODEL_HASH = hashlib.md5(b"guarita-standin-model", usedforsecurity=False).hexdigest()


FRIGATE_STANDIN = web.AppKey("frigate_standin", FrigateStandin)
FRIGATE_CONFIG_SETS = web.AppKey("frigate_config_sets", list[Any])
"""Every ``PUT /api/config/set`` JSON body received, parsed, in order (None for a body that is not JSON)."""
_USER = web.RequestKey("frigate_standin_user", str)


# --- helpers ------------------------------------------------------------------------------


class _Status(web.HTTPException):
    """An HTTP error with any status code and a JSON body."""

    def __init__(self, status: int, body: Any) -> None:
        self.status_code = status
        super().__init__(text=json.dumps(body), content_type="application/json")


def _error(status: int, message: str) -> _Status:
    return _Status(status, {"success": False, "message": message})


def _invalid(where: str, name: str, message: str) -> _Status:
    return _Status(422, {"detail": [{"type": "value_error", "loc": [where, name], "msg": message,
                                     "input": None}]})


def _standin(request: web.Request) -> FrigateStandin:
    return request.app[FRIGATE_STANDIN]


def _float(request: web.Request, name: str, *, path: bool = False) -> float | None:
    raw = request.match_info.get(name) if path else request.query.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise _invalid("path" if path else "query", name, "Input should be a valid number") from None
    if not math.isfinite(value):
        raise _invalid("path" if path else "query", name, "Input should be a finite number")
    return value


def _int(request: web.Request, name: str) -> int | None:
    value = _float(request, name)
    return None if value is None else int(value)


def _names(request: web.Request, name: str, legacy: str | None = None) -> set[str] | None:
    raw = request.query.get(name) or (request.query.get(legacy) if legacy else None)
    if raw is None or raw == "all":
        return None
    return {part for part in raw.split(",") if part}


def _allowed(request: web.Request) -> frozenset[str] | None:
    user = request.get(_USER)
    return _standin(request).user_cameras.get(user) if user is not None else None


def _camera(request: web.Request) -> StandinCamera:
    standin = _standin(request)
    name = request.match_info["camera"]
    camera = standin.cameras.get(name)
    if camera is None:
        raise _error(404, "Camera not found")
    allowed = _allowed(request)
    if allowed is not None and name not in allowed:
        raise _Status(403, {"detail": f"Access denied to camera '{name}'. Allowed: {sorted(allowed)}"})
    return camera


async def _stream(request: web.Request, chunks: Iterator[bytes]) -> web.StreamResponse:
    """Send a fragmented-MP4-like body without Content-Length, as Frigate's ffmpeg pipe does."""
    response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    for chunk in chunks:
        await response.write(chunk)
    await response.write_eof()
    return response


def _user(request: web.Request, standin: FrigateStandin) -> str | None:
    """The logged-in user: Bearer header first, then the cookie (Frigate's order)."""
    header = request.headers.get("Authorization", "")
    token = header.removeprefix("Bearer ") if header.startswith("Bearer ") else None
    if token is None:
        token = request.cookies.get(TOKEN_COOKIE)
    return standin.user_for(token) if token else None


# --- middleware ---------------------------------------------------------------------------


@web.middleware
async def _frigate_gate(
    request: web.Request, handler: Callable[[web.Request], Any]
) -> web.StreamResponse:
    """Frigate's CSRF rule, then (with users) nginx's auth_request on every route but login."""
    if (request.method not in ("GET", "HEAD", "OPTIONS") and "Origin" in request.headers
            and "X-CSRF-TOKEN" not in request.headers):
        return web.json_response({"success": False, "message": "Missing CSRF header"}, status=401)
    standin = _standin(request)
    if standin.users is not None and request.path != "/api/login":
        user = _user(request, standin)
        if user is None:
            return web.Response(status=401, text=_NGINX_401, content_type="text/html")
        request[_USER] = user
    response: web.StreamResponse = await handler(request)
    return response


# --- handlers -----------------------------------------------------------------------------


async def _alive(request: web.Request) -> web.Response:
    return web.Response(text=_ALIVE, content_type="text/plain")


async def _version(request: web.Request) -> web.Response:
    return web.Response(text=_standin(request).version, content_type="text/plain")


async def _login(request: web.Request) -> web.Response:
    standin = _standin(request)
    try:
        body = await request.json()
    except ValueError:
        raise _invalid("body", "user", "Field required") from None
    user, password = (body.get("user"), body.get("password")) if isinstance(body, dict) else (None, None)
    if not isinstance(user, str) or not isinstance(password, str):
        raise _invalid("body", "user", "Field required")
    known = (standin.users or {}).get(user)
    if known is None or not hmac.compare_digest(known.encode(), password.encode()):
        return web.json_response({"message": "Login failed"}, status=401)
    token, expires = standin.issue_token(user)
    standin.logins += 1
    response = web.Response(status=200)
    response.set_cookie(TOKEN_COOKIE, token, httponly=True, expires=formatdate(expires, usegmt=True))
    return response


async def _config(request: web.Request) -> web.Response:
    standin = _standin(request)
    return web.json_response(config_body(
        standin.cameras, minor=standin.minor, version=standin.version, mqtt=standin.mqtt,
        auth=standin.users is not None,
    ))


async def _config_set(request: web.Request) -> web.Response:
    raw = await request.read()
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = None
    request.app[FRIGATE_CONFIG_SETS].append(body)
    standin = _standin(request)
    status, answer = config_set_answer(body, bool(request.query), standin.minor, standin.environment)
    return web.json_response(answer, status=status)


async def _stats(request: web.Request) -> web.Response:
    standin = _standin(request)
    return web.json_response(stats_body(
        standin.cameras, version=standin.version, now=standin.now(), started=standin.started
    ))


async def _events(request: web.Request) -> web.Response:
    standin = _standin(request)
    cameras, labels = _names(request, "cameras", "camera"), _names(request, "labels", "label")
    allowed = _allowed(request)
    after, before = _float(request, "after"), _float(request, "before")
    has_clip, in_progress = _int(request, "has_clip"), _int(request, "in_progress")
    rows = [
        row for row in standin.events.values()
        if (cameras is None or row["camera"] in cameras)
        and (allowed is None or row["camera"] in allowed)
        and (labels is None or row["label"] in labels)
        and (after is None or row["start_time"] > after)
        and (before is None or row["start_time"] < before)
        and (has_clip is None or row["has_clip"] == bool(has_clip))
        and (in_progress is None or (row["end_time"] is None) == bool(in_progress))
    ]
    sort = request.query.get("sort", "date_desc")
    if sort.startswith("score"):
        rows.sort(key=lambda row: row["data"].get("top_score") or 0, reverse=sort.endswith("desc"))
    else:
        rows.sort(key=lambda row: row["start_time"], reverse=sort != "date_asc")
    rows = rows[: _int(request, "limit") or 100]
    if request.query.get("include_thumbnails") == "0":
        rows = [{k: v for k, v in row.items() if k != "thumbnail"} for row in rows]
    return web.json_response(rows)


def _event_row(request: web.Request) -> JsonObject:
    row = _standin(request).events.get(request.match_info["event_id"])
    allowed = _allowed(request)
    if row is None or (allowed is not None and row["camera"] not in allowed):
        raise _Status(404, "Event not found")
    return row


async def _event(request: web.Request) -> web.Response:
    return web.json_response(event_detail(_event_row(request), model_hash=_MODEL_HASH))


async def _event_clip(request: web.Request) -> web.StreamResponse:
    row = _event_row(request)
    if not row["has_clip"]:
        raise _error(404, "Clip not available")
    return await _stream(request, _standin(request).clip_chunks())


async def _review(request: web.Request) -> web.Response:
    standin = _standin(request)
    now = standin.now()
    after = _float(request, "after")
    before = _float(request, "before")
    after = now - 86400 if after is None else after
    before = now if before is None else before
    cameras, labels = _names(request, "cameras"), _names(request, "labels")
    allowed = _allowed(request)
    severity = request.query.get("severity")
    rows = [
        row for row in standin.reviews.values()
        if row["start_time"] < before and (row["end_time"] is None or row["end_time"] > after)
        and (cameras is None or row["camera"] in cameras)
        and (allowed is None or row["camera"] in allowed)
        and (severity is None or row["severity"] == severity)
        and (labels is None or any(o.removesuffix("-verified") in labels
                                   for o in row["data"]["objects"]))
    ]
    rows.sort(key=lambda row: row["start_time"], reverse=True)
    limit = _int(request, "limit")
    return web.json_response(rows[:limit] if limit else rows)


async def _recordings(request: web.Request) -> web.Response:
    camera = _camera(request)
    after, before = _float(request, "after"), _float(request, "before")
    if after is None or before is None:
        raise _invalid("query", "after" if after is None else "before",
                       "the stand-in requires both after and before (Frigate's defaults are stale)")
    return web.json_response(_standin(request).segments(camera, after, before))


async def _recordings_summary(request: web.Request) -> web.Response:
    camera = _camera(request)
    name = request.query.get("timezone", "utc")
    tz: tzinfo
    if name.lower() == "utc":
        tz = timezone.utc
    else:
        try:
            tz = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise _error(400, f"Unknown timezone {name!r}") from None
    return web.json_response(_standin(request).summary(camera, tz))


def _range(request: web.Request) -> tuple[float, float]:
    start, end = _float(request, "start", path=True), _float(request, "end", path=True)
    assert start is not None and end is not None  # both are route parameters
    return start, end


async def _clip(request: web.Request) -> web.StreamResponse:
    camera = _camera(request)
    start, end = _range(request)
    standin = _standin(request)
    if not standin.has_recordings(camera, start, end):
        raise _error(400, "No recordings found for the specified time range")
    return await _stream(request, standin.clip_chunks())


async def _start_export(request: web.Request) -> web.Response:
    standin = _standin(request)
    name = request.match_info["camera"]
    if name not in standin.cameras:
        raise _error(404, f"{name} is not a valid camera.")
    camera = _camera(request)
    try:
        body = await request.json()
    except ValueError:
        raise _Status(422, {"detail": [{"type": "missing", "loc": ["body"], "msg": "Field required",
                                        "input": None}]}) from None
    if not isinstance(body, dict):
        raise _invalid("body", "body", "Input should be a valid dictionary")
    if body.get("playback", "realtime") not in ("realtime", "timelapse_25x"):
        raise _invalid("body", "playback", "Input should be 'realtime' or 'timelapse_25x'")
    export_name = body.get("name")
    if export_name is not None and (not isinstance(export_name, str) or len(export_name) > 256):
        raise _invalid("body", "name", "String should have at most 256 characters")
    start, end = _range(request)
    if not standin.has_recordings(camera, start, end):
        raise _error(400, "No recordings found for time range")
    export_id = standin.start_export(camera, int(start), int(end), export_name,
                                     str(body.get("playback", "realtime")))
    return web.json_response(
        {"success": True, "message": "Starting export of recording.", "export_id": export_id}
    )


def _visible_exports(request: web.Request) -> list[JsonObject]:
    allowed = _allowed(request)
    rows = [row for row in _standin(request).exports.values()
            if allowed is None or row["camera"] in allowed]
    return sorted(rows, key=lambda row: row["date"], reverse=True)


async def _exports(request: web.Request) -> web.Response:
    return web.json_response(_visible_exports(request))


async def _export(request: web.Request) -> web.Response:
    wanted = request.match_info["export_id"]
    for row in _visible_exports(request):
        if row["id"] == wanted:
            return web.json_response(row)
    raise _error(404, "Export not found")


async def _delete_export(request: web.Request) -> web.Response:
    standin = _standin(request)
    row = standin.exports.get(request.match_info["export_id"])
    allowed = _allowed(request)
    if row is not None and allowed is not None and row["camera"] not in allowed:
        raise _error(404, "Export not found")  # as GET /api/exports/<id>: another camera's export is not there
    status, message = standin.delete_export(request.match_info["export_id"])
    if status != 200:
        raise _error(status, message)
    return web.json_response({"success": True, "message": message})


async def _export_file(request: web.Request) -> web.Response:
    standin = _standin(request)
    row = standin.finished_export(request.match_info["name"])
    allowed = _allowed(request)
    if row is None or (allowed is not None and row["camera"] not in allowed):
        return web.Response(status=404, text=_NGINX_404, content_type="text/html")
    body = await asyncio.to_thread(standin.export_videos.video, request.match_info["name"])
    return web.Response(body=body, content_type="video/mp4")


async def _exports_index(request: web.Request) -> web.Response:
    rows = [row for row in _visible_exports(request) if not row["in_progress"]]
    return web.json_response(_standin(request).export_videos.index(rows))


async def _latest_jpg(request: web.Request) -> web.Response:
    _camera(request)
    _int(request, "height")
    return web.Response(body=_JPEG, content_type="image/jpeg")


# --- app ----------------------------------------------------------------------------------


def make_frigate_app(
    cameras: StandinCameras,
    *,
    version: str = "0.17.2-3d4dd3a",
    users: Mapping[str, str] | None = None,
    jwt_secret: str | None = None,
    user_cameras: Mapping[str, Collection[str]] | None = None,
    mqtt: StandinMqtt | None = None,
    clip_file: Path | None = None,
    export_delay_s: float = 0.2,
    clock: Callable[[], datetime] | None = None,
    seed: int = 0,
    environment: Mapping[str, str] | None = None,
) -> web.Application:
    """Build the stand-in Frigate application (serve it with :func:`serve_frigate`).

    Args:
        cameras: Cameras to serve.
        version: What ``/api/version`` answers; 0.14-0.16 switch ``/api/config`` to the old
            ``record.retain`` keys and events to their older shapes.
        users: ``{username: password}``; when given, behave like port 8971 (login required).
        jwt_secret: HS256 secret for session tokens; random when None.
        user_cameras: Restrict some users to these cameras (others get 403, as 0.17 roles do).
        mqtt: What ``/api/config`` reports in its ``mqtt`` section (e.g. ``qos``).
        clip_file: File served as every clip; a fixed byte body when None.
        export_delay_s: Seconds an export stays ``in_progress``.
        clock: Aware-UTC clock; ``datetime.now(UTC)`` when None.
        seed: Seed for export ids.
        environment: The variables Frigate's process has (``FRIGATE_*``); ``PUT /api/config/set``
            refuses a ``{FRIGATE_*}`` placeholder naming any other, as Frigate does. Change
            ``app[FRIGATE_STANDIN].environment`` to "set a variable and restart Frigate".

    Returns:
        The application; its state is ``app[FRIGATE_STANDIN]``.
    """
    standin = FrigateStandin(
        cameras, version=version, users=users, user_cameras=user_cameras, jwt_secret=jwt_secret,
        mqtt=mqtt or StandinMqtt(), clip_file=clip_file, export_delay_s=export_delay_s,
        clock=clock or (lambda: datetime.now(UTC)), seed=seed, environment=environment,
    )
    app = web.Application(middlewares=[_frigate_gate])
    app[FRIGATE_STANDIN] = standin
    app[FRIGATE_CONFIG_SETS] = []

    async def _cleanup(_: web.Application) -> None:
        standin.cancel_timers()

    app.on_cleanup.append(_cleanup)
    app.router.add_get("/api/", _alive)
    app.router.add_get("/api/version", _version)
    app.router.add_post("/api/login", _login)
    app.router.add_get("/api/config", _config)
    app.router.add_put("/api/config/set", _config_set)
    app.router.add_get("/api/stats", _stats)
    app.router.add_get("/api/events", _events)
    app.router.add_get("/api/events/{event_id}", _event)
    app.router.add_get("/api/events/{event_id}/clip.mp4", _event_clip)
    app.router.add_get("/api/review", _review)
    app.router.add_get("/api/exports", _exports)
    app.router.add_get("/api/exports/{export_id}", _export)
    app.router.add_post("/api/export/{camera}/start/{start}/end/{end}", _start_export)
    app.router.add_delete("/api/export/{export_id}", _delete_export)
    app.router.add_get("/api/{camera}/recordings", _recordings)
    app.router.add_get("/api/{camera}/recordings/summary", _recordings_summary)
    app.router.add_get("/api/{camera}/start/{start}/end/{end}/clip.mp4", _clip)
    app.router.add_get("/api/{camera}/latest.jpg", _latest_jpg)
    app.router.add_get("/exports/", _exports_index)
    app.router.add_get("/exports/{name}", _export_file)
    return app


async def serve_frigate(
    app: web.Application,
    host: str = "127.0.0.1",
    port: int = 0,
    ssl_context: SSLContext | None = None,
) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on ``host:port`` (0 picks a free port); return the runner and the port.

    Call ``await runner.cleanup()`` to stop it.
    """
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
        await site.start()
        bound = runner.addresses[0][1]
    except BaseException:
        await runner.cleanup()
        raise
    return runner, int(bound)
