"""Adding Guarita in Home Assistant, against a real `guarita run`: success, each error, duplicates,
reauthentication after the token is rotated in Guarita's config, reconfigure and options."""

from __future__ import annotations

from homeassistant import config_entries
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_TOKEN, CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.guarita.const import CONF_POLL_INTERVAL, DOMAIN
from guarita_server import PROVIDER, Guarita, free_port


async def _user_flow(hass: HomeAssistant) -> str:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    assert result["type"] is FlowResultType.FORM and result["step_id"] == "user"
    return str(result["flow_id"])


# covers PB-08
async def test_a_url_and_token_that_work_create_the_entry_named_by_the_provider(
    hass: HomeAssistant, guarita: Guarita
) -> None:
    flow = await _user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow, {CONF_URL: guarita.url.replace("http://", "http://ha:s3cret@") + "/api/v1/", CONF_TOKEN: guarita.viewer_token}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Guarita acme"
    assert result["data"] == {CONF_URL: guarita.url, CONF_TOKEN: guarita.viewer_token}
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    assert entry.unique_id == PROVIDER
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


# covers PB-08
async def test_each_error_is_shown_on_the_form_and_the_user_can_correct_it(
    hass: HomeAssistant, guarita: Guarita
) -> None:
    flow = await _user_flow(hass)
    attempts = [
        ({CONF_URL: f"http://127.0.0.1:{free_port()}", CONF_TOKEN: guarita.viewer_token}, {"base": "cannot_connect"}),
        ({CONF_URL: guarita.url, CONF_TOKEN: "not-a-token-guarita-knows"}, {"base": "invalid_auth"}),
        # A real HTTP server that is not Guarita's API there: its 404 is nothing this integration reads.
        ({CONF_URL: guarita.url + "/healthz", CONF_TOKEN: guarita.viewer_token}, {"base": "unknown"}),
        ({CONF_URL: "ftp://127.0.0.1", CONF_TOKEN: guarita.viewer_token}, {CONF_URL: "invalid_url"}),
    ]
    for user_input, errors in attempts:
        result = await hass.config_entries.flow.async_configure(flow, user_input)
        assert result["type"] is FlowResultType.FORM, user_input
        assert result["errors"] == errors, user_input
    result = await hass.config_entries.flow.async_configure(
        flow, {CONF_URL: guarita.url, CONF_TOKEN: guarita.viewer_token}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()


# covers PB-08
async def test_the_same_guarita_cannot_be_added_twice(hass: HomeAssistant, entry: MockConfigEntry, guarita: Guarita) -> None:
    flow = await _user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow, {CONF_URL: guarita.url + "/api/v1", CONF_TOKEN: guarita.viewer_token}
    )
    assert result["type"] is FlowResultType.ABORT and result["reason"] == "already_configured"
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1


# covers PB-08, BH-09
async def test_a_token_rotated_in_guarita_starts_reauthentication_and_a_new_token_restores_the_entry(
    hass: HomeAssistant, entry: MockConfigEntry, guarita: Guarita
) -> None:
    old_token = guarita.operator_token
    await hass.async_add_executor_job(guarita.stop)
    new_token = await hass.async_add_executor_job(guarita.rotate_operator_token)
    await hass.async_add_executor_job(guarita.start)
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [f["context"]["source"] for f in flows] == [config_entries.SOURCE_REAUTH]
    flow = flows[0]["flow_id"]
    result = await hass.config_entries.flow.async_configure(flow, {CONF_TOKEN: old_token})
    assert result["type"] is FlowResultType.FORM and result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(flow, {CONF_TOKEN: new_token})
    assert result["type"] is FlowResultType.ABORT and result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert entry.data[CONF_TOKEN] == new_token
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.coordinator.last_update_success


# covers PB-08
async def test_reconfigure_changes_url_and_token_of_the_same_guarita(
    hass: HomeAssistant, entry: MockConfigEntry, guarita: Guarita
) -> None:
    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM and result["step_id"] == "reconfigure"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: f"http://127.0.0.1:{free_port()}", CONF_TOKEN: guarita.viewer_token}
    )
    assert result["errors"] == {"base": "cannot_connect"}
    await hass.async_add_executor_job(guarita.stop)  # Guarita moves to another port
    moved = await hass.async_add_executor_job(guarita.move_to_another_port)
    await hass.async_add_executor_job(guarita.start)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: moved + "/", CONF_TOKEN: guarita.viewer_token}
    )
    assert result["type"] is FlowResultType.ABORT and result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.data == {CONF_URL: moved, CONF_TOKEN: guarita.viewer_token}
    assert entry.runtime_data.coordinator.last_update_success
    assert entry.state is ConfigEntryState.LOADED


# covers PB-08
async def test_the_poll_interval_option_sets_how_often_guarita_is_read(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    assert entry.runtime_data.coordinator.update_interval is not None
    assert entry.runtime_data.coordinator.update_interval.total_seconds() == 60
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.options.async_configure(result["flow_id"], {CONF_POLL_INTERVAL: 15})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.options == {CONF_POLL_INTERVAL: 15}
    interval = entry.runtime_data.coordinator.update_interval
    assert interval is not None and interval.total_seconds() == 15
