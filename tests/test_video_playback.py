"""Playback of a past window over HTTP: the Frigate stand-in's real H.264 exports, real SeaweedFS, ffprobe.

Each test serves the API on 127.0.0.1 over a real SQLite store and the real consent registry
(its history gives the shared periods), with Frigate's stand-in on a free port (its exports are
ffmpeg-made H.264) and, for the cloud copy, SeaweedFS with segments the real uploader sent. The
video is fetched as a player would: the ``video_url`` with its key, whole and by HTTP Range,
and read by ffprobe/ffmpeg. The clock is fixed (the stand-in's and Guarita's).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import secrets
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg  # type: ignore[import-untyped]
import pytest
from harness import FakeClock, share_camera, wait_for
from test_cloud import KEY_ENV, NOW, lay_out, uploader
from test_evidence import LEFT_HALF, left_and_right_pixels
from web_rig import ServedApi, served_app

from guarita.cli.main import main
from guarita.config_loader import load_config
from guarita.consent.registry import Registry
from guarita.metrics import Metrics
from guarita.standin.frigate_api import FRIGATE_STANDIN, make_frigate_app, serve_frigate
from guarita.standin.frigate_state import FrigateStandin
from guarita.standin.frigate_cameras import StandinCamera, StandinCameras
from guarita.standin.seaweed import SeaweedS3
from guarita.store import Store
from guarita.web.api import make_api_app
from guarita.web.server import make_web_app

pytestmark = pytest.mark.slow

T = NOW.timestamp()
HERE = {"lat": -19.9245, "lon": -43.9352}
PORCH_SHARED = NOW - dt.timedelta(seconds=300)
HOLDERS: dict[str, tuple[str, str | None, str]] = {
    "vera": ("viewer", None, secrets.token_urlsafe(24)),
    "audrey": ("auditor", None, secrets.token_urlsafe(24)),
    "centro": ("viewer", "centro_sul", secrets.token_urlsafe(24)),
    "barreiro": ("viewer", "barreiro", secrets.token_urlsafe(24)),
}


def square(lon: float, lat: float, half: float = 0.02) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[lon - half, lat - half], [lon + half, lat - half],
                                                [lon + half, lat + half], [lon - half, lat + half],
                                                [lon - half, lat - half]]]}


def write_config(tmp_path: Path, frigate_port: int, s3: SeaweedS3 | None, video: dict[str, Any] | None = None) -> Path:
    """street (shared since 19 Nov) and porch (left half masked, shared since NOW − 5 min); tokens of HOLDERS."""
    data: dict[str, Any] = {
        "provider": {"id": "acme", "name": "ACME", "kind": "security_company", "accreditation": {"date": "2021-03-01"}},
        "storage": {"data_dir": str(tmp_path / "data")},
        "frigate": {"url": f"http://127.0.0.1:{frigate_port}", "media_dir": str(tmp_path / "media")},
        "programs": {"cop_bh": {"uplink": {"host": "127.0.0.1", "port": 1}, "agencies": {
            "centro_sul": {"name": "Regional Centro-Sul", "area": square(HERE["lon"], HERE["lat"])},
            "barreiro": {"name": "Regional Barreiro", "area": square(-44.0300, -19.9800)},
        }}},
        "cameras": {"street": {"programs": ["cop_bh"], "location": HERE},
                    "porch": {"programs": ["cop_bh"], "location": HERE, "privacy_masks": [LEFT_HALF]}},
        "web": {"host": "127.0.0.1", "port": 0, "tokens": {
            name: {"role": role, "sha256": hashlib.sha256(token.encode()).hexdigest(), **({"agency": a} if a else {})}
            for name, (role, a, token) in HOLDERS.items()}},
        **({"video": video} if video else {}),
    }
    if s3 is not None:
        secret = tmp_path / "s3-secret"
        secret.write_text(s3.access.secret_key + "\n")
        data["retention"] = {"cloud": {"endpoint": s3.endpoint, "bucket": s3.bucket, "access_key_env": KEY_ENV,
                                       "secret_key_file": str(secret), "days": 7}}
    path = tmp_path / "guarita.yaml"
    path.write_text(json.dumps(data))
    return path


@dataclass
class Served(ServedApi):
    path: Path
    clock: FakeClock
    frigate: FrigateStandin

    def token(self, who: str) -> str:
        return HOLDERS[who][2]

    async def ask(self, camera: str, start: float, end: float, who: str = "vera") -> tuple[int, Any]:
        return await self.call("POST", "/playback", who, {
            "camera": camera, "from": at(start), "to": at(end), "reason": "ocorrência 2026-000123"})

    async def built(self, answer: dict[str, Any], who: str = "vera") -> dict[str, Any]:
        """The playback once its build is over (``GET /playback/{id}`` until it is no longer ``building``)."""
        assert answer["state"] == "building", answer
        return await self.playback_built(answer["playback"], who)

    def exports_of(self, playback_id: str) -> list[str]:
        """Ids of the stand-in Frigate's exports made for ``playback_id``."""
        return [row["id"] for row in self.frigate.exports.values()
                if str(row["name"]).startswith(f"playback {playback_id}:")]

    async def video(self, answer: dict[str, Any], dest: Path) -> Path:
        async with self.session.get(self.base + answer["video_url"]) as response:
            assert response.status == 200 and response.headers["Accept-Ranges"] == "bytes"
            assert response.headers["Content-Type"] == "video/mp4"
            dest.write_bytes(await response.read())
        return dest

    def audit(self) -> list[tuple[str, str, str, dict[str, Any]]]:
        rows = self.store.db.execute("SELECT actor, action, subject, details FROM audit_log "
                                     "WHERE action LIKE 'video.playback.%' ORDER BY seq").fetchall()
        return [(str(r[0]), str(r[1]), str(r[2]), json.loads(r[3])) for r in rows]


def at(moment: float) -> str:
    return dt.datetime.fromtimestamp(moment, dt.UTC).isoformat()


@asynccontextmanager
async def serving(tmp_path: Path, s3: SeaweedS3 | None = None,
                  video: dict[str, Any] | None = None) -> AsyncIterator[Served]:
    clock = FakeClock(NOW)
    # Frigate keeps street one day only: older footage of it is in the cloud copy alone.
    frigate = make_frigate_app(StandinCameras(cameras=(StandinCamera(name="street", retention_days=1),
                                                       StandinCamera(name="porch"))), clock=clock)
    runner, frigate_port = await serve_frigate(frigate)
    path = write_config(tmp_path, frigate_port, s3, video)
    config = load_config(path, environ={KEY_ENV: s3.access.access_key} if s3 else {})
    store = Store.open(config.storage.data_dir)
    share_camera(config, store, "street", dt.datetime(2026, 11, 19, 8, 0, tzinfo=dt.UTC))
    share_camera(config, store, "porch", PORCH_SHARED)
    if s3 is not None:
        lay_out(tmp_path / "media", ["2026-11-20/10"], 6, cameras=("street",))  # 10:00:00–10:01:00 in six objects
        assert (await uploader(config, store).run_pass()).uploaded == 6
    api = make_api_app(config, Registry(store, config.storage.data_dir, accredited=True, clock=clock), store, clock)
    app = make_web_app(lambda: {"status": "ok"}, Metrics(), api)
    try:
        async with served_app(app) as (base, session):
            yield Served(base, session, store, config, path, clock, frigate[FRIGATE_STANDIN])
    finally:
        await runner.cleanup()
        store.close()


def probe(path: Path) -> tuple[str, float]:
    info = ffmpeg.probe(str(path), v="error")
    [video] = [s for s in info["streams"] if s["codec_type"] == "video"]
    return str(video["codec_name"]), float(info["format"]["duration"])


def top_boxes(path: Path) -> list[str]:
    data, boxes, offset = path.read_bytes(), [], 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset:offset + 8])
        boxes.append(kind.decode())
        offset += size if size >= 8 else len(data)
    return boxes


# covers BH-11, BH-06, BH-07, BH-09
async def test_a_window_from_frigate_plays_seeks_is_audited_and_ends(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """BH-11/BH-06: 30 s of street from Frigate's recordings: H.264, ~30 s, index first, Range 206; BH-07: audited."""
    async with serving(tmp_path) as api:
        status, building = await api.ask("street", T - 600, T - 570)
        assert status == 201, building
        assert building["state"] == "building" and building["error"] is None  # answered before the build
        assert building["periods"] == [{"from": at(T - 600), "to": at(T - 570), "source": None, "duration_s": None}]
        async with api.session.get(api.base + building["video_url"]) as early:
            assert early.status == 409 and early.headers["Retry-After"] == "5"
            assert "still being built" in (await early.json())["error"]
        answer = await api.built(building)
        assert answer["state"] == "ready" and answer["video_url"] == building["video_url"], answer
        assert answer["periods"] == [{"from": at(T - 600), "to": at(T - 570), "source": "frigate",
                                      "duration_s": answer["periods"][0]["duration_s"]}]
        assert answer["gaps"] == [] and answer["video_url"].startswith(f"/api/v1/playback/{answer['playback']}/video.mp4?key=")
        assert len(answer["video_url"].split("key=")[1]) >= 43  # 256 random bits
        await wait_for(lambda: api.exports_of(answer["playback"]) == [], timeout=10)  # Frigate keeps no export of it
        assert api.frigate.exports == {}
        video = await api.video(answer, tmp_path / "street.mp4")
        codec, seconds = probe(video)
        assert codec == "h264" and 29 <= seconds <= 30.5, seconds
        boxes = top_boxes(video)
        assert boxes.index("moov") < boxes.index("mdat"), "faststart: the index comes first"
        async with api.session.get(api.base + answer["video_url"], headers={"Range": "bytes=1000-4999"}) as ranged:
            assert ranged.status == 206
            assert ranged.headers["Content-Range"] == f"bytes 1000-4999/{video.stat().st_size}"
            assert await ranged.read() == video.read_bytes()[1000:5000]
        bare = api.base + answer["video_url"].split("?")[0]
        for who, expected in (("vera", 206), ("centro", 404)):  # the opener's token instead of the key; no other
            headers = {"Authorization": f"Bearer {HOLDERS[who][2]}", "Range": "bytes=0-9"}
            async with api.session.get(bare, headers=headers) as by_token:
                assert by_token.status == expected
        async with api.session.get(bare + "?key=" + secrets.token_urlsafe(32)) as wrong_key:
            assert wrong_key.status == 404

        assert (await api.ask("street", T - 600, T - 570, who="audrey"))[0] == 403  # auditor: list only
        status, listed = await api.call("GET", "/playback", "audrey")
        assert status == 200 and [(p["playback"], p["state"]) for p in listed["playbacks"]] == [(answer["playback"],
                                                                                                 "ready")]
        assert (await api.call("GET", f"/playback/{answer['playback']}", "audrey"))[0] == 403  # not the opener's
        assert (await api.call("GET", "/playback", "centro"))[1] == {"playbacks": []}  # another agency's: not listed

        status, old = await api.ask("street", T - 8 * 86400, T - 8 * 86400 + 60)
        assert status == 400 and "retention window" in old["fields"][0]["message"]
        assert "retention.cop_bh_days" in old["fields"][0]["message"]
        status, long = await api.ask("street", T - 3700, T - 60)
        assert status == 413 and "video.playback_max_minutes" in long["error"]
        status, backwards = await api.ask("street", T - 570, T - 600)
        assert status == 400 and "before it starts" in backwards["fields"][0]["message"]
        status, future = await api.ask("street", T - 30, T + 30)
        assert status == 400 and "in the future" in future["fields"][0]["message"]

        status, ended = await api.call("DELETE", f"/playback/{answer['playback']}", "vera")
        assert status == 200 and ended["bytes_sent"] == video.stat().st_size + 4000 + 10
        async with api.session.get(api.base + answer["video_url"]) as gone:
            assert gone.status == 410
        start, ready, end = api.audit()
        assert start[:3] == ("vera", "video.playback.start", "street") and ready[1] == "video.playback.ready"
        assert end[1] == "video.playback.end" and end[3]["state"] == "ready"
        assert start[3]["state"] == "building" and start[3]["shared"] == [{"from": at(T - 600), "to": at(T - 570)}]
        assert start[3]["reason"] == "ocorrência 2026-000123" and start[3]["window"] == {"from": at(T - 600),
                                                                                         "to": at(T - 570)}
        assert ready[3]["periods"] == answer["periods"] and start[3]["agency"] is None
        assert end[3]["bytes_sent"] == ended["bytes_sent"] and end[3]["requests"] == 3

    assert await asyncio.to_thread(main, ["views", "list", "-c", str(api.path), "--ended", "--hours", "100000",
                                          "--json"]) == 0
    [listed_playback] = json.loads(capsys.readouterr().out)["playbacks"]
    assert (listed_playback["playback"], listed_playback["why"]) == (answer["playback"], "ended by vera")
    assert listed_playback["state"] == "ended" and listed_playback["periods"] == answer["periods"]


# covers BH-10, BH-07, BH-05, BH-09
async def test_only_the_shared_part_is_served_masked_and_others_learn_nothing(tmp_path: Path) -> None:
    """BH-10: porch's mask burned in; BH-07: before its consent is a not_shared gap or refused; BH-05: area."""
    async with serving(tmp_path) as api:
        shared = PORCH_SHARED.timestamp()
        status, answer = await api.ask("porch", shared - 20, shared + 20, who="centro")
        assert status == 201, answer
        assert answer["gaps"] == [{"from": at(shared - 20), "to": at(shared), "reason": "not_shared"}]
        answer = await api.built(answer, who="centro")
        assert [(p["from"], p["to"], p["source"]) for p in answer["periods"]] == [(at(shared), at(shared + 20),
                                                                                  "frigate")]
        assert answer["gaps"] == [{"from": at(shared - 20), "to": at(shared), "reason": "not_shared"}]
        video = await api.video(answer, tmp_path / "porch.mp4")
        codec, seconds = probe(video)
        assert codec == "h264" and 19 <= seconds <= 20.5, seconds
        masked_left, right = left_and_right_pixels(video)
        assert max(masked_left) < 20 and max(right) > 40, "the mask is burned into the playback"

        status, refused = await api.ask("porch", shared - 120, shared - 60)
        assert status == 403 and "was not shared with cop_bh at any moment" in refused["error"]
        for who in ("centro", "barreiro"):  # before consent, outside the area, unknown: one answer
            answers = [await api.ask(camera, shared - 120, shared - 60, who=who) for camera in ("porch", "nosuch")]
            assert [s for s, _ in answers] == [404, 404]
            assert answers[0][1]["error"].replace("'porch'", "'nosuch'") == answers[1][1]["error"]
        assert (await api.ask("porch", shared - 20, shared + 20, who="barreiro"))[0] == 404
        assert [entry[1] for entry in api.audit()] == ["video.playback.start", "video.playback.ready"]

        api.clock.advance(minutes=16)  # video.view_minutes (15) plus the 40 s window: it ends by itself
        await wait_for(lambda: len(api.audit()) == 3, timeout=5)
        assert api.audit()[2][3]["why"] == "expired"
        async with api.session.get(api.base + answer["video_url"]) as gone:
            assert gone.status == 410


# covers BH-06, BH-11
async def test_footage_frigate_no_longer_has_comes_from_the_cloud_copy(tmp_path: Path) -> None:
    """BH-06: street on 20 Nov is gone from Frigate (1 day) but in the cloud copy; past the copy it is a gap."""
    async with SeaweedS3(tmp_path / "seaweed") as s3, serving(tmp_path, s3) as api:
        hour = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC).timestamp()
        status, answer = await api.ask("street", hour + 30, hour + 90)
        assert status == 201, answer
        answer = await api.built(answer)
        assert [(p["from"], p["to"], p["source"]) for p in answer["periods"]] == [(at(hour + 30), at(hour + 60),
                                                                                  "cloud")]
        assert answer["gaps"] == [{"from": at(hour + 60), "to": at(hour + 90), "reason": "no_recording"}]
        codec, seconds = probe(await api.video(answer, tmp_path / "cloud.mp4"))
        assert codec == "h264" and 29 <= seconds <= 30.5, seconds
        status, none = await api.ask("street", hour + 120, hour + 180)
        assert status == 201, none
        failed = await api.built(none)
        assert failed["state"] == "failed" and "no footage of camera street" in failed["error"], failed


# covers BH-11, BH-07, BH-09
async def test_limits_a_build_ended_early_and_a_failed_build(tmp_path: Path) -> None:
    """BH-11: video.max_playbacks(_per_camera) → 429 naming the key; a build ended early or failed is audited."""
    async with serving(tmp_path, video={"max_playbacks": 1, "max_playbacks_per_camera": 1}) as api:
        shared = PORCH_SHARED.timestamp()
        status, first = await api.ask("street", T - 600, T - 570)
        assert status == 201 and first["state"] == "building", first
        status, again = await api.ask("street", T - 300, T - 270)
        assert status == 429 and "video.max_playbacks_per_camera" in again["error"], again
        status, other = await api.ask("porch", shared + 10, shared + 30)
        assert status == 429 and "(video.max_playbacks)" in other["error"], other

        status, ended = await api.call("DELETE", f"/playback/{first['playback']}", "vera")  # while it builds
        assert status == 200, ended
        assert (await api.call("GET", f"/playback/{first['playback']}", "vera"))[0] == 410
        assert list((api.config.storage.data_dir / "playback").glob("*.mp4")) == []

        api.frigate.fail_exports = True  # Frigate's ffmpeg fails: nothing of the window can be served
        status, doomed = await api.ask("porch", shared + 10, shared + 30)
        assert status == 201, doomed
        failed = await api.built(doomed)
        assert failed["state"] == "failed" and "no footage of camera porch" in failed["error"], failed
        assert failed["gaps"] == [{"from": at(shared + 10), "to": at(shared + 30), "reason": "unavailable"}]
        assert failed["periods"] == []
        async with api.session.get(api.base + doomed["video_url"]) as gone:
            assert gone.status == 410 and "failed: no footage of camera porch" in (await gone.json())["error"]
        assert (await api.call("GET", "/playback", "vera"))[1] == {"playbacks": []}

        entries = api.audit()
        assert [(e[1], e[3]["playback"]) for e in entries] == [
            ("video.playback.start", first["playback"]), ("video.playback.end", first["playback"]),
            ("video.playback.start", doomed["playback"]), ("video.playback.end", doomed["playback"])]
        assert entries[1][3]["state"] == "building" and entries[1][3]["why"] == "ended by vera"
        assert entries[3][3]["state"] == "failed" and entries[3][3]["why"].startswith("failed: no footage")
        assert "no footage of camera porch" in entries[3][3]["error"]
