"""Fixtures of the Home Assistant integration's tests: a real Mosquitto and a real `guarita run`.

``custom_components`` (this repository's) is imported before the Home Assistant test plugin
is declared: the plugin puts its own ``testing_config/custom_components`` on the path, which
would otherwise be the one Home Assistant loads. The plugin blocks sockets; every fixture that
reaches the real Guarita asks for pytest-socket's ``socket_enabled``.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import custom_components  # noqa: E402,F401  (before the plugin: see the docstring)

pytest_plugins = ["pytest_homeassistant_custom_component"]

from homeassistant.const import CONF_TOKEN, CONF_URL  # noqa: E402
from homeassistant.core import HomeAssistant  # noqa: E402
from pytest_homeassistant_custom_component.common import MockConfigEntry  # noqa: E402

from custom_components.guarita.const import DOMAIN  # noqa: E402
from guarita_server import PROVIDER, Broker, Guarita  # noqa: E402


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom_components/guarita."""


@pytest.fixture
def broker(tmp_path: Path, socket_enabled: None) -> Iterator[Broker]:
    """Frigate's broker, the uplinks' and the fleet's telemetry: one private Mosquitto."""
    started = Broker(tmp_path / "mosquitto").start()
    yield started
    started.stop()


@pytest.fixture
def guarita(tmp_path: Path, broker: Broker) -> Iterator[Guarita]:
    """`guarita run` with an operator and a viewer token, nothing in its registry yet."""
    server = Guarita(tmp_path / "guarita", broker).start()
    yield server
    server.stop()


@pytest.fixture
async def entry(hass: HomeAssistant, guarita: Guarita) -> AsyncIterator[MockConfigEntry]:
    """The integration set up on the real Guarita with the operator token."""
    added = MockConfigEntry(
        domain=DOMAIN, title=f"Guarita {PROVIDER}", unique_id=PROVIDER,
        data={CONF_URL: guarita.url, CONF_TOKEN: guarita.operator_token},
    )
    added.add_to_hass(hass)
    assert await hass.config_entries.async_setup(added.entry_id)
    await hass.async_block_till_done()
    yield added
    await hass.config_entries.async_unload(added.entry_id)
    await hass.async_block_till_done()
