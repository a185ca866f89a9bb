"""DVR offload: a pass fetches what the archive lacks, verifies it, files it, and reports it.

Real parts: ffmpeg-made segments, the DVR HTTP stand-in (nginx/Apache listings, Range),
the real FTP server, a mounted folder, SQLite, and TLS Mosquitto for the DETRO uplink.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from aiohttp import web

from guarita.adapters.dvr.rate import RateLimiter
from guarita.adapters.dvr.sync import DvrSync
from guarita.config import GuaritaConfig
from guarita.config_loader import load_config
from guarita.errors import DvrError, DvrUnreachable
from guarita.outbox import Outbox
from guarita.standin.dvr_http import DvrHttpServer
from guarita.standin.dvr_media import make_dvr_tree, make_invalid_set, make_segment, write_checksum_sidecar
from guarita.standin.mosquitto import MosquittoBroker, free_port
from guarita.standin.tls import TestPki
from guarita.store import Store
from harness import Receiver, running, wait_for, write_config

START = dt.datetime(2026, 11, 20, 8, 0, 0)  # DVR clock, America/Sao_Paulo (UTC-3)
START_UTC = dt.datetime(2026, 11, 20, 11, 0, 0, tzinfo=dt.UTC)


def _now() -> dt.datetime:
    return dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)


def fleet_config(tmp_path: Path, source: str, *, extra_fleet: dict[str, Any] | None = None) -> Path:
    path = tmp_path / "guarita.yaml"
    fleet = {
        "vehicles": {
            "10234": {
                "plate": "KXY1A23",
                "line": "100",
                "dvr": {"serial": "DVR-2009-000123", "source": source, "cameras": {1: "interior", 2: "front"}},
            }
        },
        **(extra_fleet or {}),
    }
    data = {
        "provider": {"id": "acme", "name": "ACME Ônibus", "kind": "bus_operator"},
        "storage": {"data_dir": str(tmp_path / "data")},
        "fleet": fleet,
    }
    path.write_text(json.dumps(data))
    return path


def archived(data_dir: Path) -> dict[str, list[str]]:
    root = data_dir / "archive" / "10234"
    return {d.name: sorted(p.name for p in d.iterdir()) for d in sorted(root.iterdir())} if root.exists() else {}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def dvr_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two cameras of 60 s segments; camera 2 misses its 08:02 segment and holds the invalid set."""
    root = tmp_path_factory.mktemp("dvr")
    make_dvr_tree(root, START, {1: "1"}, count=3, seconds=60)
    make_dvr_tree(root, START, {2: "2"}, count=4, seconds=60, gap_after=2)
    make_invalid_set(root / "2", START + dt.timedelta(hours=1))
    return root


def copy_tree(tree: Path, tmp_path: Path) -> Path:
    target = tmp_path / "sd"
    shutil.copytree(tree, target, symlinks=True)
    return target


# covers PB-06, DT-06, DT-10, DT-11
async def test_a_pass_archives_valid_segments_and_quarantines_the_rest(tmp_path: Path, dvr_tree: Path) -> None:
    sd = copy_tree(dvr_tree, tmp_path)
    async with DvrHttpServer(sd, listing="nginx-json") as server:
        config = load_config(fleet_config(tmp_path, server.url))
        store = Store.open(config.storage.data_dir)
        result = await DvrSync(config, store, None, clock=_now).sync("10234")
    assert result is not None and result.status == "ok"
    data = config.storage.data_dir
    names = archived(data)
    assert names["1"] == ["20261120080000.mp4", "20261120080100.mp4", "20261120080200.mp4"]
    assert names["2"] == ["20261120080000.mp4", "20261120080100.mp4", "20261120080300.mp4", "20261120080400.mp4"]
    # The index holds UTC beside the DVR's local name, and each file's SHA-256.
    rows = store.db.execute(
        "SELECT camera, name, start_utc, duration_s, size, sha256 FROM dvr_segments ORDER BY camera, name"
    ).fetchall()
    assert len(rows) == 7
    camera, name, start, duration, size, digest = rows[0]
    assert (camera, name) == (1, "20261120080000.mp4")
    assert start == START_UTC.timestamp()
    assert 55 <= duration <= 65
    original = sd / "1" / name
    assert size == original.stat().st_size and digest == sha256(original)
    # Every invalid file is in the quarantine with its reason, none in the archive.
    quarantine = data / "quarantine" / "dvr" / "10234" / "2"
    reasons = {
        path.name.removesuffix(".reason.json"): json.loads(path.read_text())["reason"]
        for path in quarantine.glob("*.reason.json")
    }
    expected = {p.name: keyword for p, keyword in make_invalid_set_expectations(dvr_tree).items()}
    assert set(reasons) == set(expected)
    for name, keyword in expected.items():
        assert keyword.lower() in reasons[name].lower(), (name, reasons[name])
        assert (quarantine / name).is_file()
    assert not list((data / "dvr_partial").rglob("*.part"))
    # Coverage: camera 2 has a one-minute hole where the DVR has no file.
    document = result.as_json("acme", {1: "interior", 2: "front"})
    cover = {c["camera"]: c for c in document["cameras"]}
    assert cover[1]["gaps"] == [] and cover[1]["first"] == "2026-11-20T11:00:00Z"
    assert cover[1]["last"] == "2026-11-20T11:03:00Z"
    assert cover[2]["gaps"] == [["2026-11-20T11:02:00Z", "2026-11-20T11:03:00Z"]]
    assert document["files"] == 7 and len(document["quarantined"]) == len(expected)
    assert_valid_report(document)
    store.close()


def assert_valid_report(document: dict[str, Any]) -> None:
    """A report validates against docs/schemas/guarita.dvr_sync.v1.json (wire form)."""
    schema = json.loads((Path(__file__).resolve().parents[1] / "docs/schemas/guarita.dvr_sync.v1.json").read_text())
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(json.loads(json.dumps(document)))]
    assert not errors, errors


def make_invalid_set_expectations(tree: Path) -> dict[Path, str]:
    """The invalid files of the module's tree and the word their reason must contain."""
    scratch = tree.parent / "expectations"
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir()
    return make_invalid_set(scratch, START + dt.timedelta(hours=1))


# covers PB-06, DT-06
async def test_a_second_pass_fetches_nothing_and_a_quarantined_file_is_not_fetched_again(
    tmp_path: Path, dvr_tree: Path
) -> None:
    sd = copy_tree(dvr_tree, tmp_path)
    async with DvrHttpServer(sd, listing="nginx-html") as server:
        config = load_config(fleet_config(tmp_path, server.url))
        store = Store.open(config.storage.data_dir)
        first = await DvrSync(config, store, None, clock=_now).sync("10234")
        sent = server.bytes_sent
        second = await DvrSync(config, store, None, clock=_now).sync("10234")
        assert server.bytes_sent == sent, "nothing is fetched twice"
        quiet = await DvrSync(config, store, None, clock=_now).sync("10234", record_empty=False)
    assert first is not None and first.files == 7
    assert second is not None and (second.files, second.quarantined, second.transferred) == (0, [], 0)
    assert quiet is None
    store.close()


# covers PB-06, DT-06, DT-11
async def test_a_cut_transfer_leaves_no_partial_file_in_the_archive_and_resumes(tmp_path: Path) -> None:
    sd = tmp_path / "sd"
    make_dvr_tree(sd, START, {1: "1", 2: "2"}, count=1, seconds=120)
    target = sd / "1" / "20261120080000.mp4"
    size = target.stat().st_size
    cut = size // 3
    async with DvrHttpServer(sd) as server:
        config = load_config(fleet_config(tmp_path, server.url))
        store = Store.open(config.storage.data_dir)
        server.cut_after_bytes = cut
        first = await DvrSync(config, store, None, clock=_now).sync("10234")
        assert first is not None and first.status == "partial"
        assert archived(config.storage.data_dir) == {}, "the bus left mid-file: nothing enters the archive"
        part = config.storage.data_dir / "dvr_partial" / "10234" / "1" / "20261120080000.mp4.part"
        assert part.stat().st_size == cut
        server.requests.clear()
        sent_before = server.bytes_sent
        second = await DvrSync(config, store, None, clock=_now).sync("10234")
        resumed = [r for r in server.requests if r[0].endswith("/1/20261120080000.mp4")]
        other = (sd / "2" / "20261120080000.mp4").stat().st_size
        assert server.bytes_sent - sent_before == (size - cut) + other, "bytes already fetched are not fetched again"
    assert resumed == [(resumed[0][0], f"bytes={cut}-")]
    assert second is not None and second.status == "ok" and second.files == 2
    final = config.storage.data_dir / "archive" / "10234" / "1" / "20261120080000.mp4"
    assert sha256(final) == sha256(target)
    row = store.db.execute("SELECT sha256, size FROM dvr_segments WHERE camera = 1").fetchone()
    assert row == (sha256(target), size)
    assert not part.exists()
    store.close()


# covers PB-06, DT-06
async def test_a_file_that_differs_from_the_dvr_checksum_is_quarantined(tmp_path: Path) -> None:
    sd = tmp_path / "sd"
    make_dvr_tree(sd, START, {1: "1", 2: "2"}, count=1, seconds=60)
    good = sd / "1" / "20261120080000.mp4"
    write_checksum_sidecar(good)
    bad = sd / "2" / "20261120080000.mp4"
    (sd / "2" / "20261120080000.mp4.sha256").write_text("0" * 64 + "  20261120080000.mp4\n")
    async with DvrHttpServer(sd, listing="apache-html") as server:
        config = load_config(fleet_config(tmp_path, server.url))
        store = Store.open(config.storage.data_dir)
        result = await DvrSync(config, store, None, clock=_now).sync("10234")
    assert result is not None
    assert archived(config.storage.data_dir) == {"1": ["20261120080000.mp4"]}
    (entry,) = result.quarantined
    assert entry["folder"] == "2" and "differs from the DVR's own checksum" in entry["reason"]
    assert bad.stat().st_size == entry["size"]
    store.close()


async def _hostile_dvr(names: list[str]) -> tuple[web.AppRunner, str]:
    """A DVR whose JSON listing names files with path tricks (a real HTTP server on loopback)."""

    async def listing(request: web.Request) -> web.Response:
        entries = [{"name": n, "type": "file", "mtime": "Fri, 20 Nov 2026 11:00:00 GMT", "size": 10} for n in names]
        return web.json_response(entries)

    async def missing(request: web.Request) -> web.Response:
        return web.Response(status=404)

    async def refuse(request: web.Request) -> web.Response:
        raise AssertionError(f"Guarita fetched {request.path_qs}")

    app = web.Application()
    app.router.add_get("/dvr/1/", listing)
    app.router.add_get("/dvr/2/", listing)
    app.router.add_get("/dvr/telemetry/", missing)
    app.router.add_route("*", "/{tail:.*}", refuse)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}/dvr/"


# covers PB-06, DT-10
async def test_path_traversal_names_in_a_listing_are_refused_never_fetched(tmp_path: Path) -> None:
    hostile = ["../../etc/passwd", "..", "a/b.mp4", "..\\win.mp4", "/abs.mp4", ".hidden.mp4", "x\x00.mp4"]
    runner, url = await _hostile_dvr(hostile)
    try:
        config = load_config(fleet_config(tmp_path, url))
        store = Store.open(config.storage.data_dir)
        result = await DvrSync(config, store, None, clock=_now).sync("10234")
        again = await DvrSync(config, store, None, clock=_now).sync("10234")
    finally:
        await runner.cleanup()
    assert result is not None and again is not None
    refused = {(q["folder"], q["name"]) for q in result.quarantined}
    assert refused == {(folder, name) for folder in ("1", "2") for name in hostile}
    assert all(q["reason"] for q in result.quarantined)
    written = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()}
    assert written <= {"guarita.yaml", "data/guarita.db", "data/guarita.db-wal", "data/guarita.db-shm"}
    assert again.quarantined == [], "a refused name is recorded once, not at every visit"
    store.close()


# covers PB-06, DT-10
async def test_a_mounted_card_never_follows_symlinks(tmp_path: Path) -> None:
    sd = tmp_path / "sd"
    make_dvr_tree(sd, START, {1: "1", 2: "2"}, count=1, seconds=60)
    secret = tmp_path / "outside.mp4"
    make_segment(secret, 60)
    os.symlink(secret, sd / "1" / "20261120090000.mp4")
    config = load_config(fleet_config(tmp_path, f"file://{sd}"))
    store = Store.open(config.storage.data_dir)
    result = await DvrSync(config, store, None, clock=_now).sync("10234")
    assert result is not None
    assert archived(config.storage.data_dir) == {"1": ["20261120080000.mp4"], "2": ["20261120080000.mp4"]}
    (entry,) = result.quarantined
    assert entry["name"] == "20261120090000.mp4" and "link" in entry["reason"]
    store.close()


# covers PB-06
async def test_an_absent_dvr_is_unreachable_and_records_nothing(tmp_path: Path) -> None:
    config = load_config(fleet_config(tmp_path, f"http://127.0.0.1:{free_port()}/dvr/"))
    store = Store.open(config.storage.data_dir)
    with pytest.raises(DvrUnreachable):
        await DvrSync(config, store, None, clock=_now).sync("10234")
    assert store.db.execute("SELECT COUNT(*) FROM dvr_syncs").fetchone() == (0,)
    with pytest.raises(DvrError, match="not under fleet.vehicles"):
        await DvrSync(config, store, None, clock=_now).sync("99999")
    store.close()


# covers PB-06
async def test_the_bandwidth_cap_spaces_transfers_at_the_configured_rate() -> None:
    slept: list[float] = []
    now = [0.0]

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(1_000_000, clock=lambda: now[0], sleep=sleep)
    for _ in range(30):
        await limiter.take(100_000)  # 3 MB at 1 MB/s with a one-second burst: 2 s of waiting
    assert sum(slept) == pytest.approx(2.0)
    assert RateLimiter.from_mbps(None) is None
    capped = RateLimiter.from_mbps(80)
    assert capped is not None


# covers PB-06, DT-02, DT-06, DT-08
@pytest.mark.slow
async def test_guarita_run_notices_a_bus_arriving_and_detro_receives_the_report_after_an_outage(
    tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki, dvr_tree: Path
) -> None:
    sd = copy_tree(dvr_tree, tmp_path)
    port = free_port()
    server = DvrHttpServer(sd, port=port)
    url = f"http://127.0.0.1:{port}/dvr/"
    fleet = json.loads(fleet_config(tmp_path, url).read_text())["fleet"] | {"poll_interval_s": 1}
    config = write_config(
        tmp_path / "run.yaml", frigate_broker=frigate_broker, uplink_broker=uplink_broker, pki=pki, cameras={},
        programs=("detro",), extra={"fleet": fleet, "provider": {"id": "acme", "name": "ACME", "kind": "bus_operator"}},
    )
    async with Receiver(uplink_broker, pki, topic="detro/v1/acme/vehicles/+/dvr") as centre, running(config) as runtime:
        await wait_for(lambda: runtime.dvr_poller is not None and runtime.dvr_poller.present.get("10234") is False)
        uplink_broker.stop()
        await wait_for(lambda: not runtime.health()["links"]["uplink:detro"]["up"])
        await server.start()  # the bus pulls in
        try:
            await wait_for(lambda: runtime.outbox.depth("detro") >= 1, timeout=30)
            assert runtime.health()["dvr_present"] == {"10234": True}
            uplink_broker.start()
            await centre.wait_until(lambda: len(centre.on("detro/v1/acme/vehicles/10234/dvr")) >= 1, timeout=30)
        finally:
            await server.stop()
    (body,) = centre.on("detro/v1/acme/vehicles/10234/dvr")
    report = json.loads(body)
    assert_valid_report(report)
    assert report["schema"] == "guarita.dvr_sync/1" and report["vehicle"] == "10234"
    assert report["dvr_serial"] == "DVR-2009-000123" and report["files"] == 7
    assert {c["camera"]: c["role"] for c in report["cameras"]} == {1: "interior", 2: "front"}
    assert report["cameras"][1]["gaps"] == [["2026-11-20T11:02:00Z", "2026-11-20T11:03:00Z"]]
    assert {q["name"] for q in report["quarantined"]} == {p.name for p in make_invalid_set_expectations(dvr_tree)}


def _config_with(tmp_path: Path, **changes: Any) -> GuaritaConfig:
    return load_config(fleet_config(tmp_path, "http://127.0.0.1:1/dvr/", extra_fleet=changes))


# covers PB-06, DT-06
def test_reports_are_queued_only_when_detro_is_configured(tmp_path: Path) -> None:
    config = _config_with(tmp_path)
    store = Store.open(config.storage.data_dir)
    outbox = Outbox.for_config(store, config.outbox, lambda: 0.0)
    from guarita.adapters.dvr.report import finish_sync, start_sync

    result = start_sync(store, "10234", "DVR-2009-000123", _now())
    finish_sync(config, store, outbox, result, _now())
    assert outbox.depth("detro") == 0
    row = store.db.execute("SELECT status, finished_at FROM dvr_syncs").fetchone()
    assert row == ("ok", _now().timestamp())
    store.close()


# covers PB-06, DT-06, DT-14
def test_dvr_sync_and_status_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from guarita.cli.main import main

    sd = tmp_path / "sd"
    make_dvr_tree(sd, START, {1: "1", 2: "2"}, count=2, seconds=60)
    make_segment(sd / "2" / "20261120083000.mp4", 30)
    config = str(fleet_config(tmp_path, f"file://{sd}"))
    assert main(["dvr", "sync", "10234", "-c", config, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["status"], document["files"], document["dvr_serial"]) == ("ok", 4, "DVR-2009-000123")
    assert document["quarantined"][0]["name"] == "20261120083000.mp4"
    assert main(["dvr", "sync", "10234", "-c", config]) == 0
    text = capsys.readouterr().out
    assert text.startswith("vehicle 10234 (DVR DVR-2009-000123): ok, 0 files archived")
    assert (
        "camera 1 (interior): 2 files in the archive, 2026-11-20 08:00:00 -03:00 → 2026-11-20 08:02:00 -03:00, 0 gaps"
        in text
    )
    assert main(["dvr", "status", "-c", config]) == 0
    status = capsys.readouterr().out
    # Every time shown to a person carries its zone (the logs are UTC)
    assert re.search(r"vehicle 10234 \(DVR DVR-2009-000123\): last sync \d{4}-\d\d-\d\d \d\d:\d\d:\d\d -03:00 ok", status)
    assert "1 quarantined" in status
    assert main(["dvr", "status", "10234", "-c", config, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["quarantined"][0]["reason"].startswith("duration 30.0 s")
    assert main(["dvr", "sync", "99", "-c", config]) == 1
    assert "vehicle '99' is not under fleet.vehicles" in capsys.readouterr().err


# covers PB-06, DT-06, DT-10
async def test_an_ftp_dvr_resumes_a_cut_transfer_with_rest(tmp_path: Path) -> None:
    from guarita.standin.dvr_ftp import DvrFtpServer

    sd = tmp_path / "sd"
    make_dvr_tree(sd, START, {1: "cam1", 2: "cam2"}, count=1, seconds=90)
    target = sd / "cam1" / "20261120080000.mp4"
    size = target.stat().st_size
    (tmp_path / "dvr.pass").write_text("ftp-s3cret\n")
    async with DvrFtpServer(sd, user="dvr", password="ftp-s3cret") as server:
        path = fleet_config(tmp_path, server.url)
        data = json.loads(path.read_text())
        dvr = data["fleet"]["vehicles"]["10234"]["dvr"]
        dvr.update(password_file=str(tmp_path / "dvr.pass"), folders={1: "cam1", 2: "cam2"})
        path.write_text(json.dumps(data))
        config = load_config(path)
        store = Store.open(config.storage.data_dir)
        server.cut_next_transfer(size // 2)
        first = await DvrSync(config, store, None, clock=_now).sync("10234")
        assert first is not None and first.status == "partial" and first.files == 0
        sent = server.bytes_sent
        second = await DvrSync(config, store, None, clock=_now).sync("10234")
        other = (sd / "cam2" / "20261120080000.mp4").stat().st_size
        assert server.bytes_sent - sent == size - size // 2 + other, "the rest only, with REST"
    assert second is not None and second.status == "ok" and second.files == 2
    assert archived(config.storage.data_dir) == {"1": ["20261120080000.mp4"], "2": ["20261120080000.mp4"]}
    final = config.storage.data_dir / "archive" / "10234" / "1" / "20261120080000.mp4"
    assert sha256(final) == sha256(target)
    assert "ftp-s3cret" not in json.dumps(second.as_json("acme", {}))
    store.close()


# covers DT-13, DT-21, PB-06
async def test_telemetry_files_on_the_dvr_are_synced_and_become_positions_and_events(tmp_path: Path) -> None:
    from guarita.metrics import Metrics
    from guarita.quarantine import Quarantine
    from guarita.standin.dvr_media import make_telemetry_lines
    from guarita.telemetry import TelemetryIngest

    sd = tmp_path / "sd"
    make_dvr_tree(sd, START, {1: "1", 2: "2"}, count=1, seconds=60)
    base = START_UTC.timestamp()
    samples = [
        {"ts": base + t, "lat": -22.90 + t / 1e4, "lon": -43.20, "speed_kmh": 40.0, "heading": 90, "odometer_km": 1000,
         "rpm": 1500, "accel_long_mps2": -3.2 if t == 20 else 0.2, "accel_lat_mps2": 0.1}
        for t in range(60)
    ]
    make_telemetry_lines(sd / "telemetry" / "20261120080000.jsonl", samples)
    config = load_config(fleet_config(tmp_path, f"file://{sd}"))
    store = Store.open(config.storage.data_dir)
    outbox = Outbox.for_config(store, config.outbox, lambda: 0.0)
    ingest = TelemetryIngest(config, store, outbox, Quarantine(Metrics()), _now)
    syncer = DvrSync.for_config(config, store, outbox, clock=_now, telemetry=ingest.ingest_file)
    result = await syncer.sync("10234")
    assert result is not None and result.telemetry_files == 1 and result.files == 2
    archived_file = config.storage.data_dir / "archive" / "10234" / "telemetry" / "20261120080000.jsonl"
    assert archived_file.read_bytes() == (sd / "telemetry" / "20261120080000.jsonl").read_bytes()
    assert store.db.execute("SELECT COUNT(*) FROM vehicle_positions WHERE vehicle = '10234'").fetchone() == (60,)
    events = store.db.execute("SELECT type, ts, value, source FROM vehicle_events").fetchall()
    assert events == [("harsh_braking", base + 20, -3.2, "dvr")]
    assert store.db.execute("SELECT samples FROM dvr_telemetry_files").fetchone() == (60,)
    again = await syncer.sync("10234")
    assert again is not None and again.telemetry_files == 0
    assert store.db.execute("SELECT COUNT(*) FROM vehicle_events").fetchone() == (1,)
    store.close()


# covers DT-06, DT-14
def test_coverage_lines_count_one_file_and_one_gap_in_the_singular() -> None:
    from zoneinfo import ZoneInfo

    from guarita.cli.fleet import _coverage_lines

    camera = {"camera": 1, "role": "road", "archived_files": 1, "first": "2026-11-20T11:00:00+00:00",
              "last": "2026-11-20T11:01:00+00:00", "gaps": [["2026-11-20T11:01:00+00:00", "2026-11-20T11:05:00+00:00"]]}
    (line, gap) = _coverage_lines([camera], ZoneInfo("America/Sao_Paulo"))
    assert line.endswith("1 file in the archive, 2026-11-20 08:00:00 -03:00 → 2026-11-20 08:01:00 -03:00, 1 gap")
    assert gap == "    gap 2026-11-20 08:01:00 -03:00 → 2026-11-20 08:05:00 -03:00"
