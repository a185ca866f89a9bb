"""Diagnostics: the entry (token and any password in the URL redacted) and the last summary.

Covers: PB-08, BH-07.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_TOKEN, CONF_URL
from homeassistant.core import HomeAssistant

from .coordinator import GuaritaConfigEntry

REDACTED = "**REDACTED**"


def redact_url(url: str) -> str:
    """The URL without user or password."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{REDACTED}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


async def async_get_config_entry_diagnostics(hass: HomeAssistant, entry: GuaritaConfigEntry) -> dict[str, Any]:
    """What a technician needs to see, without the token."""
    data = async_redact_data(dict(entry.data), {CONF_TOKEN})
    data[CONF_URL] = redact_url(str(entry.data[CONF_URL]))
    coordinator = entry.runtime_data.coordinator
    return {
        "entry": {"title": entry.title, "unique_id": entry.unique_id, "data": data, "options": dict(entry.options)},
        "last_update_success": coordinator.last_update_success,
        "summary": coordinator.data.raw if coordinator.data is not None else None,
    }
