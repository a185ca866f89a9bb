"""Legal holds: the archive sweep never deletes held footage; a camera hold keeps a Frigate export.

Real parts: SQLite, the archive sweep, the ``guarita`` command line, the Frigate stand-in.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from guarita import audit
from guarita.cli.main import main
from guarita.config_loader import load_config
from guarita.frigate import FrigateClient
from guarita.metrics import Metrics
from guarita.retention import FootageSource, HoldBook, HoldError, TimeWindow, place_hold, release_hold
from guarita.retention.hold_exports import ExportState, failed_export_count
from guarita.retention.hold_followup import ExportFollowUp, follow_up_exports, run_hold_exports
from guarita.retention.holds import get_hold
from guarita.standin.frigate_api import FRIGATE_STANDIN, make_frigate_app, serve_frigate
from guarita.standin.frigate_cameras import StandinCamera, StandinCameras
from guarita.standin.mosquitto import free_port
from guarita.store import Store
from test_archive_sweep import seed

DAY = 86400.0
OLD = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC).timestamp()


def write_config(tmp_path: Path) -> Path:
    path = tmp_path / "guarita.yaml"
    dvr = {"serial": "DVR-1", "source": "file:///mnt/sd", "cameras": {1: "interior", 2: "front"}}
    data = {
        "provider": {"id": "acme", "name": "ACME", "kind": "bus_operator"},
        "storage": {"data_dir": str(tmp_path)},
        "frigate": {"url": f"http://127.0.0.1:{free_port()}"},
        "cameras": {"portaria": {}},
        "fleet": {"vehicles": {"10234": {"plate": "KXY1A23", "dvr": dvr}}},
    }
    path.write_text(json.dumps(data))
    return path


# covers PB-04, DT-06, DT-12
def test_the_sweep_keeps_held_segments_until_the_hold_is_released(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    cam1 = seed(tmp_path, [OLD, OLD + 60, OLD + 120], camera=1)
    cam2 = seed(tmp_path, [OLD + 60], camera=2)
    assert main(["hold", "add", "-c", str(config), "--vehicle", "10234", "--camera-number", "1",
                 "--from", "2026-11-01T12:01:30+00:00", "--to", "2026-11-01T12:02:10+00:00",
                 "--ref", "IP 77/2026", "--by", "ana", "--json"]) == 0
    hold = json.loads(capsys.readouterr().out)
    assert (hold["id"], hold["active"], hold["camera_number"]) == (1, True, 1)
    sweep = ["retention", "sweep", "-c", str(config), "--now", "2026-12-01T00:00:00+00:00", "--json"]
    assert main(sweep) == 0
    report = json.loads(capsys.readouterr().out)["archive"]
    assert (report["deleted_segments"], report["held_segments"]) == (2, 2)
    # The hold covers 12:01:30–12:02:10 of camera 1: the 12:01 and 12:02 segments; camera 2 is not held.
    assert [p.exists() for p in cam1 + cam2] == [False, True, True, False]
    assert main(["hold", "release", "1", "-c", str(config), "--by", "bruno", "--reason", "case closed"]) == 0
    assert main(["hold", "release", "1", "-c", str(config), "--by", "bruno", "--reason", "again"]) == 1
    assert "already released" in capsys.readouterr().err
    assert main(["hold", "list", "-c", str(config)]) == 0
    assert capsys.readouterr().out.strip() == "no holds"
    assert main(sweep) == 0
    assert json.loads(capsys.readouterr().out)["archive"]["deleted_segments"] == 2
    assert not any(p.exists() for p in cam1)
    store = Store.open(tmp_path)
    actions = [row[0] for row in store.db.execute("SELECT action FROM audit_log ORDER BY seq")]
    assert actions == ["hold.add", "retention.sweep", "hold.release", "retention.sweep"]
    assert audit.verify(store.db)[1] is None
    store.close()


# covers PB-04, DT-06
def test_a_whole_vehicle_hold_and_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)
    paths = seed(tmp_path, [OLD], camera=1) + seed(tmp_path, [OLD], camera=2)
    assert main(["hold", "add", "-c", str(config), "--vehicle", "10234", "--from", "2026-11-01T09:00",
                 "--to", "2026-11-01T10:00", "--ref", "r", "--by", "ana"]) == 0  # local time: 12:00–13:00 UTC
    assert "vehicle 10234 all cameras" in capsys.readouterr().out
    assert main(["retention", "sweep", "-c", str(config), "--now", "2026-12-01T00:00:00+00:00"]) == 0
    assert all(p.exists() for p in paths)
    for argv, message in [
        (["--vehicle", "10234", "--camera-number", "9"], "has no DVR camera 9"),
        (["--vehicle", "999"], "vehicle '999' is not under fleet.vehicles"),
        (["--camera", "portaria", "--vehicle", "10234"], "one camera (--camera) or one vehicle"),
    ]:
        assert main(["hold", "add", "-c", str(config), *argv, "--from", "2026-11-01T09:00", "--to",
                     "2026-11-01T10:00", "--ref", "r", "--by", "ana"]) == 1
        assert message in capsys.readouterr().err
    assert main(["hold", "add", "-c", str(config), "--camera", "portaria", "--from", "2026-11-01T10:00", "--to",
                 "2026-11-01T09:00", "--ref", "r", "--by", "ana"]) == 1
    assert "before it starts" in capsys.readouterr().err


# covers PB-04, BH-06, BH-11
async def test_a_camera_hold_creates_a_frigate_export_or_records_it_pending(tmp_path: Path) -> None:
    app = make_frigate_app(StandinCameras(cameras=(StandinCamera(name="portaria"),)), version="0.17.2-3d4dd3a",
                           clock=lambda: dt.datetime.fromtimestamp(OLD + DAY, dt.UTC))
    runner, port = await serve_frigate(app)
    store = Store.open(tmp_path)
    window = TimeWindow(OLD, OLD + 600)
    camera = FootageSource(camera="portaria")
    try:
        async with aiohttp.ClientSession() as session:
            frigate = FrigateClient(session, f"http://127.0.0.1:{port}")
            hold = await place_hold(store, camera, window, ref="IP 1", by="ana", at=OLD, frigate=frigate)
            assert hold.frigate_export_id in app[FRIGATE_STANDIN].exports and hold.export_note is None
            down = FrigateClient(session, f"http://127.0.0.1:{free_port()}")
            pending = await place_hold(store, camera, window, ref="IP 2", by="ana", at=OLD, frigate=down)
    finally:
        await runner.cleanup()
    assert pending.frigate_export_id is None and (pending.export_note or "").startswith("export pending:")
    book = HoldBook.load(store.db)
    assert book.holding(camera, OLD + 100, OLD + 110) == (1, 2)
    assert book.holding(camera, OLD + 600, OLD + 610) == ()
    assert book.holding(FootageSource(camera="garagem"), OLD, OLD + 10) == ()
    release_hold(store, 1, by="bruno", reason="done", at=OLD + 1)
    assert HoldBook.load(store.db).holding(camera, OLD, OLD + 10) == (2,)
    with pytest.raises(HoldError, match="needs who"):
        release_hold(store, 2, by="bruno", reason=" ", at=OLD)
    store.close()


async def _frigate(export_delay_s: float = 0.05) -> tuple[web.Application, web.AppRunner, int]:
    app = make_frigate_app(StandinCameras(cameras=(StandinCamera(name="portaria"),)), version="0.17.2-3d4dd3a",
                           clock=lambda: dt.datetime.fromtimestamp(OLD + DAY, dt.UTC), export_delay_s=export_delay_s)
    runner, port = await serve_frigate(app)
    return app, runner, port


async def _settle(app: web.Application) -> None:
    """Wait until the stand-in has no export in progress (its exports finish or vanish after the delay)."""
    for _ in range(100):
        if not any(row["in_progress"] for row in app[FRIGATE_STANDIN].exports.values()):
            return
        await asyncio.sleep(0.02)


def _now() -> float:
    return OLD + DAY


# covers PB-04, BH-06, DT-06
async def test_a_hold_export_is_followed_until_frigate_finished_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app, runner, port = await _frigate()
    store = Store.open(tmp_path)
    settings = ExportFollowUp(appear_s=0)
    try:
        async with aiohttp.ClientSession() as session:
            frigate = FrigateClient(session, f"http://127.0.0.1:{port}")
            hold = await place_hold(store, FootageSource(camera="portaria"), TimeWindow(OLD, OLD + 20), ref="IP 5",
                                    by="ana", at=OLD, frigate=frigate)
            assert hold.export is not None and hold.export.state is ExportState.IN_PROGRESS  # accepted, not done
            assert hold.export.export_id == hold.frigate_export_id
            await _settle(app)
            states = await follow_up_exports(store, frigate, now=_now, scratch=tmp_path, settings=settings)
    finally:
        await runner.cleanup()
    done = states[hold.id]
    row = app[FRIGATE_STANDIN].exports[hold.frigate_export_id or ""]
    assert (done.state, done.file, done.attempt) == (ExportState.DONE, row["video_path"], 1)
    assert done.duration_s == pytest.approx(20.9, abs=0.15) and done.sha256 is not None
    store.close()
    config = write_config(tmp_path)
    assert main(["hold", "list", "-c", str(config)]) == 0
    assert f"export done: {row['video_path']} (" in capsys.readouterr().out


# covers PB-04, BH-06, DT-06
async def test_a_failed_export_is_retried_then_alarmed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    app, runner, port = await _frigate()
    app[FRIGATE_STANDIN].fail_exports = True  # Frigate's ffmpeg fails: the row vanishes, no file
    store = Store.open(tmp_path)
    settings = ExportFollowUp(appear_s=0, max_attempts=2)
    try:
        async with aiohttp.ClientSession() as session:
            frigate = FrigateClient(session, f"http://127.0.0.1:{port}")
            hold = await place_hold(store, FootageSource(camera="portaria"), TimeWindow(OLD, OLD + 20), ref="IP 6",
                                    by="ana", at=OLD, frigate=frigate)
            first = hold.frigate_export_id
            await _settle(app)
            retry = (await follow_up_exports(store, frigate, now=_now, scratch=tmp_path, settings=settings))[hold.id]
            assert (retry.state, retry.attempt) == (ExportState.PENDING, 1)
            assert f"Frigate export {first} disappeared before it finished" in (retry.reason or "")
            second = (await follow_up_exports(store, frigate, now=_now, scratch=tmp_path, settings=settings))[hold.id]
            assert (second.state, second.attempt) == (ExportState.IN_PROGRESS, 2) and second.export_id != first
            await _settle(app)
            with caplog.at_level(logging.ERROR, logger="guarita.retention.hold_followup"):
                failed = (await follow_up_exports(store, frigate, now=_now, scratch=tmp_path,
                                                  settings=settings))[hold.id]
            # Nothing more is tried once it failed for good.
            assert await follow_up_exports(store, frigate, now=_now, scratch=tmp_path, settings=settings) == {}
    finally:
        await runner.cleanup()
    assert failed.state is ExportState.FAILED and "gave up after 2 attempts" in (failed.reason or "")
    assert "failed 2 times" in caplog.text and "NOT secured" in caplog.text
    assert failed_export_count(store.db) == 1
    assert [row[0] for row in store.db.execute("SELECT action FROM audit_log ORDER BY seq")] == [
        "hold.add", "hold.export"]
    store.close()
    config = write_config(tmp_path)
    assert main(["hold", "list", "-c", str(config)]) == 0
    assert f"export failed: Frigate export {second.export_id} disappeared" in capsys.readouterr().out


# covers PB-04, BH-06
async def test_an_export_frigate_never_finishes_fails_after_the_time_limit_and_a_retry_can_succeed(
        tmp_path: Path) -> None:
    app, runner, port = await _frigate()
    standin = app[FRIGATE_STANDIN]
    standin.stall_exports = True
    store = Store.open(tmp_path)
    try:
        async with aiohttp.ClientSession() as session:
            frigate = FrigateClient(session, f"http://127.0.0.1:{port}")
            hold = await place_hold(store, FootageSource(camera="portaria"), TimeWindow(OLD, OLD + 10), ref="IP 7",
                                    by="ana", at=OLD, frigate=frigate)
            await asyncio.sleep(0.1)
            patient = ExportFollowUp(appear_s=0, timeout_s=DAY + 1)
            assert (await follow_up_exports(store, frigate, now=_now, scratch=tmp_path, settings=patient)
                    )[hold.id].state is ExportState.IN_PROGRESS
            late = ExportFollowUp(appear_s=0, timeout_s=60)  # placed a day ago (OLD), still running
            retry = (await follow_up_exports(store, frigate, now=_now, scratch=tmp_path, settings=late))[hold.id]
            assert retry.state is ExportState.PENDING and "still in progress 60 s after it started" in (retry.reason or "")
            standin.stall_exports = False
            await follow_up_exports(store, frigate, now=_now, scratch=tmp_path, settings=late)  # attempt 2 starts
            await _settle(app)
            done = (await follow_up_exports(store, frigate, now=_now, scratch=tmp_path, settings=late))[hold.id]
    finally:
        await runner.cleanup()
    assert (done.state, done.attempt) == (ExportState.DONE, 2)
    assert done.duration_s == pytest.approx(10.9, abs=0.15)
    store.close()


# covers PB-04, BH-06
async def test_guarita_run_keeps_following_a_pending_export(tmp_path: Path) -> None:
    app, runner, port = await _frigate()
    config_path = write_config(tmp_path)
    data = json.loads(config_path.read_text())
    data["frigate"]["url"] = f"http://127.0.0.1:{port}"
    config_path.write_text(json.dumps(data))
    config = load_config(config_path)
    store = Store.open(tmp_path)
    metrics = Metrics()
    try:
        # Placed while Frigate was unreachable: pending, no attempt counted.
        pending = await place_hold(store, FootageSource(camera="portaria"), TimeWindow(OLD, OLD + 10), ref="IP 8",
                                   by="ana", at=OLD, frigate=None)
        assert pending.export is not None and (pending.export.state, pending.export.attempt) == (ExportState.PENDING, 0)
        stop = asyncio.Event()
        task = asyncio.create_task(run_hold_exports(config, store, metrics, stop, now=_now,
                                                    settings=ExportFollowUp(poll_s=0.05, appear_s=0)))
        for _ in range(200):
            current = get_hold(store.db, pending.id).export
            if current is not None and current.state is ExportState.DONE:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await task
    finally:
        await runner.cleanup()
    assert current is not None and current.state is ExportState.DONE and current.export_id in app[FRIGATE_STANDIN].exports
    assert "guarita_hold_exports_failed 0" in metrics.render()
    store.close()
