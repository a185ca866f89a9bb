"""``guarita retention check [--fix]`` against the Frigate stand-in at 0.14, 0.16 and 0.17.

The stand-in serves each version's ``/api/config`` shape and records every
``PUT /api/config/set`` body; it refuses an obsolete retention key with a 400, as Frigate does.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from guarita.config_loader import load_config
from guarita.frigate import FrigateClient
from guarita.retention.frigate_retention import check_retention, fix_retention, run_retention_checks
from guarita.standin.frigate_api import FRIGATE_CONFIG_SETS, make_frigate_app, serve_frigate
from guarita.standin.frigate_cameras import StandinCamera, StandinCameras

Start = Callable[..., Awaitable[tuple[web.Application, Path]]]


@pytest.fixture
async def frigate(tmp_path: Path) -> AsyncIterator[Start]:
    runners: list[web.AppRunner] = []

    async def start(release: str, *, days: float = 3, recording: bool = True,
                    motion_days: float | None = None) -> tuple[web.Application, Path]:
        cameras = StandinCameras(cameras=(
            StandinCamera(name="portaria", retention_days=days, record_enabled=recording, motion_days=motion_days),
            StandinCamera(name="garagem", retention_days=days),
        ))
        app = make_frigate_app(cameras, version=release)
        runner, port = await serve_frigate(app)
        runners.append(runner)
        config = tmp_path / "guarita.yaml"
        config.write_text(json.dumps({
            "provider": {"id": "acme", "name": "ACME", "kind": "security_company",
                         "accreditation": {"date": "2025-01-01"}},
            "storage": {"data_dir": str(tmp_path / "data")},
            "frigate": {"url": f"http://127.0.0.1:{port}"},
            "programs": {"cop_bh": {"uplink": {"host": "127.0.0.1"}}},
            "cameras": {"portaria": {"programs": ["cop_bh"], "location": {"lat": -19.9, "lon": -43.9}},
                        "garagem": {}},
        }))
        return app, config

    yield start
    for runner in runners:
        await runner.cleanup()


async def guarita(*argv: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "guarita.cli", *argv,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    return int(process.returncode or 0), out.decode(), err.decode()


def written(app: web.Application) -> list[Any]:
    return list(app[FRIGATE_CONFIG_SETS])


# covers PB-04, BH-06
@pytest.mark.parametrize(("release", "record"), [
    ("0.17.2-3d4dd3a", {"enabled": True, "continuous": {"days": 7}, "motion": {"days": 7},
                        "alerts": {"retain": {"days": 7}}, "detections": {"retain": {"days": 7}}}),
    ("0.16.4-4131252", {"enabled": True, "retain": {"days": 7, "mode": "all"}, "alerts": {"retain": {"days": 7}},
                        "detections": {"retain": {"days": 7}}}),
])
async def test_fix_writes_the_version_keys_for_shared_cameras_only(frigate: Start, release: str,
                                                                    record: dict[str, Any]) -> None:
    app, config = await frigate(release, recording=False)
    code, out, _ = await guarita("retention", "check", "-c", str(config), "--json")
    report = json.loads(out)
    assert code == 1 and report["compliant"] is False
    (camera,) = report["cameras"]  # garagem is not shared with cop_bh
    assert camera["camera"] == "portaria" and camera["recording"] is False
    assert any("below 7" in problem for problem in camera["problems"])
    assert written(app) == []
    code, out, err = await guarita("retention", "check", "-c", str(config), "--fix")
    assert code == 0, err
    assert "fix: Config successfully updated, restart to apply" in out
    (body,) = written(app)
    assert body == {"requires_restart": 1, "update_topic": None, "config_data": {"cameras": {"portaria": {"record": record}}}}
    obsolete = {"retain"} if release.startswith("0.17") else {"continuous", "motion"}
    assert not obsolete & set(body["config_data"]["cameras"]["portaria"]["record"])


# covers PB-04, BH-06
async def test_frigate_014_is_judged_on_its_keys_and_the_fix_is_refused(frigate: Start) -> None:
    app, config = await frigate("0.14.1")
    code, out, err = await guarita("retention", "check", "-c", str(config), "--fix")
    assert code == 1 and written(app) == []
    assert "record.retain.days is 3, below 7" in out and "record.events.retain.default is 3, below 7" in out
    assert "only as a query string" in err
    assert "cameras.portaria.record.retain.days: 7" in err and "cameras.portaria.record.retain.mode: all" in err
    assert "cameras.portaria.record.events.retain.default: 7" in err
    assert "continuous" not in err and "motion.days" not in err


# covers PB-04, BH-06
async def test_a_compliant_frigate_passes_and_nothing_is_written(frigate: Start) -> None:
    app, config = await frigate("0.17.2-3d4dd3a", days=10)
    async with aiohttp.ClientSession() as session:
        client = FrigateClient(session, load_config(config).frigate.url)
        version, report = await check_retention(client, load_config(config))
        assert report.compliant and report.warnings() == []
        assert await fix_retention(client, version, report) is None
    assert written(app) == []


# covers PB-04, BH-06
async def test_run_keeps_a_warning_while_frigate_falls_short(frigate: Start) -> None:
    _, config = await frigate("0.16.4-4131252", days=2)
    warnings: list[str] = ["retention: stale"]
    stop = asyncio.Event()
    task = asyncio.create_task(run_retention_checks(load_config(config), warnings, stop))
    for _ in range(200):
        if warnings != ["retention: stale"]:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await task
    assert warnings == ["retention: Frigate camera portaria: record.retain.days is 2, below 7; "
                        "record.alerts.retain.days is 2, below 7; record.detections.retain.days is 2, below 7"]


# covers PB-04
async def test_a_camera_frigate_lacks_is_reported(frigate: Start, tmp_path: Path) -> None:
    _, config = await frigate("0.17.2-3d4dd3a", days=10)
    data = json.loads(config.read_text())
    data["cameras"]["lobby"] = {"programs": ["cop_bh"], "location": {"lat": -19.9, "lon": -43.9}}
    config.write_text(json.dumps(data))
    async with aiohttp.ClientSession() as session:
        loaded = load_config(config)
        client = FrigateClient(session, loaded.frigate.url)
        version, report = await check_retention(client, loaded)
        assert [c.camera for c in report.cameras if not c.compliant] == ["lobby"]
        message = await fix_retention(client, version, report)
    assert message is not None and "cameras Frigate does not have (add them first): lobby" in message



# covers PB-04, BH-06
async def test_a_shortfall_degrades_health_and_raises_the_metric(frigate: Start) -> None:
    from guarita.runtime import Runtime

    _, config = await frigate("0.17.2-3d4dd3a", days=2)
    runtime = Runtime(load_config(config), check_frigate=False)
    try:
        assert "guarita_frigate_retention_shortfall 0" in runtime.metrics.render()
        runtime.retention_warnings[:] = ["retention: Frigate camera portaria: record.continuous.days is 2, below 7"]
        health = runtime.health()
        assert "retention: Frigate camera portaria: record.continuous.days is 2, below 7" in health["warnings"]
        assert health["status"] == "degraded"
        assert "guarita_frigate_retention_shortfall 1" in runtime.metrics.render()
    finally:
        runtime.store.close()


# covers PB-04, BH-06
async def test_footage_without_motion_is_judged_on_continuous_days_and_the_fix_writes_it(frigate: Start) -> None:
    # The field case: motion already raised to 7, continuous left at 3 (footage without motion lived 3 days).
    app, config = await frigate("0.17.2-3d4dd3a", days=3, motion_days=7)
    code, out, _ = await guarita("retention", "check", "-c", str(config), "--json")
    (camera,) = json.loads(out)["cameras"]
    assert code == 1 and camera["compliant"] is False
    assert (camera["continuous_days"], camera["motion_days"]) == (3, 7)
    assert camera["problems"][0] == ("record.continuous.days is 3, below 7: footage without motion is deleted "
                                     "after 3 days")
    code, _, err = await guarita("retention", "check", "-c", str(config), "--fix")
    assert code == 0, err
    (body,) = written(app)
    record = body["config_data"]["cameras"]["portaria"]["record"]
    assert record["continuous"] == {"days": 7} and "motion" not in record  # motion already keeps 7 days
    assert record["alerts"] == {"retain": {"days": 7}} and record["detections"] == {"retain": {"days": 7}}


# covers PB-04, BH-06
async def test_frigate_016_keeping_only_motion_is_short_and_the_fix_keeps_all(frigate: Start) -> None:
    app, config = await frigate("0.16.4-4131252", days=10, motion_days=10)  # record.retain {days: 10, mode: motion}
    code, out, _ = await guarita("retention", "check", "-c", str(config), "--json")
    (camera,) = json.loads(out)["cameras"]
    assert code == 1
    assert camera["problems"] == ["record.retain.mode is motion, not all: footage without motion is not kept"]
    code, _, err = await guarita("retention", "check", "-c", str(config), "--fix")
    assert code == 0, err
    (body,) = written(app)
    assert body["config_data"]["cameras"]["portaria"]["record"] == {"retain": {"days": 10, "mode": "all"}}
