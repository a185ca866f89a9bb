"""The cloud copy of a camera with privacy masks is masked before upload (real SeaweedFS, real ffmpeg).

A masked camera's object, read back from the bucket and decoded, is black inside the polygon and
not outside, H.264 with a keyframe every 2 s or less and the segment's duration; its row says
``masked = 1`` with the SHA-256 of the bytes uploaded. An unmasked camera's object is Frigate's
segment byte for byte. The MQTT playback's own function gives a masked camera's masked objects
and reports an old unmasked one as a gap ``unmasked_copy``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from harness import FakeClock, share_camera
from test_cloud import KEY_ENV, NOW, lay_out, uploader, write_config

from guarita.cli.cloud import cloud_status
from guarita.config_loader import load_config
from guarita.consent.registry import Registry
from guarita.retention._s3 import open_bucket
from guarita.standin.seaweed import SeaweedS3
from guarita.store import Store
from guarita.video.cloud_playback import cloud_playback

pytestmark = pytest.mark.slow

LEFT_HALF = "0,0,0.5,0,0.5,1,0,1"
WIDTH, HEIGHT = 160, 120


@pytest.fixture
async def s3(tmp_path: Path) -> AsyncIterator[SeaweedS3]:
    async with SeaweedS3(tmp_path / "seaweed") as store:
        yield store


def masked_config(tmp_path: Path, s3: SeaweedS3) -> Path:
    """test_cloud's config with street masked (left half) and yard, unmasked, shared too."""
    path = write_config(tmp_path, s3)
    data = json.loads(path.read_text())
    data["cameras"]["street"]["privacy_masks"] = [LEFT_HALF]
    path.write_text(json.dumps(data))
    return path


def frames(clip: Path) -> list[bytes]:
    """Every decoded frame as RGB bytes."""
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(clip), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True, timeout=60).stdout
    size = WIDTH * HEIGHT * 3
    return [raw[at:at + size] for at in range(0, len(raw), size)]


def brightest(frame: bytes, columns: range) -> int:
    return max(frame[(y * WIDTH + x) * 3 + c] for y in range(HEIGHT) for x in columns for c in range(3))


def probe(clip: Path) -> tuple[str, float, list[float]]:
    """Codec, duration and keyframe times of ``clip``'s video."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "stream=codec_name:format=duration:packet=pts_time,flags", "-of", "json", str(clip)],
                         capture_output=True, check=True, timeout=60).stdout
    info = json.loads(out)
    keys = sorted(float(p["pts_time"]) for p in info["packets"] if "K" in p["flags"])
    return info["streams"][0]["codec_name"], float(info["format"]["duration"]), keys


# covers BH-07, BH-06, BH-10
async def test_a_masked_cameras_segments_go_up_masked_and_the_others_as_they_are(tmp_path: Path, s3: SeaweedS3) -> None:
    """BH-07: the cloud copy of a masked camera never holds its private area; BH-06/BH-10: the object's
    SHA-256 (metadata and row) is of the bytes in the bucket; an unmasked camera's copy is untouched."""
    files = lay_out(tmp_path / "media", ["2026-11-20/10"], 2, cameras=("street", "yard"))
    config = load_config(masked_config(tmp_path, s3), environ={KEY_ENV: s3.access.access_key})
    store = Store.open(config.storage.data_dir)
    for camera in ("street", "yard"):
        share_camera(config, store, camera, dt.datetime(2026, 11, 19, 8, 0, tzinfo=dt.UTC))
    report = await uploader(config, store, masks={"street": [LEFT_HALF]}).run_pass()
    assert (report.uploaded, report.masked, report.failed) == (4, 2, [])
    rows = {key: (masked, sha) for key, masked, sha in store.db.execute("SELECT key, masked, sha256 FROM cloud_objects")}
    street, yard = "acme/street/2026-11-20/10/00.10.mp4", "acme/yard/2026-11-20/10/00.10.mp4"
    original = {f.parts[-2]: f for f in files if f.name == "00.10.mp4"}
    async with open_bucket(s3.access) as bucket:
        masked_bytes, yard_bytes = await bucket.read(street), await bucket.read(yard)
        assert (await bucket.head(street)).metadata["sha256"] == hashlib.sha256(masked_bytes).hexdigest()
    assert yard_bytes == original["yard"].read_bytes()  # no transcode
    assert rows[yard] == (0, hashlib.sha256(yard_bytes).hexdigest())
    assert masked_bytes != original["street"].read_bytes()
    assert rows[street] == (1, hashlib.sha256(masked_bytes).hexdigest())
    clip = tmp_path / "street.mp4"
    clip.write_bytes(masked_bytes)
    codec, seconds, keys = probe(clip)
    assert codec == "h264" and abs(seconds - 10) < 0.5, (codec, seconds)
    assert keys[0] == 0 and all(b - a <= 2.01 for a, b in zip(keys, [*keys[1:], seconds])), keys
    decoded = frames(clip)
    assert len(decoded) == 50  # 10 s at 5 fps: every frame kept
    for frame in decoded[::7]:
        assert brightest(frame, range(0, WIDTH // 2 - 2)) < 40  # black inside the polygon
        assert brightest(frame, range(WIDTH // 2 + 2, WIDTH)) > 150  # the picture outside it
    status = cloud_status(store, Registry.for_config(config, store, FakeClock(NOW)), ["street", "yard"], NOW.timestamp())
    assert [(e["camera"], e["objects"], e["masked_objects"]) for e in status] == [("street", 2, 2), ("yard", 2, 0)]
    store.close()


# covers BH-07, BH-06, BH-03
async def test_playback_of_a_masked_camera_gives_masked_objects_and_an_unmasked_copy_gap(
    tmp_path: Path, s3: SeaweedS3
) -> None:
    """BH-07: a masked camera's object uploaded before masking is never handed out, but reported."""
    lay_out(tmp_path / "media", ["2026-11-20/10"], 1, cameras=("street",))
    config = load_config(masked_config(tmp_path, s3), environ={KEY_ENV: s3.access.access_key})
    store = Store.open(config.storage.data_dir)
    share_camera(config, store, "street", dt.datetime(2026, 11, 19, 8, 0, tzinfo=dt.UTC))
    old = "acme/street/2026-11-20/10/00.30.mp4"  # what the uploader put up before it masked
    async with open_bucket(s3.access) as bucket:
        await bucket.put(old, b"unmasked", hashlib.sha256(b"unmasked").hexdigest())
    with store.transaction() as db:
        db.execute("INSERT INTO cloud_objects (key, camera, start_utc, end_utc, size, sha256, uploaded_at) "
                   "VALUES (?, 'street', ?, ?, 8, ?, 0)", (old, NOW.timestamp() - 93570, NOW.timestamp() - 93560,
                                                            hashlib.sha256(b"unmasked").hexdigest()))
    broken = tmp_path / "media" / "recordings" / "2026-11-20" / "10" / "street" / "00.40.mp4"
    broken.write_bytes(b"not a video")  # cannot be masked: never goes up as it is
    report = await uploader(config, store, masks={"street": [LEFT_HALF]}).run_pass()
    assert (report.uploaded, report.failed) == (1, ["acme/street/2026-11-20/10/00.40.mp4"])
    registry = Registry.for_config(config, store, FakeClock(NOW))
    start = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC).timestamp()
    played = await cloud_playback(config, registry, "street", start, start + 60, NOW.timestamp(), store)
    assert [s.start - start for s in played.segments] == [0]
    assert [(g.start - start, g.end - start, g.reason) for g in played.gaps] == [(30, 40, "unmasked_copy")]
    async with open_bucket(s3.access) as bucket:
        assert await bucket.read("acme/street/2026-11-20/10/00.00.mp4") != b"unmasked"
        assert "acme/street/2026-11-20/10/00.40.mp4" not in await bucket.keys("acme/street/")
    store.close()
