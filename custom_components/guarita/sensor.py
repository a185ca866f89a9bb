"""Sensors: each camera's share status, each uplink's outbox and deliveries, the hub, each vehicle.

The "Share status" enum is ``shared`` when every program the camera lists passes the
share gate, else the first reason one is held back (``no_consent``, ``consent_revoked``...);
its attributes carry every program's reasons and the consent and sign details Guarita's
API gives (the client's id, never a CPF/CNPJ: the API has none to give).

Covers: PB-08, BH-03, DT-16.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory, UnitOfTime
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .client import Camera, Summary, Uplink, Vehicle
from .const import SHARE_REASONS, SHARE_STATES
from .coordinator import GuaritaConfigEntry, GuaritaCoordinator
from .entity import GuaritaEntity, add_new_entities, camera_device, hub_device, vehicle_device
from .names import program_label

PARALLEL_UPDATES = 0
Value = str | int | float | datetime | None


@dataclass(frozen=True, kw_only=True)
class HubSensorDescription(SensorEntityDescription):
    """A sensor of the Guarita instance."""

    value: Callable[[Summary], Value]
    attributes: Callable[[Summary], dict[str, Any]] | None = None


@dataclass(frozen=True, kw_only=True)
class UplinkSensorDescription(SensorEntityDescription):
    """A sensor of one uplink."""

    value: Callable[[Uplink], Value]


@dataclass(frozen=True, kw_only=True)
class VehicleSensorDescription(SensorEntityDescription):
    """A sensor of one vehicle."""

    value: Callable[[Vehicle], Value]


HUB_SENSORS = (
    HubSensorDescription(
        key="quarantined", translation_key="quarantined", state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC, value=lambda s: s.quarantined,
    ),
    HubSensorDescription(
        key="audit_chain", translation_key="audit_chain", device_class=SensorDeviceClass.ENUM,
        options=["ok", "broken"], entity_category=EntityCategory.DIAGNOSTIC,
        value=lambda s: "ok" if s.audit_intact else "broken",
        attributes=lambda s: {"entries": s.audit_entries, "broken_at_entry": s.audit_broken_at},
    ),
    HubSensorDescription(
        key="open_events", translation_key="open_events", state_class=SensorStateClass.MEASUREMENT,
        value=lambda s: s.open_events_total,
    ),
)
UPLINK_SENSORS = (
    UplinkSensorDescription(
        key="outbox_depth", translation_key="outbox_depth", state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC, value=lambda u: u.outbox_depth,
    ),
    UplinkSensorDescription(
        key="delivered", translation_key="delivered", state_class=SensorStateClass.TOTAL_INCREASING,
        entity_category=EntityCategory.DIAGNOSTIC, value=lambda u: u.delivered,
    ),
    UplinkSensorDescription(
        key="last_delivery", translation_key="last_delivery", device_class=SensorDeviceClass.TIMESTAMP,
        value=lambda u: u.last_delivery,
    ),
)
VEHICLE_SENSORS = (
    VehicleSensorDescription(
        key="last_sync", translation_key="last_sync", device_class=SensorDeviceClass.TIMESTAMP,
        value=lambda v: v.last_sync,
    ),
    VehicleSensorDescription(
        key="last_sync_files", translation_key="last_sync_files", state_class=SensorStateClass.MEASUREMENT,
        value=lambda v: v.last_sync_files,
    ),
    VehicleSensorDescription(
        key="last_sync_hours", translation_key="last_sync_hours", device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.HOURS, state_class=SensorStateClass.MEASUREMENT,
        value=lambda v: v.last_sync_hours,
    ),
    VehicleSensorDescription(
        key="gaps", translation_key="gaps", state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC, value=lambda v: v.gaps,
    ),
    VehicleSensorDescription(
        key="quarantined_files", translation_key="quarantined_files", state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC, value=lambda v: v.quarantined_files,
    ),
    VehicleSensorDescription(
        key="open_events", translation_key="vehicle_open_events", state_class=SensorStateClass.MEASUREMENT,
        value=lambda v: v.open_events,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant, entry: GuaritaConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add the sensors of the hub, uplinks, cameras and vehicles Guarita reports, and of those it adds later."""
    add_new_entities(entry, entry.runtime_data.coordinator, _entities, async_add_entities)


def _entities(coordinator: GuaritaCoordinator) -> list[GuaritaEntity]:
    data = coordinator.data
    entities: list[GuaritaEntity] = [HubSensor(coordinator, d) for d in HUB_SENSORS]
    entities += [UplinkSensor(coordinator, program, d) for program in data.uplinks for d in UPLINK_SENSORS]
    entities += [ShareStatusSensor(coordinator, camera) for camera in data.cameras]
    entities += [VehicleSensor(coordinator, vehicle, d) for vehicle in data.vehicles for d in VEHICLE_SENSORS]
    return entities


class HubSensor(GuaritaEntity, SensorEntity):
    """A sensor of the Guarita instance."""

    entity_description: HubSensorDescription

    def __init__(self, coordinator: GuaritaCoordinator, description: HubSensorDescription) -> None:
        super().__init__(coordinator, hub_device(coordinator), description.key)
        self.entity_description = description

    @property
    def native_value(self) -> Value:
        return self.entity_description.value(self.coordinator.data)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        attributes = self.entity_description.attributes
        return attributes(self.coordinator.data) if attributes is not None else None


class UplinkSensor(GuaritaEntity, SensorEntity):
    """A sensor of one program's uplink, on the hub device."""

    entity_description: UplinkSensorDescription

    def __init__(self, coordinator: GuaritaCoordinator, program: str, description: UplinkSensorDescription) -> None:
        super().__init__(coordinator, hub_device(coordinator), f"uplink_{program}_{description.key}")
        self.entity_description = description
        self._program = program
        self._attr_translation_placeholders = {"program": program_label(program)}

    @property
    def available(self) -> bool:
        return super().available and self._program in self.coordinator.data.uplinks

    @property
    def native_value(self) -> Value:
        return self.entity_description.value(self.coordinator.data.uplinks[self._program])


class VehicleSensor(GuaritaEntity, SensorEntity):
    """A sensor of one vehicle."""

    entity_description: VehicleSensorDescription

    def __init__(self, coordinator: GuaritaCoordinator, vehicle: str, description: VehicleSensorDescription) -> None:
        super().__init__(coordinator, vehicle_device(coordinator, vehicle), f"vehicle_{vehicle}_{description.key}")
        self.entity_description = description
        self._vehicle = vehicle

    @property
    def available(self) -> bool:
        return super().available and self._vehicle in self.coordinator.data.vehicles

    @property
    def native_value(self) -> Value:
        return self.entity_description.value(self.coordinator.data.vehicles[self._vehicle])


def share_state(camera: Camera) -> str:
    """``shared`` when every program passes, else the first reason one does not."""
    if not camera.programs:
        return "no_programs"
    for program in sorted(camera.programs):
        share = camera.programs[program]
        if not share.shared:
            reason = share.reasons[0] if share.reasons else "other"
            return reason if reason in SHARE_REASONS else "other"
    return "shared"


class ShareStatusSensor(GuaritaEntity, SensorEntity):
    """Whether a camera is shared, or why not."""

    _attr_device_class = SensorDeviceClass.ENUM
    _attr_options = list(SHARE_STATES)
    _attr_translation_key = "share_status"

    def __init__(self, coordinator: GuaritaCoordinator, camera: str) -> None:
        super().__init__(coordinator, camera_device(coordinator, camera), f"camera_{camera}_share_status")
        self._camera = camera

    @property
    def available(self) -> bool:
        return super().available and self._camera in self.coordinator.data.cameras

    @property
    def native_value(self) -> str:
        return share_state(self.coordinator.data.cameras[self._camera])

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        camera = self.coordinator.data.cameras[self._camera]
        consent = camera.consent or {}
        return {
            "reasons": sorted({reason for share in camera.programs.values() for reason in share.reasons}),
            **{f"reasons_{program}": list(share.reasons) for program, share in camera.programs.items()},
            "client": camera.client,
            "consent_programs": consent.get("programs"),
            "consent_since": consent.get("since"),
            "consent_expires": consent.get("expires"),
            "consent_revoked": consent.get("revoked"),
            "public_facing": camera.public_facing,
            "sign_plate": camera.sign_plate,
        }
