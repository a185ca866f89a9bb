"""``guarita cameras add | snapshot`` and ``attest --snapshot-from-frigate`` end to end.

A real RTSP camera stand-in (gst-rtsp-server serving ffmpeg-made H.264) and the Frigate stand-in
(0.14, 0.16, 0.17): ``add --apply`` must send Frigate exactly the expected JSON body, in the
retention keys of the version that runs, and edit Guarita's YAML keeping its comments.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import stat
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from PIL import Image

from guarita.config_loader import load_config
from guarita.standin.frigate_api import (
    FRIGATE_CONFIG_SETS,
    StandinCamera,
    StandinCameras,
    make_frigate_app,
    serve_frigate,
)
from guarita.standin.rtsp_server import RtspServer, make_clip, rtsp_server_available

SECRET = "Rua-s3cret!"
MASK = "0,0,0.5,0,0.5,1,0,1"  # the left half
CONFIG = """\
# Guarita at ACME's client: Rua da Bahia, 1200.
provider:
  id: acme
  name: "ACME Segurança"   # as registered at COP-BH
  kind: security_company

storage:
  data_dir: data

frigate:
  url: http://127.0.0.1:{port}

programs:
  cop_bh:
    uplink: {{host: 127.0.0.1, port: 8883}}

cameras:
  # The garage: private, never leaves.
  garagem:
    programs: []
    privacy_masks: ["{mask}"]
"""


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("clips")

    async def make() -> tuple[Path, Path]:
        return await asyncio.gather(make_clip(folder / "main.mp4", width=1280, height=720, seconds=6),
                                    make_clip(folder / "sub.mp4", width=640, height=360, seconds=6))

    return asyncio.run(make())


@pytest.fixture
async def camera(clips: tuple[Path, Path]) -> AsyncIterator[RtspServer]:
    if not rtsp_server_available():
        pytest.skip("gst-rtsp-server (Debian) is not installed")
    main, sub = clips
    async with RtspServer({"main": (main, "h264"), "sub": (sub, "h264")}, username="admin",
                          password=SECRET) as server:
        yield server


@pytest.fixture
async def frigate(tmp_path: Path) -> AsyncIterator[Callable[[str], object]]:
    runners: list[web.AppRunner] = []

    async def start(release: str, environment: dict[str, str] | None = None) -> tuple[web.Application, Path]:
        cameras = StandinCameras(cameras=(StandinCamera(name="garagem"), StandinCamera(name="portaria")))
        env = {"FRIGATE_PORTARIA_RTSP_PASSWORD": SECRET} if environment is None else environment
        app = make_frigate_app(cameras, version=release, environment=env)
        runner, port = await serve_frigate(app)
        runners.append(runner)
        config = tmp_path / "guarita.yaml"
        config.write_text(CONFIG.format(port=port, mask=MASK), encoding="utf-8")
        return app, config

    yield start
    for runner in runners:
        await runner.cleanup()


async def guarita(*argv: str, cwd: Path) -> Result:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "guarita.cli", *argv, cwd=cwd, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=os.environ | {"CAM_PASSWORD": SECRET})
    out, err = await asyncio.wait_for(process.communicate(), timeout=90)
    return Result(int(process.returncode or 0), out.decode(), err.decode())


def add_args(camera: RtspServer, config: Path, *extra: str) -> list[str]:
    return ["cameras", "add", "portaria", "-c", str(config), "--rtsp", camera.uri("main", username="", password=""),
            "--rtsp", camera.uri("sub", username="", password=""), "--user", "admin", "--password-env",
            "CAM_PASSWORD", "--programs", "cop_bh", "--location=-19.9245,-43.9352", "--heading", "180", *extra]


# covers PB-02, PB-07, BH-07
@pytest.mark.parametrize(("release", "record"), [
    ("0.16.4-4131252", {"enabled": True, "retain": {"days": 7, "mode": "all"}}),
    ("0.17.2-3d4dd3a", {"enabled": True, "continuous": {"days": 7}}),
])
async def test_add_applies_the_entry_and_keeps_the_yaml_comments(
        camera: RtspServer, frigate: Callable[[str], object], tmp_path: Path, release: str,
        record: dict[str, object]) -> None:
    app, config = await frigate(release)  # type: ignore[misc]
    before = config.read_text()
    result = await guarita(*add_args(camera, config, "--apply"), cwd=tmp_path)
    assert result.code == 0, result.err
    port = camera.port
    ph = "{FRIGATE_PORTARIA_RTSP_PASSWORD}"
    assert app[FRIGATE_CONFIG_SETS] == [{"requires_restart": 1, "update_topic": None, "config_data": {"cameras": {
        "portaria": {
            "ffmpeg": {"inputs": [{"path": f"rtsp://admin:{ph}@127.0.0.1:{port}/main", "roles": ["record"]},
                                  {"path": f"rtsp://admin:{ph}@127.0.0.1:{port}/sub", "roles": ["detect"]}]},
            "detect": {"enabled": True, "width": 640, "height": 360, "fps": 5},
            "record": record}}}}]
    assert f"frigate {release} entry:" in result.out
    assert "Frigate must have FRIGATE_PORTARIA_RTSP_PASSWORD (the camera's password) in its environment" in result.out
    assert "frigate answered: Config successfully updated, restart to apply" in result.out
    assert SECRET not in result.out + result.err + config.read_text()
    after = config.read_text()
    assert after.startswith(before)  # every comment, quote and line of the operator's file kept
    assert after[len(before):] == (
        "  # Added by `guarita cameras add`: draw privacy_masks on its snapshot\n"
        "  portaria:\n"
        "    programs: [cop_bh]\n"
        "    location: {lat: -19.9245, lon: -43.9352}\n"
        "    heading: 180\n"
        "    privacy_masks: []\n"
    )
    loaded = load_config(config).cameras["portaria"]
    assert (loaded.programs[0].value, loaded.heading, loaded.location.lat if loaded.location else None) == \
        ("cop_bh", 180, -19.9245)


# covers PB-02, BH-07
async def test_apply_before_frigate_has_the_variable_names_it_and_changes_nothing(
        camera: RtspServer, frigate: Callable[..., object], tmp_path: Path) -> None:
    app, config = await frigate("0.17.2-3d4dd3a", environment={})  # type: ignore[misc]
    before = config.read_text()
    refused = await guarita(*add_args(camera, config, "--apply"), cwd=tmp_path)
    assert refused.code == 1
    assert "the entry uses {FRIGATE_PORTARIA_RTSP_PASSWORD}" in refused.err
    assert "Set FRIGATE_PORTARIA_RTSP_PASSWORD in Frigate's environment" in refused.err
    assert "restart Frigate, then run this command again with --apply" in refused.err
    assert config.read_text() == before  # the camera is not half-added
    assert SECRET not in refused.out + refused.err


# covers PB-02
async def test_frigate_014_gets_retain_keys_printed_and_nothing_applied(
        camera: RtspServer, frigate: Callable[[str], object], tmp_path: Path) -> None:
    app, config = await frigate("0.14.1-f4f3cfa")  # type: ignore[misc]
    before = config.read_text()
    refused = await guarita(*add_args(camera, config, "--apply"), cwd=tmp_path)
    assert refused.code == 1
    assert "takes config changes over its API only as a query string; paste the printed YAML" in refused.err
    assert app[FRIGATE_CONFIG_SETS] == [] and config.read_text() == before
    printed = await guarita(*add_args(camera, config), cwd=tmp_path)
    assert printed.code == 0, printed.err
    assert re.search(r"record:\n\s+enabled: true\n\s+retain:\n\s+days: 7\n\s+mode: all", printed.out)
    assert "continuous" not in printed.out
    assert "not sent to Frigate (add --apply" in printed.out
    again = await guarita(*add_args(camera, config), cwd=tmp_path)
    assert again.code == 1 and "camera 'portaria' is already in" in again.err


# covers BH-07, BH-04, BH-02
async def test_masked_snapshot_and_attestation_record_the_masked_image(
        frigate: Callable[[str], object], tmp_path: Path) -> None:
    _, config = await frigate("0.17.2-3d4dd3a")  # type: ignore[misc]
    snap = await guarita("cameras", "snapshot", "garagem", "-c", str(config), "--masked", "-o", "masked.jpg",
                         cwd=tmp_path)
    assert snap.code == 0, snap.err
    assert f"saved {(tmp_path / 'masked.jpg').resolve()} (" in snap.out and "1 privacy mask(s) applied" in snap.out
    raw = await guarita("cameras", "snapshot", "garagem", "-c", str(config), cwd=tmp_path)
    assert "NOT masked: keep it inside the provider" in raw.out
    assert f"saved {(tmp_path / 'garagem.jpg').resolve()} (" in raw.out  # the full path: it says where it wrote
    assert {stat.S_IMODE((tmp_path / name).stat().st_mode) for name in ("masked.jpg", "garagem.jpg")} == {0o600}
    nowhere = await guarita("cameras", "snapshot", "garagem", "-c", str(config), "-o", "no-such-dir/x.jpg", cwd=tmp_path)
    assert nowhere.code == 1 and "Traceback" not in nowhere.err, nowhere.err
    assert f"cannot write the snapshot to {(tmp_path / 'no-such-dir' / 'x.jpg').resolve()}: No such file" in nowhere.err

    def left_and_right(data: bytes) -> tuple[tuple[int, ...], tuple[int, ...]]:
        with Image.open(io.BytesIO(data)) as image:
            rgb = image.convert("RGB")
            left, right = rgb.getpixel((8, 18)), rgb.getpixel((56, 18))
        assert isinstance(left, tuple) and isinstance(right, tuple)
        return left, right

    left, right = left_and_right((tmp_path / "masked.jpg").read_bytes())
    assert max(left) < 20 and right[2] > 100  # blanked half black, the other half the stand-in's blue-grey
    unmasked_left, _ = left_and_right((tmp_path / "garagem.jpg").read_bytes())
    assert unmasked_left[2] > 100
    attest = await guarita("cameras", "attest", "garagem", "--not-public-facing", "--snapshot-from-frigate",
                           "--by", "ana", "-c", str(config), cwd=tmp_path)
    assert attest.code == 0, attest.err
    digest = re.search(r"evidence sha256 ([0-9a-f]{64})", attest.out)
    assert digest is not None
    kept = tmp_path / "data" / "evidence" / digest[1][:2] / digest[1]
    left, right = left_and_right(kept.read_bytes())
    assert max(left) < 20 and right[2] > 100
    (tmp_path / "notes.txt").write_text("no picture here")
    refused = await guarita("cameras", "attest", "garagem", "--not-public-facing", "--evidence", "notes.txt",
                            "--by", "ana", "-c", str(config), cwd=tmp_path)
    assert refused.code == 1 and "cannot blank garagem's privacy masks on the evidence" in refused.err
    missing = await guarita("cameras", "attest", "garagem", "--not-public-facing", "--evidence", "nope.jpg",
                            "--by", "ana", "-c", str(config), cwd=tmp_path)
    assert missing.code == 1 and "the store could not be used" not in missing.err, missing.err
    assert "cannot read the evidence file" in missing.err and "nope.jpg: No such file or directory" in missing.err


# covers BH-07, PB-07
async def test_a_password_in_the_rtsp_uri_is_refused_and_never_echoed(tmp_path: Path) -> None:
    uri = f"rtsp://admin:{SECRET}@127.0.0.1:8554/main"
    result = await guarita("cameras", "probe", "--rtsp", uri, cwd=tmp_path)
    assert result.code == 1
    assert "do not put the password in the --rtsp URI" in result.err
    assert SECRET not in result.out + result.err
