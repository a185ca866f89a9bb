"""``GET /api/v1/summary`` on a real aiohttp server (127.0.0.1) over a real SQLite store.

A bus operator's config with a DETRO uplink and two vehicles, real sensor events from the
telemetry ingest, a DVR sync row with archived segments, a quarantined message, and a live
state as ``guarita run`` hands it: the summary must carry each of them as a dashboard reads it.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from guarita import __version__
from guarita.web.api_summary import LiveLink, LiveState
from guarita.web.api import make_api_app
from guarita.config import ApiRole, GuaritaConfig
from guarita.consent.registry import Registry
from guarita.metrics import Metrics
from guarita.outbox import Outbox
from guarita.quarantine import Quarantine
from guarita.store import Store
from guarita.telemetry import TelemetryIngest, parse_sample
from guarita.web.server import make_web_app, serve_web

NOW = datetime(2026, 6, 30, 13, 0, tzinfo=UTC)
T0 = NOW.timestamp() - 3600
VIEWER = secrets.token_urlsafe(24)


def config(data_dir: Path) -> GuaritaConfig:
    return GuaritaConfig.model_validate({
        "provider": {"id": "acme", "name": "ACME Transportes", "kind": "bus_operator"},
        "storage": {"data_dir": str(data_dir)},
        "programs": {"detro": {"uplink": {"host": "127.0.0.1"}}},
        "fleet": {"vehicles": {
            "10234": {"plate": "KXY1A23", "line": "232",
                      "dvr": {"serial": "DVR-1", "source": f"file://{data_dir}/sd", "cameras": {1: "interior"}}},
            "10235": {"plate": "KXY1A24"},
        }},
        "web": {"tokens": {"dash": {"role": ApiRole.VIEWER.value, "sha256": hashlib.sha256(VIEWER.encode()).hexdigest()}}},
    })


def sample(t: float, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "ts": T0 + t, "lat": -22.9068, "lon": -43.1729, "speed_kmh": 40.0, "heading": 90.0, "odometer_km": 1000.0,
        "rpm": 1500.0, "accel_long_mps2": 0.3, "accel_lat_mps2": 0.2, "main_power": True,
    }
    base.update(fields)
    return base


def seed(cfg: GuaritaConfig, store: Store, outbox: Outbox) -> None:
    ingest = TelemetryIngest(cfg, store, outbox, Quarantine(Metrics()), lambda: NOW)
    ingest.ingest("10235", [parse_sample(sample(6, accel_long_mps2=-2.9)), parse_sample(sample(7, accel_long_mps2=-3.4)),
                            parse_sample(sample(40, main_power=False))], "mqtt")
    with store.transaction() as db:
        # One pass over bus 10234's DVR: two half-hour files with a ten-minute hole between them.
        db.execute("INSERT INTO dvr_syncs (vehicle, started_at, finished_at, status, files, bytes, quarantined) "
                   "VALUES ('10234', ?, ?, 'ok', 2, 2000, 1)", (T0, T0 + 60))
        for name, start in (("a.mp4", T0 - 7200), ("b.mp4", T0 - 7200 + 2400)):
            db.execute("INSERT INTO dvr_segments VALUES ('10234', 1, ?, ?, 1800, 1000, 'x', ?)", (name, start, T0 + 30))
        db.execute("INSERT INTO dvr_quarantine (vehicle, folder, name, size, reason, quarantined_at) "
                   "VALUES ('10234', 'ch1', 'c.mp4', 5, 'truncated', ?)", (T0 + 40,))
        db.execute("INSERT INTO quarantine (received_at, topic, kind, reason, payload_sha256, payload_size) "
                   "VALUES (?, 'frigate/events', 'json', 'not JSON', 'ab', 2)", (T0,))
        db.execute("INSERT INTO outbox (uplink, idem_key, order_key, topic, payload, qos, retain, created_at, "
                   "delivered_at) VALUES ('detro', 'k1', 'o', 't', x'00', 1, 0, ?, ?)", (T0, T0 + 5))


@pytest.fixture
async def summary_server(tmp_path: Path) -> AsyncIterator[tuple[str, Store]]:
    cfg = config(tmp_path / "data")
    store = Store.open(cfg.storage.data_dir)
    outbox = Outbox.for_config(store, cfg.outbox, lambda: NOW.timestamp())
    seed(cfg, store, outbox)
    live = LiveState(links={"frigate": LiveLink(True, "connected to 127.0.0.1:1883"),
                            "uplink:detro": LiveLink(False, "connection refused")}, delivered={"detro": 7})
    registry = Registry(store, cfg.storage.data_dir, accredited=False, clock=lambda: NOW)
    api = make_api_app(cfg, registry, store, lambda: NOW, outbox, lambda: live)
    stop = asyncio.Event()
    bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    server = asyncio.create_task(serve_web(make_web_app(lambda: {"status": "ok"}, Metrics(), api), "127.0.0.1", 0,
                                           stop, bound))
    try:
        yield f"http://127.0.0.1:{await asyncio.wait_for(bound, 10)}/api/v1/summary", store
    finally:
        stop.set()
        await server
        store.close()


# covers DT-16, PB-08, BH-09
async def test_the_summary_gives_a_viewer_uplinks_vehicles_events_and_the_audit_state(
    summary_server: tuple[str, Store],
) -> None:
    url, store = summary_server
    async with aiohttp.ClientSession() as session:
        async with session.get(url, headers={"Authorization": f"Bearer {VIEWER}"}) as response:
            assert response.status == 200
            body = await response.json()
        async with session.get(url) as refused:
            assert refused.status == 401
    assert body["provider"] == "acme" and body["version"] == __version__ and body["running"] is True
    assert body["frigate"] == {"up": True, "detail": "connected to 127.0.0.1:1883"}
    [detro] = body["uplinks"]
    assert detro["program"] == "detro" and detro["link"] == {"up": False, "detail": "connection refused"}
    assert detro["delivered"] == 7 and detro["last_delivery"] == datetime.fromtimestamp(T0 + 5, UTC).isoformat()
    assert detro["outbox_depth"] >= 2  # the two sensor events queued for DETRO
    assert body["quarantined"] == 1
    assert body["audit"]["intact"] is True and body["audit"]["broken_at"] is None and body["audit"]["entries"] >= 1
    vehicles = {v["vehicle"]: v for v in body["vehicles"]}
    assert vehicles["10234"] == {
        "vehicle": "10234", "plate": "KXY1A23", "line": "232",
        "last_sync": datetime.fromtimestamp(T0 + 60, UTC).isoformat(), "last_sync_status": "ok",
        "last_sync_files": 2, "last_sync_hours": 1.0, "gaps": 1, "quarantined_files": 1, "open_events": 0,
    }
    assert vehicles["10235"]["last_sync"] is None and vehicles["10235"]["open_events"] == 2
    assert body["open_events_total"] == 2
    assert [e["type"] for e in body["open_events"]] == ["power_loss", "harsh_braking"]
    # The read is audited under the token's name, as GET /cameras is.
    assert store.db.execute(
        "SELECT actor, subject FROM audit_log WHERE action = 'api.read' ORDER BY seq DESC LIMIT 1"
    ).fetchone() == ("dash", "/api/v1/summary")


# covers DT-16
async def test_without_a_running_process_links_and_counts_are_unknown(tmp_path: Path) -> None:
    cfg = config(tmp_path / "data")
    store = Store.open(cfg.storage.data_dir)
    try:
        registry = Registry(store, cfg.storage.data_dir, accredited=False, clock=lambda: NOW)
        api = make_api_app(cfg, registry, store, lambda: NOW)
        stop = asyncio.Event()
        bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        server = asyncio.create_task(serve_web(make_web_app(lambda: {}, Metrics(), api), "127.0.0.1", 0, stop, bound))
        port = await asyncio.wait_for(bound, 10)
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/api/v1/summary",
                                   headers={"Authorization": f"Bearer {VIEWER}"}) as response:
                body = await response.json()
        stop.set()
        await server
    finally:
        store.close()
    assert body["running"] is False and body["frigate"] == {"up": None, "detail": None}
    assert body["uplinks"][0]["delivered"] is None and body["uplinks"][0]["last_delivery"] is None
    assert body["vehicles"][0]["gaps"] == 0 and body["open_events"] == []
