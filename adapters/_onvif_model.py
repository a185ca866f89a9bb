"""What the ONVIF adapter returns: discovered cameras, device information, profiles, a probe.

Frozen dataclasses; ``as_dict`` gives the JSON ``guarita cameras discover|probe --json`` print
(stream URIs as the camera sent them, which carry no password).

Covers: PB-02.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from guarita.adapters._onvif_wire import RawMatch

__all__ = ["DeviceInfo", "DiscoveredCamera", "MediaProfile", "NetworkInterface", "OnvifProbe",
           "camera_from_match", "codec_of", "scope_value"]

_CODECS = {"H264": "h264", "H265": "hevc", "HEVC": "hevc", "JPEG": "mjpeg", "MJPEG": "mjpeg", "MPEG4": "mpeg4"}


def codec_of(encoding: str | None) -> str:
    """ONVIF's encoding name (``H264``, ``H265``, ``JPEG``) as ffprobe names the codec."""
    return _CODECS.get((encoding or "").upper(), (encoding or "unknown").lower())


def scope_value(scopes: tuple[str, ...], kind: str) -> str | None:
    """The value of the first ``onvif://www.onvif.org/<kind>/<value>`` scope."""
    prefix = f"onvif://www.onvif.org/{kind}/"
    return next((s[len(prefix):] for s in scopes if s.startswith(prefix)), None)


@dataclass(frozen=True)
class DiscoveredCamera:
    """A device that answered the WS-Discovery probe."""

    host: str
    port: int
    xaddrs: tuple[str, ...]
    scopes: tuple[str, ...]
    endpoint: str

    @property
    def name(self) -> str | None:
        """The ``name`` scope (set in the camera's web page)."""
        return scope_value(self.scopes, "name")

    @property
    def hardware(self) -> str | None:
        """The ``hardware`` scope (usually the model)."""
        return scope_value(self.scopes, "hardware")

    @property
    def location(self) -> str | None:
        """The ``location`` scope (free text set by the installer)."""
        return scope_value(self.scopes, "location")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self) | {"name": self.name, "hardware": self.hardware, "location": self.location}


def camera_from_match(match: RawMatch) -> DiscoveredCamera:
    """The host and port come from the first device-service address."""
    url = urlsplit(match.xaddrs[0])
    host = url.hostname or match.sender
    port = url.port or (443 if url.scheme == "https" else 80)
    return DiscoveredCamera(host=host, port=port, xaddrs=match.xaddrs, scopes=match.scopes, endpoint=match.endpoint)


@dataclass(frozen=True)
class DeviceInfo:
    """``GetDeviceInformation``: who made it and which unit it is."""

    manufacturer: str | None
    model: str | None
    firmware: str | None
    serial: str | None
    hardware_id: str | None


@dataclass(frozen=True)
class NetworkInterface:
    """``GetNetworkInterfaces``: one interface and its MAC address (lowercase)."""

    name: str
    mac: str | None
    enabled: bool


@dataclass(frozen=True)
class MediaProfile:
    """One media profile: its video encoder settings and URIs."""

    token: str
    name: str
    media: str  # "media2" or "media1"
    encoding: str | None
    width: int
    height: int
    fps: float
    bitrate_kbps: int | None
    stream_uri: str | None
    snapshot_uri: str | None

    @property
    def codec(self) -> str:
        """The encoder as ffprobe names codecs (``h264``, ``hevc``, ``mjpeg``)."""
        return codec_of(self.encoding)

    @property
    def h26x(self) -> bool:
        """True for H.264 and H.265."""
        return self.codec in ("h264", "hevc")

    def describe(self) -> str:
        """One line a technician reads."""
        bitrate = f", {self.bitrate_kbps} kbit/s" if self.bitrate_kbps else ""
        return f"{self.name} ({self.token}): {self.encoding or '?'} {self.width}x{self.height} @ {self.fps:g} fps{bitrate}"


@dataclass(frozen=True)
class OnvifProbe:
    """Everything read from one ONVIF camera."""

    host: str
    port: int
    device: DeviceInfo
    interfaces: tuple[NetworkInterface, ...]
    scopes: tuple[str, ...]
    camera_time: datetime | None
    clock_skew_s: float | None
    profiles: tuple[MediaProfile, ...]

    @property
    def h26x_profiles(self) -> tuple[MediaProfile, ...]:
        """Profiles Frigate can record: H.264/H.265 with a stream URI."""
        return tuple(p for p in self.profiles if p.h26x and p.stream_uri)

    @property
    def mac(self) -> str | None:
        """The first enabled interface's MAC address."""
        return next((i.mac for i in self.interfaces if i.mac and i.enabled), None)

    @property
    def media(self) -> str | None:
        """``media2`` or ``media1``: the service the profiles were read from."""
        return self.profiles[0].media if self.profiles else None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data = asdict(self)
        data["camera_time"] = self.camera_time.isoformat() if self.camera_time else None
        data["media"] = self.media
        data["mac"] = self.mac
        return data
