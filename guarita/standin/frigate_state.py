"""State of the Frigate stand-in: cameras, event and review rows, exports, users and sessions.

Part of a stand-in for Frigate built from the contract, not Frigate. Event and review rows
come from :mod:`guarita.standin.frigate_events`, so what the stand-in serves over HTTP agrees
with what a test publishes over MQTT. :mod:`guarita.standin.frigate_api` serves this state.

Covers: PB-01, PB-05.
"""

from __future__ import annotations

import asyncio
import random
import secrets
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from guarita.standin._frigate_config import StandinMqtt
from guarita.standin._frigate_exports import ExportVideos, export_file_name
from guarita.standin._frigate_jwt import decode_hs256, encode_hs256
from guarita.standin._frigate_recordings import (
    default_clip,
    has_recordings,
    recording_segments,
    recordings_summary,
)
from guarita.standin.frigate_cameras import StandinCamera, StandinCameras
from guarita.standin.frigate_events import (
    JsonObject,
    event_row,
    random_suffix,
    review_lifecycle,
    review_row,
    standin_minor,
    tracked_object_lifecycle,
)

__all__ = ["SESSION_LENGTH_S", "FrigateStandin", "StandinActivity"]

SESSION_LENGTH_S = 86400
"""Lifetime of a login token (Frigate's ``auth.session_length`` default)."""
_CHUNK = 32 * 1024


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

    Reach it from a running app with ``app[frigate_api.FRIGATE_STANDIN]``.
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
        environment: Mapping[str, str] | None = None,
    ) -> None:
        self.cameras = cameras
        self.version = version
        self.minor = standin_minor(version)
        self.users = dict(users) if users is not None else None
        self.user_cameras = {user: frozenset(names) for user, names in (user_cameras or {}).items()}
        self.mqtt = mqtt
        self.clip_file = clip_file
        self.export_delay_s = export_delay_s
        self.environment: dict[str, str] = dict(environment or {})
        """Frigate's process environment, against which ``{FRIGATE_*}`` placeholders are checked."""
        self.fail_exports = False
        """When True, exports vanish instead of finishing (as when Frigate's ffmpeg fails)."""
        self.stall_exports = False
        """When True, exports stay ``in_progress`` (as an export Frigate never completes)."""
        self.logins = 0
        """Successful ``POST /api/login`` calls so far."""
        self.events: dict[str, JsonObject] = {}
        self.reviews: dict[str, JsonObject] = {}
        self.exports: dict[str, JsonObject] = {}
        self.export_videos = ExportVideos()
        """The MP4 behind each export, served at ``/exports/<file name>``."""
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
        role = "viewer" if user in self.user_cameras else "admin"
        claims = {"sub": user, "role": role, "exp": expires, "iat": now}
        return encode_hs256(claims, self._jwt_secret), expires

    def user_for(self, token: str) -> str | None:
        """The user a session token belongs to, or None when invalid, expired or unknown."""
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
        return has_recordings(camera, start, end, now=self.now())

    def clip_chunks(self) -> Iterator[bytes]:
        """The clip body in chunks: the given file, else :func:`default_clip`."""
        if self.clip_file is not None:
            with self.clip_file.open("rb") as source:
                while chunk := source.read(_CHUNK):
                    yield chunk
            return
        if self._clip is None:
            self._clip = default_clip()
        for offset in range(0, len(self._clip), _CHUNK):
            yield self._clip[offset : offset + _CHUNK]

    def segments(self, camera: StandinCamera, after: float, before: float) -> list[JsonObject]:
        """Plausible 10 s recording rows of ``camera`` overlapping ``[after, before]``."""
        now = self.now()
        busy = [(row["start_time"], row["end_time"] or now)
                for row in self.events.values() if row["camera"] == camera.name]
        return recording_segments(camera, after, before, now=now, busy=busy)

    def summary(self, camera: StandinCamera, tz: tzinfo) -> list[JsonObject]:
        """``recordings/summary`` rows of ``camera`` in ``tz``."""
        clip_starts = [row["start_time"] for row in self.events.values()
                       if row["camera"] == camera.name and row["has_clip"]]
        return recordings_summary(camera, tz, now=self.now(), clip_starts=clip_starts)

    # --- exports ----------------------------------------------------------------------------

    def start_export(
        self, camera: StandinCamera, start: int, end: int, name: str | None, playback: str = "realtime"
    ) -> str:
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
        self.export_videos.planned(self.exports[export_id], start, end, playback)
        loop = asyncio.get_running_loop()
        self._timers.append(loop.call_later(self.export_delay_s, self._finish_export, export_id))
        return export_id

    def _finish_export(self, export_id: str) -> None:
        row = self.exports.get(export_id)
        if row is None:
            return
        if self.fail_exports:
            del self.exports[export_id]
        elif self.stall_exports:
            return
        else:
            row["in_progress"] = False

    def delete_export(self, export_id: str) -> tuple[int, str]:
        """``DELETE /api/export/<id>`` as Frigate answers it: (status, message).

        404 for an unknown id, 400 while its ffmpeg still writes the file; otherwise the row and
        its file go (no longer listed, nor served under ``/exports/``).
        """
        row = self.exports.get(export_id)
        if row is None:
            return 404, "Export not found"
        if row["in_progress"]:
            return 400, "Can not delete in progress export."
        del self.exports[export_id]
        self.export_videos.forget(export_file_name(row))
        return 200, "Successfully deleted export."

    def finished_export(self, file_name: str) -> JsonObject | None:
        """The finished export whose video is ``file_name``, or None."""
        return next((row for row in self.exports.values()
                     if not row["in_progress"] and export_file_name(row) == file_name), None)

    def cancel_timers(self) -> None:
        """Cancel pending export completions (called on app cleanup)."""
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
