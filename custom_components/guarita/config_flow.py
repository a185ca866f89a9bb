"""Adding a Guarita: its URL and an API token, checked before the entry is created.

The user step reads ``GET /api/v1/summary`` with the token: an unreachable server shows
``cannot_connect``, a refused token ``invalid_auth``, anything else ``unknown``. The
provider id Guarita answers is the entry's unique id, so one Guarita cannot be added twice.
A token refused later starts reauthentication (a new token for the same Guarita);
reconfigure changes URL and token; the options set the poll interval.

Covers: PB-08.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import voluptuous as vol
from homeassistant.config_entries import ConfigFlow, ConfigFlowResult, OptionsFlow
from homeassistant.const import CONF_TOKEN, CONF_URL
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)

from .client import GuaritaApiError, GuaritaAuthError, GuaritaClient, GuaritaConnectionError, Summary, base_url
from .const import (
    CONF_POLL_INTERVAL,
    DEFAULT_POLL_INTERVAL_S,
    DOMAIN,
    MAX_POLL_INTERVAL_S,
    MIN_POLL_INTERVAL_S,
)
from .coordinator import GuaritaConfigEntry

_LOGGER = logging.getLogger(__name__)
_TOKEN = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
_URL = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))


def _user_schema(url: str = "") -> vol.Schema:
    return vol.Schema({vol.Required(CONF_URL, default=url): _URL, vol.Required(CONF_TOKEN): _TOKEN})


async def _read(hass: HomeAssistant, url: str, token: str) -> tuple[Summary | None, dict[str, str]]:
    """Guarita's summary with this URL and token, or the form's error."""
    try:
        client = GuaritaClient(async_get_clientsession(hass), url, token)
    except ValueError:
        return None, {CONF_URL: "invalid_url"}
    try:
        return await client.summary(), {}
    except GuaritaAuthError:
        return None, {"base": "invalid_auth"}
    except GuaritaConnectionError:
        return None, {"base": "cannot_connect"}
    except GuaritaApiError:
        _LOGGER.exception("Guarita at %s answered something unexpected", url)
        return None, {"base": "unknown"}


class GuaritaConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add, reauthenticate or reconfigure a Guarita."""

    VERSION = 1

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the URL and token; refuse a Guarita already added."""
        errors: dict[str, str] = {}
        if user_input is not None:
            summary, errors = await _read(self.hass, user_input[CONF_URL], user_input[CONF_TOKEN])
            if summary is not None:
                await self.async_set_unique_id(summary.provider)
                self._abort_if_unique_id_configured()
                data = {CONF_URL: base_url(user_input[CONF_URL]), CONF_TOKEN: user_input[CONF_TOKEN]}
                return self.async_create_entry(title=f"Guarita {summary.provider}", data=data)
        url = user_input[CONF_URL] if user_input else ""
        return self.async_show_form(step_id="user", data_schema=_user_schema(url), errors=errors)

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """The token was refused: ask for a new one."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """A new token for the same Guarita."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            summary, errors = await _read(self.hass, entry.data[CONF_URL], user_input[CONF_TOKEN])
            if summary is not None:
                await self.async_set_unique_id(summary.provider)
                self._abort_if_unique_id_mismatch(reason="wrong_guarita")
                return self.async_update_reload_and_abort(entry, data_updates={CONF_TOKEN: user_input[CONF_TOKEN]})
        return self.async_show_form(
            step_id="reauth_confirm", data_schema=vol.Schema({vol.Required(CONF_TOKEN): _TOKEN}), errors=errors,
            description_placeholders={"url": entry.data[CONF_URL]},
        )

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """A new URL (and token) for the same Guarita."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            summary, errors = await _read(self.hass, user_input[CONF_URL], user_input[CONF_TOKEN])
            if summary is not None:
                await self.async_set_unique_id(summary.provider)
                self._abort_if_unique_id_mismatch(reason="wrong_guarita")
                data = {CONF_URL: base_url(user_input[CONF_URL]), CONF_TOKEN: user_input[CONF_TOKEN]}
                return self.async_update_reload_and_abort(entry, data_updates=data)
        url = user_input[CONF_URL] if user_input else entry.data[CONF_URL]
        return self.async_show_form(step_id="reconfigure", data_schema=_user_schema(url), errors=errors)

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: GuaritaConfigEntry) -> GuaritaOptionsFlow:
        """How often to poll."""
        return GuaritaOptionsFlow()


class GuaritaOptionsFlow(OptionsFlow):
    """The poll interval."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        if user_input is not None:
            return self.async_create_entry(data={CONF_POLL_INTERVAL: int(user_input[CONF_POLL_INTERVAL])})
        current = self.config_entry.options.get(CONF_POLL_INTERVAL, DEFAULT_POLL_INTERVAL_S)
        schema = vol.Schema({
            vol.Required(CONF_POLL_INTERVAL, default=current): NumberSelector(NumberSelectorConfig(
                min=MIN_POLL_INTERVAL_S, max=MAX_POLL_INTERVAL_S, step=1, unit_of_measurement="s",
                mode=NumberSelectorMode.BOX,
            )),
        })
        return self.async_show_form(step_id="init", data_schema=schema)
