"""What Home Assistant shows of a real Guarita: share state as the registry changes through the CLI,
links, hub and vehicle sensors, unavailability while Guarita is down, and unloading."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

import pytest
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.guarita.const import DOMAIN
from guarita_server import BUS_CAMERA, CAMERA, PROVIDER, VEHICLE, Guarita


def state(hass: HomeAssistant, platform: str, key: str) -> State:
    """The state of the entity with unique id ``<provider>_<key>``."""
    entity_id = er.async_get(hass).async_get_entity_id(platform, DOMAIN, f"{PROVIDER}_{key}")
    assert entity_id is not None, key
    found = hass.states.get(entity_id)
    assert found is not None, entity_id
    return found


async def refresh(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()


async def refresh_until(
    hass: HomeAssistant, entry: MockConfigEntry, platform: str, key: str, wanted: Callable[[str], bool]
) -> None:
    """Poll until Guarita reports what it does within a second or two (a catalogue message delivered)."""
    for _ in range(100):
        await refresh(hass, entry)
        if wanted(state(hass, platform, key).state):
            return
        await hass.async_add_executor_job(time.sleep, 0.1)
    raise AssertionError(f"{key} never became what was awaited: {state(hass, platform, key)}")


# covers BH-03, PB-08, BH-07
async def test_share_state_follows_consent_granted_and_revoked_through_the_cli(
    hass: HomeAssistant, entry: MockConfigEntry, guarita: Guarita
) -> None:
    shared = state(hass, "binary_sensor", f"camera_{CAMERA}_shared_cop_bh")
    assert shared.state == STATE_OFF
    assert shared.attributes["friendly_name"] == f"{CAMERA} Shared with COP-BH"
    status = state(hass, "sensor", f"camera_{CAMERA}_share_status")
    assert status.state == "no_client"
    assert {"no_client", "no_consent", "not_public_facing", "no_signage"} <= set(status.attributes["reasons"])
    assert status.attributes["client"] is None

    await hass.async_add_executor_job(guarita.share_camera)
    await refresh(hass, entry)
    assert state(hass, "binary_sensor", f"camera_{CAMERA}_shared_cop_bh").state == STATE_ON
    status = state(hass, "sensor", f"camera_{CAMERA}_share_status")
    assert status.state == "shared" and status.attributes["reasons"] == []
    assert status.attributes["client"] == "padaria" and status.attributes["sign_plate"] == "BH-0042"
    assert status.attributes["consent_programs"] == ["cop_bh"] and status.attributes["public_facing"] is True
    # The client's CPF was recorded, but Home Assistant never sees it.
    assert "529" not in json.dumps(dict(status.attributes)).replace(status.attributes["consent_since"], "")

    await hass.async_add_executor_job(guarita.revoke)
    await refresh(hass, entry)
    assert state(hass, "binary_sensor", f"camera_{CAMERA}_shared_cop_bh").state == STATE_OFF
    status = state(hass, "sensor", f"camera_{CAMERA}_share_status")
    assert status.state == "consent_revoked" and status.attributes["consent_revoked"] is not None
    # The bus camera goes to DETRO (no consent needed for a vehicle's camera).
    assert state(hass, "binary_sensor", f"camera_{BUS_CAMERA}_shared_detro").state == STATE_ON


# covers PB-08, DT-16, PB-05
async def test_hub_uplink_and_vehicle_sensors_report_guarita_state(
    hass: HomeAssistant, entry: MockConfigEntry, guarita: Guarita
) -> None:
    await hass.async_add_executor_job(guarita.share_camera)  # the catalogue goes up the cop_bh uplink
    await refresh_until(hass, entry, "sensor", "uplink_cop_bh_delivered", lambda n: n.isdigit() and int(n) >= 1)
    assert state(hass, "binary_sensor", "frigate_link").state == STATE_ON
    assert state(hass, "binary_sensor", "uplink_cop_bh_link").attributes["friendly_name"] == "Guarita acme COP-BH link"
    for program in ("cop_bh", "detro"):
        assert state(hass, "binary_sensor", f"uplink_{program}_link").state == STATE_ON
        assert state(hass, "sensor", f"uplink_{program}_outbox_depth").state == "0"
    delivered = state(hass, "sensor", "uplink_cop_bh_delivered")
    assert int(delivered.state) >= 1 and delivered.attributes["state_class"] == "total_increasing"
    assert state(hass, "sensor", "uplink_cop_bh_last_delivery").attributes["device_class"] == "timestamp"
    assert state(hass, "sensor", "uplink_cop_bh_last_delivery").state not in ("unknown", STATE_UNAVAILABLE)
    audit = state(hass, "sensor", "audit_chain")
    assert audit.state == "ok" and audit.attributes["entries"] > 0 and audit.attributes["broken_at_entry"] is None
    assert state(hass, "sensor", "quarantined").state == "0"
    assert state(hass, "sensor", f"vehicle_{VEHICLE}_last_sync").state == "unknown"  # never synced
    assert state(hass, "sensor", f"vehicle_{VEHICLE}_open_events").state == "0"
    assert state(hass, "sensor", f"vehicle_{VEHICLE}_gaps").state == "0"

    registry = er.async_get(hass)
    quarantined = registry.async_get(state(hass, "sensor", "quarantined").entity_id)
    assert quarantined is not None and quarantined.entity_category == "diagnostic"
    devices = dr.async_get(hass)
    hub = devices.async_get_device(identifiers={(DOMAIN, PROVIDER)})
    assert hub is not None and hub.name == "Guarita acme" and hub.sw_version == "0.1.0"
    bus = devices.async_get_device(identifiers={(DOMAIN, f"{PROVIDER}_vehicle_{VEHICLE}")})
    assert bus is not None and bus.via_device_id == hub.id and bus.serial_number == "KXY1A23"


# covers PB-08, PB-05
async def test_entities_go_unavailable_while_guarita_is_down_logged_once_and_come_back(
    hass: HomeAssistant, entry: MockConfigEntry, guarita: Guarita, caplog: pytest.LogCaptureFixture
) -> None:
    keys = [("binary_sensor", f"camera_{CAMERA}_shared_cop_bh"), ("sensor", "audit_chain"),
            ("sensor", f"vehicle_{VEHICLE}_open_events"), ("binary_sensor", "frigate_link")]
    await hass.async_add_executor_job(guarita.stop)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        await refresh(hass, entry)
        await refresh(hass, entry)
        assert all(state(hass, *key).state == STATE_UNAVAILABLE for key in keys)
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR and "guarita" in r.name]
        assert len(errors) == 1, [r.getMessage() for r in errors]
        assert "cannot reach Guarita" in errors[0].getMessage()
        assert guarita.operator_token not in caplog.text

        await hass.async_add_executor_job(guarita.start)
        await refresh(hass, entry)
    assert state(hass, *keys[0]).state == STATE_OFF
    assert state(hass, "sensor", "audit_chain").state == "ok"
    assert "recovered" in caplog.text


# covers PB-08
async def test_unloading_stops_polling_and_removes_the_entities(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    coordinator = entry.runtime_data.coordinator
    assert coordinator._unsub_refresh is not None  # polling while loaded
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
    assert coordinator._unsub_refresh is None and not coordinator._listeners
    assert all(s.state == STATE_UNAVAILABLE for s in hass.states.async_all() if s.entity_id.startswith(
        ("sensor.", "binary_sensor.")))


# covers PB-08
async def test_a_camera_added_to_guarita_appears_and_one_removed_can_be_deleted(
    hass: HomeAssistant, entry: MockConfigEntry, guarita: Guarita
) -> None:
    from custom_components.guarita import async_remove_config_entry_device

    await hass.async_add_executor_job(guarita.stop)
    guarita.cameras["back_door"] = {"programs": ["cop_bh"], "location": {"lat": -19.9246, "lon": -43.9353}}
    del guarita.cameras[CAMERA]
    await hass.async_add_executor_job(guarita.write_config)
    await hass.async_add_executor_job(guarita.start)
    await refresh(hass, entry)
    assert state(hass, "binary_sensor", "camera_back_door_shared_cop_bh").state == STATE_OFF
    assert state(hass, "sensor", "camera_back_door_share_status").state == "no_client"
    assert state(hass, "sensor", f"camera_{CAMERA}_share_status").state == STATE_UNAVAILABLE

    devices = dr.async_get(hass)
    gone = devices.async_get_device(identifiers={(DOMAIN, f"{PROVIDER}_camera_{CAMERA}")})
    added = devices.async_get_device(identifiers={(DOMAIN, f"{PROVIDER}_camera_back_door")})
    hub = devices.async_get_device(identifiers={(DOMAIN, PROVIDER)})
    assert gone is not None and added is not None and hub is not None
    assert await async_remove_config_entry_device(hass, entry, gone) is True
    assert await async_remove_config_entry_device(hass, entry, added) is False
    assert await async_remove_config_entry_device(hass, entry, hub) is False
