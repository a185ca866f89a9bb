"""The cloud copy against a real S3 store (SeaweedFS from PyPI, key auth on) and real ffmpeg segments.

Upload from a Frigate-shaped recordings folder, keys and SHA-256 read back; only footage of the
periods the registry shared a camera goes up; resume after the uploader is cancelled mid-run;
the sweeper with an injected clock and legal holds, and the leftovers outside shared periods it
deletes; wrong keys; the config rules.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from harness import FakeClock, share_camera

from guarita import audit
from guarita.cli.main import main
from guarita.cli.cloud import cloud_status
from guarita.config import GuaritaConfig
from guarita.config_loader import load_config
from guarita.consent.registry import Registry
from guarita.errors import ConfigError
from guarita.retention import FootageSource, TimeWindow, add_hold
from guarita.retention._s3 import CloudAuthError, S3Access, open_bucket
from guarita.retention.cloud import CloudUploader, cop_bh_cameras
from guarita.retention.cloud_segments import MediaDirSource
from guarita.standin.dvr_media import make_segment
from guarita.standin.seaweed import SeaweedS3
from guarita.store import Store

pytestmark = pytest.mark.slow

KEY_ENV = "GUARITA_TEST_S3_KEY"
NOW = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
async def s3(tmp_path: Path) -> AsyncIterator[SeaweedS3]:
    async with SeaweedS3(tmp_path / "seaweed") as store:
        yield store


def write_config(tmp_path: Path, s3: SeaweedS3, *, days: int = 7, extra: dict[str, object] | None = None) -> Path:
    secret = tmp_path / "s3-secret"
    secret.write_text(s3.access.secret_key + "\n")
    cloud = {"endpoint": s3.endpoint, "bucket": s3.bucket, "access_key_env": KEY_ENV,
             "secret_key_file": str(secret), "days": days, "concurrency": 3, **(extra or {})}
    data = {
        "provider": {"id": "acme", "name": "ACME", "kind": "security_company",
                     "accreditation": {"date": "2021-03-01"}},
        "storage": {"data_dir": str(tmp_path / "data")},
        "frigate": {"media_dir": str(tmp_path / "media")},
        "programs": {"cop_bh": {"uplink": {"host": "127.0.0.1", "port": 1}}},
        "cameras": {"street": {"programs": ["cop_bh"], "location": {"lat": -19.9, "lon": -43.9}}, "lobby": {},
                    # listed in cop_bh by the config, but the registry never let it go (no client, no consent...)
                    "yard": {"programs": ["cop_bh"], "location": {"lat": -19.9, "lon": -43.9}}},
        "retention": {"cloud": cloud},
    }
    path = tmp_path / "guarita.yaml"
    path.write_text(json.dumps(data))
    return path


def lay_out(media: Path, hours: list[str], per_hour: int, cameras: tuple[str, ...] = ("street", "lobby")) -> list[Path]:
    """Frigate's layout: recordings/YYYY-MM-DD/HH/<camera>/MM.SS.mp4, 10 s apart."""
    files = []
    for hour in hours:
        for camera in cameras:
            for index in range(per_hour):
                files.append(make_segment(media / "recordings" / hour / camera / f"{index // 6:02d}.{index % 6 * 10:02d}.mp4", 10))
    return files


def registry_of(config: GuaritaConfig, store: Store, clock: FakeClock | None = None) -> Registry:
    return Registry.for_config(config, store, clock or FakeClock(NOW))


def uploader(config: GuaritaConfig, store: Store, **kwargs: object) -> CloudUploader:
    assert config.retention.cloud is not None and config.frigate.media_dir is not None
    source = MediaDirSource(config.frigate.media_dir, settle_s=0)
    return CloudUploader(config.retention.cloud, "acme", store, source, lambda: NOW,  # type: ignore[arg-type]
                         cameras=cop_bh_cameras(config), registry=registry_of(config, store), **kwargs)


# covers BH-06
async def test_copies_cop_bh_segments_with_keys_and_sha256(tmp_path: Path, s3: SeaweedS3,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    files = lay_out(tmp_path / "media", ["2026-11-20/10", "2026-11-20/11"], 3)
    monkeypatch.setenv(KEY_ENV, s3.access.access_key)
    config_path = write_config(tmp_path, s3)
    config = load_config(config_path)
    store = Store.open(config.storage.data_dir)
    share_camera(config, store, "street", dt.datetime(2026, 11, 19, 8, 0, tzinfo=dt.UTC))
    report = await uploader(config, store).run_pass()
    assert (report.uploaded, report.already, report.failed, report.cursor) == (6, 0, [], "2026-11-20/12")
    async with open_bucket(s3.access) as bucket:
        keys = await bucket.keys("acme/")
        assert keys == [f"acme/street/2026-11-20/{h}/00.{s}.mp4" for h in ("10", "11") for s in ("00", "10", "20")]
        original = next(f for f in files if f.parts[-4:] == ("2026-11-20", "11", "street", "00.20.mp4"))
        info = await bucket.head("acme/street/2026-11-20/11/00.20.mp4")
        assert info.metadata["sha256"] == hashlib.sha256(original.read_bytes()).hexdigest()
        assert await bucket.read("acme/street/2026-11-20/11/00.20.mp4") == original.read_bytes()
    again = await uploader(config, store).run_pass()
    assert (again.uploaded, again.already) == (0, 0)  # the cursor is past both hours: not walked again
    store.close()
    assert main(["cloud", "status", "-c", str(config_path), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    street = status["cameras"][0]
    assert (street["camera"], street["objects"], street["oldest"], street["newest"]) == (
        "street", 6, "2026-11-20T10:00:00+00:00", "2026-11-20T11:00:20+00:00")
    assert street["shared_periods"] == [{"from": "2026-11-19T08:00:00+00:00", "to": None}]


# covers BH-06
async def test_resumes_after_the_uploader_is_killed(tmp_path: Path, s3: SeaweedS3) -> None:
    lay_out(tmp_path / "media", ["2026-11-20/10"], 30, cameras=("street",))
    config = load_config(write_config(tmp_path, s3, extra={"bandwidth_mbps": 16}), environ={KEY_ENV: s3.access.access_key})
    store = Store.open(config.storage.data_dir)
    share_camera(config, store, "street", dt.datetime(2026, 11, 19, 8, 0, tzinfo=dt.UTC))
    first: list[str] = []
    enough = asyncio.Event()

    def seen(key: str) -> None:
        first.append(key)
        if len(first) >= 8:
            enough.set()

    task = asyncio.create_task(uploader(config, store, observer=seen).run_pass())
    await enough.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    done = {row[0] for row in store.db.execute("SELECT key FROM cloud_objects")}
    assert 8 <= len(done) < 30
    second: list[str] = []
    report = await uploader(config, store, observer=second.append).run_pass()
    assert not done & set(second), "a segment recorded complete was uploaded again"
    assert len(done) + report.uploaded == 30
    async with open_bucket(s3.access) as bucket:
        assert len(await bucket.keys("acme/street/")) == 30
    store.close()


# covers PB-04, BH-06, BH-11
async def test_sweeper_deletes_only_past_policy_and_unheld(tmp_path: Path, s3: SeaweedS3,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    lay_out(tmp_path / "media", ["2026-11-10/10", "2026-11-20/10"], 3, cameras=("street",))
    monkeypatch.setenv(KEY_ENV, s3.access.access_key)
    config_path = write_config(tmp_path, s3, days=8)
    config = load_config(config_path)
    store = Store.open(config.storage.data_dir)
    share_camera(config, store, "street", dt.datetime(2026, 11, 9, 8, 0, tzinfo=dt.UTC))
    assert (await uploader(config, store).run_pass()).uploaded == 6
    held = TimeWindow(dt.datetime(2026, 11, 10, 10, 0, 5, tzinfo=dt.UTC).timestamp(),
                      dt.datetime(2026, 11, 10, 10, 0, 12, tzinfo=dt.UTC).timestamp())
    add_hold(store, FootageSource(camera="street"), held, ref="IP 77/2026", by="ana", at=NOW.timestamp())
    store.close()
    sweep = ["retention", "sweep", "-c", str(config_path), "--now", "2026-11-21T00:00:00+00:00", "--json"]
    # the command line runs its own event loop: give it a thread of its own
    assert await asyncio.to_thread(main, [*sweep, "--dry-run"]) == 0
    dry = json.loads(capsys.readouterr().out)["cloud"]
    assert (dry["deleted_objects"], dry["held_objects"], dry["days"]) == (1, 2, 8)  # 00.00 and 00.10 overlap the hold
    assert await asyncio.to_thread(main, sweep) == 0
    assert json.loads(capsys.readouterr().out)["cloud"]["deleted_objects"] == 1
    async with open_bucket(s3.access) as bucket:
        keys = await bucket.keys("acme/")
    assert "acme/street/2026-11-10/10/00.20.mp4" not in keys and len(keys) == 5
    store = Store.open(config.storage.data_dir)
    actions = [row[0] for row in store.db.execute("SELECT subject FROM audit_log WHERE action = 'retention.sweep'")]
    assert actions == ["cloud_copy"] and audit.verify(store.db)[1] is None
    store.close()
    later = ["retention", "sweep", "-c", str(config_path), "--now", "2026-12-20T00:00:00+00:00"]
    assert await asyncio.to_thread(main, later) == 0
    assert "deleted 3 objects" in capsys.readouterr().out  # the 20 Nov hour; the held two stay


# covers BH-06, BH-07
async def test_wrong_keys_are_a_clear_error(tmp_path: Path, s3: SeaweedS3, caplog: pytest.LogCaptureFixture) -> None:
    lay_out(tmp_path / "media", ["2026-11-20/10"], 1, cameras=("street",))
    config = load_config(write_config(tmp_path, s3), environ={KEY_ENV: s3.access.access_key})
    store = Store.open(config.storage.data_dir)
    wrong = S3Access(s3.endpoint, s3.bucket, "us-east-1", s3.access.access_key, "not-the-secret-key")
    with pytest.raises(CloudAuthError, match="refused Guarita's keys for bucket guarita-test"):
        await uploader(config, store, access=wrong).run_pass()
    assert "not-the-secret-key" not in caplog.text and "not-the-secret-key" not in repr(wrong)
    store.close()


# covers BH-06, BH-07
def test_config_refuses_short_days_plain_http_and_missing_keys(tmp_path: Path) -> None:
    s3 = SeaweedS3(tmp_path)
    s3.endpoint = "http://s3.example.net"
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, s3, days=6, extra={"secret_key_env": "X"}), environ={KEY_ENV: "k"})
    text = str(caught.value)
    assert "retention.cloud.days" in text and "greater than or equal to 7" in text
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, s3, extra={"secret_key_env": "X"}), environ={KEY_ENV: "k"})
    text = str(caught.value)
    assert "is not TLS" in text and "give either secret_key_env or secret_key_file" in text


# covers BH-06, PB-04
async def test_without_the_media_folder_segments_come_through_frigates_api(tmp_path: Path, s3: SeaweedS3) -> None:
    import aiohttp

    from guarita.retention.cloud_segments import FrigateApiSource, hour_of
    from guarita.standin._frigate_recordings import default_clip
    from guarita.standin.frigate_api import make_frigate_app, serve_frigate
    from guarita.standin.frigate_cameras import StandinCamera, StandinCameras

    app = make_frigate_app(StandinCameras(cameras=(StandinCamera(name="street"), StandinCamera(name="lobby"))))
    runner, port = await serve_frigate(app)
    # An hour the stand-in has recorded in full, and a clock 35 s into it: three 10 s segments are done.
    hour = hour_of(dt.datetime.now(dt.UTC).timestamp() - 3600)
    start = dt.datetime.strptime(hour, "%Y-%m-%d/%H").replace(tzinfo=dt.UTC)
    try:
        config = load_config(write_config(tmp_path, s3), environ={KEY_ENV: s3.access.access_key})
        store = Store.open(config.storage.data_dir)
        share_camera(config, store, "street", start - dt.timedelta(hours=2))
        with store.transaction() as db:
            db.execute("INSERT INTO cloud_cursor (source, hour) VALUES ('frigate_api', ?)", (hour,))
        async with aiohttp.ClientSession() as session:
            from guarita.frigate import FrigateClient

            client = FrigateClient(session, f"http://127.0.0.1:{port}")
            source = FrigateApiSource(client, tmp_path / "scratch", first_days=1)
            assert config.retention.cloud is not None
            copier = CloudUploader(config.retention.cloud, "acme", store, source,
                                   lambda: start + dt.timedelta(seconds=35), cameras=cop_bh_cameras(config),
                                   registry=registry_of(config, store))
            report = await copier.run_pass()
        # Frigate also lists the segment that ends as the hour starts (it overlaps the range).
        assert (report.uploaded, report.failed) == (4, [])
        day, hh = hour.split("/")
        before = hour_of(start.timestamp() - 10)
        async with open_bucket(s3.access) as bucket:
            keys = await bucket.keys("acme/")
            assert keys == [f"acme/street/{before}/59.50.mp4",
                            *(f"acme/street/{day}/{hh}/00.{s}.mp4" for s in ("00", "10", "20"))]
            body = await bucket.read(keys[0])
            assert body == default_clip()
            assert (await bucket.head(keys[0])).metadata["sha256"] == hashlib.sha256(body).hexdigest()
        store.close()
    finally:
        await runner.cleanup()


T1 = dt.datetime(2026, 11, 20, 9, 0, 15, tzinfo=dt.UTC)  # consent: mid-segment (00.10 straddles it)
T2 = dt.datetime(2026, 11, 20, 10, 0, 5, tzinfo=dt.UTC)  # revoked: mid-segment again
T3 = dt.datetime(2026, 11, 20, 12, 0, 0, tzinfo=dt.UTC)  # granted again: on a segment's start


def share_revoke_regrant(config: GuaritaConfig, store: Store) -> None:
    """street: shared [T1, T2) and [T3, now); yard: nothing in the registry (no client, consent, attestation, sign)."""
    clock = share_camera(config, store, "street", T1)
    registry = registry_of(config, store, clock)
    clock.now = T2
    registry.revoke("street", by="ana", reason="client withdrew by phone")
    clock.now = T3
    registry.grant("street", client_id="condo-1", evidence=config.storage.data_dir / "consent.pdf", by="ana")


# covers BH-03, BH-06, BH-07, BH-10
async def test_only_segments_wholly_inside_shared_periods_are_uploaded(tmp_path: Path, s3: SeaweedS3) -> None:
    hours = [f"2026-11-20/{h:02d}" for h in range(8, 14)]
    lay_out(tmp_path / "media", hours, 3, cameras=("street", "yard", "lobby"))
    config = load_config(write_config(tmp_path, s3), environ={KEY_ENV: s3.access.access_key})
    store = Store.open(config.storage.data_dir)
    share_revoke_regrant(config, store)
    report = await uploader(config, store).run_pass()
    # Before T1 (08:xx, 09:00:00), straddling T1 (09:00:10) or T2 (10:00:00), revoked (11:xx): not uploaded.
    expected = ["acme/street/2026-11-20/09/00.20.mp4",
                *(f"acme/street/2026-11-20/{h}/00.{s}.mp4" for h in ("12", "13") for s in ("00", "10", "20"))]
    async with open_bucket(s3.access) as bucket:
        assert await bucket.keys("acme/") == expected  # the bucket itself, not only the index
    assert sorted(row[0] for row in store.db.execute("SELECT key FROM cloud_objects")) == expected
    # yard (listed in cop_bh, never consented) is not even listed; street's 11 others are skipped, not retried
    assert (report.uploaded, report.unshared, report.failed, report.cursor) == (7, 11, [], "2026-11-20/14")
    again = await uploader(config, store).run_pass()
    assert (again.uploaded, again.unshared) == (0, 0)
    assert config.retention.cloud is not None
    street, yard = cloud_status(store, registry_of(config, store), cop_bh_cameras(config), NOW.timestamp())
    assert (yard["camera"], yard["objects"], yard["stored_periods"], yard["shared_periods"]) == ("yard", 0, [], [])
    assert street["stored_periods"] == [
        {"from": f"2026-11-20T{h}:00:{a}+00:00", "to": f"2026-11-20T{h}:00:30+00:00"}
        for h, a in (("09", "20"), ("12", "00"), ("13", "00"))]
    assert street["shared_periods"] == [
        {"from": "2026-11-20T09:00:15+00:00", "to": "2026-11-20T10:00:05+00:00"},
        {"from": "2026-11-20T12:00:00+00:00", "to": None}]
    assert street["outside_shared_periods"] == {"objects": 0, "bytes": 0}
    store.close()


async def leave_leftover(s3: SeaweedS3, store: Store, camera: str, start: dt.datetime) -> str:
    """An object and its index row, as the uploader that ignored the registry left them."""
    key = f"acme/{camera}/{start:%Y-%m-%d/%H/%M.%S}.mp4"
    body = f"segment of {camera} at {start.isoformat()}".encode()
    digest = hashlib.sha256(body).hexdigest()
    async with open_bucket(s3.access) as bucket:
        await bucket.put(key, body, digest)
    with store.transaction() as db:
        db.execute("INSERT INTO cloud_objects (key, camera, start_utc, end_utc, size, sha256, uploaded_at) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (key, camera, start.timestamp(), start.timestamp() + 10, len(body), digest, NOW.timestamp()))
    return key


# covers BH-03, BH-06, BH-07, BH-10, BH-11
async def test_sweep_deletes_leftovers_outside_shared_periods_unless_held(
    tmp_path: Path, s3: SeaweedS3, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(KEY_ENV, s3.access.access_key)
    config_path = write_config(tmp_path, s3)
    config = load_config(config_path)
    store = Store.open(config.storage.data_dir)
    share_revoke_regrant(config, store)
    at = [dt.datetime(2026, 11, 20, h, m, tzinfo=dt.UTC) for h, m in ((8, 0), (9, 30), (10, 30), (12, 30), (9, 40))]
    before, inside, revoked, inside_again, held_at = at
    gone = [await leave_leftover(s3, store, "street", before), await leave_leftover(s3, store, "street", revoked),
            await leave_leftover(s3, store, "yard", inside)]
    kept = [await leave_leftover(s3, store, "street", inside), await leave_leftover(s3, store, "street", inside_again),
            await leave_leftover(s3, store, "yard", held_at)]
    add_hold(store, FootageSource(camera="yard"),
             TimeWindow(held_at.timestamp(), held_at.timestamp() + 5), ref="IP 78/2026", by="ana", at=NOW.timestamp())
    store.close()
    assert main(["cloud", "status", "-c", str(config_path)]) == 0
    text = capsys.readouterr().out
    assert ("shared with cop_bh 2026-11-20T09:00:15+00:00 → 2026-11-20T10:00:05+00:00, "
            "2026-11-20T12:00:00+00:00 → now") in text
    assert "2 objects (0.0 MB) lie outside those periods" in text  # street: before and revoked
    sweep = ["retention", "sweep", "-c", str(config_path), "--now", NOW.isoformat(), "--json"]
    assert await asyncio.to_thread(main, [*sweep, "--dry-run"]) == 0
    dry = json.loads(capsys.readouterr().out)["cloud"]
    assert (dry["deleted_unshared_objects"], dry["held_unshared_objects"]) == (3, 1)
    assert await asyncio.to_thread(main, sweep) == 0
    done = json.loads(capsys.readouterr().out)["cloud"]
    assert (done["deleted_objects"], done["deleted_unshared_objects"], done["held_unshared_objects"]) == (3, 3, 1)
    async with open_bucket(s3.access) as bucket:
        assert await bucket.keys("acme/") == sorted(kept)
    store = Store.open(config.storage.data_dir)
    entries = store.db.execute("SELECT subject, details FROM audit_log WHERE action = 'cloud.delete_unshared'").fetchall()
    assert sorted(row[0] for row in entries) == sorted(gone)  # one entry per deleted object, named by its key
    assert json.loads(entries[0][1])["reason"] == "outside every period the camera was shared with cop_bh"
    assert audit.verify(store.db)[1] is None
    assert store.db.execute("SELECT COUNT(*) FROM audit_log WHERE action = 'retention.sweep'").fetchone()[0] == 0
    store.close()
    assert main(["cloud", "status", "-c", str(config_path), "--json"]) == 0
    status = {entry["camera"]: entry for entry in json.loads(capsys.readouterr().out)["cameras"]}
    assert status["street"]["shared_periods"] == [
        {"from": "2026-11-20T09:00:15+00:00", "to": "2026-11-20T10:00:05+00:00"},
        {"from": "2026-11-20T12:00:00+00:00", "to": None}]
    assert (status["street"]["objects"], status["street"]["outside_shared_periods"]["objects"]) == (2, 0)
    assert (status["yard"]["shared_periods"], status["yard"]["outside_shared_periods"]["objects"]) == ([], 1)


# covers BH-03, BH-06, BH-07
async def test_the_run_services_upload_shared_footage_and_sweep_leftovers(tmp_path: Path, s3: SeaweedS3) -> None:
    from guarita.retention.cloud_service import CloudService
    from harness import wait_for

    for path in lay_out(tmp_path / "media", ["2026-11-20/10"], 3, cameras=("street", "yard")):
        os.utime(path, (NOW.timestamp(), NOW.timestamp()))  # written long ago: settled for the service's 15 s
    config = load_config(write_config(tmp_path, s3), environ={KEY_ENV: s3.access.access_key})
    assert config.retention.cloud is not None
    store = Store.open(config.storage.data_dir)
    share_camera(config, store, "street", dt.datetime(2026, 11, 19, 8, 0, tzinfo=dt.UTC))
    leftover = await leave_leftover(s3, store, "yard", dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC))
    service = CloudService(config, config.retention.cloud, store, lambda: NOW)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(service.run_uploads(stop)), asyncio.create_task(service.run_sweeps(stop))]
    expected = [f"acme/street/2026-11-20/10/00.{s}.mp4" for s in ("00", "10", "20")]

    def settled() -> bool:
        keys = sorted(row[0] for row in store.db.execute("SELECT key FROM cloud_objects"))
        return keys == expected

    try:
        await wait_for(settled)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    async with open_bucket(s3.access) as bucket:
        assert await bucket.keys("acme/") == expected  # yard's files never went up; its leftover is gone
    subjects = [row[0] for row in store.db.execute("SELECT subject FROM audit_log WHERE action = 'cloud.delete_unshared'")]
    assert subjects == [leftover]
    store.close()
