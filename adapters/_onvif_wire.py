"""The SOAP that onvif-zeep-async does not cover: WS-Discovery, an unauthenticated clock read, Media2.

* **WS-Discovery.** One asyncio UDP socket sends a ``Probe`` for ``dn:NetworkVideoTransmitter``
  to 239.255.255.250:3702 and collects the unicast ``ProbeMatch`` answers. Parsing goes by local
  element names, so answers that use the wrong action URI (``.../ProbeMatch`` instead of
  ``.../ProbeMatches``, as ipycam and some firmwares do) or omit the ``ProbeMatches`` wrapper are
  still read; WSDiscovery 2.1 drops those and never probes from a loopback address.
* **Clock.** ``GetSystemDateAndTime`` without WS-Security (ONVIF requires devices to answer it
  before authentication); a device that refuses still stamps its HTTP ``Date`` header.
* **Media2** (``ver20/media``): onvif-zeep-async ships no Media2 WSDL, so ``GetProfiles``,
  ``GetStreamUri`` and ``GetSnapshotUri`` are sent as plain SOAP 1.2 with a WS-Security
  UsernameToken (PasswordDigest), its ``Created`` shifted by the measured clock skew.

Covers: PB-02.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import socket
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import unquote

import aiohttp

__all__ = ["ClockReading", "Media2Profile", "RawMatch", "media2_profiles", "parse_media2_profiles",
           "parse_probe_matches", "read_camera_clock", "ws_discover"]

MULTICAST = ("239.255.255.250", 3702)
_SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
_MEDIA2 = "http://www.onvif.org/ver20/media/wsdl"
_PROBE = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<s:Envelope xmlns:s="{_SOAP12}" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
    'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl">'
    '<s:Header><a:Action s:mustUnderstand="1">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action>'
    '<a:MessageID>{message_id}</a:MessageID><a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery'
    '</a:To></s:Header><s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body>'
    '</s:Envelope>'
)
_CLOCK_REQUEST = (
    f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{_SOAP12}">'
    '<s:Body><GetSystemDateAndTime xmlns="http://www.onvif.org/ver10/device/wsdl"/></s:Body></s:Envelope>'
)


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _find(element: ET.Element, *names: str) -> ET.Element | None:
    """First descendant following the chain of local names (namespace-agnostic)."""
    current: ET.Element | None = element
    for name in names:
        if current is None:
            return None
        current = next((child for child in current.iter() if child is not current and _local(child.tag) == name),
                       None)
    return current


def _text(element: ET.Element, *names: str) -> str | None:
    found = _find(element, *names)
    return found.text.strip() if found is not None and found.text else None


@dataclass(frozen=True)
class RawMatch:
    """One device's answer to the probe: endpoint, service addresses and scopes, and who sent it."""

    endpoint: str
    xaddrs: tuple[str, ...]
    scopes: tuple[str, ...]
    sender: str


def parse_probe_matches(data: bytes, sender: str) -> list[RawMatch]:
    """Every ``ProbeMatch`` in ``data``; an unparsable datagram yields none."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return []
    matches = []
    for match in (e for e in root.iter() if _local(e.tag) == "ProbeMatch"):
        endpoint = _text(match, "EndpointReference", "Address") or ""
        xaddrs = tuple((_text(match, "XAddrs") or "").split())
        scopes = tuple(unquote(s) for s in (_text(match, "Scopes") or "").split())
        if xaddrs:
            matches.append(RawMatch(endpoint=endpoint, xaddrs=xaddrs, scopes=scopes, sender=sender))
    return matches


class _Collector(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.datagrams: list[tuple[bytes, str]] = []

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.datagrams.append((data, str(addr[0])))


async def ws_discover(timeout_s: float, source_address: str | None = None) -> list[RawMatch]:
    """Probe for ONVIF video transmitters for ``timeout_s`` seconds.

    Args:
        timeout_s: How long to collect answers.
        source_address: Local IPv4 address whose interface carries the probe (``IP_MULTICAST_IF``);
            the system's multicast route when None.

    Raises:
        OSError: the socket could not be opened or the probe not sent.
    """
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    try:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        if source_address:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(source_address))
        sock.bind((source_address or "0.0.0.0", 0))
    except OSError:
        sock.close()
        raise
    transport, collector = await loop.create_datagram_endpoint(_Collector, sock=sock)
    try:
        probe = _PROBE.replace("{message_id}", uuid.uuid4().urn).encode()
        for _ in range(2):  # UDP may drop one; WS-Discovery repeats multicast probes
            transport.sendto(probe, MULTICAST)
            await asyncio.sleep(min(0.1, timeout_s / 4))
        await asyncio.sleep(max(0.0, timeout_s - 0.2))
    finally:
        transport.close()
    found: dict[str, RawMatch] = {}
    for data, sender in collector.datagrams:
        for match in parse_probe_matches(data, sender):
            found.setdefault(match.endpoint or match.xaddrs[0], match)
    return list(found.values())


@dataclass(frozen=True)
class ClockReading:
    """The camera's clock as read before logging in, and where it was read from."""

    camera_utc: datetime
    source: str  # "GetSystemDateAndTime" or "HTTP Date header"


def _utc_from_soap(root: ET.Element) -> datetime | None:
    utc = _find(root, "UTCDateTime")
    if utc is None:
        return None
    try:
        year, month, day, hour, minute, second = (
            int(_text(utc, name) or "") for name in ("Year", "Month", "Day", "Hour", "Minute", "Second"))
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None


async def read_camera_clock(session: aiohttp.ClientSession, device_url: str, timeout_s: float) -> ClockReading | None:
    """Ask the device for its UTC time without credentials.

    Returns:
        The reading, or None when neither the answer nor a ``Date`` header carries a time.

    Raises:
        aiohttp.ClientError, OSError, TimeoutError: the device did not answer at all.
    """
    headers = {"Content-Type": "application/soap+xml; charset=utf-8"}
    async with session.post(device_url, data=_CLOCK_REQUEST, headers=headers,
                            timeout=aiohttp.ClientTimeout(total=timeout_s)) as response:
        body = await response.read()
        date_header = response.headers.get("Date")
    if response.status == 200:
        try:
            camera = _utc_from_soap(ET.fromstring(body))
        except ET.ParseError:
            camera = None
        if camera is not None:
            return ClockReading(camera, "GetSystemDateAndTime")
    if date_header:
        try:
            return ClockReading(parsedate_to_datetime(date_header).astimezone(UTC), "HTTP Date header")
        except (TypeError, ValueError):
            return None
    return None


@dataclass(frozen=True)
class Media2Profile:
    """A Media2 profile's video encoder and URIs (strings as the device sent them)."""

    token: str
    name: str
    encoding: str | None
    width: int
    height: int
    fps: float
    bitrate_kbps: int | None
    stream_uri: str | None = None
    snapshot_uri: str | None = None


def _wsse(username: str, password: str, skew: timedelta) -> str:
    created = (datetime.now(UTC) + skew).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    nonce = os.urandom(16)
    digest = base64.b64encode(hashlib.sha1(nonce + created.encode() + password.encode()).digest()).decode()
    wsse = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
    wsu = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
    token = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
    return (f'<Security s:mustUnderstand="1" xmlns="{wsse}"><UsernameToken><Username>{_xml(username)}</Username>'
            f'<Password Type="{token}#PasswordDigest">{digest}</Password>'
            f'<Nonce EncodingType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0'
            f'#Base64Binary">{base64.b64encode(nonce).decode()}</Nonce>'
            f'<Created xmlns="{wsu}">{created}</Created></UsernameToken></Security>')


def _xml(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass(frozen=True)
class _Caller:
    session: aiohttp.ClientSession
    xaddr: str
    username: str
    password: str = field(repr=False)
    skew: timedelta
    timeout_s: float


async def _call(caller: _Caller, action: str, body: str) -> ET.Element:
    envelope = (f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{_SOAP12}" '
                f'xmlns:tr2="{_MEDIA2}"><s:Header>{_wsse(caller.username, caller.password, caller.skew)}'
                f'</s:Header><s:Body>{body}</s:Body></s:Envelope>')
    headers = {"Content-Type": f'application/soap+xml; charset=utf-8; action="{_MEDIA2}/{action}"'}
    async with caller.session.post(caller.xaddr, data=envelope, headers=headers,
                                   timeout=aiohttp.ClientTimeout(total=caller.timeout_s)) as response:
        payload = await response.read()
    root = ET.fromstring(payload)
    fault = _find(root, "Fault")
    if response.status != 200 or fault is not None:
        reason = (_text(fault, "Text") if fault is not None else None) or f"HTTP {response.status}"
        raise PermissionError(reason) if response.status in (400, 401, 403) else LookupError(reason)
    return root


def parse_media2_profiles(root: ET.Element) -> list[Media2Profile]:
    """The profiles of a Media2 ``GetProfilesResponse`` that carry a video encoder."""
    profiles = []
    for element in (e for e in root.iter() if _local(e.tag) == "Profiles"):
        encoder = _find(element, "VideoEncoder")
        if encoder is None:
            continue
        bitrate = _text(encoder, "RateControl", "BitrateLimit")
        profiles.append(Media2Profile(
            token=element.get("token", ""), name=_text(element, "Name") or element.get("token") or "",
            encoding=_text(encoder, "Encoding"), width=int(_text(encoder, "Resolution", "Width") or 0),
            height=int(_text(encoder, "Resolution", "Height") or 0),
            fps=float(_text(encoder, "RateControl", "FrameRateLimit") or 0),
            bitrate_kbps=int(float(bitrate)) if bitrate else None,
        ))
    return profiles


async def media2_profiles(session: aiohttp.ClientSession, xaddr: str, *, username: str, password: str,
                          skew: timedelta, timeout_s: float) -> list[Media2Profile]:
    """Media2 profiles with their RTSP (``RtspUnicast``) and snapshot URIs.

    Raises:
        PermissionError: the device refused the credentials.
        LookupError: the device answered with another SOAP fault.
        aiohttp.ClientError, OSError, TimeoutError, ET.ParseError: transport or format failure.
    """
    caller = _Caller(session, xaddr, username, password, skew, timeout_s)
    root = await _call(caller, "GetProfiles", "<tr2:GetProfiles><tr2:Type>All</tr2:Type></tr2:GetProfiles>")
    result = []
    for profile in parse_media2_profiles(root):
        token = _xml(profile.token)
        stream = await _call(caller, "GetStreamUri", "<tr2:GetStreamUri><tr2:Protocol>RtspUnicast</tr2:Protocol>"
                             f"<tr2:ProfileToken>{token}</tr2:ProfileToken></tr2:GetStreamUri>")
        try:
            snapshot = _text(await _call(caller, "GetSnapshotUri", "<tr2:GetSnapshotUri>"
                                         f"<tr2:ProfileToken>{token}</tr2:ProfileToken></tr2:GetSnapshotUri>"), "Uri")
        except LookupError:
            snapshot = None
        result.append(replace(profile, stream_uri=_text(stream, "Uri"), snapshot_uri=snapshot))
    return result
