"""Guarita's configuration: one YAML file, typed by pydantic models that forbid unknown keys.

Every field carries a description (docs/configuration.md is written from them). Checks that
span several fields are the ``verify_*`` functions in ``guarita._config_rules``; loading,
secret resolution and line-numbered errors are in ``guarita.config_loader``.

Covers: PB-01, PB-04, PB-05, PB-06, BH-06, BH-07, DT-02, DT-03, DT-07, DT-08, DT-12, DT-13, DT-14, DT-15.
"""

from __future__ import annotations

import re
import ssl
import datetime as dt
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    SecretStr,
    Tag,
    ValidationInfo,
)

__all__ = [
    "CAMERA_NAME_PATTERN",
    "AccreditationConfig",
    "AgencyConfig",
    "ApiRole",
    "ApiToken",
    "CameraConfig",
    "CameraRole",
    "CameraVideoConfig",
    "CloudConfig",
    "DvrCameraConfig",
    "DvrConfig",
    "DvrLiveConfig",
    "FleetConfig",
    "FleetRegime",
    "FrigateConfig",
    "FrigateMqttConfig",
    "ForwardConfig",
    "IdentifyingFieldOptIn",
    "GuaritaConfig",
    "Location",
    "MqttProtocol",
    "OutboxConfig",
    "ProgramConfig",
    "ProgramForwardConfig",
    "ProgramName",
    "ProviderConfig",
    "ProviderKind",
    "RetentionConfig",
    "StorageConfig",
    "TelemetryConfig",
    "TelemetryThresholds",
    "TlsConfig",
    "UplinkConfig",
    "VEHICLE_ID_PATTERN",
    "VehicleConfig",
    "VideoConfig",
    "VideoIngestConfig",
    "WebConfig",
    "WebTlsConfig",
    "WebUser",
    "polygon_points",
]

CAMERA_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_-]+$")
# Vehicle order numbers become topic levels and archive folder names.
VEHICLE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"
_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"


def _anchor_to_file(value: Path, info: ValidationInfo) -> Path:
    """Relative paths are relative to the config file, as Frigate users expect."""
    base = (info.context or {}).get("base_dir")
    if base is not None and not value.is_absolute():
        return Path(base) / value
    return value


ConfigPath = Annotated[Path, AfterValidator(_anchor_to_file)]


class _Model(BaseModel):
    """Base for every config section: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ProviderKind(StrEnum):
    """Who runs this Guarita."""

    SECURITY_COMPANY = "security_company"
    BUS_OPERATOR = "bus_operator"


class ProgramName(StrEnum):
    """The public programs Guarita can forward to."""

    COP_BH = "cop_bh"
    DETRO = "detro"


class MqttProtocol(StrEnum):
    """MQTT protocol version spoken on a link."""

    V5 = "5"
    V311 = "3.1.1"


class AccreditationConfig(_Model):
    """The provider's accreditation under the public call (BH + Segura)."""

    reference: str = Field(
        default="Edital de Chamamento 002/2020 SMSP", min_length=1, description="The public call accredited under."
    )
    date: dt.date = Field(description="Date of the accreditation (YYYY-MM-DD).")


class ProviderConfig(_Model):
    """The company running this Guarita: every uplink topic carries its id."""

    id: str = Field(pattern=_ID_PATTERN, description="Short lowercase id used in topics, e.g. `acme`.")
    name: str = Field(min_length=1, description="Display name, e.g. `ACME Segurança`.")
    kind: ProviderKind = Field(description="`security_company` (BH + Segura) or `bus_operator` (DETRO/RJ).")
    accreditation: AccreditationConfig | None = Field(
        default=None, description="Accreditation under the public call; without it nothing is shared with COP-BH."
    )


class StorageConfig(_Model):
    """Where Guarita keeps its database, outbox and quarantine."""

    data_dir: ConfigPath = Field(description="Directory for the SQLite store (`guarita.db`); created if missing.")
    quarantine_keep_bytes: int = Field(
        default=4096,
        ge=0,
        le=1024 * 1024,
        description="Bytes of each quarantined payload kept (size and SHA-256 always).",
    )
    quarantine_max_rows: int = Field(
        default=10_000, ge=100, description="Quarantine entries kept; past it the oldest are pruned and counted."
    )


class TlsConfig(_Model):
    """TLS settings for an MQTT link."""

    ca_file: ConfigPath | None = Field(
        default=None, description="CA bundle (PEM) that signed the broker's certificate; system CAs when absent."
    )
    cert_file: ConfigPath | None = Field(default=None, description="Client certificate (PEM) for certificate auth.")
    key_file: ConfigPath | None = Field(default=None, description="Private key (PEM) of `cert_file`.")


class _SecretHolder(_Model):
    """A section with a password given as `password_file` or `password_env`, never inline."""

    password_file: ConfigPath | None = Field(default=None, description="File whose content (trimmed) is the password.")
    password_env: str | None = Field(default=None, description="Environment variable holding the password.")
    _password: SecretStr | None = PrivateAttr(default=None)

    @property
    def password(self) -> SecretStr | None:
        """The resolved password (set by the loader), or None when none is configured."""
        return self._password


class FrigateMqttConfig(_SecretHolder):
    """Frigate's MQTT broker, where Guarita subscribes to `<prefix>/events` and `<prefix>/reviews`."""

    host: str = Field(default="127.0.0.1", description="Broker host Frigate publishes to.")
    port: int = Field(default=1883, ge=1, le=65535, description="Broker port.")
    topic_prefix: str = Field(default="frigate", min_length=1, description="Frigate's `mqtt.topic_prefix`.")
    client_id: str | None = Field(
        default=None,
        description="Fixed client id of Guarita's persistent session; default `guarita-<provider id>`.",
    )
    username: str | None = Field(default=None, description="Broker username.")
    tls: TlsConfig | None = Field(default=None, description="TLS to the Frigate-side broker (optional on a LAN).")
    protocol: MqttProtocol = Field(
        default=MqttProtocol.V311,
        description="`3.1.1` (default, as Frigate speaks; the persistent session never expires) or `5`.",
    )
    session_expiry_s: int = Field(
        default=7 * 24 * 3600,
        ge=60,
        description="MQTT 5 only: how long the broker keeps Guarita's session and queued events while it is down.",
    )
    receive_maximum: int = Field(
        default=1000,
        ge=1,
        le=65535,
        description="MQTT 5 only: unacknowledged events in flight to Guarita (3.1.1: the broker's max_inflight_messages).",
    )


class FrigateConfig(_SecretHolder):
    """The Frigate instance Guarita sits beside."""

    url: str = Field(default="http://127.0.0.1:5000", description="Frigate's base URL (port 5000, or 8971 with login).")
    username: str | None = Field(default=None, description="Frigate user for the authenticated port 8971.")
    verify_tls: bool = Field(
        default=True, description="Set false only to accept Frigate's self-signed certificate on port 8971."
    )
    mqtt: FrigateMqttConfig = Field(default_factory=FrigateMqttConfig, description="Frigate's MQTT broker.")
    media_dir: ConfigPath | None = Field(
        default=None,
        description="Where Frigate's `/media/frigate` is mounted on this machine (read only); the cloud copy reads "
        "`recordings/` there. Without it, segments are fetched through Frigate's API.",
    )


class UplinkConfig(_SecretHolder):
    """A program's MQTT broker (COP-BH or DETRO), reached over TLS."""

    host: str = Field(description="Broker host.")
    port: int = Field(default=8883, ge=1, le=65535, description="Broker port (8883 is MQTT over TLS).")
    username: str | None = Field(default=None, description="Username given by the centre.")
    tls: TlsConfig | None = Field(
        default=None, description="TLS settings; required unless the host is a loopback address."
    )
    protocol: MqttProtocol = Field(default=MqttProtocol.V5, description="`5` (default) or `3.1.1` for older brokers.")
    client_id: str | None = Field(default=None, description="Client id; default `guarita-<provider>-<program>`.")
    keepalive_s: int = Field(default=30, ge=5, le=3600, description="MQTT keepalive in seconds.")
    inflight: int = Field(
        default=64,
        ge=1,
        le=65535,
        description="QoS 1 messages published and awaiting PUBACK at once (64 allow ~320 msgs/s at 200 ms RTT).",
    )


AgencyId = Annotated[str, Field(pattern=_ID_PATTERN)]


class AgencyConfig(_Model):
    """An institution at COP-BH and its area of interest (BH-05)."""

    name: str = Field(min_length=1, description="The agency's name, e.g. `Regional Centro-Sul`.")
    area: str | dict[str, Any] = Field(
        description="GeoJSON file (Feature, FeatureCollection or geometry; relative to this file) or an inline "
        "Polygon/MultiPolygon with [longitude, latitude] positions."
    )


class IdentifyingFieldOptIn(_Model):
    """Whether one identifying field (a recognised name or plate) leaves for a program (BH-07).

    Off by default; turning it on needs the LGPD legal basis the provider relies on, which
    ``check-config`` prints and the audit log records at every start.
    """

    enabled: bool = Field(default=False, description="Forward this field to the program (default: withheld).")
    legal_basis: str | None = Field(
        default=None,
        description="The legal basis for sending it (e.g. an LGPD article and the agreement that grounds it); "
        "required and non-empty when `enabled`.",
    )


class ProgramForwardConfig(_Model):
    """Identifying fields a program may receive; each is withheld unless opted in."""

    sub_label: IdentifyingFieldOptIn = Field(
        default_factory=IdentifyingFieldOptIn,
        description="Frigate's `sub_label` (e.g. the name face recognition gave a person).",
    )
    license_plate: IdentifyingFieldOptIn = Field(
        default_factory=IdentifyingFieldOptIn,
        description="Frigate's `recognized_license_plate` (a plate read by LPR).",
    )

    def opt_ins(self) -> dict[str, str]:
        """Field name -> legal basis, for every field that is forwarded."""
        fields = {"sub_label": self.sub_label, "license_plate": self.license_plate}
        return {name: opt.legal_basis or "" for name, opt in fields.items() if opt.enabled}


def _check_ingest_scheme(url: str) -> str:
    if not url.startswith(("rtsp://", "rtsps://", "srt://")):
        raise ValueError(f"the ingest address must start with rtsp://, rtsps:// or srt:// (got {url.split('://')[0]}://)")
    return url


class VideoIngestConfig(_SecretHolder):
    """The centre's ingest address for live views requested over MQTT (behind NAT; docs/video.md)."""

    url: Annotated[str, AfterValidator(_check_ingest_scheme)] = Field(
        pattern=r"^[a-z]+://[^@/\s?#]+(/[^\s?#]*)?$",
        description="Where views are pushed: `rtsp://`, `rtsps://` or `srt://` host, port and base path, with no "
        "credentials and no query: the user goes in `username`, the password in `password_file`/`password_env`. "
        "Each view goes to `<url>/<provider>/<camera>/<view>`; never to an address taken from a request.",
    )
    username: str | None = Field(default=None, description="User at the ingest (RTSP auth; SRT stream id `u=`).")
    passphrase_file: ConfigPath | None = Field(
        default=None, description="SRT only: file whose content (trimmed, 10 to 79 characters) is the SRT encryption "
        "passphrase; an `srt://` ingest needs this or `passphrase_env` unless its host is loopback.",
    )
    passphrase_env: str | None = Field(default=None, description="SRT only: environment variable holding the passphrase.")
    _passphrase: SecretStr | None = PrivateAttr(default=None)
    centre_user: str | None = Field(
        default=None,
        description="MQTT username of the centre's platform that may ask for views on "
        "`<root>/<provider>/views/request`; `guarita acl mosquitto` grants it. Unset: only agencies, on their own topics.",
    )

    @property
    def passphrase(self) -> SecretStr | None:
        """The resolved SRT passphrase (set by the loader), or None when none is configured."""
        return self._passphrase


class ProgramConfig(_Model):
    """One program (COP-BH or DETRO): its uplink and topic root."""

    enabled: bool = Field(default=True, description="Set false to stop forwarding to this program.")
    uplink: UplinkConfig = Field(description="The program's MQTT broker.")
    topic_root: str | None = Field(
        default=None, description="Topic root; default `copbh/v1` for cop_bh, `detro/v1` for detro."
    )
    agencies: dict[AgencyId, AgencyConfig] = Field(
        default_factory=dict,
        description="cop_bh only: agencies by id, each receiving the cameras inside its area under "
        "`<root>/agency/<id>/...`.",
    )
    forward: ProgramForwardConfig = Field(
        default_factory=ProgramForwardConfig,
        description="Identifying fields this program may receive (each off by default; opting in needs a legal basis).",
    )
    video_ingest: VideoIngestConfig | None = Field(
        default=None,
        description="Live views asked for over this uplink, pushed to the centre's ingest (docs/video.md); none = off.",
    )


def _check_camera_name(name: str) -> str:
    if not CAMERA_NAME_PATTERN.match(name):
        raise ValueError(f"camera name {name!r} must match Frigate's rule ^[a-zA-Z0-9_-]+$")
    return name


CameraName = Annotated[str, AfterValidator(_check_camera_name)]


def polygon_points(polygon: str) -> list[tuple[float, float]]:
    """The points of a polygon in Frigate's relative format ``x1,y1,x2,y2,...`` (every value 0-1).

    Raises:
        ValueError: not numbers, fewer than three points, an odd count, or a value outside 0-1.
    """
    try:
        values = [float(part) for part in polygon.split(",")]
    except ValueError:
        raise ValueError(f"privacy mask {polygon!r} must be comma-separated numbers x1,y1,x2,y2,...") from None
    if len(values) < 6 or len(values) % 2:
        raise ValueError(f"privacy mask {polygon!r} needs at least three x,y points")
    if any(not 0.0 <= value <= 1.0 for value in values):
        raise ValueError(f"privacy mask {polygon!r} uses Frigate's relative coordinates: every value in 0-1")
    return list(zip(values[::2], values[1::2], strict=True))


def _check_mask(polygon: str) -> str:
    polygon_points(polygon)
    return polygon


PrivacyMask = Annotated[str, AfterValidator(_check_mask)]


class Location(_Model):
    """Where a camera stands (WGS 84)."""

    lat: float = Field(ge=-90, le=90, description="Latitude in degrees.")
    lon: float = Field(ge=-180, le=180, description="Longitude in degrees.")


RTSP_URL_PATTERN = r"^rtsps?://[^@/\s]+(/\S*)?$"
"""An RTSP address with no ``user:password@`` in it (credentials go in ``username`` and a secret)."""


class CameraVideoConfig(_SecretHolder):
    """Where the live view of a camera is pulled from, when not from Frigate's restream."""

    source: str = Field(
        pattern=RTSP_URL_PATTERN,
        description="The camera's own RTSP address (e.g. the one onboarding chose as `record`), with no "
        "credentials in it: the user goes in `username`, the password in `password_file`/`password_env`.",
    )
    username: str | None = Field(default=None, description="RTSP user, when the camera asks for one.")


class CameraConfig(_Model):
    """A Frigate camera and the programs it belongs to."""

    programs: list[ProgramName] = Field(
        default_factory=list, description="Programs this camera belongs to; empty means it never leaves."
    )
    location: Location | None = Field(default=None, description="Position; required for cop_bh cameras.")
    heading: float | None = Field(default=None, ge=0, lt=360, description="Compass heading in degrees (0 = north).")
    vehicle: str | None = Field(default=None, min_length=1, description="Vehicle order number; required for detro.")
    stream: str | None = Field(
        default=None,
        pattern=r"^[a-zA-Z0-9_-]+$",
        description="go2rtc stream the catalogue names for live view (default: the camera's name); no credentials.",
    )
    privacy_masks: list[PrivacyMask] = Field(
        default_factory=list,
        description="Private areas blanked (solid fill) in every image or clip that leaves the provider: polygons "
        "`x1,y1,x2,y2,...` in Frigate's relative 0–1 coordinates.",
    )
    video: CameraVideoConfig | None = Field(
        default=None,
        description="Live view source; unset: Frigate's restream `rtsp://<frigate host>:<video.restream_port>/<stream>`.",
    )


class ForwardConfig(_Model):
    """How Frigate events are forwarded."""

    update_interval: float = Field(
        default=5.0, ge=0, description="At most one `update` per event per this many seconds; `new`/`end` always go."
    )
    max_payload_bytes: int = Field(
        default=256 * 1024, ge=1024, description="Frigate payloads larger than this are quarantined."
    )


class OutboxConfig(_Model):
    """The durable store-and-forward queue in front of each uplink."""

    quota_mb: float = Field(
        default=512, gt=0, description="Disk quota for undelivered messages and dead letters, all uplinks."
    )
    warn_ratio: float = Field(default=0.8, gt=0, lt=1, description="Alarm when the outbox reaches this share of quota.")
    delivered_keep_s: int = Field(
        default=3600, ge=0, description="Delivered ids are remembered this long to refuse duplicates."
    )
    max_message_bytes: int = Field(
        default=256 * 1024, ge=1024, description="A message larger than this is set aside as a dead letter, not queued."
    )
    dead_letter_after_disconnects: int = Field(
        default=3, ge=2, description="A message the broker drops the link on this many times in a row is set aside."
    )


class ApiRole(StrEnum):
    """What a REST API token may do."""

    ADMIN = "admin"
    OPERATOR = "operator"
    AUDITOR = "auditor"
    VIEWER = "viewer"


class ApiToken(_Model):
    """A bearer token of the REST API, kept only as its SHA-256."""

    role: ApiRole = Field(
        description="`admin` (all), `operator` (registry writes), `auditor` (read registry and audit), "
        "`viewer` (read status)."
    )
    sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 (hex) of the token: `printf %s \"$TOKEN\" | sha256sum`. The token itself is never stored.",
    )
    agency: str | None = Field(
        default=None,
        pattern=_ID_PATTERN,
        description="A cop_bh agency id: the token then opens live views only of cameras inside that agency's area.",
    )
    program: ProgramName | None = Field(
        default=None,
        description="The program whose platform holds the token: `detro` opens only vehicle cameras' live views and "
        "DVR playback; `cop_bh` only shared cameras' views. Unset: the provider's own token.",
    )


class WebUser(_Model):
    """A person who signs in to the web console with a name and password (docs/console.md)."""

    role: ApiRole = Field(description="As a token's role: `admin`, `operator`, `auditor` or `viewer`.")
    agency: str | None = Field(
        default=None,
        pattern=_ID_PATTERN,
        description="A cop_bh agency id: the user then opens live views only of cameras inside that agency's area.",
    )
    password_hash_file: ConfigPath = Field(
        description="File holding the password's scrypt hash, one line as `guarita web hash-password` prints it."
    )

def _check_public_url(url: str) -> str:
    """An http(s) base address with a host and no credentials, query or fragment; no trailing slash (BH-07)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s) address with a host (e.g. https://guarita.example.com)")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry credentials: it is published to the centre")
    if parts.query or parts.fragment:
        raise ValueError("must not carry a query or fragment")
    return url.rstrip("/")


class WebTlsConfig(_Model):
    """The web server's own certificate: with it, Guarita serves HTTPS."""

    cert_file: ConfigPath = Field(description="Server certificate (PEM), with its chain, for the web server.")
    key_file: ConfigPath = Field(description="Private key (PEM) of `cert_file`.")

    def server_context(self) -> ssl.SSLContext:
        """The TLS context the web server listens with (TLS 1.2 at least)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(self.cert_file), str(self.key_file))
        return context


class WebConfig(_Model):
    """The HTTP server: health, metrics, the REST API and the web console."""

    host: str = Field(default="127.0.0.1", description="Listen address.")
    port: int = Field(default=8765, ge=0, le=65535, description="Listen port (0 = any free port).")
    tls: WebTlsConfig | None = Field(
        default=None,
        description="Serve HTTPS with this certificate; plain HTTP when absent (then put a TLS reverse proxy "
        "in front of any address other than loopback).",
    )
    tokens: dict[Annotated[str, Field(pattern=_ID_PATTERN)], ApiToken] = Field(
        default_factory=dict, description="REST API bearer tokens by name (who holds them); none = API closed."
    )
    users: dict[Annotated[str, Field(pattern=_ID_PATTERN)], WebUser] = Field(
        default_factory=dict, description="Web console users (name and password) by name."
    )
    session_key_file: ConfigPath | None = Field(
        default=None,
        description="File with the 32-byte key encrypting the console's session cookies; "
        "`data_dir/keys/console-session.key` (made on first run) when unset.",
    )
    session_idle_minutes: float = Field(
        default=30, gt=0, le=24 * 60, description="A console session unused this long is signed out."
    )
    public_url: Annotated[str, AfterValidator(_check_public_url)] | None = Field(
        default=None,
        description="The address users and the centres reach Guarita at, e.g. https://guarita.example: the homeowner "
                    "links start with it, and the catalogue names it as where to ask for video.",
    )


class VideoConfig(_Model):
    """Live view of shared cameras over HTTP (docs/video.md)."""

    view_minutes: float = Field(default=15, gt=0, le=24 * 60, description="How long a view lasts unless renewed.")
    max_viewers_per_camera: int = Field(default=4, ge=1, description="Open views (and streams) of one camera at once.")
    max_viewers: int = Field(default=16, ge=1, description="Open views (and streams) of all cameras at once.")
    restream_port: int = Field(default=8554, ge=1, le=65535, description="Port of Frigate's RTSP restream (go2rtc).")
    start_timeout_s: float = Field(
        default=15, gt=0, description="A source that gives no picture within this many seconds is reported down."
    )
    playback_max_minutes: float = Field(
        default=60, gt=0, le=24 * 60, description="Longest window one playback (POST /api/v1/playback) may ask for."
    )
    max_playbacks: int = Field(default=8, ge=1, description="Open playbacks (building or ready) of all cameras.")
    max_playbacks_per_camera: int = Field(default=2, ge=1, description="Open playbacks of one camera.")


class FleetRegime(StrEnum):
    """Which rollout table of Portaria 958/2009 applies to the fleet (DT-03)."""

    REGULAR = "regular"
    CHARTER = "charter"


class CameraRole(StrEnum):
    """What a numbered onboard camera looks at (DT-05, DT-07)."""

    INTERIOR = "interior"
    FRONT = "front"
    DOOR = "door"
    VALIDATOR = "validator"
    DRIVER = "driver"
    REAR = "rear"
    OTHER = "other"


DvrFolder = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,63}$")]


class DvrLiveConfig(_SecretHolder):
    """A live RTSP source of one onboard camera, reachable while the bus has a mobile link (DT-05)."""

    url: str = Field(
        pattern=RTSP_URL_PATTERN,
        description="The camera's RTSP address over the mobile link, with no credentials in it: the user goes in "
        "`username`, the password in `password_file`/`password_env`.",
    )
    username: str | None = Field(default=None, description="RTSP user, when the source asks for one.")


class DvrCameraConfig(_Model):
    """An onboard camera written out: what it looks at and, optionally, where to watch it live."""

    role: CameraRole = Field(description="What the camera looks at.")
    live: DvrLiveConfig | None = Field(default=None, description="Its live RTSP source; none = no live view.")


def _camera_form(value: Any) -> str:
    return "written_out" if isinstance(value, dict | DvrCameraConfig) else "role"


# `1: front` (the role alone) or `1: {role: front, live: {...}}`.
DvrCamera = Annotated[
    Annotated[CameraRole, Tag("role")] | Annotated[DvrCameraConfig, Tag("written_out")],
    Discriminator(_camera_form),
]


class DvrConfig(_SecretHolder):
    """A vehicle's onboard DVR, reached over the garage Wi-Fi or as a mounted card (DT-10, DT-14)."""

    serial: str = Field(min_length=1, description="DVR serial number, bound to this vehicle at the factory (DT-14).")
    source: str = Field(
        description="Where its files are: `http(s)://host/path/` (directory listing), `ftp://user@host/path` or "
        "`file:///mnt/sd` (a mounted SD card or USB disk). Passwords never go in the URL: use `password_file`/"
        "`password_env`."
    )
    cameras: dict[Annotated[int, Field(ge=1, le=64)], DvrCamera] = Field(
        description="Cameras by number (DT-15) and what each looks at (`1: front`), or written out with a live "
        "source (`1: {role: front, live: {url: ...}}`); at least `interior` and `front` (DT-07)."
    )
    folders: dict[Annotated[int, Field(ge=1, le=64)], DvrFolder] = Field(
        default_factory=dict, description="DVR folder of each camera number (default: the number itself, e.g. `1`)."
    )
    telemetry_folder: DvrFolder | None = Field(
        default="telemetry",
        description="DVR folder with sensor data as JSON lines (`yyyymmddhhmmss.jsonl`); null when the DVR has none.",
    )
    verify_tls: bool = Field(default=True, description="https only: set false to accept a self-signed DVR certificate.")
    privacy_masks: dict[Annotated[int, Field(ge=1, le=64)], list[PrivacyMask]] = Field(
        default_factory=dict,
        description="Private areas of a camera's picture, by camera number, blanked in evidence exports: polygons "
        "`x1,y1,x2,y2,...` in relative 0–1 coordinates.",
    )

    def folder(self, camera: int) -> str:
        """The DVR folder holding ``camera``'s recordings."""
        return self.folders.get(camera, str(camera))

    def roles(self) -> dict[int, CameraRole]:
        """What each camera looks at, by number, whichever form the file used."""
        return {n: c.role if isinstance(c, DvrCameraConfig) else c for n, c in self.cameras.items()}

    def live(self, camera: int) -> DvrLiveConfig | None:
        """The live source of ``camera``, if it has one."""
        entry = self.cameras.get(camera)
        return entry.live if isinstance(entry, DvrCameraConfig) else None


class VehicleConfig(_Model):
    """A bus of the fleet, by its order number (número de ordem)."""

    plate: str = Field(min_length=1, description="Licence plate, e.g. `KXY1A23`.")
    line: str | None = Field(default=None, min_length=1, description="Line it runs (for per-line speed limits).")
    dvr: DvrConfig | None = Field(
        default=None, description="Its onboard DVR; a vehicle without one counts as not monitored (DT-03)."
    )


class TelemetryThresholds(_Model):
    """When a telemetry sample becomes a sensor event (DT-13)."""

    harsh_braking_mps2: float = Field(
        default=-2.5, lt=0, description="Longitudinal acceleration at or below this is `harsh_braking`."
    )
    harsh_acceleration_mps2: float = Field(
        default=2.5, gt=0, description="Longitudinal acceleration at or above this is `harsh_acceleration`."
    )
    sharp_turn_mps2: float = Field(
        default=3.0, gt=0, description="Lateral acceleration (either side) at or above this is `sharp_turn`."
    )
    overspeed_kmh: float = Field(default=80.0, gt=0, description="Speed above this is `overspeed` (all lines).")
    line_speed_limits_kmh: dict[Annotated[str, Field(min_length=1)], Annotated[float, Field(gt=0)]] = Field(
        default_factory=dict, description="Per-line speed limits in km/h, overriding `overspeed_kmh`."
    )
    cooldown_s: float = Field(
        default=10.0, ge=0, description="An event of the same type and vehicle within this many seconds is the same event."
    )


class TelemetryConfig(_Model):
    """Onboard sensor data: where it arrives and how it is forwarded (DT-13, DT-21)."""

    topic: str = Field(
        default="vehicles/{vehicle}/telemetry",
        min_length=1,
        description="Topic on Frigate's broker where each onboard unit publishes JSON samples; `{vehicle}` is the "
        "order number.",
    )
    forward_interval_s: float = Field(
        default=10.0, ge=0, description="At most one position per vehicle per this many seconds goes to DETRO."
    )
    thresholds: TelemetryThresholds = Field(default_factory=TelemetryThresholds, description="Event thresholds.")


def _check_zone(name: str) -> str:
    from guarita.local_time import local_zone

    try:
        local_zone(name)
    except (KeyError, ValueError) as exc:  # ZoneInfoNotFoundError is a KeyError
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as America/Sao_Paulo") from exc
    return name


class FleetConfig(_Model):
    """A bus operator's fleet: vehicles, their DVRs and the DETRO archive (PB-06)."""

    regime: FleetRegime = Field(
        default=FleetRegime.REGULAR, description="`regular` (Art. 2) or `charter` (Art. 3, fretamento)."
    )
    vehicles: dict[Annotated[str, Field(pattern=VEHICLE_ID_PATTERN)], VehicleConfig] = Field(
        default_factory=dict, description="Vehicles by order number."
    )
    timezone: Annotated[str, AfterValidator(_check_zone)] = Field(
        default="America/Sao_Paulo", description="Time zone of the DVR clocks that name the files."
    )
    archive_days: int = Field(
        default=7, ge=2, description="Days of DVR footage the archive keeps at least (never below 2: DT-12)."
    )
    poll_interval_s: float = Field(
        default=60.0, ge=1, description="`guarita run` looks for each DVR this often; a DVR that answers is synced."
    )
    max_concurrent_syncs: int = Field(default=2, ge=1, le=64, description="Buses synced at once.")
    bandwidth_mbps: float | None = Field(
        default=None, gt=0, description="Cap on all DVR downloads together, in megabits per second; none = no cap."
    )
    duration_tolerance_s: float = Field(
        default=5.0, ge=0, le=30, description="Slack on the 1–5 minute segment length (DT-11)."
    )
    min_transfer_mbps: float = Field(
        default=1.0,
        gt=0,
        description="Slowest average rate a DVR file may arrive at, in megabits per second (plus 30 s); slower, "
        "its transfer stops for this pass and the next resumes it.",
    )
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig, description="Onboard sensor data.")


class CloudConfig(_Model):
    """The cloud copy of cop_bh cameras' recordings: an S3-compatible bucket (BH-06)."""

    endpoint: str = Field(
        description="The S3 endpoint URL, e.g. `https://s3.example.net`; `https` unless the host is a loopback address."
    )
    bucket: str = Field(min_length=3, max_length=63, description="The bucket the copy goes to (created beforehand).")
    region: str = Field(default="us-east-1", min_length=1, description="The bucket's region (signing region).")
    access_key_env: str | None = Field(default=None, description="Environment variable holding the access key id.")
    access_key_file: ConfigPath | None = Field(default=None, description="File whose content (trimmed) is the access key id.")
    secret_key_env: str | None = Field(default=None, description="Environment variable holding the secret access key.")
    secret_key_file: ConfigPath | None = Field(
        default=None, description="File whose content (trimmed) is the secret access key."
    )
    days: int = Field(default=7, ge=7, description="Days the cloud copy keeps each segment at least (never below 7).")
    bandwidth_mbps: float | None = Field(
        default=None, gt=0, description="Cap on all cloud uploads together, in megabits per second; none = no cap."
    )
    concurrency: int = Field(default=4, ge=1, le=64, description="Segments uploaded at once.")
    _access_key: SecretStr | None = PrivateAttr(default=None)
    _secret_key: SecretStr | None = PrivateAttr(default=None)

    @property
    def access_key(self) -> SecretStr | None:
        """The resolved access key id (set by the loader)."""
        return self._access_key

    @property
    def secret_key(self) -> SecretStr | None:
        """The resolved secret access key (set by the loader)."""
        return self._secret_key


class RetentionConfig(_Model):
    """How long footage is kept (PB-04, BH-06)."""

    cop_bh_days: int = Field(
        default=7, ge=7, description="Days Frigate keeps the footage of every camera shared with cop_bh (never below 7)."
    )
    cloud: CloudConfig | None = Field(
        default=None, description="Copy cop_bh cameras' recordings to S3-compatible storage; none = no cloud copy."
    )


class GuaritaConfig(_Model):
    """The whole Guarita configuration file."""

    provider: ProviderConfig = Field(description="Who runs this Guarita.")
    storage: StorageConfig = Field(description="Where data lives.")
    frigate: FrigateConfig = Field(default_factory=FrigateConfig, description="The Frigate beside Guarita.")
    programs: dict[ProgramName, ProgramConfig] = Field(default_factory=dict, description="Programs to forward to.")
    cameras: dict[CameraName, CameraConfig] = Field(default_factory=dict, description="Cameras, by Frigate name.")
    forward: ForwardConfig = Field(default_factory=ForwardConfig, description="Event forwarding.")
    outbox: OutboxConfig = Field(default_factory=OutboxConfig, description="Durable outbox.")
    web: WebConfig = Field(default_factory=WebConfig, description="Health and metrics server.")
    fleet: FleetConfig | None = Field(default=None, description="Bus operators: the fleet and its DVRs.")
    retention: RetentionConfig = Field(default_factory=RetentionConfig, description="How long footage is kept.")
    video: VideoConfig = Field(default_factory=VideoConfig, description="Live view of shared cameras.")
    # Filled by the loader from the agencies' areas: camera → agencies whose area covers it.
    _camera_agencies: dict[str, tuple[str, ...]] = PrivateAttr(default_factory=dict)
    # Filled by the loader: the config file's folder (relative paths, e.g. agency area files, start there).
    _base_dir: Path | None = PrivateAttr(default=None)

    @property
    def base_dir(self) -> Path:
        """The folder of the config file this was loaded from (the current folder if not from a file)."""
        return self._base_dir or Path.cwd()

    def camera_agencies(self, camera: str) -> tuple[str, ...]:
        """Agencies whose area of interest covers ``camera`` (none without a location)."""
        return self._camera_agencies.get(camera, ())

    def topic_root(self, program: ProgramName) -> str:
        """The configured topic root of ``program``, or its default."""
        configured = self.programs[program].topic_root
        if configured:
            return configured.rstrip("/")
        return "copbh/v1" if program is ProgramName.COP_BH else "detro/v1"

    def frigate_client_id(self) -> str:
        """Client id of the persistent Frigate-side session."""
        return self.frigate.mqtt.client_id or f"guarita-{self.provider.id}"

    def uplink_client_id(self, program: ProgramName) -> str:
        """Client id used on a program's uplink."""
        return self.programs[program].uplink.client_id or f"guarita-{self.provider.id}-{program.value}"
