"""Deleting a playback's Frigate exports: FrigateClient.delete_export and ExportCleaner against the stand-in.

The Frigate stand-in runs on a free 127.0.0.1 port and answers ``DELETE /api/export/<id>`` as
Frigate does: 400 while the export is still written, 404 for an unknown id, otherwise the row
and its file go.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest
from harness import wait_for

from guarita.errors import FrigateHttpError
from guarita.frigate import FrigateClient
from guarita.metrics import Metrics
from guarita.standin.frigate_api import FRIGATE_STANDIN, make_frigate_app, serve_frigate
from guarita.standin.frigate_cameras import StandinCamera, StandinCameras
from guarita.standin.frigate_state import FrigateStandin
from guarita.video.playback_exports import ExportCleaner, export_name

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
T = NOW.timestamp()


@pytest.fixture
async def frigate() -> AsyncIterator[tuple[FrigateClient, FrigateStandin, aiohttp.ClientSession, str]]:
    app = make_frigate_app(StandinCameras(cameras=(StandinCamera(name="street"),)), clock=lambda: NOW,
                           export_delay_s=0.4)
    runner, port = await serve_frigate(app)
    try:
        async with aiohttp.ClientSession() as session:
            base = f"http://127.0.0.1:{port}"
            yield FrigateClient(session, base), app[FRIGATE_STANDIN], session, base
    finally:
        await runner.cleanup()


# covers BH-06, BH-11
async def test_an_export_is_deleted_once_frigate_has_finished_writing_it(
        frigate: tuple[FrigateClient, FrigateStandin, aiohttp.ClientSession, str]) -> None:
    """BH-06: 400 while in progress (kept for a retry), then gone from the list and from /exports/; 404 unknown."""
    client, standin, session, base = frigate
    export_id = await client.start_export("street", T - 60, T - 30, name=export_name("abc", "ocorrência 1"))
    cleaner = ExportCleaner(retry_s=0.0)
    assert await cleaner.delete(client, export_id, "abc") is False  # Frigate's ffmpeg still writes it
    assert cleaner.pending() == [export_id] and cleaner.failures == 0
    finished = await client.wait_export(export_id, poll_s=0.05)
    file_name = finished.video_path.rsplit("/", 1)[1]
    async with session.get(f"{base}/exports/{file_name}") as served:
        assert served.status == 200
    await cleaner.retry()
    assert cleaner.pending() == [] and cleaner.deleted == 1
    assert await client.exports() == [] and standin.exports == {}
    async with session.get(f"{base}/exports/{file_name}") as gone:
        assert gone.status == 404
    async with session.get(f"{base}/exports/") as index:
        assert await index.json() == []
    with pytest.raises(FrigateHttpError) as unknown:
        await client.delete_export(export_id)
    assert unknown.value.status == 404 and "Export not found" in str(unknown.value)


# covers BH-06, BH-11
async def test_a_sweep_deletes_only_the_playbacks_exports_and_gives_up_counted(
        frigate: tuple[FrigateClient, FrigateStandin, aiohttp.ClientSession, str]) -> None:
    """BH-06: a hold's or evidence export stays; an export never finished is given up on and counted."""
    client, standin, _, _ = frigate
    mine = await client.start_export("street", T - 60, T - 30, name=export_name("abc", "r"))
    evidence = await client.start_export("street", T - 60, T - 30, name="evidence 1: r")
    other = await client.start_export("street", T - 60, T - 30, name=export_name("xyz", "r"))
    await wait_for(lambda: not any(row["in_progress"] for row in standin.exports.values()), timeout=5)
    cleaner = ExportCleaner()
    await cleaner.sweep(client, "abc")
    assert sorted(standin.exports) == sorted([evidence, other]) and mine not in standin.exports

    standin.stall_exports = True  # this one never finishes: Frigate refuses to delete it
    stuck = await client.start_export("street", T - 60, T - 30, name=export_name("def", "r"))
    metrics = Metrics()
    stubborn = ExportCleaner(retry_s=0.0, give_up_s=0.2)
    stubborn.on_failure = metrics.playback_export_cleanup_failures.inc
    await stubborn.sweep(client, "def")
    assert stubborn.pending() == [stuck]
    for _ in range(40):  # retried until give_up_s has passed, then counted once
        await asyncio.sleep(0.05)
        await stubborn.retry()
        if not stubborn.pending():
            break
    assert stubborn.pending() == [] and stubborn.failures == 1 and stuck in standin.exports
    assert "guarita_playback_export_cleanup_failures_total 1" in metrics.render()


# covers BH-06
async def test_an_unreachable_frigate_is_retried_then_counted_never_raised() -> None:
    """BH-06: Frigate down: the deletion waits for a retry; past give_up_s it is counted, and nothing raises."""
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with aiohttp.ClientSession() as session:
        client = FrigateClient(session, f"http://127.0.0.1:{port}", timeout_s=1)
        cleaner = ExportCleaner(retry_s=0.0, give_up_s=0.0)
        assert await cleaner.delete(client, "street_abc123", "abc") is False
        assert cleaner.pending() == [] and cleaner.failures == 1
        patient = ExportCleaner(retry_s=60.0)
        assert await patient.delete(client, "street_abc123", "abc") is False
        await patient.retry()  # not its turn yet: still waiting, not counted
        assert patient.pending() == ["street_abc123"] and patient.failures == 0
        await patient.sweep(client, "abc")  # the list cannot be read: logged, nothing raised
