"""Evidence requests end to end: from a real DVR archive to a signed, masked bundle a court can verify.

Real parts: ffmpeg-made H.264 segments synced by DvrSync from a mounted-card DVR, SQLite,
ffmpeg masking, Ed25519 from ``cryptography``, the ``guarita`` command line.
"""

from __future__ import annotations

import datetime as dt
import json
import stat
import subprocess
from pathlib import Path

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from guarita import audit
from guarita.adapters.dvr.sync import DvrSync
from guarita.cli.main import main
from guarita.cli.evidence import SIGNER_UNPROVEN
from guarita.config import GuaritaConfig
from guarita.config_loader import load_config
from guarita.frigate import FrigateClient
from guarita.retention._signing import KEY_FILE, fingerprint, public_pem, signing_key
from guarita.retention.bundle import file_sha256, verify_bundle, write_bundle
from guarita.retention.evidence import RequestType, approve_request, record_request
from guarita.retention.evidence_export import export_request
from guarita.retention.footage import FootageSource, TimeWindow
from guarita.retention.holds import list_holds, place_hold
from guarita.standin.dvr_media import make_dvr_tree
from guarita.standin.frigate_api import FRIGATE_STANDIN, make_frigate_app, serve_frigate
from guarita.standin.frigate_cameras import StandinCamera, StandinCameras
from guarita.standin.mosquitto import free_port
from guarita.store import Store

START = dt.datetime(2026, 11, 20, 8, 0, 0)  # DVR clock, America/Sao_Paulo (UTC-3)
LEFT_HALF = "0,0,0.5,0,0.5,1,0,1"


def write_config(tmp_path: Path, dvr_root: Path) -> Path:
    path = tmp_path / "guarita.yaml"
    dvr = {"serial": "DVR-1", "source": f"file://{dvr_root}", "cameras": {1: "interior", 2: "front"},
           "privacy_masks": {1: [LEFT_HALF]}}
    data = {
        "provider": {"id": "acme", "name": "ACME Ônibus", "kind": "bus_operator"},
        "storage": {"data_dir": str(tmp_path / "data")},
        "cameras": {"portaria": {}},
        "fleet": {"vehicles": {"10234": {"plate": "KXY1A23", "dvr": dvr}}},
    }
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
async def archive(tmp_path: Path) -> Path:
    """A config whose data_dir holds two cameras × two 60 s segments, synced from the DVR."""
    root = tmp_path / "dvr"
    make_dvr_tree(root, START, {1: "1", 2: "2"}, count=2, seconds=60)
    config_path = write_config(tmp_path, root)
    config = load_config(config_path)
    store = Store.open(config.storage.data_dir)
    syncer = DvrSync.for_config(config, store, None, clock=lambda: dt.datetime(2026, 11, 21, tzinfo=dt.UTC))
    result = await syncer.sync("10234")
    assert result is not None and result.files == 4
    store.close()
    return config_path


def cli(config: Path, *argv: str) -> int:
    return main([*argv[:2], "-c", str(config), *argv[2:]])


def request_args(config: Path, request_type: str = "judiciary") -> list[str]:
    return ["evidence", "request", "-c", str(config), "--type", request_type, "--ref", "Proc. 5001234-56.2026",
            "--requester", "2ª Vara Criminal de Niterói", "--vehicle", "10234", "--camera-number", "1",
            "--vehicle", "10234", "--camera-number", "2", "--from", "2026-11-20T08:00:30", "--to",
            "2026-11-20T08:01:30", "--by", "ana"]


def left_and_right_pixels(clip: Path) -> tuple[tuple[int, ...], tuple[int, ...]]:
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(clip), "-frames:v", "1", "-f", "rawvideo", "-pix_fmt",
                          "rgb24", "-"], capture_output=True, check=True).stdout
    width = 160
    row = 60 * width * 3
    return tuple(raw[row + 20 * 3: row + 20 * 3 + 3]), tuple(raw[row + 140 * 3: row + 140 * 3 + 3])


# covers BH-08, DT-04
def test_unlisted_requester_types_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, tmp_path)
    for refused in ("press", "public", "other_company", "lawyer"):
        assert main(request_args(config, refused)) == 1
        err = capsys.readouterr().err
        assert f"request type '{refused}' refused" in err and "BH-08" in err and "DT-04" in err
    assert not (tmp_path / "data" / "guarita.db").exists()  # refused before the store is even opened


# covers BH-08, BH-11, DT-04, DT-06, BH-07
@pytest.mark.slow
def test_full_flow_masks_signs_holds_and_verifies(archive: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    config = archive
    assert main([*request_args(config), "--json"]) == 0
    request = json.loads(capsys.readouterr().out)
    assert (request["id"], request["status"]) == (1, "requested")
    bundle = tmp_path / "bundle"
    assert main(["evidence", "export", "1", "-c", str(config), "-o", str(bundle)]) == 1
    assert "not approved yet" in capsys.readouterr().err
    assert main(["evidence", "approve", "1", "-c", str(config), "--by", "ANA"]) == 1
    assert "someone else must approve it" in capsys.readouterr().err
    assert main(["evidence", "approve", "1", "-c", str(config), "--by", "bruno"]) == 0
    assert main(["evidence", "export", "1", "-c", str(config), "-o", str(bundle), "--by", "carla"]) == 0
    capsys.readouterr()

    manifest = json.loads((bundle / "manifest.json").read_text())
    paths = [f["path"] for f in manifest["files"]]
    # 08:00:30–08:01:30 overlaps both 60 s segments of both cameras.
    assert paths == ["clips/10234/camera1/20261120080000.mp4", "clips/10234/camera1/20261120080100.mp4",
                     "clips/10234/camera2/20261120080000.mp4", "clips/10234/camera2/20261120080100.mp4"]
    assert all(55 <= f["duration_s"] <= 65 and len(f["sha256"]) == 64 for f in manifest["files"])
    assert [f["privacy_masks"] for f in manifest["files"]] == [[LEFT_HALF]] * 2 + [[]] * 2
    assert [(s["action"], s["by"]) for s in manifest["custody"]] == [("request", "ana"), ("approve", "bruno"),
                                                                     ("export", "carla")]
    assert manifest["request"]["type"] == "judiciary" and manifest["guarita_version"]
    assert manifest["window"] == {"from": "2026-11-20T11:00:30+00:00", "to": "2026-11-20T11:01:30+00:00"}

    masked_left, masked_right = left_and_right_pixels(bundle / paths[0])
    plain_left, _ = left_and_right_pixels(bundle / paths[2])
    assert max(masked_left) < 20, "the masked half must be blanked"
    assert max(masked_right) > 40 and max(plain_left) > 40, "the rest of the picture stays"

    key_file = tmp_path / "data" / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    pubkey = tmp_path / "provider.pem"
    assert main(["evidence", "pubkey", "-c", str(config)]) == 0
    pubkey.write_text(capsys.readouterr().out)
    assert main(["evidence", "verify", str(bundle), "--pubkey", str(pubkey)]) == 0
    assert "bundle verified" in capsys.readouterr().out

    # The export held the window: a sweep far in the future keeps those segments.
    assert main(["retention", "sweep", "-c", str(config), "--now", "2027-06-01T00:00:00+00:00", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["archive"]["held_segments"] == 4
    store = Store.open(tmp_path / "data")
    actions = [row[0] for row in store.db.execute("SELECT action FROM audit_log ORDER BY seq")]
    assert actions[:3] == ["evidence.request", "evidence.approve", "hold.add"]
    assert {"evidence.export", "evidence.manifest"} <= set(actions)
    assert audit.verify(store.db)[1] is None
    store.close()

    _tamper_and_verify(bundle, pubkey, paths[1], tmp_path, capsys)


def _tamper_and_verify(bundle: Path, pubkey: Path, clip: str, tmp_path: Path,
                       capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "other.pem"
    other.write_bytes(public_pem(Ed25519PrivateKey.generate()))
    assert main(["evidence", "verify", str(bundle), "--pubkey", str(other)]) == 1
    assert "FAILED manifest.json: the signature in manifest.sig does not match" in capsys.readouterr().out

    target = bundle / clip
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    assert main(["evidence", "verify", str(bundle), "--pubkey", str(pubkey)]) == 1
    out = capsys.readouterr().out
    assert f"FAILED {clip}: SHA-256 differs from the manifest" in out and "bundle NOT verified" in out
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))

    manifest = bundle / "manifest.json"
    original = manifest.read_bytes()
    manifest.write_bytes(original.replace(b'"judiciary"', b'"police_authority"'))
    assert main(["evidence", "verify", str(bundle), "--pubkey", str(pubkey), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["problems"][0].startswith("manifest.json: the signature")
    manifest.write_bytes(original)
    assert main(["evidence", "verify", str(bundle)]) == SIGNER_UNPROVEN  # consistent, but only self-vouched
    capsys.readouterr()


# covers BH-08, DT-04
def test_a_frigate_camera_whose_frigate_is_down_is_not_exported_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, tmp_path)
    data = json.loads(config.read_text())
    config.write_text(json.dumps({**data, "frigate": {"url": f"http://127.0.0.1:{free_port()}"}}))
    assert main(["evidence", "request", "-c", str(config), "--type", "police_authority", "--ref", "IP 123/2026",
                 "--requester", "Delegacia de Homicídios", "--camera", "portaria", "--from", "2026-11-20T08:00",
                 "--to", "2026-11-20T09:00", "--by", "ana"]) == 0
    assert main(["evidence", "approve", "1", "-c", str(config), "--by", "bruno"]) == 0
    out = tmp_path / "out"
    assert main(["evidence", "export", "1", "-c", str(config), "-o", str(out)]) == 1
    assert "Frigate could not export camera portaria for request 1" in capsys.readouterr().err
    assert not out.exists()
    assert main(["evidence", "request", "-c", str(config), "--type", "judiciary", "--ref", "x", "--requester", "y",
                 "--camera", "nope", "--from", "2026-11-20T08:00", "--to", "2026-11-20T09:00", "--by", "ana"]) == 1
    assert "camera 'nope' is not under `cameras`" in capsys.readouterr().err


T0 = dt.datetime(2026, 11, 20, 11, 0, tzinfo=dt.UTC).timestamp()


def write_frigate_config(tmp_path: Path, frigate_port: int) -> GuaritaConfig:
    path = tmp_path / "frigate.yaml"
    data = {
        "provider": {"id": "acme", "name": "ACME Segurança", "kind": "security_company"},
        "storage": {"data_dir": str(tmp_path / "data")},
        "frigate": {"url": f"http://127.0.0.1:{frigate_port}"},
        "cameras": {"portaria": {"privacy_masks": [LEFT_HALF]}, "garagem": {}},
    }
    path.write_text(json.dumps(data))
    return load_config(path)


# covers BH-07, BH-08, BH-11, PB-04
async def test_frigate_cameras_are_exported_from_frigate_masked_signed_and_verifiable(tmp_path: Path) -> None:
    app = make_frigate_app(StandinCameras(cameras=(StandinCamera(name="portaria"), StandinCamera(name="garagem"))),
                           clock=lambda: dt.datetime.fromtimestamp(T0 + 3600, dt.UTC), export_delay_s=0.05)
    runner, port = await serve_frigate(app)
    config = write_frigate_config(tmp_path, port)
    store = Store.open(config.storage.data_dir)
    bundle = tmp_path / "bundle"
    try:
        async with aiohttp.ClientSession() as session:
            frigate = FrigateClient(session, f"http://127.0.0.1:{port}")
            # A hold placed earlier on portaria kept a Frigate export of a wider window: it is reused, cut.
            hold = await place_hold(store, FootageSource(camera="portaria"), TimeWindow(T0, T0 + 60), ref="IP 123",
                                    by="ana", at=T0 + 100, frigate=frigate)
            request = record_request(
                store, request_type=RequestType.POLICE_AUTHORITY, ref="IP 123/2026", requester="DHPP",
                sources=[FootageSource(camera="portaria"), FootageSource(camera="garagem")],
                window=TimeWindow(T0 + 20, T0 + 40), by="ana", at=T0 + 200)
            approve_request(store, request.id, by="bruno", at=T0 + 300)
            result = await export_request(store, config, request.id, bundle, by="carla",
                                          now=dt.datetime.fromtimestamp(T0 + 400, dt.UTC), frigate=frigate)
    finally:
        await runner.cleanup()
    assert result.files == 2
    manifest = json.loads((bundle / "manifest.json").read_text())
    portaria, garagem = manifest["files"]
    assert portaria["frigate_export_id"] == hold.frigate_export_id and portaria["reused_from_hold"] == hold.id
    assert garagem["frigate_export_id"].startswith("garagem_") and garagem["reused_from_hold"] is None
    assert garagem["frigate_export_id"] in app[FRIGATE_STANDIN].exports
    assert 19 <= portaria["duration_s"] <= 21 and 19 <= garagem["duration_s"] <= 21, "only the request's window"
    assert (portaria["privacy_masks"], garagem["privacy_masks"]) == ([LEFT_HALF], [])
    export_step = manifest["custody"][-1]
    assert export_step["action"] == "export" and export_step["frigate_exports"] == {
        "portaria": hold.frigate_export_id, "garagem": garagem["frigate_export_id"]}
    holds = {h.source.camera: h.frigate_export_id for h in list_holds(store.db) if h.evidence_request == request.id}
    assert holds == export_step["frigate_exports"]
    store.close()

    masked_left, masked_right = left_and_right_pixels(bundle / portaria["path"])
    plain_left, _ = left_and_right_pixels(bundle / garagem["path"])
    assert max(masked_left) < 20, "portaria's privacy mask is burned into the exported clip"
    assert max(masked_right) > 40 and max(plain_left) > 40

    pubkey = public_pem(signing_key(config.storage.data_dir))
    assert verify_bundle(bundle, pubkey).ok
    target = bundle / portaria["path"]
    data = bytearray(target.read_bytes())
    data[len(data) // 3] ^= 0x10
    target.write_bytes(bytes(data))
    check = verify_bundle(bundle, pubkey)
    assert not check.ok and check.problems == [f"{portaria['path']}: SHA-256 differs from the manifest (the file "
                                               "was changed)"]
    data[len(data) // 3] ^= 0x10
    target.write_bytes(bytes(data))
    manifest_path = bundle / "manifest.json"
    manifest_path.write_text(manifest_path.read_text().replace(hold.frigate_export_id or "-", "portaria_zzzzzz"))
    assert verify_bundle(bundle, pubkey).problems[0].startswith("manifest.json: the signature")


# covers BH-08, DT-06, PB-04
async def test_a_frigate_export_longer_than_the_window_is_cut_to_it_and_the_manifest_says_so(tmp_path: Path) -> None:
    # Frigate cuts exports at key frames: the stand-in's 20 s export is 20.9 s long, as 0.17.2's was.
    app = make_frigate_app(StandinCameras(cameras=(StandinCamera(name="garagem"),)),
                           clock=lambda: dt.datetime.fromtimestamp(T0 + 3600, dt.UTC), export_delay_s=0.05)
    runner, port = await serve_frigate(app)
    config = write_frigate_config(tmp_path, port)
    store = Store.open(config.storage.data_dir)
    bundle = tmp_path / "bundle"
    window = TimeWindow(T0 + 20, T0 + 40)
    try:
        async with aiohttp.ClientSession() as session:
            frigate = FrigateClient(session, f"http://127.0.0.1:{port}")
            request = record_request(
                store, request_type=RequestType.POLICE_AUTHORITY, ref="IP 9/2026", requester="DHPP",
                sources=[FootageSource(camera="garagem")], window=window, by="ana", at=T0 + 200)
            approve_request(store, request.id, by="bruno", at=T0 + 300)
            await export_request(store, config, request.id, bundle, by="carla",
                                 now=dt.datetime.fromtimestamp(T0 + 400, dt.UTC), frigate=frigate)
    finally:
        await runner.cleanup()
    manifest = json.loads((bundle / "manifest.json").read_text())
    (clip,) = manifest["files"]
    assert clip["frigate_export_duration_s"] >= 20.8, "the export as Frigate made it runs past the window"
    assert clip["duration_s"] == pytest.approx(20.0, abs=0.1)
    assert clip["cut_to_window"] is True
    assert clip["window"] == manifest["window"] == window.as_json()
    (hold,) = [h for h in list_holds(store.db) if h.evidence_request == request.id]
    assert hold.export is not None and hold.export.state.value == "done"
    assert hold.export.file == clip["frigate_export_file"] and hold.export.duration_s == clip["frigate_export_duration_s"]
    store.close()
    assert verify_bundle(bundle, public_pem(signing_key(config.storage.data_dir))).ok


def small_bundle(folder: Path, key: Ed25519PrivateKey, request_type: str = "judiciary") -> dict[str, object]:
    """A bundle in the export's shape (one clip, the signing key's fingerprint named) signed by ``key``."""
    clip = folder / "clips" / "portaria" / "20261120080000.mp4"
    clip.parent.mkdir(parents=True, exist_ok=True)
    clip.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 4)
    manifest: dict[str, object] = {
        "format": "guarita-evidence/1", "request": {"id": 1, "type": request_type},
        "files": [{"path": "clips/portaria/20261120080000.mp4", "sha256": file_sha256(clip),
                   "size": clip.stat().st_size}],
        "signature": {"algorithm": "Ed25519", "file": "manifest.sig",
                      "public_key_sha256": fingerprint(key.public_key())},
    }
    write_bundle(folder, manifest, key)
    return manifest


# covers BH-08, DT-04
def test_a_bundle_re_signed_with_another_key_is_not_verified_without_the_providers_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    provider, forger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    provider_pem, forger_pem = tmp_path / "provider.pem", tmp_path / "forger.pem"
    provider_pem.write_bytes(public_pem(provider))
    forger_pem.write_bytes(public_pem(forger))
    bundle = tmp_path / "bundle"
    small_bundle(bundle, provider)
    assert main(["evidence", "verify", str(bundle), "--pubkey", str(provider_pem)]) == 0
    assert capsys.readouterr().out.endswith("bundle verified\n")

    # Someone edits the request type and signs again with a key of their own, fingerprint and all.
    small_bundle(bundle, forger, request_type="police_authority")
    forged_fingerprint = fingerprint(forger.public_key())
    assert main(["evidence", "verify", str(bundle)]) == SIGNER_UNPROVEN == 3
    out = capsys.readouterr().out
    assert "bundle verified" not in out and "signer UNPROVEN" in out
    assert f"SHA-256 {forged_fingerprint}" in out
    assert main(["evidence", "verify", str(bundle), "--json"]) == SIGNER_UNPROVEN
    report = json.loads(capsys.readouterr().out)
    assert (report["ok"], report["verified"], report["signer_proven"]) == (True, False, False)
    assert report["key_sha256"] == forged_fingerprint

    assert main(["evidence", "verify", str(bundle), "--pubkey", str(provider_pem)]) == 1
    assert "FAILED manifest.json: the signature in manifest.sig does not match" in capsys.readouterr().out


# covers BH-08, DT-04
def test_the_manifest_must_name_the_key_that_signed_it(tmp_path: Path) -> None:
    provider, forger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    bundle = tmp_path / "bundle"
    manifest = small_bundle(bundle, provider)
    write_bundle(bundle, manifest, forger)  # re-signed, but still naming the provider's fingerprint
    check = verify_bundle(bundle, public_pem(forger))
    assert not check.ok
    assert check.problems == [
        f"manifest.json: signature.public_key_sha256 is {fingerprint(provider.public_key())}, but the key that "
        f"signed it is {fingerprint(forger.public_key())} (the bundle was re-signed with another key)"
    ]


# covers DT-04
def test_verify_on_a_missing_folder_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no-such-bundle"
    assert main(["evidence", "verify", str(missing)]) == 1
    out = capsys.readouterr().out
    assert f"FAILED {missing}: no such folder" in out and "bundle NOT verified" in out
    assert "manifest.json" not in out
    assert "in the bundle" not in out and "files match" not in out  # no key or files claimed of a missing folder


# covers DT-04
def test_verify_with_a_missing_public_key_file_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    small_bundle(bundle, Ed25519PrivateKey.generate())
    missing = tmp_path / "acme-evidence.pem"
    assert main(["evidence", "verify", str(bundle), "--pubkey", str(missing)]) == 1  # a one-line error, no traceback
    err = capsys.readouterr().err
    assert f"cannot read the provider's public key {missing} (--pubkey): No such file or directory" in err


# covers BH-07
def test_a_written_bundle_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir(mode=0o755)
    small_bundle(bundle, Ed25519PrivateKey.generate())
    paths = [bundle, *bundle.rglob("*")]
    assert len(paths) == 7  # the folder, clips/, clips/portaria/, the clip, the manifest, its signature, the key
    modes = {p.relative_to(tmp_path).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in paths}
    assert modes == {p: (0o700 if (tmp_path / p).is_dir() else 0o600) for p in modes}
