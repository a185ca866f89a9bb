"""The ``guarita.acknowledge_event`` action: record what was done about a sensor event.

It calls ``POST /api/v1/vehicle-events/{id}/ack`` with ``{action, by}`` and the optional
``note``, so Guarita records
the same handling trail, audit entry and DETRO message as ``guarita events ack`` (the token
needs the ``operator`` or ``admin`` role). With one Guarita configured the entry may be
left out; with several, ``config_entry_id`` names it.

Covers: DT-17, PB-08.
"""

from __future__ import annotations

import voluptuous as vol
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv

from .client import GuaritaApiError, GuaritaAuthError, GuaritaConnectionError
from .const import (
    ATTR_ACTION,
    ATTR_BY,
    ATTR_CONFIG_ENTRY_ID,
    ATTR_EVENT_ID,
    ATTR_NOTE,
    DOMAIN,
    SERVICE_ACKNOWLEDGE_EVENT,
)
from .coordinator import GuaritaConfigEntry

ACKNOWLEDGE_SCHEMA = vol.Schema({
    vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string,
    vol.Required(ATTR_EVENT_ID): vol.All(cv.string, vol.Length(min=1, max=80)),
    vol.Required(ATTR_ACTION): vol.All(cv.string, vol.Length(min=1, max=500)),
    vol.Required(ATTR_BY): vol.All(cv.string, vol.Match(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")),
    vol.Optional(ATTR_NOTE): vol.All(cv.string, vol.Length(min=1, max=1000)),
})


def _entry(hass: HomeAssistant, call: ServiceCall) -> GuaritaConfigEntry:
    loaded: list[GuaritaConfigEntry] = [
        entry for entry in hass.config_entries.async_entries(DOMAIN) if entry.state is ConfigEntryState.LOADED
    ]
    wanted = call.data.get(ATTR_CONFIG_ENTRY_ID)
    if wanted is not None:
        for entry in loaded:
            if entry.entry_id == wanted:
                return entry
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="entry_not_loaded", translation_placeholders={"entry": wanted}
        )
    if len(loaded) != 1:
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="choose_entry")
    return loaded[0]


async def _acknowledge(call: ServiceCall) -> ServiceResponse:
    entry = _entry(call.hass, call)
    client = entry.runtime_data.client
    event_id = call.data[ATTR_EVENT_ID]
    try:
        ack = await client.acknowledge(
            event_id, call.data[ATTR_ACTION], call.data[ATTR_BY], note=call.data.get(ATTR_NOTE)
        )
    except GuaritaAuthError as exc:
        raise HomeAssistantError(translation_domain=DOMAIN, translation_key="ack_refused") from exc
    except GuaritaConnectionError as exc:
        raise HomeAssistantError(translation_domain=DOMAIN, translation_key="cannot_connect") from exc
    except GuaritaApiError as exc:
        raise HomeAssistantError(
            translation_domain=DOMAIN, translation_key="ack_failed",
            translation_placeholders={"event": event_id, "error": str(exc)},
        ) from exc
    await entry.runtime_data.coordinator.async_request_refresh()
    return {"event": ack.event, "seq": ack.seq, "action": ack.action, "by": ack.by, "at": ack.at, "note": ack.note}


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the domain's actions (once, whatever the number of entries)."""
    hass.services.async_register(
        DOMAIN, SERVICE_ACKNOWLEDGE_EVENT, _acknowledge, schema=ACKNOWLEDGE_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
