"""RTSP adapter: probe a camera's stream with ffprobe and pick Frigate's record and detect streams.

``probe_rtsp`` runs ffprobe (through ffmpeg-python) over RTSP-interleaved TCP first and, when
the camera refuses that transport, over UDP; it reports codec, profile, resolution, frame rate,
audio and the time to the first frame. ``classify_streams`` picks the ``record`` stream (the
highest-resolution H.264/H.265 one) and the ``detect`` stream (a sub stream of at most 720 lines
when there is one). Credentials never appear in a log line or an error: every URI shown goes
through ``mask_credentials``.

Covers: PB-02, BH-07.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import ffmpeg  # type: ignore[import-untyped]

from guarita.errors import GuaritaError

__all__ = [
    "DETECT_MAX_HEIGHT",
    "RECORD_CODECS",
    "RtspAuthError",
    "RtspError",
    "RtspNoH26xStream",
    "RtspStreamNotFound",
    "RtspUnreachable",
    "StreamInfo",
    "StreamRoles",
    "classify_streams",
    "mask_credentials",
    "probe_rtsp",
    "probe_streams",
    "with_credentials",
]

log = logging.getLogger(__name__)

RECORD_CODECS = ("h264", "hevc")
"""Codecs Frigate records without re-encoding (ffprobe's names for H.264 and H.265)."""
DETECT_MAX_HEIGHT = 720
"""A sub stream taller than this is not worth decoding for detection."""

_SECRET_QUERY = re.compile(r"(?i)\b(password|passwd|pwd|pass)=([^&\s]*)")
_USERINFO = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://)([^:/@\s]*):\S*@")


class RtspError(GuaritaError):
    """An RTSP stream could not be probed; the message carries the masked URI."""


class RtspUnreachable(RtspError):
    """Nothing answers at the stream's host and port."""


class RtspAuthError(RtspError):
    """The camera refused the user name or password (RTSP 401)."""


class RtspStreamNotFound(RtspError):
    """The camera answers but has no stream at this path (RTSP 404)."""


class RtspNoH26xStream(RtspError):
    """No stream is H.264 or H.265, so Frigate cannot record it without re-encoding."""


def mask_credentials(uri: str) -> str:
    """``uri`` with its password (userinfo or ``password=`` query) replaced by ``***``.

    Everything up to the last ``@`` counts as userinfo, so a password with unescaped ``/``, ``:``
    or ``@`` is hidden whole (a path containing ``@`` is over-masked, never under-masked).
    """
    masked = _USERINFO.sub(r"\1\2:***@", uri)
    return _SECRET_QUERY.sub(r"\1=***", masked)


def with_credentials(uri: str, username: str | None, password: str | None) -> str:
    """``uri`` with ``username:password@`` put in (replacing any), for cameras whose URIs carry none."""
    if not username:
        return uri
    parts = urlsplit(uri)
    hostport = parts.netloc.rpartition("@")[2]
    userinfo = quote(username, safe="") + (f":{quote(password, safe='')}" if password else "")
    return urlunsplit((parts.scheme, f"{userinfo}@{hostport}", parts.path, parts.query, parts.fragment))


@dataclass(frozen=True)
class StreamInfo:
    """What ffprobe saw on one RTSP URI.

    Attributes:
        uri: The URI probed, credentials included (never printed: ``repr`` and ``masked_uri``
            hide the password).
        transport: ``tcp`` or ``udp``, the RTP transport that worked.
        codec: Video codec as ffprobe names it (``h264``, ``hevc``, ``mjpeg``...).
        profile: Codec profile (``Main``, ``High``...) or None.
        width: Picture width in pixels.
        height: Picture height in pixels.
        fps: Frame rate (average when known, else nominal); 0.0 when unknown.
        audio: Audio codec, or None without audio.
        first_frame_s: Seconds from connecting to holding the first frame.
    """

    uri: str = field(repr=False)
    transport: str
    codec: str
    profile: str | None
    width: int
    height: int
    fps: float
    audio: str | None
    first_frame_s: float

    @property
    def masked_uri(self) -> str:
        """The URI with its password hidden."""
        return mask_credentials(self.uri)

    @property
    def recordable(self) -> bool:
        """True for H.264/H.265, which Frigate records as is."""
        return self.codec in RECORD_CODECS

    def describe(self) -> str:
        """One line a technician reads: codec, size, fps, audio, first frame."""
        profile = f" {self.profile}" if self.profile else ""
        audio = f", audio {self.audio}" if self.audio else ", no audio"
        return (f"{self.codec}{profile} {self.width}x{self.height} @ {self.fps:g} fps{audio}, "
                f"first frame after {self.first_frame_s:.1f} s over {self.transport.upper()}")


@dataclass(frozen=True)
class StreamRoles:
    """The streams Frigate gets: ``record`` always, ``detect`` only when it is another stream."""

    record: StreamInfo
    detect: StreamInfo | None

    @property
    def detect_stream(self) -> StreamInfo:
        """The stream Frigate decodes for detection (the record stream when there is no sub stream)."""
        return self.detect or self.record


def _fps(stream: dict[str, Any]) -> float:
    for key in ("avg_frame_rate", "r_frame_rate"):
        num, _, den = str(stream.get(key, "0/0")).partition("/")
        try:
            value = float(num) / float(den or 1)
        except (ValueError, ZeroDivisionError):
            continue
        if value > 0:
            return round(value, 2)
    return 0.0


def _stream_info(uri: str, transport: str, data: dict[str, Any], elapsed: float) -> StreamInfo:
    streams = data.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    if video is None:
        raise RtspError(f"{mask_credentials(uri)} carries no video stream")
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    return StreamInfo(
        uri=uri, transport=transport, codec=str(video.get("codec_name", "unknown")),
        profile=video.get("profile"), width=int(video.get("width", 0)), height=int(video.get("height", 0)),
        fps=_fps(video), audio=str(audio["codec_name"]) if audio and "codec_name" in audio else None,
        first_frame_s=round(elapsed, 3),
    )


_UNAUTHORIZED = re.compile(r"\b401 Unauthorized\b|: 401\b|Unauthorized")
_NOT_FOUND = re.compile(r"\b404 Not Found\b|: 404\b|Not Found")


def _translate(uri: str, stderr: bytes) -> RtspError:
    """ffprobe's stderr as an error a technician can act on (password masked)."""
    text = stderr.decode("utf-8", "replace")
    masked = mask_credentials(uri)
    lines = [mask_credentials(line.strip()) for line in text.splitlines() if line.strip()]
    last = lines[-1] if lines else "ffprobe failed without a message"
    # ffprobe's messages quote the URI, whose port may hold "401" or "404": match the status text.
    said = text.replace(uri, "<uri>")
    if _UNAUTHORIZED.search(said):
        return RtspAuthError(f"{masked}: the camera refused the user name or password (RTSP 401); "
                             "check them in the camera's web page")
    unreachable = ("Connection refused", "timed out", "No route to host", "Network is unreachable",
                   "Name or service not known", "Temporary failure in name resolution")
    if any(marker in said for marker in unreachable):
        return RtspUnreachable(f"{masked}: nothing answers ({last}); check the address, the port "
                               "(RTSP is usually 554) and that the camera is powered and cabled")
    if _NOT_FOUND.search(said):
        return RtspStreamNotFound(f"{masked}: the camera has no stream at this path (RTSP 404); read the "
                         "right path with `guarita cameras probe --onvif` or the camera's manual")
    return RtspError(f"{masked}: {last}")


def _ffprobe(uri: str, transport: str, timeout_s: float) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    data: dict[str, Any] = ffmpeg.probe(
        uri, v="error", rtsp_transport=transport, timeout=str(int(timeout_s * 1_000_000)),
        show_frames=None, read_intervals="%+#1",
    )
    return data, time.monotonic() - started


async def _probe_once(uri: str, transport: str, timeout_s: float) -> StreamInfo:
    try:
        data, elapsed = await asyncio.wait_for(
            asyncio.to_thread(_ffprobe, uri, transport, timeout_s), timeout=timeout_s * 3 + 5
        )
    except ffmpeg.Error as exc:
        raise _translate(uri, exc.stderr or b"") from None
    except TimeoutError:
        raise RtspUnreachable(f"{mask_credentials(uri)}: no answer within {timeout_s * 3 + 5:g} s") from None
    except OSError as exc:
        raise RtspError(f"ffprobe could not run ({exc.strerror}); install ffmpeg") from None
    return _stream_info(uri, transport, data, elapsed)


async def probe_rtsp(uri: str, *, timeout_s: float = 10.0) -> StreamInfo:
    """Probe ``uri`` over RTSP/TCP, then over RTSP/UDP if TCP transport failed.

    Args:
        uri: ``rtsp://user:password@host:554/path``; the password is never logged.
        timeout_s: ffprobe's socket timeout for each attempt.

    Returns:
        The stream as seen over the first transport that worked.

    Raises:
        RtspUnreachable: nothing answers at the host and port.
        RtspAuthError: the camera refused the credentials.
        RtspStreamNotFound: no stream at this path.
        RtspError: anything else, with ffprobe's last message (masked).
    """
    if not uri.lower().startswith(("rtsp://", "rtsps://")):
        raise RtspError(f"{mask_credentials(uri)} is not an rtsp:// URI")
    try:
        info = await _probe_once(uri, "tcp", timeout_s)
    except (RtspUnreachable, RtspAuthError, RtspStreamNotFound):
        raise
    except RtspError as tcp_error:
        log.info("probing %s over TCP failed (%s); trying UDP", mask_credentials(uri), tcp_error)
        try:
            info = await _probe_once(uri, "udp", timeout_s)
        except RtspError as udp_error:
            raise RtspError(f"{udp_error} (over TCP: {tcp_error})") from None
    log.info("probed %s: %s", info.masked_uri, info.describe())
    return info


def classify_streams(streams: Sequence[StreamInfo]) -> StreamRoles:
    """Pick ``record`` (largest H.264/H.265) and ``detect`` (another stream of at most 720 lines).

    Raises:
        RtspNoH26xStream: no stream is H.264 or H.265 (an MJPEG-only camera, say).
    """
    recordable = sorted((s for s in streams if s.recordable), key=lambda s: (s.width * s.height, s.fps),
                        reverse=True)
    if not recordable:
        found = ", ".join(f"{s.codec} {s.width}x{s.height}" for s in streams) or "no stream"
        raise RtspNoH26xStream(
            f"no H.264/H.265 stream ({found}); Frigate records only H.264/H.265 without re-encoding: "
            "set the camera's encoder to H.264 (or H.265) in its web page"
        )
    record = recordable[0]
    smaller = [s for s in streams if s is not record and s.height <= DETECT_MAX_HEIGHT
               and s.width * s.height < record.width * record.height]
    detect = max(smaller, key=lambda s: (s.recordable, s.width * s.height), default=None)
    return StreamRoles(record=record, detect=detect)


async def probe_streams(uris: Sequence[str], *, timeout_s: float = 10.0) -> StreamRoles:
    """Probe every URI at once and classify them (see :func:`classify_streams`).

    Raises:
        RtspError: a URI could not be probed (the first failure), or none is H.264/H.265.
    """
    unique = list(dict.fromkeys(uris))
    if not unique:
        raise RtspError("no stream URI to probe")
    streams = await asyncio.gather(*(probe_rtsp(uri, timeout_s=timeout_s) for uri in unique))
    return classify_streams(streams)
