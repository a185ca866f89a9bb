"""The Frigate stand-in: payload shapes against the contract files, and its HTTP behaviour."""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from frigate_payloads import FRIGATE_FIXTURES, frigate_example

import guarita.standin.frigate_api as frigate_api
import guarita.standin.frigate_events as frigate_events
import guarita.standin.frigate_state as frigate_state
from guarita.errors import ConfigError
from guarita.standin._frigate_jwt import decode_hs256, encode_hs256
from guarita.standin.frigate_api import (
    FRIGATE_STANDIN,
    FrigateStandin,
    StandinCamera,
    StandinCameras,
    StandinMqtt,
    default_demo_cameras,
    make_frigate_app,
    serve_frigate,
)
from guarita.standin.frigate_events import (
    event_detail,
    event_row,
    review_lifecycle,
    tracked_object_lifecycle,
)

NOW = datetime(2026, 6, 30, 13, 0, tzinfo=UTC)
T = NOW.timestamp()
START = 1782824400.512345
ID_RE = re.compile(r"^\d+\.\d+-[a-z0-9]{6}$")
V017_ONLY = ("active", "pending_loitering", "max_severity", "current_estimated_speed",
             "average_estimated_speed", "velocity_angle", "path_data", "recognized_license_plate")

def contract(name: str) -> Any:
    return frigate_example(name)


def json_roundtrip(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _kind(value: Any) -> str:
    return "list" if isinstance(value, list) else "dict" if isinstance(value, dict) else type(value).__name__


def assert_same_shape(actual: Any, expected: Any, path: str = "$", free: Iterable[str] = ()) -> None:
    """Same keys in the same order, same JSON types; lists compared item by item.

    ``free`` names paths whose dicts are keyed by names (cameras, zones, pids): their values are
    compared with the expected value of the same key, else with the expected dict's last value.
    A homogeneous list's items are all compared with its first expected item; a mixed list
    (``[name, score]``, ``[[x, y], t]``) position by position.
    """
    free = tuple(free)
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: {_kind(actual)} instead of dict"
        if path in free:
            for key, value in actual.items():
                if expected:
                    reference = expected.get(key, list(expected.values())[-1])
                    assert_same_shape(value, reference, f"{path}.*", free)
            return
        assert list(actual) == list(expected), f"{path}: keys {list(actual)} != {list(expected)}"
        for key, value in expected.items():
            assert_same_shape(actual[key], value, f"{path}.{key}", free)
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{path}: {_kind(actual)} instead of list"
        if not expected or not actual:
            return
        if len({_kind(item) for item in expected}) > 1:
            assert len(actual) == len(expected), f"{path}: {actual} vs {expected}"
            for index, (item, reference) in enumerate(zip(actual, expected, strict=True)):
                assert_same_shape(item, reference, f"{path}[{index}]", free)
        else:
            for item in actual:
                assert_same_shape(item, expected[0], f"{path}[]", free)
    else:
        assert _kind(actual) == _kind(expected), f"{path}: {_kind(actual)} != {_kind(expected)} ({actual!r})"


def person_story(version: str = "0.17", seed: int = 1) -> list[dict[str, Any]]:
    """The contract's story: a person walks onto the porch and is recognised as john."""
    return tracked_object_lifecycle(
        "front_door", "person", START, updates=2, rng=random.Random(seed), version=version,
        sub_label="john", zones=["porch"],
    )


# --- generator: shapes against the contract --------------------------------------------------


# covers PB-01
def test_event_messages_match_contract_shapes() -> None:
    messages = json_roundtrip(person_story())
    assert [m["type"] for m in messages] == ["new", "update", "update", "end"]
    assert_same_shape(messages[0], contract("mqtt-events-new.json"))
    assert_same_shape(messages[1], contract("mqtt-events-update.json"))
    assert_same_shape(messages[-1], contract("mqtt-events-end.json"))


# covers PB-01
def test_review_messages_match_contract_shapes() -> None:
    reviews = json_roundtrip(review_lifecycle(person_story(), rng=random.Random(2)))
    assert [m["type"] for m in reviews] == ["new", "update", "update", "end"]
    assert_same_shape(reviews[0], contract("mqtt-reviews-new.json"))
    assert_same_shape(reviews[1], contract("mqtt-reviews.json"))
    assert_same_shape(reviews[-1], contract("mqtt-reviews-end.json"))
    assert reviews[-1]["after"]["data"]["sub_labels"] == ["john"]
    assert reviews[-1]["after"]["data"]["objects"] == ["person-verified"]


# covers PB-01
def test_api_rows_match_contract_shapes() -> None:
    final = person_story()[-1]["after"]
    row = json_roundtrip(event_row(final))
    assert_same_shape(row, contract("api-events.json")[2])
    assert row["sub_label"] == "john" and row["zones"] == ["porch"]
    detail = event_detail(row, model_hash="9d7d1a1c2b6f4e0a8c3f5b2e7a6d4c10", detector_type="openvino")
    assert_same_shape(json_roundtrip(detail), contract("api-event-by-id.json"))


# covers PB-01
def test_lifecycle_chaining_and_ids() -> None:
    messages = tracked_object_lifecycle(
        "bus_10234_front", "car", START, updates=4, rng=random.Random(9), license_plate="RIO2A19"
    )
    assert [m["type"] for m in messages] == ["new"] + ["update"] * 4 + ["end"]
    first = messages[0]["before"]
    assert first["false_positive"] is True and first["snapshot"] is None and first["top_score"] == 0.0
    assert ID_RE.match(first["id"]) and first["id"].startswith(f"{START}-")
    for previous, message in zip(messages, messages[1:], strict=False):
        assert message["before"] == previous["after"]
    afters = [m["after"] for m in messages]
    times = [a["frame_time"] for a in afters]
    assert times == sorted(times) and len(set(times)) == len(times)
    lengths = [len(a["path_data"]) for a in afters]
    assert lengths == sorted(lengths) and lengths[0] >= 1
    assert all(a["end_time"] is None for a in afters[:-1])
    assert afters[-1]["end_time"] > afters[-1]["frame_time"]
    assert {a["id"] for a in afters} == {first["id"]}
    assert afters[-1]["recognized_license_plate"][0] == "RIO2A19"
    assert all(0 <= a["box"][0] < a["box"][2] <= 1280 and 0 <= a["box"][1] < a["box"][3] <= 720
               for a in afters)
    custom = tracked_object_lifecycle("x", "dog", START, updates=0, rng=random.Random(1), event_id="given")
    assert [m["type"] for m in custom] == ["new", "end"] and custom[0]["after"]["id"] == "given"
    assert custom[0]["after"]["max_severity"] == "detection"
    with pytest.raises(ValueError, match="updates"):
        tracked_object_lifecycle("x", "dog", START, updates=-1, rng=random.Random(1))


# covers PB-01
def test_generator_is_deterministic() -> None:
    assert person_story(seed=3) == person_story(seed=3)
    assert person_story(seed=3) != person_story(seed=4)
    assert review_lifecycle(person_story(), rng=random.Random(5)) == review_lifecycle(
        person_story(), rng=random.Random(5)
    )


# covers PB-01
def test_sub_label_shapes_014_vs_017() -> None:
    new = person_story("0.17")[-1]["after"]
    old = person_story("0.14")[-1]["after"]
    assert new["sub_label"][0] == "john" and isinstance(new["sub_label"][1], float)
    assert old["sub_label"] == "john"
    assert list(old) == [key for key in new if key not in V017_ONLY]
    assert list(old["snapshot"]) == ["frame_time", "box", "area", "region", "score", "attributes"]
    v015 = person_story("0.15")[-1]["after"]
    assert isinstance(v015["sub_label"], list) and "max_severity" in v015 and "path_data" not in v015
    assert "path_data" in person_story("0.16.4-4131252")[-1]["after"]
    old_row = event_row(old, version="0.14")
    assert old_row["sub_label"] == "john"
    assert list(old_row["data"]) == ["box", "region", "score", "top_score", "attributes", "type"]
    with pytest.raises(ValueError, match="0.14 to 0.17"):
        person_story("0.13")


# --- cameras ---------------------------------------------------------------------------------


def test_default_demo_cameras() -> None:
    cameras = default_demo_cameras()
    assert cameras.names == ("street_front", "backyard", "bus_10234_interior", "bus_10234_front")
    assert "backyard" in cameras and "garage" not in cameras and cameras.get("garage") is None
    assert [c.name for c in cameras] == list(cameras.names)
    assert cameras.get("bus_10234_interior") == StandinCamera(
        name="bus_10234_interior", friendly_name="Bus 10234 interior", detect_width=640,
        detect_height=360, retention_days=30, zones=("door",),
    )


def test_cameras_from_yaml(tmp_path: Path) -> None:
    good = tmp_path / "cameras.yaml"
    good.write_text("cameras:\n  - name: gate\n    detect_fps: 10\n    record_enabled: false\n")
    cameras = StandinCameras.from_yaml(good)
    assert cameras.cameras == (StandinCamera(name="gate", detect_fps=10, record_enabled=False),)

    bad = tmp_path / "bad.yaml"
    bad.write_text("cameras:\n  - name: gate\n  - name: yard\n    detect_fps: fast\n    colour: red\n")
    with pytest.raises(ConfigError) as caught:
        StandinCameras.from_yaml(bad)
    lines = str(caught.value).splitlines()
    assert f"{bad}:4:5 cameras.1.detect_fps: Input should be a valid integer" in lines[0]
    assert lines[1].startswith(f"{bad}:5:5 cameras.1.colour: Extra inputs")

    twice = tmp_path / "twice.yaml"
    twice.write_text("cameras:\n  - name: gate\n  - name: gate\n")
    with pytest.raises(ConfigError, match=f"{twice}:1:1 .*listed twice"):
        StandinCameras.from_yaml(twice)
    broken = tmp_path / "broken.yaml"
    broken.write_text("cameras: [\n")
    with pytest.raises(ConfigError, match=f"{broken}:2:1 "):
        StandinCameras.from_yaml(broken)


def test_jwt_roundtrip() -> None:
    token = encode_hs256({"sub": "admin", "role": "admin", "exp": 200, "iat": 100}, "k")
    assert decode_hs256(token, "k", now=150) == {"sub": "admin", "role": "admin", "exp": 200, "iat": 100}
    assert decode_hs256(token, "k", now=200) is None
    assert decode_hs256(token, "other", now=150) is None
    head, payload, signature = token.split(".")
    assert decode_hs256(f"{head}.{payload}x.{signature}", "k", now=150) is None
    assert decode_hs256("not-a-token", "k", now=150) is None


def test_public_names_are_pinned() -> None:
    assert sorted(frigate_api.__all__) == [
        "FRIGATE_CONFIG_SETS", "FRIGATE_STANDIN", "FrigateStandin", "StandinActivity", "StandinCamera", "StandinCameras",
        "StandinMqtt", "default_demo_cameras", "make_frigate_app", "serve_frigate",
    ]
    assert sorted(frigate_events.__all__) == [
        "JsonObject", "event_detail", "event_row", "new_event_id", "random_suffix",
        "review_lifecycle", "review_row", "standin_minor", "tracked_object_lifecycle",
    ]
    assert sorted(frigate_state.__all__) == ["FrigateStandin", "SESSION_LENGTH_S", "StandinActivity"]
    assert "stand-in for Frigate" in (frigate_api.__doc__ or "")
    assert "not Frigate" in (frigate_api.__doc__ or "")


# --- the HTTP stand-in -----------------------------------------------------------------------


class Served:
    """A running stand-in and a raw session to poke it."""

    def __init__(self, app: web.Application, base: str, http: aiohttp.ClientSession) -> None:
        self.app, self.base, self.http = app, base, http

    @property
    def state(self) -> FrigateStandin:
        return self.app[FRIGATE_STANDIN]

    async def get(self, path: str, **kwargs: Any) -> tuple[int, Any, aiohttp.ClientResponse]:
        async with self.http.get(self.base + path, **kwargs) as response:
            body = await response.read()
            kind = response.content_type
            value: Any = json.loads(body) if kind == "application/json" else body
            return response.status, value, response


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def start(http: aiohttp.ClientSession) -> AsyncIterator[Any]:
    runners: list[web.AppRunner] = []

    async def _start(**kwargs: Any) -> Served:
        kwargs.setdefault("clock", lambda: NOW)
        app = make_frigate_app(kwargs.pop("cameras", default_demo_cameras()), **kwargs)
        runner, port = await serve_frigate(app)
        runners.append(runner)
        return Served(app, f"http://127.0.0.1:{port}", http)

    yield _start
    for runner in runners:
        await runner.cleanup()


# covers PB-01
async def test_api_answers_match_contract_shapes(start: Any) -> None:
    served: Served = await start(mqtt=StandinMqtt(user="frigate"))
    served.state.add_tracked_object(
        "street_front", "person", T - 600, rng=random.Random(1), sub_label="john", zones=["sidewalk"]
    )
    status, text, response = await served.get("/api/version")
    assert status == 200 and response.content_type == "text/plain"
    assert text.decode() == "0.17.2-3d4dd3a"
    assert re.fullmatch(r"\d+\.\d+\.\d+-[0-9a-f]{7}", (FRIGATE_FIXTURES / "api-version.txt").read_text().strip())
    assert (await served.get("/api/"))[1] == b"Frigate is running. Alive and healthy!"

    _, config, _ = await served.get("/api/config")
    assert_same_shape(config, contract("api-config-excerpt.json"), free=(
        "$.go2rtc.streams", "$.cameras", "$.cameras.*.live.streams", "$.cameras.*.zones",
    ))
    _, stats, _ = await served.get("/api/stats")
    assert_same_shape(stats, contract("api-stats-excerpt.json"), free=(
        "$.cameras", "$.detectors", "$.cpu_usages", "$.gpu_usages",
    ))
    _, events, _ = await served.get("/api/events")
    assert_same_shape(events, [contract("api-events.json")[2]])
    _, detail, _ = await served.get(f"/api/events/{events[0]['id']}")
    assert_same_shape(detail, contract("api-event-by-id.json"))
    _, review, _ = await served.get("/api/review")
    assert_same_shape(review, [contract("api-review.json")[1]])
    _, segments, _ = await served.get("/api/street_front/recordings", params={"after": T - 40, "before": T})
    assert_same_shape(segments, contract("api-recordings.json"))
    _, summary, _ = await served.get("/api/street_front/recordings/summary", params={"timezone": "utc"})
    assert_same_shape(summary, contract("api-recordings-summary.json"))
    export_url = f"{served.base}/api/export/street_front/start/{T - 40}/end/{T}"
    async with served.http.post(export_url, json={}) as response:
        assert_same_shape(await response.json(), contract("api-export-start-response.json"))
    _, exports, _ = await served.get("/api/exports")
    assert_same_shape(exports, contract("api-exports.json"))


# covers PB-01
async def test_events_endpoint_filters_and_orders(start: Any) -> None:
    served: Served = await start()
    rng = random.Random(3)
    for offset, camera, label in ((900, "backyard", "dog"), (600, "street_front", "car"),
                                  (300, "street_front", "person")):
        served.state.add_tracked_object(camera, label, T - offset, rng=rng)
    _, rows, _ = await served.get("/api/events")
    assert [r["label"] for r in rows] == ["person", "car", "dog"]
    assert list(rows[0])[-1] == "thumbnail"
    _, rows, _ = await served.get("/api/events", params={
        "cameras": "street_front", "after": T - 700, "before": T, "include_thumbnails": "0",
        "sort": "date_asc",
    })
    assert [r["label"] for r in rows] == ["car", "person"] and "thumbnail" not in rows[0]
    _, rows, _ = await served.get("/api/events", params={"labels": "dog,car", "limit": "1"})
    assert [r["label"] for r in rows] == ["car"]
    status, body, _ = await served.get("/api/events", params={"after": "soon"})
    assert status == 422 and body["detail"][0]["loc"] == ["query", "after"]
    status, body, _ = await served.get("/api/events/nope")
    assert (status, body) == (404, "Event not found")


# covers PB-01
async def test_api_and_mqtt_payloads_agree(start: Any) -> None:
    served: Served = await start()
    activity = served.state.add_tracked_object("backyard", "person", T - 60, rng=random.Random(8))
    last = activity.events[-1]["after"]
    _, row, _ = await served.get(f"/api/events/{last['id']}")
    assert (row["start_time"], row["end_time"]) == (last["start_time"], last["end_time"])
    assert row["data"]["path_data"] == last["path_data"]
    assert row["zones"] == last["entered_zones"] == ["patio"]
    _, review, _ = await served.get("/api/review")
    assert review[0]["id"] == activity.reviews[-1]["after"]["id"]
    assert review[0]["data"]["detections"] == [last["id"]]
    with pytest.raises(ValueError, match="no camera 'garage'"):
        served.state.add_tracked_object("garage", "person", T, rng=random.Random(1))


# covers PB-01
async def test_config_versions_and_qos(start: Any) -> None:
    for qos in (0, 1):
        served: Served = await start(mqtt=StandinMqtt(qos=qos))
        assert (await served.get("/api/config"))[1]["mqtt"]["qos"] == qos
    with pytest.raises(ValueError, match="qos"):
        StandinMqtt(qos=3)
    served = await start(version="0.16.4-4131252")
    _, config, _ = await served.get("/api/config")
    record = config["cameras"]["backyard"]["record"]
    assert config["version"] == "0.16-0"
    assert record["retain"] == {"days": 3, "mode": "all"} and "continuous" not in record
    assert "alerts" in record and "events" not in record
    served = await start(version="0.14.1-f4f3cfa")
    record = (await served.get("/api/config"))[1]["cameras"]["backyard"]["record"]
    assert "events" in record and "alerts" not in record
    activity = served.state.add_tracked_object("backyard", "person", T - 60, rng=random.Random(1),
                                               sub_label="ana")
    assert activity.events[-1]["after"]["sub_label"] == "ana"
    with pytest.raises(ValueError):
        make_frigate_app(default_demo_cameras(), version="0.12.0-abcdef0")


# covers PB-01
async def test_camera_routes(start: Any) -> None:
    served: Served = await start(cameras=StandinCameras(cameras=(
        StandinCamera(name="gate"), StandinCamera(name="idle", record_enabled=False),
    )))
    status, body, response = await served.get("/api/gate/latest.jpg")
    assert status == 200 and response.content_type == "image/jpeg" and body[:2] == b"\xff\xd8"
    for path in ("/api/garage/latest.jpg", "/api/garage/recordings?after=1&before=2",
                 "/api/garage/recordings/summary", f"/api/garage/start/{T - 9}/end/{T}/clip.mp4"):
        status, body, _ = await served.get(path)
        assert (status, body) == (404, {"success": False, "message": "Camera not found"}), path
    status, body, _ = await served.get("/api/gate/recordings", params={"after": T - 60})
    assert status == 422 and "before" in body["detail"][0]["loc"]
    assert (await served.get("/api/idle/recordings", params={"after": T - 60, "before": T}))[1] == []
    assert (await served.get("/api/idle/recordings/summary"))[1] == []
    status, body, _ = await served.get(f"/api/idle/start/{T - 60}/end/{T}/clip.mp4")
    assert (status, body) == (
        400, {"success": False, "message": "No recordings found for the specified time range"}
    )
    status, body, response = await served.get(f"/api/gate/start/{T - 60}/end/{T}/clip.mp4")
    assert status == 200 and response.content_length is None and len(body) > 100_000
    status, body, _ = await served.get("/api/gate/recordings/summary", params={"timezone": "Mars/Base"})
    assert status == 400 and body["success"] is False


# covers PB-01
async def test_exports_are_asynchronous(start: Any) -> None:
    served: Served = await start(export_delay_s=0.1)
    url = f"{served.base}/api/export/backyard/start/{T - 60}/end/{T}"
    async with served.http.post(url) as response:
        assert response.status == 422 and (await response.json())["detail"][0]["loc"] == ["body"]
    async with served.http.post(url, json={"playback": "slowmo"}) as response:
        assert response.status == 422
    async with served.http.post(url, json={}) as response:
        export_id = (await response.json())["export_id"]
    assert re.fullmatch(r"backyard_[a-z0-9]{6}", export_id)
    assert (await served.get(f"/api/exports/{export_id}"))[1]["in_progress"] is True
    await asyncio.sleep(0.3)
    assert (await served.get(f"/api/exports/{export_id}"))[1]["in_progress"] is False
    async with served.http.post(url.replace("backyard", "garage"), json={}) as response:
        assert response.status == 404
        assert await response.json() == {"success": False, "message": "garage is not a valid camera."}
    served.state.fail_exports = True
    async with served.http.post(url, json={"name": "will fail"}) as response:
        failing = (await response.json())["export_id"]
    await asyncio.sleep(0.3)
    status, body, _ = await served.get(f"/api/exports/{failing}")
    assert (status, body) == (404, {"success": False, "message": "Export not found"})


# covers PB-01
async def test_auth_mode_like_port_8971(start: Any, http: aiohttp.ClientSession) -> None:
    served: Served = await start(users={"admin": "a-long-password"}, jwt_secret="s" * 64)
    status, body, response = await served.get("/api/version")
    assert status == 401 and response.content_type == "text/html" and b"nginx" in body
    async with http.post(f"{served.base}/api/login", json={"user": "admin", "password": "nope"}) as bad:
        assert bad.status == 401 and await bad.json() == {"message": "Login failed"}
    async with http.post(f"{served.base}/api/login", json={"user": "admin"}) as malformed:
        assert malformed.status == 422
    async with http.post(
        f"{served.base}/api/login", json={"user": "admin", "password": "a-long-password"}
    ) as good:
        assert good.status == 200 and await good.read() == b""
        morsel = good.cookies["frigate_token"]
        assert morsel["httponly"] and morsel["expires"]
        token = morsel.value
    claims = decode_hs256(token, "s" * 64, now=T)
    assert claims is not None and claims["sub"] == "admin" and claims["exp"] == int(T) + 86400
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await served.get("/api/version", headers=bearer))[0] == 200
    assert (await served.get("/api/version", headers={"Cookie": f"frigate_token={token}"}))[0] == 200
    served.state.revoke_sessions()
    assert (await served.get("/api/version", headers=bearer))[0] == 401


# covers PB-01
async def test_csrf_rule(start: Any, http: aiohttp.ClientSession) -> None:
    served: Served = await start()
    url = f"{served.base}/api/export/backyard/start/{T - 60}/end/{T}"
    async with http.post(url, json={}, headers={"Origin": "http://ui.example"}) as response:
        assert response.status == 401
        assert await response.json() == {"success": False, "message": "Missing CSRF header"}
    headers = {"Origin": "http://ui.example", "X-CSRF-TOKEN": "1"}
    async with http.post(url, json={}, headers=headers) as response:
        assert response.status == 200
    assert (await served.get("/api/version", headers={"Origin": "http://ui.example"}))[0] == 200


# covers PB-01
async def test_camera_roles(start: Any) -> None:
    served: Served = await start(users={"viewer": "a-long-password"},
                                 user_cameras={"viewer": ["street_front"]})
    token, _ = served.state.issue_token("viewer")
    bearer = {"Authorization": f"Bearer {token}"}
    served.state.add_tracked_object("backyard", "person", T - 60, rng=random.Random(1))
    status, body, _ = await served.get("/api/backyard/latest.jpg", headers=bearer)
    assert status == 403 and body["detail"].startswith("Access denied to camera 'backyard'")
    assert (await served.get("/api/events", headers=bearer))[1] == []
    assert (await served.get("/api/street_front/latest.jpg", headers=bearer))[0] == 200
