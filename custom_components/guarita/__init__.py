"""Guarita for Home Assistant: share status, links, fleet and sensor events from Guarita's REST API.

One config entry per Guarita (its provider id is the unique id). Setting an entry up builds
a client over Home Assistant's shared aiohttp session and a coordinator, polls once (an
unreachable Guarita retries setup, a refused token starts reauthentication), then adds the
binary sensors and sensors (and later those of cameras and vehicles Guarita adds; a device
Guarita no longer reports may be deleted). The ``guarita.acknowledge_event`` action is registered once for
the domain. Unloading removes the entities; the coordinator stops polling with the entry.

Covers: PB-08, PB-07, DT-16, DT-17, BH-03.
"""

from __future__ import annotations

from homeassistant.const import CONF_TOKEN, CONF_URL, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.typing import ConfigType

from .client import GuaritaClient
from .const import DOMAIN
from .coordinator import GuaritaConfigEntry, GuaritaCoordinator, GuaritaRuntime
from .services import async_setup_services

PLATFORMS: list[Platform] = [Platform.BINARY_SENSOR, Platform.SENSOR]
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the integration's actions."""
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: GuaritaConfigEntry) -> bool:
    """Connect to one Guarita and add its entities."""
    client = GuaritaClient(async_get_clientsession(hass), entry.data[CONF_URL], entry.data[CONF_TOKEN])
    coordinator = GuaritaCoordinator(hass, entry, client)
    await coordinator.async_config_entry_first_refresh()
    entry.runtime_data = GuaritaRuntime(client=client, coordinator=coordinator)
    entry.async_on_unload(entry.add_update_listener(_options_updated))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def _options_updated(hass: HomeAssistant, entry: GuaritaConfigEntry) -> None:
    """A new poll interval takes effect by reloading the entry."""
    await hass.config_entries.async_reload(entry.entry_id)


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: GuaritaConfigEntry, device: dr.DeviceEntry
) -> bool:
    """A camera or vehicle Guarita no longer reports may be deleted; the rest may not."""
    data = entry.runtime_data.coordinator.data
    current = {(DOMAIN, data.provider)}
    current |= {(DOMAIN, f"{data.provider}_camera_{camera}") for camera in data.cameras}
    current |= {(DOMAIN, f"{data.provider}_vehicle_{vehicle}") for vehicle in data.vehicles}
    return not device.identifiers & current


async def async_unload_entry(hass: HomeAssistant, entry: GuaritaConfigEntry) -> bool:
    """Remove the entities; the coordinator stops with the entry."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
