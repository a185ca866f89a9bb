"""The base of every Guarita entity: coordinator-driven, named by translation, tied to a device.

``add_new_entities`` adds a platform's entities at setup and, after each poll, those of
cameras, uplinks and vehicles Guarita did not report before (its config grew).

Devices: the hub (``Guarita <provider>``), one per camera and one per vehicle, each camera and
vehicle ``via`` the hub. Unique ids start with the provider id (the entry's unique id).

Covers: PB-08.
"""

from __future__ import annotations

from collections.abc import Callable

from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .coordinator import GuaritaConfigEntry, GuaritaCoordinator


def hub_device(coordinator: GuaritaCoordinator) -> DeviceInfo:
    """The Guarita instance itself."""
    data = coordinator.data
    return DeviceInfo(
        identifiers={(DOMAIN, data.provider)},
        name=f"Guarita {data.provider}",
        manufacturer="Guarita",
        model="Frigate plugin suite",
        sw_version=data.version,
        configuration_url=coordinator.client.root,
    )


def camera_device(coordinator: GuaritaCoordinator, camera: str) -> DeviceInfo:
    """A Frigate camera Guarita may share."""
    provider = coordinator.data.provider
    return DeviceInfo(
        identifiers={(DOMAIN, f"{provider}_camera_{camera}")},
        name=camera,
        manufacturer="Guarita",
        model="Camera",
        via_device=(DOMAIN, provider),
    )


def vehicle_device(coordinator: GuaritaCoordinator, vehicle: str) -> DeviceInfo:
    """A bus of the fleet."""
    data = coordinator.data
    plate = data.vehicles[vehicle].plate
    return DeviceInfo(
        identifiers={(DOMAIN, f"{data.provider}_vehicle_{vehicle}")},
        name=f"{vehicle} ({plate})",
        manufacturer="Guarita",
        model="Vehicle",
        serial_number=plate,
        via_device=(DOMAIN, data.provider),
    )


class GuaritaEntity(CoordinatorEntity[GuaritaCoordinator]):
    """An entity of one Guarita; ``key`` makes its unique id."""

    _attr_has_entity_name = True

    def __init__(self, coordinator: GuaritaCoordinator, device: DeviceInfo, key: str) -> None:
        super().__init__(coordinator)
        self._attr_device_info = device
        self._attr_unique_id = f"{coordinator.data.provider}_{key}"


def add_new_entities(
    entry: GuaritaConfigEntry,
    coordinator: GuaritaCoordinator,
    build: Callable[[GuaritaCoordinator], list[GuaritaEntity]],
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add ``build``'s entities now, and after every poll those not added yet."""
    known: set[str | None] = set()

    @callback
    def add() -> None:
        if not coordinator.last_update_success:
            return
        new = [entity for entity in build(coordinator) if entity.unique_id not in known]
        known.update(entity.unique_id for entity in new)
        if new:
            async_add_entities(new)

    add()
    entry.async_on_unload(coordinator.async_add_listener(add))
