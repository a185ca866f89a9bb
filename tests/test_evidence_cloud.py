"""Evidence from the cloud copy when Frigate cannot export the window.

Real parts: SeaweedFS (key auth on), ffmpeg-made 10 s segments uploaded by ``CloudUploader`` from a
Frigate-shaped media folder, ffmpeg concat/cut/mask, Ed25519, the ``guarita`` command line, and a
Frigate that is unreachable (a free port) or whose own retention already deleted the window (the
stand-in answering ``400 No recordings found``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from guarita.cli.main import main
from guarita.config import GuaritaConfig
from guarita.config_loader import load_config
from guarita.frigate import FrigateClient
from guarita.retention._s3 import open_bucket
from guarita.retention._signing import public_pem, signing_key
from guarita.retention.bundle import verify_bundle
from guarita.retention.evidence import EvidenceError, RequestType, approve_request, record_request
from guarita.retention.evidence_export import export_request
from guarita.retention.footage import FootageSource, TimeWindow
from guarita.retention.holds import list_holds
from guarita.standin.frigate_api import make_frigate_app, serve_frigate
from guarita.standin.frigate_cameras import StandinCamera, StandinCameras
from guarita.standin.mosquitto import free_port
from guarita.standin.seaweed import SeaweedS3
from guarita.store import Store
from harness import share_camera
from test_cloud import KEY_ENV, lay_out, uploader, write_config
from test_evidence import LEFT_HALF, left_and_right_pixels

pytestmark = pytest.mark.slow

HOUR = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
PREFIX = "acme/street/2026-11-20/10/"


@pytest.fixture
async def s3(tmp_path: Path) -> AsyncIterator[SeaweedS3]:
    async with SeaweedS3(tmp_path / "seaweed") as store:
        yield store


async def uploaded_config(tmp_path: Path, s3: SeaweedS3, frigate_port: int) -> tuple[Path, GuaritaConfig]:
    """street (cop_bh, left half masked): 10:00:00–10:01:00 UTC in six objects; Frigate at ``frigate_port``."""
    path = write_config(tmp_path, s3)
    data = json.loads(path.read_text())
    data["frigate"]["url"] = f"http://127.0.0.1:{frigate_port}"
    data["cameras"]["street"]["privacy_masks"] = [LEFT_HALF]
    path.write_text(json.dumps(data))
    config = load_config(path, environ={KEY_ENV: s3.access.access_key})
    lay_out(tmp_path / "media", ["2026-11-20/10"], 6, cameras=("street",))
    store = Store.open(config.storage.data_dir)
    share_camera(config, store, "street", HOUR - dt.timedelta(days=1))  # only footage of a shared period goes up
    assert (await uploader(config, store).run_pass()).uploaded == 6
    store.close()
    return path, config


def at(seconds: int) -> str:
    return (HOUR + dt.timedelta(seconds=seconds)).isoformat()


# covers BH-06, BH-07, BH-08, BH-11
async def test_frigate_unreachable_the_cloud_copy_is_exported_masked_and_verifiable(
    tmp_path: Path, s3: SeaweedS3, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(KEY_ENV, s3.access.access_key)
    path, config = await uploaded_config(tmp_path, s3, free_port())
    request = ["evidence", "request", "-c", str(path), "--type", "police_authority", "--ref", "IP 9/2026",
               "--requester", "DHPP", "--camera", "street", "--from", at(15), "--to", at(45), "--by", "ana"]
    bundle = tmp_path / "bundle"
    for argv in (request, ["evidence", "approve", "1", "-c", str(path), "--by", "bruno"],
                 ["evidence", "export", "1", "-c", str(path), "-o", str(bundle), "--by", "carla"]):
        assert await asyncio.to_thread(main, argv) == 0, capsys.readouterr().err  # the CLI runs its own loop
    capsys.readouterr()

    manifest = json.loads((bundle / "manifest.json").read_text())
    [entry] = manifest["files"]
    store = Store.open(config.storage.data_dir)
    recorded = dict(store.db.execute("SELECT key, sha256 FROM cloud_objects"))
    keys = [f"{PREFIX}00.{s}.mp4" for s in ("10", "20", "30", "40")]
    assert (entry["source"], entry["camera"], entry["path"]) == ("cloud", "street", "clips/street/cloud-20261120T100015Z.mp4")
    assert entry["cloud_objects"] == [{"key": key, "sha256": recorded[key]} for key in keys]
    assert 29 <= entry["duration_s"] <= 31 and entry["privacy_masks"] == [LEFT_HALF]
    step = manifest["custody"][-1]
    assert (step["action"], step["by"], step["cloud_objects"]) == ("export", "carla", {"street": keys})
    assert [hold.source.camera for hold in list_holds(store.db) if hold.evidence_request == 1] == ["street"]
    store.close()

    masked_left, masked_right = left_and_right_pixels(bundle / entry["path"])
    assert max(masked_left) < 20 and max(masked_right) > 40, "street's mask is burned into the cloud clip"
    assert verify_bundle(bundle, public_pem(signing_key(config.storage.data_dir))).ok
    assert await asyncio.to_thread(main, ["evidence", "verify", str(bundle)]) == 3  # consistent; signer unproven without --pubkey


# covers BH-06, BH-07, BH-08
async def test_a_gap_or_a_tampered_object_in_the_cloud_copy_is_refused_by_name(tmp_path: Path, s3: SeaweedS3) -> None:
    # Frigate's own retention (7 days) deleted 20 Nov long before this clock: it has no recordings.
    app = make_frigate_app(StandinCameras(cameras=(StandinCamera(name="street"),)),
                           clock=lambda: HOUR + dt.timedelta(days=30))
    runner, port = await serve_frigate(app)
    _, config = await uploaded_config(tmp_path, s3, port)
    store = Store.open(config.storage.data_dir)
    gap, tampered = (record_request(store, request_type=RequestType.JUDICIARY, ref=ref, requester="1ª Vara",
                                    sources=[FootageSource(camera="street")],
                                    window=TimeWindow((HOUR + dt.timedelta(seconds=a)).timestamp(),
                                                      (HOUR + dt.timedelta(seconds=b)).timestamp()),
                                    by="ana", at=HOUR.timestamp())
                     for ref, a, b in (("gap", 50, 80), ("tampered", 5, 25)))
    for request in (gap, tampered):
        approve_request(store, request.id, by="bruno", at=HOUR.timestamp())
    async with open_bucket(s3.access) as bucket:
        await bucket.put(f"{PREFIX}00.10.mp4", b"not the uploaded segment", "0" * 64)
    now = HOUR + dt.timedelta(days=30)
    try:
        async with aiohttp.ClientSession() as session:
            frigate = FrigateClient(session, f"http://127.0.0.1:{port}")
            with pytest.raises(EvidenceError) as caught:
                await export_request(store, config, gap.id, tmp_path / "gap", by="carla", now=now, frigate=frigate,
                                     cloud=s3.access)
            assert "Frigate could not export camera street" in str(caught.value)
            assert ("does not cover camera street's window 2026-11-20T10:00:50+00:00 → 2026-11-20T10:01:20+00:00: "
                    "missing 2026-11-20T10:01:00+00:00 → 2026-11-20T10:01:20+00:00") in str(caught.value)
            with pytest.raises(EvidenceError, match=f"cloud object {PREFIX}00.10.mp4 no longer matches the SHA-256"):
                await export_request(store, config, tampered.id, tmp_path / "tampered", by="carla", now=now,
                                     frigate=frigate, cloud=s3.access)
    finally:
        await runner.cleanup()
    assert not (tmp_path / "gap").exists() and not (tmp_path / "tampered").exists()
    assert list_holds(store.db) == []
    store.close()
