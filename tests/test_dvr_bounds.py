"""What a broken or hostile DVR can do to the garage server: every read is bounded.

A file is never written past its listed size, and must arrive in a time limit; listings and
checksum sidecars are read up to a cap; empty and special files are refused; a camera
folder that cannot be listed fails the pass (and the bus is not counted as monitored); a
pass's row is closed however it ends; the DETRO report stays under 64 KiB.

Real parts: the DVR HTTP stand-in in its hostile modes, the FTP stand-in, a mounted folder
with a FIFO and a device node, ffmpeg-made segments, SQLite.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import stat
import time
from pathlib import Path

import pytest

from guarita.adapters.dvr import fetch as fetch_module
from guarita.adapters.dvr import sync as sync_module
from guarita.adapters.dvr.arrival import DvrPoller
from guarita.adapters.dvr.fetch import fetch_to_part
from guarita.adapters.dvr.http_source import HttpDvrSource
from guarita.adapters.dvr.names import unsafe_name_reason
from guarita.adapters.dvr.rate import RateLimiter
from guarita.adapters.dvr.report import REPORT_MAX_BYTES, SyncResult, finish_sync, start_sync
from guarita.adapters.dvr.source import LISTING_MAX_BYTES
from guarita.adapters.dvr.sync import DvrSync
from guarita.config_loader import load_config
from guarita.errors import DvrFolderMissing, DvrTransferError
from guarita.reports.compliance import compliance_report
from guarita.standin.dvr_http import DvrHttpServer
from guarita.standin.dvr_media import make_dvr_tree, write_checksum_sidecar
from guarita.store import Store
from test_dvr_sync import START, _now, archived, assert_valid_report, fleet_config

NAME = "20261120080000.mp4"
NEXT = "20261120080100.mp4"
MiB = 1 << 20
# Cut off, not endless: a generous bound, since reading 4 MiB of FTP listing line by line takes
# seconds on a busy 2-core machine.
BOUNDED_S = 60.0


def _rows(store: Store) -> list[tuple[str, str | None]]:
    return store.db.execute("SELECT status, finished_at FROM dvr_syncs ORDER BY id").fetchall()


# covers PB-06, DT-06
async def test_a_body_longer_than_listed_stops_at_the_listed_size_and_is_quarantined(tmp_path: Path) -> None:
    sd = tmp_path / "sd"
    make_dvr_tree(sd, START, {1: "1", 2: "2"}, count=2, seconds=60)
    endless, longer = sd / "1" / NAME, sd / "2" / NAME
    async with DvrHttpServer(sd, listing="nginx-json") as server:
        server.extra_body = {f"1/{NAME}": None, f"2/{NAME}": 2 * MiB}  # endless, and 2 MiB too many
        config = load_config(fleet_config(tmp_path, server.url))
        store = Store.open(config.storage.data_dir)
        began = time.monotonic()
        result = await DvrSync(config, store, None, clock=_now).sync("10234")
        elapsed = time.monotonic() - began
        sent = server.bytes_sent
    assert result is not None and result.status == "ok"
    assert elapsed < BOUNDED_S, f"an endless body held the pass {elapsed:.0f} s"
    # The server got to send at most a few socket buffers past the listed bytes, not gigabytes.
    listed = sum(p.stat().st_size for p in sd.rglob("*.mp4"))
    assert sent < listed + 2 * MiB + 16 * MiB
    quarantine = config.storage.data_dir / "quarantine" / "dvr" / "10234"
    for folder, original in (("1", endless), ("2", longer)):
        kept = quarantine / folder / NAME
        assert kept.stat().st_size == original.stat().st_size, "nothing written past the listed size"
        assert kept.read_bytes() == original.read_bytes()
        reason = json.loads((quarantine / folder / f"{NAME}.reason.json").read_text())["reason"]
        assert f"served more than the listed {original.stat().st_size} bytes" in reason
    assert archived(config.storage.data_dir) == {"1": [NEXT], "2": [NEXT]}, "the next file goes on"
    assert not list((config.storage.data_dir / "dvr_partial").rglob("*.part"))
    assert_valid_report(result.as_json("acme", {1: "interior", 2: "front"}))
    store.close()


# covers PB-06, DT-06
async def test_a_file_slower_than_its_time_limit_stops_keeps_its_part_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sd = tmp_path / "sd"
    (original,) = make_dvr_tree(sd, START, {1: "1"}, count=1, seconds=60)
    size = original.stat().st_size
    part = tmp_path / "x.part"
    monkeypatch.setattr(fetch_module, "MIN_FILE_TIME_S", 0.3)
    async with DvrHttpServer(sd) as server, HttpDvrSource(server.url) as source:
        # The DVR trickles (50 kB/s) while at least 1 MB/s is required: the limit is 0.3 s + size/1 MB/s.
        trickle = RateLimiter(50_000)
        began = time.monotonic()
        with pytest.raises(DvrTransferError, match=r"not complete after \d+ s .*next pass resumes it"):
            await fetch_to_part(source, "1", NAME, part, size, limiter=trickle, min_rate=1_000_000)
        assert time.monotonic() - began < 0.3 + size / 1_000_000 + 3
        assert 0 < part.stat().st_size < size, "what came is kept for the next pass"
        done = await fetch_to_part(source, "1", NAME, part, size, min_rate=1_000_000)
    assert done.size == size and part.read_bytes() == original.read_bytes() and done.resumed_from > 0


# covers PB-06, DT-10
async def test_an_endless_listing_is_cut_off_at_the_cap_and_fails_the_pass_for_its_camera(tmp_path: Path) -> None:
    sd = tmp_path / "sd"
    make_dvr_tree(sd, START, {1: "1", 2: "2"}, count=1, seconds=60)
    async with DvrHttpServer(sd) as server:
        server.endless_listing = True
        async with HttpDvrSource(server.url) as source:
            began = time.monotonic()
            with pytest.raises(DvrTransferError, match=f"larger than {LISTING_MAX_BYTES} bytes; refused"):
                await source.list_folder("1")
            assert time.monotonic() - began < 10
        assert server.bytes_sent < LISTING_MAX_BYTES + 16 * MiB, "reading stopped at the cap"
        config = load_config(fleet_config(tmp_path, server.url))
        store = Store.open(config.storage.data_dir)
        result = await DvrSync(config, store, None, clock=_now).sync("10234")
    assert result is not None and result.status == "failed"
    document = result.as_json("acme", {1: "interior", 2: "front"})
    assert all("larger than" in camera["error"] for camera in document["cameras"])
    assert_valid_report(document)
    store.close()


# covers PB-06, DT-06
async def test_an_endless_checksum_sidecar_is_cut_off_and_its_file_refused(tmp_path: Path) -> None:
    sd = tmp_path / "sd"
    make_dvr_tree(sd, START, {1: "1", 2: "2"}, count=1, seconds=60)
    write_checksum_sidecar(sd / "1" / NAME)
    write_checksum_sidecar(sd / "2" / NAME)
    async with DvrHttpServer(sd, listing="nginx-html") as server:
        server.extra_body = {f"1/{NAME}.sha256": None}
        config = load_config(fleet_config(tmp_path, server.url))
        store = Store.open(config.storage.data_dir)
        began = time.monotonic()
        result = await DvrSync(config, store, None, clock=_now).sync("10234")
        assert time.monotonic() - began < BOUNDED_S
    assert result is not None and result.status == "ok"
    (refused,) = result.quarantined
    assert (refused["folder"], refused["name"]) == ("1", NAME)
    assert "checksum file" in refused["reason"] and "larger than 1024 bytes" in refused["reason"]
    assert archived(config.storage.data_dir) == {"2": [NAME]}
    store.close()


# covers PB-06, DT-03, DT-06
@pytest.mark.parametrize("status", [404, 500])
async def test_a_dvr_that_cannot_list_its_camera_folders_is_a_failed_pass_not_a_monitored_bus(
    tmp_path: Path, status: int
) -> None:
    sd = tmp_path / "sd"
    make_dvr_tree(sd, START, {1: "1", 2: "2"}, count=1, seconds=60)
    async with DvrHttpServer(sd) as server:
        server.folder_status = status
        config = load_config(fleet_config(tmp_path, server.url))
        store = Store.open(config.storage.data_dir)
        result = await DvrSync(config, store, None, clock=_now).sync("10234")
    assert result is not None and result.status == "failed" and result.files == 0
    document = result.as_json("acme", {1: "interior", 2: "front"})
    assert [(c["camera"], str(status) in c["error"]) for c in document["cameras"]] == [(1, True), (2, True)]
    assert "camera 1 (folder '1') could not be listed" in (document["detail"] or "")
    assert_valid_report(document)
    assert _rows(store)[0][0] == "failed"
    day = _now().astimezone(dt.timezone(dt.timedelta(hours=-3))).date()
    (vehicle,) = compliance_report(config, store.db, day).vehicles
    assert not vehicle.monitored, "a pass that listed no camera does not make the bus monitored"
    assert vehicle.status.startswith("no: every DVR pass failed: camera 1 (folder '1') could not be listed")
    # A parked bus polled again with the same failure records (and reports) it once, not every poll.
    async with DvrHttpServer(sd, port=server.port) as again:
        again.folder_status = status
        poller_sync = DvrSync(config, store, None, clock=_now)
        assert (await poller_sync.sync("10234", record_empty=False)) is not None, "a new failure is recorded"
        assert (await poller_sync.sync("10234", record_empty=False)) is None
    assert len(_rows(store)) == 2
    store.close()


# covers PB-06
async def test_a_missing_folder_is_named_by_every_source(tmp_path: Path) -> None:
    from guarita.adapters.dvr.folder_source import FolderDvrSource
    from guarita.adapters.dvr.ftp_source import FtpDvrSource
    from guarita.standin.dvr_ftp import DvrFtpServer

    sd = tmp_path / "sd"
    make_dvr_tree(sd, START, {1: "1"}, count=1, seconds=60)
    with pytest.raises(DvrFolderMissing, match="'9' is not on the card"):
        await FolderDvrSource(sd).list_folder("9")
    async with DvrHttpServer(sd) as server, HttpDvrSource(server.url) as http:
        with pytest.raises(DvrFolderMissing, match="404"):
            await http.list_folder("9")
    async with DvrFtpServer(sd, user="dvr", password="pw") as ftp_server:
        async with FtpDvrSource(ftp_server.url, password="pw") as ftp:
            with pytest.raises(DvrFolderMissing, match="folder '9' is not there"):
                await ftp.list_folder("9")
            assert [e.name for e in await ftp.list_folder("1")] == [NAME], "the connection still works"


def _special_files(folder: Path) -> list[str]:
    """An empty file, a FIFO and (where allowed) a device node that reads zeros without end."""
    (folder / "20261120081000.mp4").write_bytes(b"")
    os.mkfifo(folder / "20261120081100.mp4")
    made = ["20261120081000.mp4", "20261120081100.mp4"]
    try:
        os.mknod(folder / "20261120081200.mp4", stat.S_IFCHR | 0o644, os.makedev(1, 5))  # like /dev/zero
        made.append("20261120081200.mp4")
    except PermissionError:
        pass
    return made


# covers PB-06, DT-10
async def test_empty_files_fifos_and_device_nodes_on_a_card_are_refused_and_later_passes_go_on(
    tmp_path: Path,
) -> None:
    sd = tmp_path / "sd"
    make_dvr_tree(sd, START, {1: "1", 2: "2"}, count=1, seconds=60)
    special = _special_files(sd / "1")
    config = load_config(fleet_config(tmp_path, f"file://{sd}"))
    store = Store.open(config.storage.data_dir)
    sync = DvrSync(config, store, None, clock=_now)
    first = await asyncio.wait_for(sync.sync("10234"), 60)
    assert first is not None and first.status == "ok", first.detail
    reasons = {q["name"]: q["reason"] for q in first.quarantined}
    assert set(reasons) == set(special)
    assert reasons["20261120081000.mp4"] == "empty file (0 bytes): no recording in it"
    assert "is a FIFO (named pipe), not a regular file" in reasons["20261120081100.mp4"]
    if "20261120081200.mp4" in reasons:
        assert "is a character device node" in reasons["20261120081200.mp4"]
    assert archived(config.storage.data_dir) == {"1": [NAME], "2": [NAME]}
    make_dvr_tree(sd, START + dt.timedelta(minutes=1), {1: "1"}, count=1, seconds=60)
    second = await asyncio.wait_for(sync.sync("10234"), 60)
    assert second is not None and second.status == "ok" and second.files == 1 and not second.quarantined
    assert [row[0] for row in _rows(store)] == ["ok", "ok"]
    store.close()


# covers PB-06
@pytest.mark.parametrize("kind", ["http", "ftp"])
async def test_an_empty_file_over_the_network_is_refused_and_the_rest_is_synced(tmp_path: Path, kind: str) -> None:
    from guarita.standin.dvr_ftp import DvrFtpServer

    sd = tmp_path / "sd"
    make_dvr_tree(sd, START, {1: "1", 2: "2"}, count=1, seconds=60)
    (sd / "1" / "20261120081000.mp4").write_bytes(b"")
    server: DvrHttpServer | DvrFtpServer = DvrHttpServer(sd) if kind == "http" else DvrFtpServer(
        sd, user="dvr", password="pw"
    )
    (tmp_path / "dvr.pass").write_text("pw\n")
    async with server:
        path = fleet_config(tmp_path, server.url)
        data = json.loads(path.read_text())
        data["fleet"]["vehicles"]["10234"]["dvr"]["password_file"] = str(tmp_path / "dvr.pass")
        path.write_text(json.dumps(data))
        config = load_config(path)
        store = Store.open(config.storage.data_dir)
        result = await DvrSync(config, store, None, clock=_now).sync("10234")
        again = await DvrSync(config, store, None, clock=_now).sync("10234")
    assert result is not None and result.status == "ok" and result.files == 2
    assert [q["reason"] for q in result.quarantined] == ["empty file (0 bytes): no recording in it"]
    assert again is not None and again.status == "ok" and not again.quarantined, "refused once, not every pass"
    store.close()


# covers PB-06
async def test_a_pass_that_hits_an_unexpected_error_is_closed_failed_and_the_cli_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from guarita.cli.main import main

    sd = tmp_path / "sd"
    make_dvr_tree(sd, START, {1: "1", 2: "2"}, count=1, seconds=60)
    config_path = fleet_config(tmp_path, f"file://{sd}")

    async def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sync_module, "fetch_to_part", disk_full)
    code = await asyncio.to_thread(main, ["dvr", "sync", "10234", "-c", str(config_path)])
    captured = capsys.readouterr()
    assert code == 4
    assert "failed: OSError: [Errno 28] No space left on device" in captured.out
    assert "store could not be used" not in captured.out + captured.err
    store = Store.open(load_config(config_path).storage.data_dir)
    assert [row[0] for row in _rows(store)] == ["failed"]
    store.close()


# covers PB-06
async def test_a_cancelled_pass_is_closed_and_a_row_left_running_is_closed_at_start(tmp_path: Path) -> None:
    sd = tmp_path / "sd"
    make_dvr_tree(sd, START, {1: "1", 2: "2"}, count=2, seconds=60)
    config = load_config(fleet_config(tmp_path, f"file://{sd}", extra_fleet={"bandwidth_mbps": 0.4}))
    store = Store.open(config.storage.data_dir)
    sync = DvrSync.for_config(config, store, None, clock=_now)
    task = asyncio.create_task(sync.sync("10234"))
    await asyncio.sleep(1.0)  # 50 kB/s: still fetching the first files
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    ((status, finished),) = _rows(store)
    assert status == "partial" and finished is not None
    # A process killed mid-pass leaves its row running; the next start of the poller closes it.
    start_sync(store, "10234", "DVR-2009-000123", _now())
    assert config.fleet is not None
    stop = asyncio.Event()
    stop.set()
    await DvrPoller(DvrSync(config, store, None, clock=_now), config.fleet).run(stop)
    assert [row[0] for row in _rows(store)][:2] == ["partial", "failed"]
    assert sync.close_interrupted() == 0
    store.close()


# covers PB-06, DT-06
def test_a_report_of_100000_bad_names_stays_under_64_kib_with_counts(tmp_path: Path) -> None:
    config = load_config(fleet_config(tmp_path, "http://127.0.0.1:1/dvr/"))
    store = Store.open(config.storage.data_dir)
    result = start_sync(store, "10234", "DVR-2009-000123", _now())
    for index in range(100_000):
        name = f"../evil-{index:06d}-" + "x" * 200 + ".mp4"
        reason = unsafe_name_reason(name)
        assert reason is not None
        result.add_quarantined("1", name, reason, 10)
    result.add_quarantined("2", "clip.mp4", "name is not yyyymmddhhmmss.mp4 with a real date and time (DT-10)", 7)
    finish_sync(config, store, None, result, _now())
    document = result.as_json("acme", {1: "interior", 2: "front"})
    wire = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
    assert len(wire) <= REPORT_MAX_BYTES
    assert document["quarantined_total"] == 100_001
    assert document["quarantined_more"] == 100_001 - len(document["quarantined"])
    assert 0 < len(document["quarantined"]) <= 100
    assert sum(document["quarantined_by_reason"].values()) == 100_001
    assert document["quarantined_by_reason"]["name '…' contains a path separator"] == 100_000
    assert_valid_report(document)
    stored = store.db.execute("SELECT detail FROM dvr_syncs").fetchone()[0]
    assert len(stored.encode()) <= REPORT_MAX_BYTES + 1024
    store.close()


# covers PB-06
def test_the_report_keeps_many_gaps_under_the_cap(tmp_path: Path) -> None:
    from guarita.adapters.dvr.archive import Coverage

    result = SyncResult(vehicle="10234", dvr_serial="DVR-1", sync_id=1, started_at=0.0, finished_at=1.0)
    gaps = tuple((float(i * 600), float(i * 600 + 300)) for i in range(2000))
    result.coverage = [Coverage(n, 2001, 1, 0.0, 2000 * 600.0, gaps) for n in (1, 2)]
    document = result.as_json("acme", {1: "interior", 2: "front"})
    assert len(json.dumps(document, separators=(",", ":")).encode()) <= REPORT_MAX_BYTES
    camera = document["cameras"][0]
    assert camera["gaps_more"] + len(camera["gaps"]) == 2000 and camera["gaps"][-1][1] == "1970-01-14T21:15:00Z"
    assert_valid_report(document)


# covers PB-06, DT-06
async def test_an_ftp_dvr_that_sends_without_end_is_cut_off_at_the_listed_size_and_the_listing_cap(
    tmp_path: Path,
) -> None:
    from guarita.adapters.dvr.ftp_source import FtpDvrSource
    from guarita.standin.dvr_ftp import DvrFtpServer

    sd = tmp_path / "sd"
    make_dvr_tree(sd, START, {1: "1", 2: "2"}, count=1, seconds=60)
    (tmp_path / "dvr.pass").write_text("pw\n")
    async with DvrFtpServer(sd, user="dvr", password="pw") as server:
        server.endless_body(NAME)  # both cameras' files go on past their listed size
        path = fleet_config(tmp_path, server.url)
        data = json.loads(path.read_text())
        data["fleet"]["vehicles"]["10234"]["dvr"]["password_file"] = str(tmp_path / "dvr.pass")
        path.write_text(json.dumps(data))
        config = load_config(path)
        store = Store.open(config.storage.data_dir)
        began = time.monotonic()
        result = await DvrSync(config, store, None, clock=_now).sync("10234")
        assert time.monotonic() - began < BOUNDED_S
        assert result is not None and result.status == "ok" and result.files == 0
        for entry in result.quarantined:
            listed = (sd / entry["folder"] / NAME).stat().st_size
            assert entry["size"] == listed and f"served more than the listed {listed} bytes" in entry["reason"]
        assert len(result.quarantined) == 2
        server.endless_listing()
        async with FtpDvrSource(server.url, password="pw") as source:
            began = time.monotonic()
            with pytest.raises(DvrTransferError, match=f"larger than {LISTING_MAX_BYTES} bytes; refused"):
                await source.list_folder("1")
            assert time.monotonic() - began < BOUNDED_S
    store.close()


# covers PB-06
def test_the_worst_report_still_fits_64_kib() -> None:
    from guarita.adapters.dvr.archive import Coverage

    result = SyncResult(vehicle="10234", dvr_serial="DVR-1", sync_id=1, started_at=0.0, finished_at=1.0)
    gaps = tuple((float(i * 600), float(i * 600 + 300)) for i in range(500))
    result.coverage = [Coverage(n, 501, 1, 0.0, 500 * 600.0, gaps) for n in range(1, 65)]
    for camera in range(1, 65):
        result.camera_unlisted(camera, str(camera), "x" * 1000)
    for index in range(1000):
        result.add_quarantined("1", f"{index}" + "y" * 400, f"reason {'z' * index}", None)
    document = result.as_json("acme", dict.fromkeys(range(1, 65), "other"))
    assert len(json.dumps(document, separators=(",", ":")).encode()) <= REPORT_MAX_BYTES
    assert document["quarantined_total"] == 1000 and len(document["detail"]) <= 2000
    assert_valid_report(document)
