"""Binary sensors: a camera shared with each program, the Frigate link, each uplink's link.

"Shared with COP-BH" / "Shared with DETRO" are on only while the share gate passes the
camera's data to that program. Link sensors are ``connectivity``; a link Guarita does not
report (its API served without ``guarita run``) is unknown.

Covers: PB-08, BH-03, DT-16.
"""

from __future__ import annotations

from homeassistant.components.binary_sensor import BinarySensorDeviceClass, BinarySensorEntity
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import PROGRAMS
from .coordinator import GuaritaConfigEntry, GuaritaCoordinator
from .entity import GuaritaEntity, add_new_entities, camera_device, hub_device
from .names import program_label

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant, entry: GuaritaConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add the binary sensors of the cameras, uplinks and hub Guarita reports, and of those it adds later."""
    coordinator = entry.runtime_data.coordinator
    add_new_entities(entry, coordinator, _entities, async_add_entities)


def _entities(coordinator: GuaritaCoordinator) -> list[GuaritaEntity]:
    data = coordinator.data
    entities: list[GuaritaEntity] = [FrigateLinkSensor(coordinator)]
    entities += [UplinkLinkSensor(coordinator, program) for program in data.uplinks]
    entities += [
        CameraSharedSensor(coordinator, camera.name, program)
        for camera in data.cameras.values()
        for program in camera.programs
        if program in PROGRAMS
    ]
    return entities


class CameraSharedSensor(GuaritaEntity, BinarySensorEntity):
    """On while the camera's data goes to ``program``."""

    def __init__(self, coordinator: GuaritaCoordinator, camera: str, program: str) -> None:
        super().__init__(coordinator, camera_device(coordinator, camera), f"camera_{camera}_shared_{program}")
        self._camera = camera
        self._program = program
        self._attr_translation_key = f"shared_{program}"

    @property
    def available(self) -> bool:
        camera = self.coordinator.data.cameras.get(self._camera)
        return super().available and camera is not None and self._program in camera.programs

    @property
    def is_on(self) -> bool:
        return self.coordinator.data.cameras[self._camera].programs[self._program].shared


class FrigateLinkSensor(GuaritaEntity, BinarySensorEntity):
    """Guarita's link to Frigate's MQTT broker."""

    _attr_device_class = BinarySensorDeviceClass.CONNECTIVITY
    _attr_translation_key = "frigate_link"

    def __init__(self, coordinator: GuaritaCoordinator) -> None:
        super().__init__(coordinator, hub_device(coordinator), "frigate_link")

    @property
    def is_on(self) -> bool | None:
        return self.coordinator.data.frigate.up


class UplinkLinkSensor(GuaritaEntity, BinarySensorEntity):
    """A program's uplink: connected to the centre's broker or not."""

    _attr_device_class = BinarySensorDeviceClass.CONNECTIVITY
    _attr_translation_key = "uplink_link"

    def __init__(self, coordinator: GuaritaCoordinator, program: str) -> None:
        super().__init__(coordinator, hub_device(coordinator), f"uplink_{program}_link")
        self._program = program
        self._attr_translation_placeholders = {"program": program_label(program)}

    @property
    def available(self) -> bool:
        return super().available and self._program in self.coordinator.data.uplinks

    @property
    def is_on(self) -> bool | None:
        return self.coordinator.data.uplinks[self._program].link.up
