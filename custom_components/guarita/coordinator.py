"""The coordinator: one ``GET /summary`` per poll, shared by every entity of a Guarita.

A refused token starts reauthentication (``ConfigEntryAuthFailed``); an unreachable Guarita
makes every entity unavailable (``UpdateFailed``; the coordinator logs the outage once and
its end once). Each sensor event that appears after the first poll is announced on Home
Assistant's bus as ``guarita_vehicle_event``, once per event id, for automations.

Covers: PB-08, DT-16.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import timedelta

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from .client import GuaritaApiError, GuaritaAuthError, GuaritaClient, GuaritaConnectionError, Summary
from .const import CONF_POLL_INTERVAL, DEFAULT_POLL_INTERVAL_S, DOMAIN, EVENT_VEHICLE_EVENT

_LOGGER = logging.getLogger(__name__)


@dataclass
class GuaritaRuntime:
    """What a loaded entry keeps: its client and its coordinator."""

    client: GuaritaClient
    coordinator: GuaritaCoordinator


type GuaritaConfigEntry = ConfigEntry[GuaritaRuntime]


class GuaritaCoordinator(DataUpdateCoordinator[Summary]):
    """Polls one Guarita."""

    config_entry: GuaritaConfigEntry

    def __init__(self, hass: HomeAssistant, entry: GuaritaConfigEntry, client: GuaritaClient) -> None:
        interval = int(entry.options.get(CONF_POLL_INTERVAL, DEFAULT_POLL_INTERVAL_S))
        super().__init__(
            hass, _LOGGER, config_entry=entry, name=f"{DOMAIN} {entry.title}",
            update_interval=timedelta(seconds=interval),
        )
        self.client = client
        self._seen_events: set[str] | None = None
        self._floor = ""

    async def _async_update_data(self) -> Summary:
        try:
            summary = await self.client.summary()
        except GuaritaAuthError as exc:
            raise ConfigEntryAuthFailed(str(exc)) from exc
        except GuaritaConnectionError as exc:
            raise UpdateFailed(str(exc)) from exc
        except GuaritaApiError as exc:
            raise UpdateFailed(str(exc)) from exc
        self._announce_new_events(summary)
        return summary

    def _announce_new_events(self, summary: Summary) -> None:
        previous, floor = self._seen_events, self._floor
        self._seen_events = {event.id for event in summary.open_events}
        # A full list hides older open events; one that resurfaces (others acknowledged) is not new.
        self._floor = summary.open_events[-1].ts if summary.open_events_total > len(summary.open_events) else ""
        if previous is None:
            return  # the first poll: what is open already is not news
        for event in reversed(summary.open_events):  # oldest first
            if event.id not in previous and event.ts >= floor:
                self.hass.bus.async_fire(EVENT_VEHICLE_EVENT, {"provider": summary.provider, **asdict(event)})
