"""ONVIF adapter: find cameras (WS-Discovery) and read what Frigate needs from one (onvif-zeep-async).

``discover`` lists the ONVIF video transmitters that answer a WS-Discovery probe: endpoint,
addresses and scopes (name, hardware, location). ``probe_onvif`` logs in to one camera and reads
its device information, network interfaces (MAC), clock (the skew against this computer), and its
media profiles with encoder settings, stream and snapshot URIs: Media2 when the device offers it,
Media1 otherwise. Failures are errors a technician can act on: unreachable, wrong credentials,
clock skew, no media service, no H.264/H.265 profile. Passwords never appear in logs or errors.

Covers: PB-02, PB-07, BH-07.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import zeep.exceptions
from onvif import ONVIFCamera, ONVIFError  # type: ignore[import-untyped]
from onvif.exceptions import ONVIFAuthError, ONVIFTimeoutError  # type: ignore[import-untyped]

from guarita.adapters._onvif_model import (
    DeviceInfo,
    DiscoveredCamera,
    MediaProfile,
    NetworkInterface,
    OnvifProbe,
    camera_from_match,
)
from guarita.adapters._onvif_wire import media2_profiles, read_camera_clock, ws_discover
from guarita.errors import GuaritaError

__all__ = [
    "CLOCK_SKEW_LIMIT_S",
    "DeviceInfo",
    "DiscoveredCamera",
    "MediaProfile",
    "NetworkInterface",
    "OnvifAuthError",
    "OnvifClockSkew",
    "OnvifError",
    "OnvifNoH26xProfile",
    "OnvifNoMediaService",
    "OnvifProbe",
    "OnvifUnreachable",
    "discover",
    "probe_onvif",
]

log = logging.getLogger(__name__)

CLOCK_SKEW_LIMIT_S = 30.0
"""A refused login from a camera whose clock is further off than this is blamed on the clock."""
_MEDIA1 = "http://www.onvif.org/ver10/media/wsdl"
_MEDIA2 = "http://www.onvif.org/ver20/media/wsdl"


class OnvifError(GuaritaError):
    """An ONVIF camera could not be read; the message says what to check."""


class OnvifUnreachable(OnvifError):
    """Nothing answers ONVIF at the host and port."""


class OnvifAuthError(OnvifError):
    """The camera refused the user name or password."""


class OnvifClockSkew(OnvifAuthError):
    """The camera refused the login and its clock is too far from this computer's (WS-Security)."""


class OnvifNoMediaService(OnvifError):
    """The device offers neither Media2 nor Media1: it streams nothing over ONVIF."""


class OnvifNoH26xProfile(OnvifError):
    """No media profile encodes H.264 or H.265, which Frigate records without re-encoding."""


async def discover(timeout_s: float = 3.0, *, source_address: str | None = None) -> list[DiscoveredCamera]:
    """Probe the local network for ONVIF cameras (WS-Discovery, multicast).

    Args:
        timeout_s: Seconds to wait for answers.
        source_address: Local IPv4 address whose interface sends the probe; the system's
            multicast route when None.

    Raises:
        OnvifError: the probe could not be sent (no multicast route, bad address).
    """
    try:
        matches = await ws_discover(timeout_s, source_address)
    except OSError as exc:
        raise OnvifError(f"cannot send the WS-Discovery probe ({exc.strerror or exc}); is this computer "
                         "on the cameras' network? Name the interface's address with --source-address") from exc
    cameras = sorted((camera_from_match(m) for m in matches), key=lambda c: (c.host, c.port))
    log.info("WS-Discovery found %d camera(s)", len(cameras))
    return cameras


def _is_auth_failure(exc: BaseException) -> bool:
    if isinstance(exc, (ONVIFAuthError, PermissionError)):
        return True
    if isinstance(exc, zeep.exceptions.TransportError):
        return getattr(exc, "status_code", None) in (400, 401, 403)
    if isinstance(exc, zeep.exceptions.Fault):
        text = " ".join(str(part) for part in (exc.message, exc.code, getattr(exc, "subcodes", None) or ""))
        return "authoriz" in text.lower() or "authenticat" in text.lower()
    return False


def _skew_text(skew_s: float) -> str:
    ahead = "ahead of" if skew_s > 0 else "behind"
    if abs(skew_s) >= 3600:  # the clock read has one-second resolution: whole minutes are enough
        hours, minutes = divmod(round(abs(skew_s) / 60), 60)
        span = f"{hours} h {minutes} min"
    else:
        minutes, seconds = divmod(round(abs(skew_s)), 60)
        span = f"{minutes} min {seconds} s" if minutes else f"{seconds} s"
    return f"{span} {ahead}"


def _translate(exc: BaseException, where: str, username: str, skew_s: float | None) -> OnvifError:
    """A library or transport failure as an error a technician can act on (never the password)."""
    if _is_auth_failure(exc):
        if skew_s is not None and abs(skew_s) >= CLOCK_SKEW_LIMIT_S:
            return OnvifClockSkew(
                f"{where} refused the login and its clock is {_skew_text(skew_s)} this computer's; ONVIF "
                "logins (WS-Security) are refused when clocks differ: set the camera's date and time (NTP) "
                "in its web page, then try again"
            )
        return OnvifAuthError(f"{where} refused user {username!r}: check the password, and that the user "
                              "may use ONVIF (some cameras keep separate ONVIF users)")
    if isinstance(exc, (aiohttp.ClientError, OSError, TimeoutError, ONVIFTimeoutError)):
        return OnvifUnreachable(f"{where} does not answer ONVIF ({type(exc).__name__}); check the address "
                                "and port (often 80, 8000 or 8080) and that ONVIF is enabled")
    return OnvifError(f"{where} answered ONVIF unexpectedly: {str(exc)[:200]}")


def _text(value: Any) -> str | None:
    return str(value).strip() if value is not None and str(value).strip() else None


async def _interfaces(device: Any) -> tuple[NetworkInterface, ...]:
    try:
        found = await device.GetNetworkInterfaces()
    except (zeep.exceptions.Fault, ONVIFError) as exc:
        log.info("camera does not list its network interfaces (%s)", str(exc)[:80])
        return ()
    return tuple(
        NetworkInterface(name=_text(getattr(getattr(i, "Info", None), "Name", None)) or str(i.token),
                         mac=(_text(getattr(getattr(i, "Info", None), "HwAddress", None)) or "").lower() or None,
                         enabled=bool(getattr(i, "Enabled", True)))
        for i in found or []
    )


async def _scopes(device: Any) -> tuple[str, ...]:
    try:
        return tuple(str(s.ScopeItem) for s in await device.GetScopes() or [])
    except (zeep.exceptions.Fault, ONVIFError):
        return ()


async def _media1(camera: Any) -> list[MediaProfile]:
    media = await camera.create_media_service()
    profiles = []
    for profile in await media.GetProfiles() or []:
        encoder = getattr(profile, "VideoEncoderConfiguration", None)
        if encoder is None:
            continue
        stream = await media.GetStreamUri({"StreamSetup": {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}},
                                           "ProfileToken": profile.token})
        rate = getattr(encoder, "RateControl", None)
        bitrate = getattr(rate, "BitrateLimit", None)
        profiles.append(MediaProfile(
            token=str(profile.token), name=_text(profile.Name) or str(profile.token), media="media1",
            encoding=_text(encoder.Encoding), width=int(encoder.Resolution.Width), height=int(encoder.Resolution.Height),
            fps=float(getattr(rate, "FrameRateLimit", 0) or 0), bitrate_kbps=int(bitrate) if bitrate else None,
            stream_uri=_text(getattr(stream, "Uri", None)), snapshot_uri=await camera.get_snapshot_uri(profile.token),
        ))
    return profiles


async def _media(camera: Any, session: aiohttp.ClientSession, username: str, password: str, skew: timedelta,
                 timeout_s: float) -> list[MediaProfile]:
    xaddrs: dict[str, str] = camera.xaddrs
    if _MEDIA2 in xaddrs:
        try:
            raw = await media2_profiles(session, xaddrs[_MEDIA2], username=username, password=password, skew=skew,
                                        timeout_s=timeout_s)
        except LookupError as exc:
            log.info("Media2 failed (%s); falling back to Media1", exc)
        else:
            return [MediaProfile(token=p.token, name=p.name, media="media2", encoding=p.encoding, width=p.width,
                                 height=p.height, fps=p.fps, bitrate_kbps=p.bitrate_kbps, stream_uri=p.stream_uri,
                                 snapshot_uri=p.snapshot_uri) for p in raw]
    if _MEDIA1 not in xaddrs:
        raise OnvifNoMediaService("the device offers no media service (neither Media2 nor Media1): it is not a "
                                  "camera that streams over ONVIF; add it with --rtsp and the URI from its manual")
    return await _media1(camera)


def _now() -> datetime:
    return datetime.now(UTC)


async def probe_onvif(host: str, port: int, username: str, password: str, *, timeout_s: float = 10.0,
                      require_h26x: bool = True, clock: Callable[[], datetime] = _now) -> OnvifProbe:
    """Log in to the ONVIF camera at ``host:port`` and read everything onboarding needs.

    Args:
        host: Camera address.
        port: ONVIF (HTTP) port.
        username: ONVIF user.
        password: Its password (never logged).
        timeout_s: Limit for each step.
        require_h26x: Raise when no profile is H.264/H.265 (Frigate could not record it).
        clock: Aware-UTC clock the camera's is compared with.

    Raises:
        OnvifUnreachable, OnvifAuthError, OnvifClockSkew, OnvifNoMediaService, OnvifNoH26xProfile, OnvifError.
    """
    where = f"the camera at {host}:{port}"
    async with aiohttp.ClientSession() as session:
        try:
            reading = await read_camera_clock(session, f"http://{host}:{port}/onvif/device_service", timeout_s)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise _translate(exc, where, username, None) from exc
        skew_s = (reading.camera_utc - clock()).total_seconds() if reading else None
        camera = ONVIFCamera(host, port, username, password, no_cache=True, adjust_time=True)
        try:
            try:
                await asyncio.wait_for(camera.update_xaddrs(), timeout_s)
                device = await camera.create_devicemgmt_service()
                info = await device.GetDeviceInformation()
                profiles = await _media(camera, session, username, password, timedelta(seconds=skew_s or 0),
                                        timeout_s)
                interfaces, scopes = await _interfaces(device), await _scopes(device)
            except OnvifError:
                raise
            except (zeep.exceptions.Error, ONVIFError, aiohttp.ClientError, OSError, TimeoutError,
                    PermissionError, LookupError) as exc:
                raise _translate(exc, where, username, skew_s) from exc
        finally:
            await camera.close()
    probe = OnvifProbe(
        host=host, port=port,
        device=DeviceInfo(manufacturer=_text(info.Manufacturer), model=_text(info.Model),
                          firmware=_text(info.FirmwareVersion), serial=_text(info.SerialNumber),
                          hardware_id=_text(info.HardwareId)),
        interfaces=interfaces, scopes=scopes, camera_time=reading.camera_utc if reading else None,
        clock_skew_s=round(skew_s, 1) if skew_s is not None else None, profiles=tuple(profiles),
    )
    log.info("ONVIF %s:%d: %s %s, %d profile(s) via %s", host, port, probe.device.manufacturer, probe.device.model,
             len(profiles), profiles[0].media if profiles else "-")
    if require_h26x and not probe.h26x_profiles:
        found = ", ".join(f"{p.name} {p.encoding or '?'} {p.width}x{p.height}" for p in profiles) or "none"
        raise OnvifNoH26xProfile(f"{where} has no H.264/H.265 profile (found: {found}); Frigate records only "
                                 "H.264/H.265 without re-encoding: set the video encoding to H.264 in the camera's "
                                 "web page")
    return probe

