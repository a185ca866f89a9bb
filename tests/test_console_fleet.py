"""The console's fleet pages in a real browser against a real ``guarita run`` with a fleet whose
DVR is a ``file://`` folder of ffmpeg-made segments (camera 2 misses one: a gap), sensor
events recorded by the real telemetry ingest, Debian's Chromium and axe-core.

Covers: PB-06, DT-06, DT-16, DT-17, BH-09.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from harness import GuaritaProcess
from harness import write_config as write_harness_config
from browser_support import browser_needed, check_page, chromium
from console_browser import (  # noqa: F401 - artifacts is a fixture
    PASSWORDS,
    TOKENS,
    artifacts,
    sign_in_with_password,
    sign_in_with_token,
    until,
)
from test_dvr_sync import START, fleet_config
from test_vehicle_events import BRAKE, seed_events

from guarita.adapters.dvr.arrival import DvrPoller
from guarita.adapters.dvr.sync import DvrSync
from guarita.config_loader import load_config
from guarita.outbox import Outbox
from guarita.standin.dvr_media import make_dvr_tree, make_segment
from guarita.standin.mosquitto import MosquittoBroker, free_port
from guarita.standin.tls import TestPki
from guarita.store import Store
from guarita.web.console.fleet import timeline
from guarita.web.passwords import hash_password

def fleet_console_config(tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker,
                         pki: TestPki, source: str) -> Path:
    users = {}
    for name, role in (("ana", "operator"),):
        file = tmp_path / f"{name}.scrypt"
        file.write_text(hash_password(PASSWORDS[name]) + "\n")
        users[name] = {"role": role, "password_hash_file": str(file)}
    web = {"host": "127.0.0.1", "port": free_port(), "users": users, "tokens": {
        name: {"role": role, "sha256": hashlib.sha256(token.encode()).hexdigest()}
        for name, (role, token) in TOKENS.items()
    }}
    fleet = {
        "poll_interval_s": 3600,  # one scheduled pass at start; the next is the console's
        "vehicles": {
            "10234": {"plate": "KXY1A23", "line": "232", "dvr": {
                "serial": "DVR-2009-000123", "source": source, "cameras": {1: "interior", 2: "front"}}},
            "10235": {"plate": "KXY1A24"},
        },
        "telemetry": {"thresholds": {"line_speed_limits_kmh": {"232": 60}}},
    }
    return write_harness_config(
        tmp_path / "guarita.yaml", frigate_broker=frigate_broker, uplink_broker=uplink_broker, pki=pki, cameras={},
        programs=["detro"], update_interval=0,
        extra={"provider": {"id": "acme", "name": "ACME Ônibus", "kind": "bus_operator"}, "fleet": fleet, "web": web},
    )


def seed(config_path: Path) -> None:
    """The sensor events of test_vehicle_events, recorded by the real telemetry ingest."""
    config = load_config(config_path)
    store = Store.open(config.storage.data_dir)
    try:
        seed_events(config, store, Outbox.for_config(store, config.outbox, lambda: 0.0))
    finally:
        store.close()


def cli(config: Path, *args: str) -> Any:
    done = subprocess.run([sys.executable, "-m", "guarita.cli", *args, "-c", str(config), "--json"],
                          capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout)


# covers PB-06, DT-06, DT-16, DT-17, BH-09
@browser_needed
@pytest.mark.slow
async def test_fleet_pages_sync_now_and_acknowledging_an_event(
        tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki,
        artifacts: Path) -> None:  # noqa: F811 - the fixture
    sd = tmp_path / "sd"
    make_dvr_tree(sd, START, {1: "1"}, count=3, seconds=60)
    make_dvr_tree(sd, START, {2: "2"}, count=4, seconds=60, gap_after=2)
    make_segment(sd / "2" / "20261120083000.mp4", 30)  # too short for its name: quarantined
    config = fleet_console_config(tmp_path, frigate_broker, uplink_broker, pki, f"file://{sd}")
    seed(config)
    guarita = GuaritaProcess(config).start()
    base = f"http://127.0.0.1:{guarita.web_port}"
    try:
        await asyncio.to_thread(guarita.wait_healthy, 30)
        async with chromium() as browser:
            page = await browser.new_page(locale="pt-BR")
            await sign_in_with_password(page, base, "ana", PASSWORDS["ana"])
            await page.wait_for_url(f"{base}/console/overview")
            await page.get_by_role("link", name="Frota").click()
            await page.wait_for_url(f"{base}/console/fleet/vehicles")

            async def synced() -> bool:
                await page.reload()
                return "ok" in await page.locator("tbody tr td").nth(3).inner_text()
            await until(synced, 30)  # the poller's pass at start, ended
            row = await page.locator("tbody tr").first.inner_text()
            assert "10234" in row and "DVR-2009-000123" in row and "ok" in row
            await check_page(page, artifacts, "fleet-vehicles")

            await page.get_by_role("link", name="Detalhes do veículo 10234").click()
            main = page.locator("main")
            text = await main.inner_text()
            assert "Câmera 2 (front): 4 arquivos" in text and "1 lacunas" in text
            assert "Lacuna de 2026-11-20 08:02:00 (America/Sao_Paulo) a 2026-11-20 08:03:00 (America/Sao_Paulo)" in text
            assert await page.locator("svg.timeline rect.gap").count() == 1
            assert "20261120083000.mp4" in text and "duration 30.0 s" in text
            await check_page(page, artifacts, "fleet-vehicle")

            # A new segment on the DVR; "sync now" fetches it with progress, and ends ok.
            make_segment(sd / "1" / "20261120080300.mp4", 60)
            async with page.expect_navigation():
                await page.get_by_role("button", name="Sincronizar agora").click()

            async def ended() -> bool:
                state = page.locator("#sync-state")
                return await state.count() == 1 and "Sincronização terminada: ok; arquivos arquivados: 1." in \
                    await state.inner_text()
            try:
                await until(ended, 30)
            except AssertionError:
                log = "\n".join(line for line in guarita.output().splitlines() if "apscheduler" not in line)
                raise AssertionError(f"{page.url}: {await page.content()}\n{log[-3000:]}") from None
            await page.get_by_role("link", name="Atualizar a página").click()
            assert "Câmera 1 (interior): 4 arquivos" in await main.inner_text()
            await check_page(page, artifacts, "fleet-vehicle-synced")

            # The open events queue; acknowledge one with an action and a note, through a confirmation.
            await page.goto(f"{base}/console/fleet/events")
            assert await page.get_by_role("link", name=BRAKE).count() == 1
            await check_page(page, artifacts, "fleet-events")
            await page.get_by_role("link", name=BRAKE).click()
            await page.get_by_label("O que foi feito").fill("liguei para o motorista")
            await page.get_by_label("Nota (opcional)").fill("chamado 4471")
            await check_page(page, artifacts, "fleet-event")
            await page.get_by_role("button", name="Continuar").click()
            assert "liguei para o motorista" in await main.inner_text()
            await check_page(page, artifacts, "fleet-ack-confirm")
            await page.get_by_role("button", name="Confirmar").click()
            await page.wait_for_url(re.compile(r"done=acked"))
            trail = await page.locator("ol.trail").inner_text()
            assert "liguei para o motorista (por ana)" in trail and "Nota: chamado 4471" in trail
            await page.goto(f"{base}/console/fleet/events")
            assert await page.get_by_role("link", name=BRAKE).count() == 0  # no longer open

            # A report as a download.
            await page.goto(f"{base}/console/fleet/vehicles/10234")
            async with page.expect_download() as download:
                await page.get_by_role("button", name="Baixar o trajeto (HTML)").click()
            assert (await download.value).suggested_filename.startswith("route-10234-")

            # A viewer sees the pages but no form, and a forged POST is refused.
            viewer = await browser.new_page(locale="pt-BR")
            await sign_in_with_token(viewer, base, TOKENS["vera"][1])
            await viewer.wait_for_url(f"{base}/console/overview")
            await viewer.goto(f"{base}/console/fleet/vehicles/10234")
            assert await viewer.locator("main form[method=post]").count() == 0
            await viewer.goto(f"{base}/console/fleet/events/{BRAKE}")
            assert await viewer.locator("main form").count() == 0
            csrf = await viewer.locator("header input[name=csrf]").get_attribute("value")
            for path, form in ((f"/console/fleet/vehicles/10234/sync", {}),
                               (f"/console/fleet/events/{BRAKE}/ack", {"action": "forged", "confirm": "yes"})):
                forged = await viewer.request.post(f"{base}{path}", form={"csrf": csrf, **form})
                assert forged.status == 403
    finally:
        guarita.stop()
    status = cli(config, "dvr", "status", "10234")
    assert status["last_sync"]["status"] == "ok" and status["last_sync"]["files"] == 1
    (event,) = [e for e in cli(config, "events", "list") if e["id"] == BRAKE]
    assert [(a["action"], a["by"], a["note"]) for a in event["acks"]] == [("liguei para o motorista", "ana",
                                                                           "chamado 4471")]


# covers PB-06, DT-06
async def test_sync_now_runs_the_pollers_pass_once_at_a_time(tmp_path: Path) -> None:
    sd = tmp_path / "sd"
    make_dvr_tree(sd, START, {1: "1", 2: "2"}, count=2, seconds=60)
    config = load_config(fleet_config(tmp_path, f"file://{sd}"))
    assert config.fleet is not None
    store = Store.open(config.storage.data_dir)
    try:
        poller = DvrPoller(DvrSync.for_config(config, store, None, clock=lambda: datetime.now(UTC)), config.fleet)
        first = asyncio.ensure_future(poller.sync_now("10234", None))
        await asyncio.sleep(0)
        with pytest.raises(RuntimeError, match="already running"):
            await poller.sync_now("10234", None)
        result = await first
        assert result is not None and (result.status, result.files) == ("ok", 4)
        assert poller.results["10234"] is result
        again = await poller.sync_now("10234", None)  # nothing new: still recorded, as `guarita dvr sync`
        assert again is not None and again.files == 0
        assert store.db.execute("SELECT COUNT(*) FROM dvr_syncs").fetchone()[0] == 2
    finally:
        store.close()


# covers DT-06
def test_the_timeline_places_a_gap_where_it_is() -> None:
    cameras = [
        {"first": "2026-11-20T11:00:00Z", "last": "2026-11-20T11:10:00Z", "gaps": [["2026-11-20T11:05:00Z",
                                                                                  "2026-11-20T11:06:00Z"]]},
        {"first": "2026-11-20T11:00:00Z", "last": "2026-11-20T11:05:00Z", "gaps": []},
        {"first": None, "last": None, "gaps": []},
    ]
    drawn = timeline(cameras)
    assert [row["covered"] for row in drawn["rows"]] == [(0.0, 600.0), (0.0, 300.0), None]
    assert drawn["rows"][0]["gaps"] == [(300.0, 60.0)]
    assert timeline([{"first": None, "last": None, "gaps": []}])["rows"] == []
