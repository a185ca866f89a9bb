"""Live view of a bus's onboard cameras for DETRO: which camera, where its video comes from, why not.

A vehicle camera is named ``<vehicle>/<channel>`` (order number and DVR camera number) in the
view book, the upstreams and the audit log: a ``/`` never appears in a Frigate camera name, so
the two kinds never clash and share one book, one set of limits and one upstream per source.

A camera can be watched live only when the config gives it a ``live`` RTSP source (the bus's
mobile link: ``fleet.vehicles.<v>.dvr.cameras.<n>.live``) and the detro program is enabled.
Its user and password (``password_file``/``password_env``) go into ffmpeg's argv only; logs
show the address masked. An onboard camera is remuxed (``-c:v copy``), unless the config
gives it ``fleet.vehicles.<v>.dvr.privacy_masks``: those are burned in, as in evidence
exports, so no frame leaves unmasked.

Covers: DT-05, DT-04.
"""

from __future__ import annotations

from dataclasses import dataclass

from guarita.adapters.rtsp import mask_credentials, with_credentials
from guarita.config import GuaritaConfig, ProgramName
from guarita.video.source import VideoSource

__all__ = ["NO_LIVE_SOURCE", "VehicleCamera", "is_vehicle_key", "live_problem", "vehicle_masks", "vehicle_source",
           "vehicle_view_details"]

NO_LIVE_SOURCE = "no live source configured"


@dataclass(frozen=True)
class VehicleCamera:
    """One onboard camera: the vehicle's order number and the DVR's camera number."""

    vehicle: str
    channel: int

    @property
    def key(self) -> str:
        """The name views, upstreams and audit entries give it."""
        return f"{self.vehicle}/{self.channel}"

    @property
    def ingest_name(self) -> str:
        """Its name in a push's ingest path (``<vehicle>-<channel>``: one RTSP path segment, like a Frigate camera's)."""
        return f"{self.vehicle}-{self.channel}"

    @classmethod
    def parse(cls, key: str) -> VehicleCamera:
        """Read a ``key`` back (it must be one ``key`` made)."""
        vehicle, _, channel = key.rpartition("/")
        return cls(vehicle, int(channel))


def is_vehicle_key(camera: str) -> bool:
    """Whether a view's camera is an onboard camera (``<vehicle>/<channel>``) rather than a Frigate camera."""
    return "/" in camera


def live_problem(config: GuaritaConfig, camera: VehicleCamera) -> str | None:
    """Why ``camera`` cannot be watched live now (None: it can), in words the provider acts on."""
    vehicles = config.fleet.vehicles if config.fleet is not None else {}
    settings = vehicles.get(camera.vehicle)
    if settings is None:
        return f"vehicle {camera.vehicle!r} is not under fleet.vehicles"
    if settings.dvr is None or camera.channel not in settings.dvr.cameras:
        return f"vehicle {camera.vehicle} has no DVR camera {camera.channel}"
    program = config.programs.get(ProgramName.DETRO)
    if program is None or not program.enabled:
        return "the detro program is not configured and enabled"
    if settings.dvr.live(camera.channel) is None:
        return (f"{NO_LIVE_SOURCE} for vehicle {camera.vehicle} camera {camera.channel} "
                f"(fleet.vehicles.{camera.vehicle}.dvr.cameras.{camera.channel}.live)")
    return None


def vehicle_view_details(camera: VehicleCamera) -> dict[str, object]:
    """What a view or playback of ``camera`` records beside its holder (audit ``details``), HTTP or MQTT alike."""
    return {"program": ProgramName.DETRO.value, "vehicle": camera.vehicle, "channel": camera.channel}


def vehicle_masks(config: GuaritaConfig, camera: VehicleCamera) -> list[str]:
    """The privacy masks the config gives ``camera`` (``dvr.privacy_masks``; usually none)."""
    settings = config.fleet.vehicles.get(camera.vehicle) if config.fleet is not None else None
    if settings is None or settings.dvr is None:
        return []
    return list(settings.dvr.privacy_masks.get(camera.channel, []))


def vehicle_source(config: GuaritaConfig, camera: VehicleCamera) -> VideoSource:
    """The live source of ``camera`` (``live_problem`` must have passed)."""
    assert config.fleet is not None
    dvr = config.fleet.vehicles[camera.vehicle].dvr
    live = dvr.live(camera.channel) if dvr is not None else None
    if live is None:
        raise LookupError(f"{NO_LIVE_SOURCE} for vehicle {camera.vehicle} camera {camera.channel}")
    password = live.password.get_secret_value() if live.password else None
    url = with_credentials(live.url, live.username, password)
    return VideoSource(url, mask_credentials(url))
