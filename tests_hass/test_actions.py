"""Sensor events in Home Assistant: the `guarita_vehicle_event` event, the `guarita.acknowledge_event`
action leaving the trail `guarita events list` shows, its refusals, and diagnostics without the token."""

from __future__ import annotations

import json
import time

import pytest
from homeassistant.const import CONF_TOKEN, CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.guarita.const import DOMAIN, EVENT_VEHICLE_EVENT, SERVICE_ACKNOWLEDGE_EVENT
from custom_components.guarita.diagnostics import async_get_config_entry_diagnostics, redact_url
from guarita_server import PROVIDER, VEHICLE, Guarita


async def wait_for_event(hass: HomeAssistant, entry: MockConfigEntry, event_id: str) -> None:
    """Poll (as the coordinator does) until Guarita has recorded the event."""
    coordinator = entry.runtime_data.coordinator
    for _ in range(100):
        await coordinator.async_refresh()
        await hass.async_block_till_done()
        if any(e.id == event_id for e in coordinator.data.open_events):
            return
        await hass.async_add_executor_job(time.sleep, 0.1)
    raise AssertionError(f"Guarita did not record {event_id}")


# covers DT-16, DT-17, PB-08
async def test_a_new_sensor_event_fires_once_and_its_acknowledgement_with_a_note_is_the_cli_trail(
    hass: HomeAssistant, entry: MockConfigEntry, guarita: Guarita
) -> None:
    fired = async_capture_events(hass, EVENT_VEHICLE_EVENT)
    event_id = await hass.async_add_executor_job(guarita.harsh_braking, time.time() - 30)
    await wait_for_event(hass, entry, event_id)
    await entry.runtime_data.coordinator.async_refresh()  # a second poll: not announced again
    await hass.async_block_till_done()
    assert [e.data["id"] for e in fired] == [event_id]
    assert fired[0].data["vehicle"] == VEHICLE and fired[0].data["type"] == "harsh_braking"
    assert fired[0].data["provider"] == PROVIDER and fired[0].data["value"] == -3.4
    open_events = er_state(hass, f"vehicle_{VEHICLE}_open_events")
    assert open_events == "1"

    before = json.loads(await hass.async_add_executor_job(guarita.cli, "audit", "verify", "--json"))
    note = "driver says a car cut in; ticket 4711"
    response = await hass.services.async_call(
        DOMAIN, SERVICE_ACKNOWLEDGE_EVENT,
        {"event_id": event_id, "action": "called the driver", "by": "ana", "note": note},
        blocking=True, return_response=True,
    )
    assert response is not None and response["seq"] == 1 and response["by"] == "ana" and response["note"] == note
    second = await hass.services.async_call(
        DOMAIN, SERVICE_ACKNOWLEDGE_EVENT, {"event_id": event_id, "action": "driver retrained", "by": "bia"},
        blocking=True, return_response=True,
    )
    assert second is not None and second["seq"] == 2 and second["note"] is None
    [listed] = [e for e in await hass.async_add_executor_job(guarita.events) if e["id"] == event_id]
    assert listed["status"] == "acked"
    assert [(a["seq"], a["action"], a["by"], a["note"]) for a in listed["acks"]] == [
        (1, "called the driver", "ana", note), (2, "driver retrained", "bia", None),
    ]
    after = json.loads(await hass.async_add_executor_job(guarita.cli, "audit", "verify", "--json"))
    assert after["intact"] is True and after["entries"] > before["entries"]  # the ack was audited
    await hass.async_block_till_done()
    assert er_state(hass, f"vehicle_{VEHICLE}_open_events") == "0"  # the action refreshed the state


def er_state(hass: HomeAssistant, key: str) -> str:
    from homeassistant.helpers import entity_registry as er

    entity_id = er.async_get(hass).async_get_entity_id("sensor", DOMAIN, f"{PROVIDER}_{key}")
    assert entity_id is not None
    found = hass.states.get(entity_id)
    assert found is not None
    return found.state


# covers DT-17, BH-09
async def test_the_action_explains_each_refusal(hass: HomeAssistant, guarita: Guarita) -> None:
    call = {"event_id": "10234-harsh_braking-1", "action": "called the driver", "by": "ana"}
    assert await _setup(hass, guarita, guarita.viewer_token)  # a viewer may read, not acknowledge
    with pytest.raises(HomeAssistantError) as refused:
        await hass.services.async_call(DOMAIN, SERVICE_ACKNOWLEDGE_EVENT, call, blocking=True)
    assert refused.value.translation_key == "ack_refused"

    entry = hass.config_entries.async_entries(DOMAIN)[0]
    hass.config_entries.async_update_entry(entry, data={**entry.data, CONF_TOKEN: guarita.operator_token})
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    with pytest.raises(HomeAssistantError) as unknown:
        await hass.services.async_call(DOMAIN, SERVICE_ACKNOWLEDGE_EVENT, call, blocking=True)
    assert unknown.value.translation_key == "ack_failed" and "404" in str(unknown.value.translation_placeholders)
    with pytest.raises(ServiceValidationError) as wrong_entry:
        await hass.services.async_call(
            DOMAIN, SERVICE_ACKNOWLEDGE_EVENT, {**call, "config_entry_id": "nope"}, blocking=True
        )
    assert wrong_entry.value.translation_key == "entry_not_loaded"

    await hass.async_add_executor_job(guarita.stop)
    with pytest.raises(HomeAssistantError) as down:
        await hass.services.async_call(
            DOMAIN, SERVICE_ACKNOWLEDGE_EVENT, {**call, "config_entry_id": entry.entry_id}, blocking=True
        )
    assert down.value.translation_key == "cannot_connect"
    await hass.config_entries.async_unload(entry.entry_id)
    with pytest.raises(ServiceValidationError) as none_loaded:
        await hass.services.async_call(DOMAIN, SERVICE_ACKNOWLEDGE_EVENT, call, blocking=True)
    assert none_loaded.value.translation_key == "choose_entry"


async def _setup(hass: HomeAssistant, guarita: Guarita, token: str, url: str | None = None) -> bool:
    entry = MockConfigEntry(domain=DOMAIN, title="Guarita acme", unique_id=PROVIDER,
                            data={CONF_URL: url or guarita.url, CONF_TOKEN: token})
    entry.add_to_hass(hass)
    ok = await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return ok


# covers BH-07, PB-08
async def test_diagnostics_carry_the_summary_but_not_the_token_nor_url_credentials(
    hass: HomeAssistant, guarita: Guarita
) -> None:
    url = guarita.url.replace("http://", "http://ha:s3cret@")
    assert await _setup(hass, guarita, guarita.operator_token, url)
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    report = await async_get_config_entry_diagnostics(hass, entry)  # type: ignore[arg-type]
    text = json.dumps(report)
    assert guarita.operator_token not in text and "s3cret" not in text
    assert report["entry"]["data"][CONF_TOKEN] == "**REDACTED**"
    assert report["entry"]["data"][CONF_URL] == guarita.url.replace("http://", "http://**REDACTED**@")
    assert report["summary"]["provider"] == PROVIDER and report["last_update_success"] is True
    assert redact_url(guarita.url) == guarita.url
    await hass.config_entries.async_unload(entry.entry_id)


# covers PB-08
async def test_a_refused_token_at_setup_starts_reauthentication(hass: HomeAssistant, guarita: Guarita) -> None:
    assert not await _setup(hass, guarita, "a-token-guarita-never-had")
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    assert entry.state.value == "setup_error"
    assert [f["context"]["source"] for f in hass.config_entries.flow.async_progress_by_handler(DOMAIN)] == ["reauth"]
