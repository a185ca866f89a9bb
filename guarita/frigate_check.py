"""Check the Frigate beside Guarita: is it set up so that no event can be lost?

Frigate publishes at ``mqtt.qos: 0`` by default, and a broker keeps nothing at QoS 0 for a
subscriber that is offline: a Guarita restart would then lose the events published
meanwhile. The check also catches a topic prefix that differs from Guarita's (no event
would ever arrive) and cameras configured in Guarita that Frigate does not have.

Covers: PB-05, DT-02, DT-21.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import aiohttp

from guarita.config import GuaritaConfig
from guarita.errors import FrigateError
from guarita.frigate import FrigateClient, FrigateConfig
from guarita.link_state import wait_or_stop

__all__ = ["check_frigate_mqtt", "frigate_client", "frigate_warnings", "keep_checking", "run_frigate_checks"]

log = logging.getLogger(__name__)

RECHECK_S = 24 * 3600.0
RETRY_S = 60.0


def frigate_warnings(config: GuaritaConfig, frigate: FrigateConfig) -> list[str]:
    """Every problem of Frigate's configuration that concerns Guarita, in plain words."""
    warnings: list[str] = []
    mqtt = frigate.mqtt
    if not mqtt.enabled:
        warnings.append("Frigate's MQTT is disabled (mqtt.enabled: false): no event reaches Guarita")
    if mqtt.qos == 0:
        warnings.append(
            "Frigate publishes with mqtt.qos 0: the broker keeps nothing for Guarita while it restarts, "
            "so events published then are lost; set `mqtt: {qos: 1}` in Frigate's config"
        )
    if mqtt.topic_prefix != config.frigate.mqtt.topic_prefix:
        warnings.append(
            f"Frigate's mqtt.topic_prefix is {mqtt.topic_prefix!r} but Guarita listens on "
            f"{config.frigate.mqtt.topic_prefix!r} (frigate.mqtt.topic_prefix): no event would arrive"
        )
    unknown = sorted(set(config.cameras) - set(frigate.camera_names))
    if unknown:
        warnings.append(f"cameras in Guarita's config that Frigate does not have: {', '.join(unknown)}")
    return warnings


async def check_frigate_mqtt(config: GuaritaConfig, session: aiohttp.ClientSession) -> list[str]:
    """Ask Frigate for its configuration and return the warnings.

    Raises:
        FrigateError: Frigate could not be asked.
    """
    return frigate_warnings(config, await frigate_client(config, session).config())


def frigate_client(config: GuaritaConfig, session: aiohttp.ClientSession) -> FrigateClient:
    """A client for the config's Frigate (its user and password when set)."""
    frigate = config.frigate
    password = frigate.password.get_secret_value() if frigate.password else None
    return FrigateClient(
        session,
        frigate.url,
        username=frigate.username,
        password=password if frigate.username else None,
        verify_tls=frigate.verify_tls,
    )


async def keep_checking(
    what: str, check: Callable[[], Awaitable[list[str]]], warnings: list[str], stop: asyncio.Event
) -> None:
    """Run ``check`` now and daily until ``stop``; keep ``warnings`` current, log each new one once.

    Frigate being unreachable is logged once and retried every ``RETRY_S``.
    """
    unreachable_logged = False
    while not stop.is_set():
        try:
            found = await check()
        except FrigateError as exc:
            if not unreachable_logged:
                log.info("cannot check Frigate's %s yet (%s); retrying every %ds", what, exc, RETRY_S)
                unreachable_logged = True
            await wait_or_stop(stop, RETRY_S)
            continue
        unreachable_logged = False
        for warning in found:
            if warning not in warnings:
                log.warning("%s", warning)
        warnings[:] = found
        await wait_or_stop(stop, RECHECK_S)


async def run_frigate_checks(config: GuaritaConfig, warnings: list[str], stop: asyncio.Event) -> None:
    """``guarita run``'s service: check at start and daily; keep ``warnings`` current."""
    async with aiohttp.ClientSession() as session:
        await keep_checking("configuration", lambda: check_frigate_mqtt(config, session), warnings, stop)
