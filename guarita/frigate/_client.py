"""``FrigateClient``: Frigate's HTTP API (0.14-0.17) as typed async methods.

Covers: PB-01, PB-09.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
from pydantic import TypeAdapter, ValidationError

from guarita.errors import FrigateError, FrigateHttpError
from guarita.frigate._http import FrigateHttp
from guarita.frigate._base import EventSort, Playback, Severity
from guarita.frigate._config import FrigateConfig
from guarita.frigate._models import (
    Event,
    Export,
    FrigateStats,
    RecordingSegment,
    RecordingsDay,
    ReviewItem,
)
from guarita.frigate._version import FrigateVersion

__all__ = ["FrigateClient", "Timestamp"]

Timestamp = float | datetime
"""Epoch seconds (UTC) or an aware datetime."""

_T = TypeVar("_T")

_EVENTS: TypeAdapter[list[Event]] = TypeAdapter(list[Event])
_REVIEWS: TypeAdapter[list[ReviewItem]] = TypeAdapter(list[ReviewItem])
_SEGMENTS: TypeAdapter[list[RecordingSegment]] = TypeAdapter(list[RecordingSegment])
_DAYS: TypeAdapter[list[RecordingsDay]] = TypeAdapter(list[RecordingsDay])
_EXPORTS: TypeAdapter[list[Export]] = TypeAdapter(list[Export])

_EXPORT_APPEAR_S = 10.0
"""Frigate inserts the export row from its export thread, just after answering the POST."""


def _epoch(value: Timestamp) -> float:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()}: pass an aware (UTC) datetime")
        return value.timestamp()
    return float(value)


def _ts(value: Timestamp) -> str:
    seconds = _epoch(value)
    return str(int(seconds)) if seconds.is_integer() else repr(seconds)


def _seg(name: str) -> str:
    if not name:
        raise ValueError("empty camera name or id")
    return quote(name, safe="")


def _csv(names: Sequence[str]) -> str:
    if isinstance(names, str):
        return names
    return ",".join(names)


class FrigateClient:
    """Async client for one Frigate instance.

    Args:
        session: An aiohttp session owned by the caller (never created or closed here).
        base_url: e.g. ``http://frigate:5000`` (internal, no auth) or ``https://frigate:8971``.
        username: Frigate user for the authenticated port 8971, or None.
        password: That user's password; never logged nor put in an error message.
        verify_tls: Set False to accept Frigate's self-signed certificate on port 8971.
        timeout_s: Limit for each request (for downloads: for connecting and each read).

    Raises:
        ValueError: malformed ``base_url``, or only one of username/password given.

    Every method raises ``FrigateUnavailable`` when Frigate cannot be reached,
    ``FrigateAuthError`` when the login is refused (or a 403), ``FrigateHttpError`` for other
    non-2xx answers, and ``FrigateError`` when an answer does not have the expected shape.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        verify_tls: bool = True,
        timeout_s: float = 10.0,
    ) -> None:
        self._http = FrigateHttp(
            session,
            base_url,
            username=username,
            password=password,
            verify_tls=verify_tls,
            timeout_s=timeout_s,
        )

    @property
    def base_url(self) -> str:
        """Frigate's base URL, without a trailing slash."""
        return self._http.base_url

    def _parse(self, parse: Callable[[Any], _T], data: Any, what: str) -> _T:
        try:
            return parse(data)
        except ValidationError as exc:
            raise FrigateError(
                f"Frigate at {self.base_url} answered {what} in an unexpected shape "
                f"({exc.error_count()} problems, first: {exc.errors()[0]['msg']})"
            ) from exc

    async def login(self) -> None:
        """Log in now instead of on the first request; a no-op without credentials.

        Raises:
            FrigateAuthError: Frigate refused the username or password.
        """
        await self._http.login()

    async def version(self) -> FrigateVersion:
        """Return Frigate's version (``GET /api/version``)."""
        text = (await self._http.read("GET", "version")).decode("utf-8", "replace")
        try:
            return FrigateVersion.parse(text)
        except ValueError as exc:
            raise FrigateError(
                f"Frigate at {self.base_url} answered /api/version with {text[:40]!r}, which is "
                "not a Frigate version; is base_url pointing at Frigate?"
            ) from exc

    async def config(self) -> FrigateConfig:
        """Return the running configuration (``GET /api/config``), raw JSON kept in ``raw``."""
        data = await self._http.json("GET", "config")
        return self._parse(FrigateConfig.from_api, data, "/api/config")

    async def stats(self) -> FrigateStats:
        """Return the latest stats snapshot (``GET /api/stats``)."""
        data = await self._http.json("GET", "stats")
        return self._parse(FrigateStats.from_api, data, "/api/stats")

    async def events(
        self,
        *,
        cameras: Sequence[str] | None = None,
        labels: Sequence[str] | None = None,
        after: Timestamp | None = None,
        before: Timestamp | None = None,
        limit: int | None = None,
        has_clip: bool | None = None,
        in_progress: bool | None = None,
        sort: EventSort | None = None,
    ) -> list[Event]:
        """List tracked objects (``GET /api/events``); Frigate's default limit is 100.

        Args:
            cameras: Only these cameras.
            labels: Only these labels.
            after: Only objects that started after this time (exclusive).
            before: Only objects that started before this time (exclusive).
            limit: At most this many rows.
            has_clip: Only rows with (True) or without (False) a clip.
            in_progress: Only objects still tracked (True) or ended (False).
            sort: Sort order; Frigate's default is newest first.
        """
        params: dict[str, str] = {"include_thumbnails": "0"}
        if cameras is not None:
            params["cameras"] = _csv(cameras)
        if labels is not None:
            params["labels"] = _csv(labels)
        if after is not None:
            params["after"] = _ts(after)
        if before is not None:
            params["before"] = _ts(before)
        if limit is not None:
            params["limit"] = str(limit)
        if has_clip is not None:
            params["has_clip"] = str(int(has_clip))
        if in_progress is not None:
            params["in_progress"] = str(int(in_progress))
        if sort is not None:
            params["sort"] = EventSort(sort).value
        data = await self._http.json("GET", "events", params=params)
        return self._parse(_EVENTS.validate_python, data, "/api/events")

    async def event(self, event_id: str) -> Event:
        """Return one tracked object; an unknown id raises FrigateHttpError with status 404."""
        data = await self._http.json("GET", f"events/{_seg(event_id)}")
        return self._parse(Event.model_validate, data, f"/api/events/{event_id}")

    async def review(
        self,
        after: Timestamp,
        before: Timestamp,
        *,
        cameras: Sequence[str] | None = None,
        severity: Severity | None = None,
        limit: int | None = None,
    ) -> list[ReviewItem]:
        """List review items overlapping ``[after, before]``, newest first (``GET /api/review``)."""
        params = {"after": _ts(after), "before": _ts(before)}
        if cameras is not None:
            params["cameras"] = _csv(cameras)
        if severity is not None:
            params["severity"] = Severity(severity).value
        if limit is not None:
            params["limit"] = str(limit)
        data = await self._http.json("GET", "review", params=params)
        return self._parse(_REVIEWS.validate_python, data, "/api/review")

    async def recordings(
        self, camera: str, after: Timestamp, before: Timestamp
    ) -> list[RecordingSegment]:
        """List recorded segments of ``camera`` overlapping ``[after, before]``, oldest first.

        Both bounds are always sent: Frigate computes their defaults once at start-up.
        """
        params = {"after": _ts(after), "before": _ts(before)}
        data = await self._http.json("GET", f"{_seg(camera)}/recordings", params=params)
        return self._parse(_SEGMENTS.validate_python, data, f"/api/{camera}/recordings")

    async def recordings_summary(self, camera: str, timezone: str = "utc") -> list[RecordingsDay]:
        """Per-day, per-hour recording summary of ``camera`` in ``timezone`` (IANA name)."""
        path = f"{_seg(camera)}/recordings/summary"
        data = await self._http.json("GET", path, params={"timezone": timezone})
        return self._parse(_DAYS.validate_python, data, f"/api/{path}")

    async def download_clip(
        self, camera: str, start: Timestamp, end: Timestamp, dest: Path
    ) -> int:
        """Stream the recording of ``camera`` between ``start`` and ``end`` into ``dest``.

        The file is written as ``dest.part`` and renamed when complete; nothing is held in
        memory. Frigate answers 400 when it has no recordings for the range.

        Returns:
            The number of bytes written.

        Raises:
            OSError: ``dest`` cannot be written.
        """
        path = f"{_seg(camera)}/start/{_ts(start)}/end/{_ts(end)}/clip.mp4"
        return await self._http.download(path, dest)

    async def download_event_clip(self, event_id: str, dest: Path) -> int:
        """Stream the clip of a tracked object into ``dest`` (via ``dest.part``).

        Returns:
            The number of bytes written.
        """
        return await self._http.download(f"events/{_seg(event_id)}/clip.mp4", dest)

    async def start_export(
        self,
        camera: str,
        start: Timestamp,
        end: Timestamp,
        *,
        name: str | None = None,
        playback: Playback = Playback.REALTIME,
    ) -> str:
        """Ask Frigate to export a range to an MP4 it keeps forever; return the export id.

        The export runs asynchronously; follow it with :meth:`wait_export`.
        """
        body: dict[str, str] = {"playback": Playback(playback).value}
        if name is not None:
            body["name"] = name
        path = f"export/{_seg(camera)}/start/{_ts(start)}/end/{_ts(end)}"
        data = await self._http.json("POST", path, json_body=body)
        export_id = data.get("export_id") if isinstance(data, dict) else None
        if not isinstance(export_id, str) or not export_id:
            raise FrigateError(
                f"Frigate at {self.base_url} started an export of {camera} but returned no "
                "export_id (Frigate older than 0.15?)"
            )
        return export_id

    async def exports(self) -> list[Export]:
        """List every export, newest first (``GET /api/exports``)."""
        data = await self._http.json("GET", "exports")
        return self._parse(_EXPORTS.validate_python, data, "/api/exports")

    async def export(self, export_id: str) -> Export:
        """Return one export; an unknown id raises FrigateHttpError with status 404."""
        data = await self._http.json("GET", f"exports/{_seg(export_id)}")
        return self._parse(Export.model_validate, data, f"/api/exports/{export_id}")

    async def delete_export(self, export_id: str) -> None:
        """Delete an export, its MP4 and thumbnail (``DELETE /api/export/<id>``).

        Raises:
            FrigateHttpError: status 400 while Frigate's ffmpeg still writes it (try again
                later), 404 for an unknown id.
        """
        await self._http.read("DELETE", f"export/{_seg(export_id)}")

    async def wait_export(
        self, export_id: str, poll_s: float = 1.0, timeout_s: float = 600.0
    ) -> Export:
        """Poll an export until ``in_progress`` turns false.

        Args:
            export_id: Id returned by :meth:`start_export`.
            poll_s: Seconds between polls.
            timeout_s: Give up after this many seconds.

        Returns:
            The finished export.

        Raises:
            FrigateHttpError: status 404 when the export vanished (Frigate deletes the row when
                its ffmpeg fails) or never appeared.
            FrigateError: still in progress after ``timeout_s``.
        """
        loop = asyncio.get_running_loop()
        started = loop.time()
        seen = False
        while True:
            elapsed = loop.time() - started
            try:
                current = await self.export(export_id)
            except FrigateHttpError as exc:
                if exc.status != 404:
                    raise
                if seen:
                    raise FrigateHttpError(
                        404,
                        f"export {export_id} disappeared before it finished: Frigate's ffmpeg "
                        "export failed, see Frigate's log",
                        exc.url,
                    ) from exc
                if elapsed >= min(timeout_s, _EXPORT_APPEAR_S):
                    raise
            else:
                seen = True
                if not current.in_progress:
                    return current
            if elapsed >= timeout_s:
                raise FrigateError(
                    f"export {export_id} on Frigate at {self.base_url} still in progress after "
                    f"{timeout_s:g} s"
                )
            await asyncio.sleep(poll_s)

    async def download_export(self, export: Export, dest: Path) -> int:
        """Stream a finished export's MP4 into ``dest`` (via ``dest.part``).

        Frigate's nginx serves exports at ``/exports/<file name of video_path>`` (outside ``/api``).

        Returns:
            The number of bytes written.

        Raises:
            FrigateError: the export is still in progress or names no file.
        """
        name = PurePosixPath(export.video_path).name
        if export.in_progress or not name:
            state = "is still in progress" if export.in_progress else "names no video file"
            raise FrigateError(f"export {export.id} on Frigate at {self.base_url} {state}")
        return await self._http.download(f"exports/{quote(name)}", dest, under_api=False)

    async def latest_jpg(self, camera: str, height: int | None = None) -> bytes:
        """Return the latest frame of ``camera`` as JPEG bytes, optionally scaled to ``height``.

        Frigate answers with a placeholder image (status 200) when the camera sends no frames.
        """
        params = {"height": str(height)} if height is not None else None
        return await self._http.read("GET", f"{_seg(camera)}/latest.jpg", params=params)

    async def set_config(self, body: dict[str, Any]) -> dict[str, Any]:
        """Change Frigate's config file with ``PUT /api/config/set`` (JSON body form, Frigate 0.16+).

        Args:
            body: ``{"requires_restart": 1, "update_topic": None, "config_data": {...}}``; Frigate
                merges ``config_data`` into its YAML (keeping comments), validates the result and
                restores the old file when it is invalid.

        Returns:
            Frigate's answer, ``{"success": True, "message": "Config successfully updated, ..."}``.

        Raises:
            FrigateHttpError: status 400 with Frigate's message when the new config is invalid.
        """
        data = await self._http.json("PUT", "config/set", json_body=body)
        if not isinstance(data, dict):
            raise FrigateError(f"Frigate at {self.base_url} answered /api/config/set with {type(data).__name__}, "
                               "not an object")
        return data
