"""The Frigate check: warn plainly when Frigate's MQTT settings can lose events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import yaml

from guarita.cli.main import main
from guarita.config_loader import load_config
from guarita.frigate_check import check_frigate_mqtt, run_frigate_checks
from guarita.standin.frigate_api import StandinMqtt, make_frigate_app, serve_frigate
from guarita.standin.frigate_cameras import StandinCamera, StandinCameras

CAMERAS = StandinCameras(cameras=(StandinCamera(name="street_front"), StandinCamera(name="bus_10234_front")))


async def frigate_at(qos: int, prefix: str = "frigate") -> tuple[aiohttp.web.AppRunner, int]:
    app = make_frigate_app(CAMERAS, mqtt=StandinMqtt(host="127.0.0.1", qos=qos, topic_prefix=prefix))
    return await serve_frigate(app)


@pytest.fixture
async def frigate_qos0() -> AsyncIterator[int]:
    runner, port = await frigate_at(0)
    yield port
    await runner.cleanup()


@pytest.fixture
async def frigate_qos1() -> AsyncIterator[int]:
    runner, port = await frigate_at(1)
    yield port
    await runner.cleanup()


def config_file(tmp_path: Path, port: int, cameras: dict[str, object] | None = None) -> Path:
    path = tmp_path / "guarita.yaml"
    path.write_text(yaml.safe_dump({
        "provider": {"id": "acme", "name": "ACME", "kind": "bus_operator"},
        "storage": {"data_dir": str(tmp_path / "data")},
        "frigate": {"url": f"http://127.0.0.1:{port}"},
        "programs": {"detro": {"uplink": {"host": "127.0.0.1", "port": 1}}},
        "cameras": cameras or {"bus_10234_front": {"programs": ["detro"], "vehicle": "10234"}},
    }))
    return path


# covers PB-05, DT-21
async def test_qos_0_is_reported_plainly(tmp_path: Path, frigate_qos0: int) -> None:
    config = load_config(config_file(tmp_path, frigate_qos0))
    async with aiohttp.ClientSession() as session:
        warnings = await check_frigate_mqtt(config, session)
    assert len(warnings) == 1
    assert "mqtt.qos 0" in warnings[0] and "lost" in warnings[0] and "qos: 1" in warnings[0]


# covers PB-05
async def test_qos_1_and_matching_cameras_give_no_warning(tmp_path: Path, frigate_qos1: int) -> None:
    config = load_config(config_file(tmp_path, frigate_qos1))
    async with aiohttp.ClientSession() as session:
        assert await check_frigate_mqtt(config, session) == []


# covers PB-05
async def test_prefix_mismatch_and_unknown_cameras_are_reported(tmp_path: Path) -> None:
    runner, port = await frigate_at(1, prefix="nvr")
    try:
        path = config_file(tmp_path, port, {"garage": {"programs": ["detro"], "vehicle": "1"}})
        async with aiohttp.ClientSession() as session:
            warnings = await check_frigate_mqtt(load_config(path), session)
    finally:
        await runner.cleanup()
    assert any("'nvr'" in w and "no event would arrive" in w for w in warnings)
    assert any("Frigate does not have: garage" in w for w in warnings)


# covers PB-05
def test_check_config_online_prints_the_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async def serve_and_check() -> int:
        runner, port = await frigate_at(0)
        try:
            path = config_file(tmp_path, port)
            return await asyncio.to_thread(main, ["check-config", "-c", str(path), "--online"])
        finally:
            await runner.cleanup()

    assert asyncio.run(serve_and_check()) == 0
    out = capsys.readouterr().out
    assert "warning: Frigate publishes with mqtt.qos 0" in out


# covers PB-05, DT-08
def test_check_config_online_with_frigate_down_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from guarita.standin.mosquitto import free_port

    path = config_file(tmp_path, free_port())
    assert main(["check-config", "-c", str(path), "--online"]) == 1
    assert "error:" in capsys.readouterr().err


# covers PB-05
async def test_run_keeps_the_warning_current(tmp_path: Path, frigate_qos0: int) -> None:
    config = load_config(config_file(tmp_path, frigate_qos0))
    warnings: list[str] = []
    stop = asyncio.Event()
    task = asyncio.create_task(run_frigate_checks(config, warnings, stop))
    for _ in range(100):
        if warnings:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await task
    assert warnings and "mqtt.qos 0" in warnings[0]
