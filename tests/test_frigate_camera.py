"""The Frigate camera entry: version-correct keys, no password, and ``PUT /api/config/set`` on the stand-in."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest
from aiohttp import web

from guarita.adapters.rtsp import StreamInfo, StreamRoles
from guarita.errors import FrigateHttpError
from guarita.frigate import FrigateClient, FrigateVersion
from guarita.frigate_camera import (
    FrigateCameraError,
    apply_frigate_camera,
    build_frigate_camera,
    password_placeholder,
)
from guarita.standin.frigate_api import (
    FRIGATE_CONFIG_SETS,
    FRIGATE_STANDIN,
    StandinCamera,
    StandinCameras,
    make_frigate_app,
    serve_frigate,
)

SECRET = "Cam-s3cret"


def stream(name: str, width: int, height: int, fps: float = 10.0) -> StreamInfo:
    return StreamInfo(uri=f"rtsp://admin:{SECRET}@192.0.2.7:554/{name}", transport="tcp", codec="h264",
                      profile="Main", width=width, height=height, fps=fps, audio=None, first_frame_s=0.8)


ROLES = StreamRoles(record=stream("main", 2560, 1440), detect=stream("sub", 640, 360))
PLACEHOLDER = "{FRIGATE_PORTARIA_RUA_RTSP_PASSWORD}"


def version(text: str) -> FrigateVersion:
    return FrigateVersion.parse(text)


# covers PB-02, BH-07
@pytest.mark.parametrize(("release", "record"), [
    ("0.14.1-f4f3cfa", {"enabled": True, "retain": {"days": 7, "mode": "all"}}),
    ("0.15.2-3bda638", {"enabled": True, "retain": {"days": 7, "mode": "all"}}),
    ("0.16.4-4131252", {"enabled": True, "retain": {"days": 7, "mode": "all"}}),
    ("0.17.2-3d4dd3a", {"enabled": True, "continuous": {"days": 7}}),
])
def test_the_entry_uses_the_running_versions_retention_keys(release: str, record: dict[str, object]) -> None:
    entry = build_frigate_camera("portaria-rua", ROLES, version(release))
    assert entry.camera == {
        "ffmpeg": {"inputs": [
            {"path": f"rtsp://admin:{PLACEHOLDER}@192.0.2.7:554/main", "roles": ["record"]},
            {"path": f"rtsp://admin:{PLACEHOLDER}@192.0.2.7:554/sub", "roles": ["detect"]},
        ]},
        "detect": {"enabled": True, "width": 640, "height": 360, "fps": 5},
        "record": record,
    }
    assert entry.password_env == "FRIGATE_PORTARIA_RUA_RTSP_PASSWORD"
    text = entry.yaml() + json.dumps(entry.set_body())
    assert SECRET not in text
    obsolete = "retain:" if release.startswith("0.17") else "continuous:"
    assert obsolete not in entry.yaml()


# covers PB-02, BH-07
def test_restream_goes_through_go2rtc_and_a_single_stream_takes_both_roles() -> None:
    entry = build_frigate_camera("portaria", ROLES, version("0.17.2"), restream=True, retain_days=10)
    assert entry.go2rtc_streams == {
        "portaria": ["rtsp://admin:{FRIGATE_PORTARIA_RTSP_PASSWORD}@192.0.2.7:554/main"],
        "portaria_sub": ["rtsp://admin:{FRIGATE_PORTARIA_RTSP_PASSWORD}@192.0.2.7:554/sub"],
    }
    assert entry.camera["ffmpeg"]["inputs"] == [
        {"path": "rtsp://127.0.0.1:8554/portaria", "roles": ["record"], "input_args": "preset-rtsp-restream"},
        {"path": "rtsp://127.0.0.1:8554/portaria_sub", "roles": ["detect"], "input_args": "preset-rtsp-restream"},
    ]
    assert list(entry.config_data()) == ["go2rtc", "cameras"]
    single = build_frigate_camera("garagem", StreamRoles(record=stream("only", 1280, 720, fps=3), detect=None),
                                  version("0.16.0"))
    assert single.camera["ffmpeg"]["inputs"] == [
        {"path": "rtsp://admin:{FRIGATE_GARAGEM_RTSP_PASSWORD}@192.0.2.7:554/only", "roles": ["record", "detect"]}]
    assert single.camera["detect"] == {"enabled": True, "width": 1280, "height": 720, "fps": 3}
    assert password_placeholder("Loja 2 (frente)") == "FRIGATE_LOJA_2_FRENTE_RTSP_PASSWORD"
    open_camera = StreamRoles(record=StreamInfo(uri="rtsp://192.0.2.9/live", transport="udp", codec="h264",
                                                profile=None, width=640, height=480, fps=5, audio=None,
                                                first_frame_s=1), detect=None)
    assert build_frigate_camera("aberta", open_camera, version("0.17.0")).password_env is None


# covers PB-02
@pytest.mark.parametrize("release", ["0.13.2", "0.18.0-beta1-5f6043a", "1.0.0"])
def test_versions_whose_keys_are_unknown_are_refused(release: str) -> None:
    with pytest.raises(FrigateCameraError, match="is not supported"):
        build_frigate_camera("x", ROLES, version(release))
    with pytest.raises(FrigateCameraError, match="letters, digits"):
        build_frigate_camera("front door", ROLES, version("0.17.2"))


@pytest.fixture
async def frigate() -> AsyncIterator[Callable[[str], object]]:
    runners: list[web.AppRunner] = []
    async with aiohttp.ClientSession() as session:
        async def start(release: str, environment: dict[str, str] | None = None) -> tuple[FrigateClient, web.Application]:
            env = {"FRIGATE_PORTARIA_RTSP_PASSWORD": SECRET} if environment is None else environment
            app = make_frigate_app(StandinCameras(cameras=(StandinCamera(name="street_front"),)), version=release,
                                   environment=env)
            runner, port = await serve_frigate(app)
            runners.append(runner)
            return FrigateClient(session, f"http://127.0.0.1:{port}"), app

        yield start
        for runner in runners:
            await runner.cleanup()


# covers PB-02, PB-07
@pytest.mark.parametrize(("release", "record"), [
    ("0.16.4-4131252", {"enabled": True, "retain": {"days": 7, "mode": "all"}}),
    ("0.17.2-3d4dd3a", {"enabled": True, "continuous": {"days": 7}}),
])
async def test_apply_sends_the_exact_json_body(frigate: Callable[[str], object], release: str,
                                               record: dict[str, object]) -> None:
    client, app = await frigate(release)  # type: ignore[misc]
    entry = build_frigate_camera("portaria", ROLES, await client.version())
    assert await apply_frigate_camera(client, entry) == "Config successfully updated, restart to apply"
    ph = "{FRIGATE_PORTARIA_RTSP_PASSWORD}"
    assert app[FRIGATE_CONFIG_SETS] == [{
        "requires_restart": 1,
        "update_topic": None,
        "config_data": {"cameras": {"portaria": {
            "ffmpeg": {"inputs": [{"path": f"rtsp://admin:{ph}@192.0.2.7:554/main", "roles": ["record"]},
                                  {"path": f"rtsp://admin:{ph}@192.0.2.7:554/sub", "roles": ["detect"]}]},
            "detect": {"enabled": True, "width": 640, "height": 360, "fps": 5},
            "record": record,
        }}},
    }]


# covers PB-02
async def test_old_frigates_and_obsolete_keys_are_never_written(frigate: Callable[[str], object]) -> None:
    old, old_app = await frigate("0.14.1-f4f3cfa")  # type: ignore[misc]
    with pytest.raises(FrigateCameraError, match="only as a query string; paste the printed YAML"):
        await apply_frigate_camera(old, build_frigate_camera("portaria", ROLES, version("0.14.1")))
    assert old_app[FRIGATE_CONFIG_SETS] == []  # nothing sent
    new, new_app = await frigate("0.17.2-3d4dd3a")  # type: ignore[misc]
    with pytest.raises(FrigateCameraError, match="made for Frigate 0.16.4 but 0.17.2-3d4dd3a runs"):
        await apply_frigate_camera(new, build_frigate_camera("portaria", ROLES, version("0.16.4")))
    assert new_app[FRIGATE_CONFIG_SETS] == []
    # What the stand-in (like Frigate) does with an obsolete key that reaches it anyway: 400, rolled back.
    stale = build_frigate_camera("portaria", ROLES, version("0.16.4")).set_body()
    with pytest.raises(FrigateHttpError) as refused:
        await new.set_config(stale)
    assert refused.value.status == 400 and "Error parsing config" in str(refused.value)
    with pytest.raises(FrigateHttpError, match="No configuration data provided"):
        await new.set_config({"requires_restart": 1})


# covers PB-02, BH-07
async def test_a_placeholder_frigate_lacks_is_refused_and_the_message_names_the_variables(
        frigate: Callable[..., object], caplog: pytest.LogCaptureFixture) -> None:
    client, app = await frigate("0.17.2-3d4dd3a", environment={})  # type: ignore[misc]
    entry = build_frigate_camera("portaria", ROLES, await client.version())
    # What Frigate itself answers: a bare 400; only its log names the variable.
    async with aiohttp.ClientSession() as session:
        with caplog.at_level(logging.ERROR, logger="guarita.standin._frigate_config"):
            async with session.put(f"{client.base_url}/api/config/set", json=entry.set_body()) as response:
                assert response.status == 400
                assert await response.json() == {"success": False,
                                                  "message": "Error parsing config. Check logs for error message."}
    assert "KeyError: 'FRIGATE_PORTARIA_RTSP_PASSWORD'" in caplog.text
    with pytest.raises(FrigateCameraError) as refused:
        await apply_frigate_camera(client, entry)
    message = str(refused.value)
    assert "{FRIGATE_PORTARIA_RTSP_PASSWORD}" in message
    assert "Set FRIGATE_PORTARIA_RTSP_PASSWORD in Frigate's environment" in message
    assert "restart Frigate, then run this command again with --apply" in message
    assert SECRET not in message
    # The technician sets the variable in Frigate's environment and restarts it: now it is taken.
    app[FRIGATE_STANDIN].environment["FRIGATE_PORTARIA_RTSP_PASSWORD"] = SECRET  # type: ignore[index]
    assert await apply_frigate_camera(client, entry) == "Config successfully updated, restart to apply"


# covers PB-02
async def test_restream_placeholders_live_in_go2rtc_which_frigate_does_not_check(
        frigate: Callable[..., object]) -> None:
    client, _ = await frigate("0.17.2-3d4dd3a", environment={})  # type: ignore[misc]
    entry = build_frigate_camera("portaria", ROLES, await client.version(), restream=True)
    assert entry.variables() == ["FRIGATE_PORTARIA_RTSP_PASSWORD"]
    assert await apply_frigate_camera(client, entry) == "Config successfully updated, restart to apply"
