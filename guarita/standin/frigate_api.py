"""A stand-in for Frigate's HTTP API, built from the contract - it is not Frigate.

``make_frigate_app`` returns an aiohttp application that answers under ``/api`` the way
Frigate 0.14-0.17 does according to ``frigate-contract/README.md`` and its JSON examples:
same paths, key order, types and error bodies. It serves a handful of cameras
(:class:`StandinCameras`), event and review rows produced by
:mod:`guarita.standin.frigate_events` (the same payloads a test publishes on MQTT), synthetic
10 s recording segments, a fixed MP4-ish byte body (or a real file) as clips, asynchronous
exports, and a tiny fixed JPEG. It runs no ffmpeg and no detector. Use it in tests and in
``guarita demo``; never point a real deployment at it.

With ``users``, it behaves like Frigate's authenticated port 8971: ``POST /api/login`` sets the
``frigate_token`` JWT (HS256) cookie, every other route needs that cookie or
``Authorization: Bearer``. A non-GET request with ``Origin`` and no ``X-CSRF-TOKEN`` is refused
as Frigate does. Serve it over TLS by giving :func:`serve_frigate` an ``ssl_context``.

Deviations, on purpose: ``/api/<camera>/recordings`` rejects a request without both ``after``
and ``before`` (Frigate silently uses stale defaults); ``latest.jpg`` ignores ``height``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import math
import random
import secrets
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timezone, tzinfo
from email.utils import formatdate
from pathlib import Path
from ssl import SSLContext
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web

from guarita.standin._frigate_config import StandinMqtt, config_body, stats_body
from guarita.standin._frigate_jwt import decode_hs256, encode_hs256
from guarita.standin.frigate_cameras import StandinCamera, StandinCameras, default_demo_cameras
from guarita.standin.frigate_events import (
    JsonObject,
    event_detail,
    event_row,
    random_suffix,
    review_lifecycle,
    review_row,
    standin_minor,
    tracked_object_lifecycle,
)

__all__ = [
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
SESSION_LENGTH_S = 86400
_ALIVE = "Frigate is running. Alive and healthy!"
_NGINX_401 = (
    "<html>\r\n<head><title>401 Authorization Required</title></head>\r\n<body>\r\n"
    "<center><h1>401 Authorization Required</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
# 64x36 grey-blue JPEG made once with: ffmpeg -f lavfi -i color=c=0x406080:s=64x36 -frames:v 1
_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAgAAAQABAAD//gAQTGF2YzU5LjM3LjEwMAD/2wBDAAgQEBMQExYWFhYWFhoYGhsbGxoaGhob"
    "GxsdHR0iIiIdHR0bGx0dICAiIiUmJSMjIiMmJigoKDAwLi44ODpFRVP/xABMAAEBAAAAAAAAAAAAAAAAAAAABgEB"
    "AQAAAAAAAAAAAAAAAAAAAAUQAQAAAAAAAAAAAAAAAAAAAAARAQAAAAAAAAAAAAAAAAAAAAD/wAARCAAkAEADASIA"
    "AhEAAxEA/9oADAMBAAIRAxEAPwCZAVk0AAAAAAAAAAAAAAAAAAAAAB//2Q=="
)
_CHUNK = 32 * 1024
_MODEL_HASH = hashlib.md5(b"guarita-standin-model", usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class StandinActivity:
    """MQTT payloads of one simulated object, already recorded in the stand-in's API.

    Attributes:
        events: ``<prefix>/events`` messages (new, updates, end).
        reviews: ``<prefix>/reviews`` messages (new, updates, end).
    """

    events: tuple[JsonObject, ...]
    reviews: tuple[JsonObject, ...]


class FrigateStandin:
    """State of one stand-in Frigate: cameras, event and review rows, exports, users.

    Reach it from a running app with ``app[FRIGATE_STANDIN]``.
    """

    def __init__(
        self,
        cameras: StandinCameras,
        *,
        version: str,
        users: Mapping[str, str] | None,
        user_cameras: Mapping[str, Collection[str]] | None,
        jwt_secret: str | None,
        mqtt: StandinMqtt,
        clip_file: Path | None,
        export_delay_s: float,
        clock: Callable[[], datetime],
        seed: int,
    ) -> None:
        self.cameras = cameras
        self.version = version
        self.minor = standin_minor(version)
        self.users = dict(users) if users is not None else None
        self.user_cameras = {user: frozenset(names) for user, names in (user_cameras or {}).items()}
        self.mqtt = mqtt
        self.clip_file = clip_file
        self.export_delay_s = export_delay_s
        self.fail_exports = False
        """When True, exports vanish instead of finishing (as when Frigate's ffmpeg fails)."""
        self.logins = 0
        """Successful ``POST /api/login`` calls so far."""
        self.events: dict[str, JsonObject] = {}
        self.reviews: dict[str, JsonObject] = {}
        self.exports: dict[str, JsonObject] = {}
        self._jwt_secret = jwt_secret or secrets.token_hex(32)
        self._clock = clock
        self._rng = random.Random(seed)
        self._timers: list[asyncio.TimerHandle] = []
        self._clip: bytes | None = None
        self.started = self.now()

    def now(self) -> float:
        """The stand-in's clock as epoch seconds."""
        return self._clock().timestamp()

    def camera(self, name: str) -> StandinCamera:
        """The camera called ``name``; raises ValueError when unknown."""
        camera = self.cameras.get(name)
        if camera is None:
            raise ValueError(f"the stand-in has no camera {name!r}")
        return camera

    # --- activity --------------------------------------------------------------------------

    def add_event_lifecycle(self, messages: Sequence[JsonObject]) -> None:
        """Record ``<prefix>/events`` messages; the row reflects the last message's ``after``."""
        for message in messages:
            obj = message["after"]
            camera = self.camera(obj["camera"])
            old = self.events.get(obj["id"])
            self.events[obj["id"]] = event_row(
                obj,
                frame_size=camera.frame_size,
                version=self.version,
                retain_indefinitely=bool(old and old["retain_indefinitely"]),
            )

    def add_review_lifecycle(self, messages: Sequence[JsonObject]) -> None:
        """Record ``<prefix>/reviews`` messages as review rows."""
        for message in messages:
            segment = message["after"]
            self.camera(segment["camera"])
            self.reviews[segment["id"]] = review_row(segment)

    def add_tracked_object(
        self,
        camera: str,
        label: str,
        start: float,
        *,
        rng: random.Random,
        updates: int = 2,
        sub_label: str | None = None,
        zones: Sequence[str] | None = None,
        license_plate: str | None = None,
    ) -> StandinActivity:
        """Simulate one object on ``camera``: record its rows and return its MQTT payloads.

        ``zones`` defaults to the camera's first zone, if any.
        """
        cam = self.camera(camera)
        events = tracked_object_lifecycle(
            camera, label, start, updates=updates, rng=rng, version=self.version,
            sub_label=sub_label, zones=cam.zones[:1] if zones is None else zones,
            license_plate=license_plate, frame_size=cam.frame_size, fps=cam.detect_fps,
            record_enabled=cam.record_enabled,
        )
        reviews = review_lifecycle(events, rng=rng)
        self.add_event_lifecycle(events)
        self.add_review_lifecycle(reviews)
        return StandinActivity(events=tuple(events), reviews=tuple(reviews))

    # --- auth -------------------------------------------------------------------------------

    def issue_token(self, user: str) -> tuple[str, int]:
        """A session JWT for ``user`` and its expiry (epoch seconds)."""
        now = int(self.now())
        expires = now + SESSION_LENGTH_S
        claims = {"sub": user, "role": "admin", "exp": expires, "iat": now}
        return encode_hs256(claims, self._jwt_secret), expires

    def authenticate(self, request: web.Request) -> str | None:
        """The user of a request (Bearer header first, then cookie, as Frigate), or None."""
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ") if header.startswith("Bearer ") else None
        if token is None:
            token = request.cookies.get(TOKEN_COOKIE)
        if not token:
            return None
        claims = decode_hs256(token, self._jwt_secret, now=self.now())
        if claims is None or self.users is None or claims["sub"] not in self.users:
            return None
        return str(claims["sub"])

    def revoke_sessions(self) -> None:
        """Invalidate every issued token (as a restart with a new JWT secret would)."""
        self._jwt_secret = secrets.token_hex(32)

    # --- media ------------------------------------------------------------------------------

    def has_recordings(self, camera: StandinCamera, start: float, end: float) -> bool:
        """Whether ``camera`` has recorded footage overlapping ``[start, end]``."""
        now = self.now()
        oldest = now - camera.retention_days * 86400
        return camera.record_enabled and end > start and end > oldest and start < now

    def clip_chunks(self) -> Iterator[bytes]:
        """The clip body: the given file, else a fixed 192 KiB body starting like an MP4."""
        if self.clip_file is not None:
            with self.clip_file.open("rb") as source:
                while chunk := source.read(_CHUNK):
                    yield chunk
            return
        if self._clip is None:
            block = b"guarita-standin-clip"
            blocks = [b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"]
            for _ in range(6144):
                block = hashlib.sha256(block).digest()
                blocks.append(block)
            self._clip = b"".join(blocks)
        for offset in range(0, len(self._clip), _CHUNK):
            yield self._clip[offset : offset + _CHUNK]

    def segments(self, camera: StandinCamera, after: float, before: float) -> list[JsonObject]:
        """Plausible 10 s recording rows of ``camera`` overlapping ``[after, before]``."""
        if not camera.record_enabled or before < after:
            return []
        now = self.now()
        oldest = math.floor((now - camera.retention_days * 86400) / 10) * 10
        busy = self._busy_spans(camera.name)
        rows: list[JsonObject] = []
        start = max(math.floor(after / 10) * 10 - 10, oldest)
        while start <= before and start + 10 <= now:
            rng = random.Random(f"{camera.name}:{start}")
            duration = rng.choice((10.0, 10.005))
            end = start + duration
            if end >= after:
                active = any(s < end and e > start for s, e in busy)
                objects = rng.randint(10, 60) if active else 0
                motion = rng.randint(200, 800) if active else rng.choice((0, 0, rng.randint(20, 300)))
                rows.append({
                    "id": f"{float(start)}-{random_suffix(rng)}", "start_time": float(start),
                    "end_time": end, "segment_size": round(rng.uniform(1.2, 2.4), 2),
                    "motion": motion, "objects": objects, "duration": duration,
                })
            start += 10
        return rows

    def summary(self, camera: StandinCamera, tz: tzinfo) -> list[JsonObject]:
        """``recordings/summary`` rows: days newest first, hours newest first."""
        if not camera.record_enabled:
            return []
        now = self.now()
        oldest = now - camera.retention_days * 86400
        clip_starts = [row["start_time"] for row in self.events.values()
                       if row["camera"] == camera.name and row["has_clip"]]
        days: dict[str, dict[str, JsonObject]] = {}
        hour = math.floor(oldest / 3600) * 3600
        while hour < now:
            lo, hi = max(hour, oldest), min(hour + 3600, now)
            duration = int(max(0, math.floor(hi / 10) * 10 - math.ceil(lo / 10) * 10))
            if duration > 0:
                local = datetime.fromtimestamp(hour, tz)
                rng = random.Random(f"{camera.name}:{hour}")
                events = sum(1 for t in clip_starts if hour <= t < hour + 3600)
                entry = days.setdefault(local.strftime("%Y-%m-%d"), {}).setdefault(
                    local.strftime("%H"),
                    {"hour": local.strftime("%H"), "events": 0, "motion": 0, "objects": 0,
                     "duration": 0},
                )
                entry["events"] += events
                entry["motion"] += rng.randint(1000, 20000) * duration // 3600
                entry["objects"] += rng.randint(100, 1500) if events else 0
                entry["duration"] += duration
            hour += 3600
        return [
            {"events": sum(h["events"] for h in hours.values()),
             "hours": list(reversed(hours.values())), "day": day}
            for day, hours in reversed(days.items())
        ]

    def _busy_spans(self, camera: str) -> list[tuple[float, float]]:
        now = self.now()
        return [(row["start_time"], row["end_time"] or now)
                for row in self.events.values() if row["camera"] == camera]

    # --- exports ----------------------------------------------------------------------------

    def start_export(self, camera: StandinCamera, start: int, end: int, name: str | None) -> str:
        """Create an in-progress export that finishes (or vanishes) after ``export_delay_s``."""
        suffix = random_suffix(self._rng)
        export_id = f"{camera.name}_{suffix}"

        def stamp(ts: int, fmt: str) -> str:
            return datetime.fromtimestamp(ts, UTC).strftime(fmt)

        self.exports[export_id] = {
            "id": export_id,
            "camera": camera.name,
            "name": name or (f"{camera.name.replace('_', ' ')} "
                             f"{stamp(start, '%Y-%m-%d %H:%M:%S')} {stamp(end, '%Y-%m-%d %H:%M:%S')}"),
            "date": start,
            "video_path": (f"/media/frigate/exports/{camera.name}_{stamp(start, '%Y%m%d_%H%M%S')}-"
                           f"{stamp(end, '%Y%m%d_%H%M%S')}_{suffix}.mp4"),
            "thumb_path": f"/media/frigate/clips/export/{export_id}.webp",
            "in_progress": True,
        }
        loop = asyncio.get_running_loop()
        self._timers.append(loop.call_later(self.export_delay_s, self._finish_export, export_id))
        return export_id

    def _finish_export(self, export_id: str) -> None:
        row = self.exports.get(export_id)
        if row is None:
            return
        if self.fail_exports:
            del self.exports[export_id]
        else:
            row["in_progress"] = False

    def cancel_timers(self) -> None:
        """Cancel pending export completions (called on app cleanup)."""
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()


FRIGATE_STANDIN = web.AppKey("frigate_standin", FrigateStandin)
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
        user = standin.authenticate(request)
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
    export_id = standin.start_export(camera, int(start), int(end), export_name)
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

    Returns:
        The application; its state is ``app[FRIGATE_STANDIN]``.
    """
    standin = FrigateStandin(
        cameras, version=version, users=users, user_cameras=user_cameras, jwt_secret=jwt_secret,
        mqtt=mqtt or StandinMqtt(), clip_file=clip_file, export_delay_s=export_delay_s,
        clock=clock or (lambda: datetime.now(UTC)), seed=seed,
    )
    app = web.Application(middlewares=[_frigate_gate])
    app[FRIGATE_STANDIN] = standin

    async def _cleanup(_: web.Application) -> None:
        standin.cancel_timers()

    app.on_cleanup.append(_cleanup)
    app.router.add_get("/api/", _alive)
    app.router.add_get("/api/version", _version)
    app.router.add_post("/api/login", _login)
    app.router.add_get("/api/config", _config)
    app.router.add_get("/api/stats", _stats)
    app.router.add_get("/api/events", _events)
    app.router.add_get("/api/events/{event_id}", _event)
    app.router.add_get("/api/events/{event_id}/clip.mp4", _event_clip)
    app.router.add_get("/api/review", _review)
    app.router.add_get("/api/exports", _exports)
    app.router.add_get("/api/exports/{export_id}", _export)
    app.router.add_post("/api/export/{camera}/start/{start}/end/{end}", _start_export)
    app.router.add_get("/api/{camera}/recordings", _recordings)
    app.router.add_get("/api/{camera}/recordings/summary", _recordings_summary)
    app.router.add_get("/api/{camera}/start/{start}/end/{end}/clip.mp4", _clip)
    app.router.add_get("/api/{camera}/latest.jpg", _latest_jpg)
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
