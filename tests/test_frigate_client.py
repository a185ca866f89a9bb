"""FrigateClient against the Frigate stand-in served by aiohttp on a free 127.0.0.1 port."""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import guarita.frigate
from guarita.errors import FrigateAuthError, FrigateError, FrigateHttpError, FrigateUnavailable
from guarita.frigate import (
    EventSort,
    FrigateClient,
    FrigateVersion,
    Playback,
    RetainMode,
    Severity,
)
from guarita.standin.frigate_api import (
    FRIGATE_STANDIN,
    FrigateStandin,
    StandinCameras,
    StandinMqtt,
    default_demo_cameras,
    make_frigate_app,
    serve_frigate,
)

NOW = datetime(2026, 6, 30, 13, 0, tzinfo=UTC)
T = NOW.timestamp()
PASSWORD = "correct-horse-battery-staple"

Serve = Callable[..., Awaitable[str]]


def fixed_clock() -> datetime:
    return NOW


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Serve an app on a free port; every runner is cleaned up at teardown."""
    runners: list[web.AppRunner] = []

    async def _serve(app: web.Application, ssl_context: ssl.SSLContext | None = None) -> str:
        runner, port = await serve_frigate(app, ssl_context=ssl_context)
        runners.append(runner)
        return f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"

    yield _serve
    for runner in runners:
        await runner.cleanup()


def standin_app(**kwargs: Any) -> web.Application:
    kwargs.setdefault("clock", fixed_clock)
    kwargs.setdefault("export_delay_s", 0.2)
    return make_frigate_app(kwargs.pop("cameras", default_demo_cameras()), **kwargs)


def standin(app: web.Application) -> FrigateStandin:
    return app[FRIGATE_STANDIN]


@pytest.fixture
def busy_app() -> web.Application:
    """A stand-in with a few finished objects on several cameras and one still in progress."""
    app = standin_app()
    state = standin(app)
    rng = random.Random(11)
    state.add_tracked_object("street_front", "person", T - 3000, rng=rng, sub_label="ana")
    state.add_tracked_object("street_front", "car", T - 2000, rng=rng, license_plate="RIO2A19")
    state.add_tracked_object("backyard", "dog", T - 1000, rng=rng, updates=1)
    state.add_tracked_object("bus_10234_interior", "person", T - 500, rng=rng)
    ongoing = state.add_tracked_object("bus_10234_front", "person", T - 100, rng=rng)
    # the last object is still tracked: keep only its first two messages in the API
    del state.events[ongoing.events[0]["after"]["id"]]
    state.add_event_lifecycle(ongoing.events[:2])
    return app


@pytest.fixture
async def client(
    busy_app: web.Application, serve: Serve, session: aiohttp.ClientSession
) -> FrigateClient:
    return FrigateClient(session, await serve(busy_app))


# --- version ---------------------------------------------------------------------------------


# covers PB-01
def test_version_parse_and_compare() -> None:
    version = FrigateVersion.parse("0.17.2-3d4dd3a")
    assert (version.major, version.minor, version.patch, version.commit) == (0, 17, 2, "3d4dd3a")
    assert version.prerelease is None and str(version) == "0.17.2-3d4dd3a"
    assert version.at_least(0, 17) and version.at_least(0, 17, 2) and not version.at_least(0, 18)
    beta = FrigateVersion.parse("0.18.0-beta1-5f6043a")
    assert (beta.prerelease, beta.commit) == ("beta1", "5f6043a")
    old = FrigateVersion.parse("0.14.1")
    assert old < version <= version and beta > version >= old
    assert FrigateVersion.parse("0.16").patch == 0
    for bad in ("", "latest", "v0.17.2", "0.17.x"):
        with pytest.raises(ValueError, match="not a Frigate version"):
            FrigateVersion.parse(bad)


# covers PB-01, PB-09
@pytest.mark.parametrize("text", ["0.14.1-f4f3cfa", "0.16.4-4131252", "0.17.2-3d4dd3a"])
async def test_version_from_standin(text: str, serve: Serve, session: aiohttp.ClientSession) -> None:
    client = FrigateClient(session, await serve(standin_app(version=text)) + "/")
    version = await client.version()
    assert version.raw == text and version.at_least(0, 14)
    assert version.at_least(0, 17) == text.startswith("0.17")


# --- config and stats ------------------------------------------------------------------------


# covers PB-01
@pytest.mark.parametrize("qos", [0, 1])
async def test_config_017(qos: int, serve: Serve, session: aiohttp.ClientSession) -> None:
    mqtt = StandinMqtt(host="10.0.0.5", port=1884, topic_prefix="nvr", client_id="frigate-a", qos=qos)
    client = FrigateClient(session, await serve(standin_app(mqtt=mqtt)))
    config = await client.config()
    assert config.version == "0.17-0"
    assert (config.mqtt.enabled, config.mqtt.host, config.mqtt.port) == (True, "10.0.0.5", 1884)
    assert (config.mqtt.topic_prefix, config.mqtt.client_id, config.mqtt.qos) == ("nvr", "frigate-a", qos)
    assert config.camera_names == ("street_front", "backyard", "bus_10234_interior", "bus_10234_front")
    record = config.cameras["bus_10234_front"].record
    assert record.enabled and record.retain is None
    assert record.continuous is not None and record.continuous.days == 30
    assert record.alerts is not None and record.alerts.retain.mode is RetainMode.MOTION
    assert record.max_footage_days == 30
    assert config.cameras["bus_10234_interior"].detect.width == 640
    assert "porch" not in config.cameras["street_front"].zones
    assert "sidewalk" in config.cameras["street_front"].zones
    assert config.raw["mqtt"] == {
        "enabled": True, "host": "10.0.0.5", "port": 1884, "topic_prefix": "nvr",
        "client_id": "frigate-a", "stats_interval": 60, "qos": qos,
    }
    assert "raw" not in config.model_dump()


# covers PB-01
async def test_config_before_017_uses_retain_keys(serve: Serve, session: aiohttp.ClientSession) -> None:
    client = FrigateClient(session, await serve(standin_app(version="0.16.4-4131252")))
    config = await client.config()
    record = config.cameras["backyard"].record
    assert config.version == "0.16-0"
    assert record.continuous is None and record.motion is None
    assert record.retain is not None and record.retain.mode is RetainMode.ALL
    assert record.continuous_days == record.motion_days == record.max_footage_days == 3

    client = FrigateClient(session, await serve(standin_app(version="0.14.1-f4f3cfa")))
    record = (await client.config()).cameras["backyard"].record
    assert record.alerts is None and record.events is not None
    assert record.events.retain.default == 3 and record.max_footage_days == 3


# covers PB-01
async def test_stats(client: FrigateClient) -> None:
    stats = await client.stats()
    assert set(stats.cameras) == set(default_demo_cameras().names)
    assert stats.cameras["backyard"].camera_fps == 5.0
    assert stats.service.version == "0.17.2-3d4dd3a"
    assert stats.service.storage["/media/frigate/recordings"].free > 0
    assert stats.raw["embeddings"] == {}


# --- events and review -----------------------------------------------------------------------


# covers PB-01
async def test_events_and_filters(client: FrigateClient) -> None:
    every = await client.events()
    assert len(every) == 5
    assert [e.start_time for e in every] == sorted((e.start_time for e in every), reverse=True)
    person = next(e for e in every if e.camera == "street_front" and e.label == "person")
    assert person.sub_label == "ana" and person.zones == ["sidewalk"]
    assert person.data.max_severity is Severity.ALERT and person.data.path_data
    car = next(e for e in every if e.label == "car")
    assert car.data.recognized_license_plate == "RIO2A19"

    street = await client.events(cameras=["street_front"])
    assert {e.camera for e in street} == {"street_front"} and len(street) == 2
    assert {e.label for e in await client.events(labels=["person", "dog"])} == {"person", "dog"}
    window = await client.events(after=T - 2500, before=NOW - timedelta(seconds=600))
    assert {e.label for e in window} == {"car", "dog"}
    assert len(await client.events(limit=2)) == 2
    ongoing = await client.events(in_progress=True)
    assert [e.camera for e in ongoing] == ["bus_10234_front"] and ongoing[0].in_progress
    assert len(await client.events(in_progress=False, has_clip=True)) == 4
    ascending = await client.events(sort=EventSort.DATE_ASC)
    assert [e.id for e in ascending] == [e.id for e in reversed(every)]
    with pytest.raises(ValueError, match="naive"):
        await client.events(after=datetime(2026, 6, 30))


# covers PB-01
async def test_event_by_id_and_404(client: FrigateClient) -> None:
    first = (await client.events(limit=1))[0]
    event = await client.event(first.id)
    assert event.id == first.id and event.model_hash and event.data == first.data
    with pytest.raises(FrigateHttpError) as caught:
        await client.event("1782824400.512345-zzzzzz")
    assert caught.value.status == 404
    assert "Event not found" in str(caught.value)
    assert caught.value.url.endswith("/api/events/1782824400.512345-zzzzzz")


# covers PB-01
async def test_review(client: FrigateClient) -> None:
    items = await client.review(T - 3600, T)
    assert len(items) == 5
    assert [i.start_time for i in items] == sorted((i.start_time for i in items), reverse=True)
    alerts = await client.review(T - 3600, T, cameras=["street_front"], severity=Severity.ALERT)
    assert {i.camera for i in alerts} == {"street_front"}
    assert all(i.severity is Severity.ALERT for i in alerts)
    ana = next(i for i in alerts if "ana" in i.data.sub_labels)
    assert ana.data.objects == ["person-verified"] and ana.end_time is not None
    assert await client.review(T - 3600, T - 3500) == []


# --- recordings ------------------------------------------------------------------------------


# covers PB-01
async def test_recordings_always_sends_both_bounds(client: FrigateClient) -> None:
    segments = await client.recordings("street_front", T - 60, NOW)
    assert [s.start_time for s in segments] == [T - 70 + 10 * i for i in range(7)]
    assert all(s.end_time - s.start_time == pytest.approx(s.duration) for s in segments)
    assert all(s.id.startswith(f"{s.start_time}-") for s in segments)
    busy = await client.recordings("street_front", T - 3000, T - 2990)
    assert any(s.objects for s in busy)
    with pytest.raises(FrigateHttpError) as caught:
        await client.recordings("garage", T - 60, T)
    assert caught.value.status == 404


# covers PB-01
async def test_recordings_summary(client: FrigateClient) -> None:
    days = await client.recordings_summary("street_front", "America/Sao_Paulo")
    assert len(days) in (7, 8)
    assert days[0].day > days[-1].day
    newest = days[0]
    assert newest.day.isoformat() == "2026-06-30" and newest.hours[0].hour == "09"
    assert newest.events == sum(h.events for h in newest.hours) == 2
    assert sum(h.duration for d in days for h in d.hours) == pytest.approx(7 * 86400, abs=20)
    assert (await client.recordings_summary("backyard"))[0].hours[0].hour == "12"


# --- clips -----------------------------------------------------------------------------------


# covers PB-01, PB-09
async def test_download_clip_streams_to_file(
    tmp_path: Path, serve: Serve, session: aiohttp.ClientSession
) -> None:
    source = tmp_path / "source.mp4"
    source.write_bytes(random.Random(5).randbytes(3 * 1024 * 1024 + 17))
    client = FrigateClient(session, await serve(standin_app(clip_file=source)))
    dest = tmp_path / "out" / "clip.mp4"
    dest.parent.mkdir()
    size = await client.download_clip("backyard", T - 60, NOW - timedelta(seconds=30), dest)
    assert size == source.stat().st_size and dest.read_bytes() == source.read_bytes()
    assert sorted(p.name for p in dest.parent.iterdir()) == ["clip.mp4"]


# covers PB-01
async def test_download_clip_without_recordings_leaves_nothing(
    tmp_path: Path, client: FrigateClient
) -> None:
    dest = tmp_path / "clip.mp4"
    with pytest.raises(FrigateHttpError) as caught:
        await client.download_clip("street_front", T + 60, T + 90, dest)
    assert caught.value.status == 400
    assert "No recordings found for the specified time range" in str(caught.value)
    assert list(tmp_path.iterdir()) == []


# covers PB-01
async def test_download_event_clip(tmp_path: Path, client: FrigateClient) -> None:
    event = (await client.events(in_progress=False, limit=1))[0]
    size = await client.download_event_clip(event.id, tmp_path / "event.mp4")
    body = (tmp_path / "event.mp4").read_bytes()
    assert size == len(body) > 100_000 and body[4:8] == b"ftyp"
    assert [p.name for p in tmp_path.iterdir()] == ["event.mp4"]
    with pytest.raises(FrigateHttpError) as caught:
        await client.download_event_clip("1782824400.0-nothin", tmp_path / "x.mp4")
    assert caught.value.status == 404


# covers PB-01
async def test_download_into_missing_directory_is_an_os_error(
    tmp_path: Path, client: FrigateClient
) -> None:
    with pytest.raises(OSError):
        await client.download_clip("street_front", T - 60, T - 30, tmp_path / "no" / "clip.mp4")


# --- exports ---------------------------------------------------------------------------------


# covers PB-01
async def test_export_start_and_wait(busy_app: web.Application, client: FrigateClient) -> None:
    export_id = await client.start_export("street_front", T - 120, T - 60, name="incident 42")
    assert export_id.startswith("street_front_")
    first = await client.export(export_id)
    assert first.in_progress and first.name == "incident 42" and first.date == int(T - 120)
    done = await client.wait_export(export_id, poll_s=0.02, timeout_s=5)
    assert not done.in_progress and done.video_path.endswith(".mp4")
    second = await client.start_export(
        "backyard", NOW - timedelta(seconds=30), NOW, playback=Playback.TIMELAPSE_25X
    )
    listed = await client.exports()
    assert {e.id for e in listed} == {export_id, second}
    assert "backyard 2026-06-30 12:59:30 2026-06-30 13:00:00" in {e.name for e in listed}


# covers PB-01
async def test_export_that_disappears_is_an_error(
    busy_app: web.Application, client: FrigateClient
) -> None:
    standin(busy_app).fail_exports = True
    export_id = await client.start_export("street_front", T - 120, T - 60)
    with pytest.raises(FrigateHttpError, match="disappeared before it finished") as caught:
        await client.wait_export(export_id, poll_s=0.02, timeout_s=5)
    assert caught.value.status == 404


# covers PB-01
async def test_export_errors(busy_app: web.Application, client: FrigateClient) -> None:
    with pytest.raises(FrigateHttpError, match="garage is not a valid camera") as caught:
        await client.start_export("garage", T - 120, T - 60)
    assert caught.value.status == 404
    with pytest.raises(FrigateHttpError, match="No recordings found for time range"):
        await client.start_export("street_front", T + 60, T + 120)
    with pytest.raises(FrigateHttpError) as never:
        await client.wait_export("street_front_nosuch", poll_s=0.01, timeout_s=0.05)
    assert never.value.status == 404
    standin(busy_app).export_delay_s = 60
    slow = await client.start_export("street_front", T - 120, T - 60)
    with pytest.raises(FrigateError, match="still in progress after 0.1 s"):
        await client.wait_export(slow, poll_s=0.02, timeout_s=0.1)


# --- live image ------------------------------------------------------------------------------


# covers PB-01
async def test_latest_jpg(client: FrigateClient) -> None:
    image = await client.latest_jpg("backyard", height=180)
    assert image[:2] == b"\xff\xd8" and image[-2:] == b"\xff\xd9"
    with pytest.raises(FrigateHttpError) as caught:
        await client.latest_jpg("garage")
    assert caught.value.status == 404 and "Camera not found" in str(caught.value)


# --- headers and auth ------------------------------------------------------------------------


def recording_headers(app: web.Application) -> list[tuple[str, str, dict[str, str]]]:
    """Add a middleware to ``app`` (before serving) that records method, path, headers."""
    seen: list[tuple[str, str, dict[str, str]]] = []

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        seen.append((request.method, request.path, dict(request.headers)))
        response: web.StreamResponse = await handler(request)
        return response

    app.middlewares.insert(0, record)
    return seen


# covers PB-01, PB-09
async def test_every_request_bypasses_cache_and_sends_no_origin(
    tmp_path: Path, serve: Serve
) -> None:
    app = standin_app(users={"guarita": PASSWORD})
    seen = recording_headers(app)
    base = await serve(app)
    # even a session whose defaults add Origin passes Frigate's CSRF rule (X-CSRF-TOKEN)
    boundary = 0
    async with aiohttp.ClientSession() as plain, aiohttp.ClientSession(
        headers={"Origin": "https://evil.example"}
    ) as with_origin:
        for http in (plain, with_origin):
            client = FrigateClient(http, base, username="guarita", password=PASSWORD)
            await client.version()
            export_id = await client.start_export("backyard", T - 30, T)
            await client.wait_export(export_id, poll_s=0.02, timeout_s=5)
            await client.download_clip("backyard", T - 30, T, tmp_path / "c.mp4")
            boundary = boundary or len(seen)
    plain_requests = seen[:boundary]
    assert {path for _, path, _ in plain_requests} >= {"/api/login", "/api/version"}
    for method, path, headers in seen:
        assert headers.get("X-Cache-Bypass") == "1", path
        if path != "/api/login":
            assert headers["Authorization"].startswith("Bearer "), path
    for method, path, headers in plain_requests:
        assert "Origin" not in headers, path
        assert ("X-CSRF-TOKEN" in headers) == (method != "GET"), path


# covers PB-01
async def test_login_then_relogin_once_on_401(
    serve: Serve, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    app = standin_app(users={"guarita": PASSWORD})
    state = standin(app)
    client = FrigateClient(session, await serve(app), username="guarita", password=PASSWORD)
    await client.login()
    assert (await client.version()).minor == 17 and state.logins == 1
    state.revoke_sessions()
    assert (await client.config()).camera_names and state.logins == 2
    await asyncio.gather(*(client.stats() for _ in range(5)))
    assert state.logins == 2
    state.revoke_sessions()
    await asyncio.gather(*(client.stats() for _ in range(5)))
    assert state.logins == 3
    assert PASSWORD not in caplog.text


# covers PB-01
async def test_wrong_password_is_an_auth_error_without_the_password(
    serve: Serve, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-but-secret-pass"
    client = FrigateClient(
        session, await serve(standin_app(users={"guarita": PASSWORD})),
        username="guarita", password=wrong,
    )
    with pytest.raises(FrigateAuthError) as caught:
        await client.events()
    message = str(caught.value)
    assert "refused the login of user 'guarita'" in message and "Settings > Users" in message
    assert wrong not in message and wrong not in repr(caught.value.args)
    assert wrong not in caplog.text and PASSWORD not in caplog.text


# covers PB-01
async def test_auth_port_without_credentials(serve: Serve, session: aiohttp.ClientSession) -> None:
    client = FrigateClient(session, await serve(standin_app(users={"guarita": PASSWORD})))
    with pytest.raises(FrigateAuthError, match="requires a login .* or use the internal port 5000"):
        await client.stats()


# covers PB-01
async def test_second_401_is_an_auth_error(serve: Serve, session: aiohttp.ClientSession) -> None:
    ticks = iter(range(10**6))

    def racing_clock() -> datetime:  # two days pass between any two looks at the clock
        return NOW + timedelta(days=2 * next(ticks))

    app = standin_app(users={"guarita": PASSWORD}, clock=racing_clock)
    client = FrigateClient(session, await serve(app), username="guarita", password=PASSWORD)
    with pytest.raises(FrigateAuthError, match="still refuses /api/stats right after a fresh login"):
        await client.stats()
    assert standin(app).logins == 2


# covers PB-01
async def test_403_is_an_auth_error(serve: Serve, session: aiohttp.ClientSession) -> None:
    app = standin_app(users={"viewer": PASSWORD}, user_cameras={"viewer": ["street_front"]})
    client = FrigateClient(session, await serve(app), username="viewer", password=PASSWORD)
    assert await client.latest_jpg("street_front")
    with pytest.raises(FrigateAuthError, match=r"denied /api/backyard/latest.jpg to user 'viewer' \(403"):
        await client.latest_jpg("backyard")


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    """A server context with a self-signed certificate for 127.0.0.1, like Frigate's 8971."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


# covers PB-01, PB-09
async def test_login_over_self_signed_tls(
    self_signed: ssl.SSLContext, serve: Serve, session: aiohttp.ClientSession
) -> None:
    app = standin_app(users={"guarita": PASSWORD})
    base = await serve(app, ssl_context=self_signed)
    assert base.startswith("https://")
    strict = FrigateClient(session, base, username="guarita", password=PASSWORD)
    with pytest.raises(FrigateUnavailable, match="not trusted .* set verify_tls to false") as caught:
        await strict.version()
    assert isinstance(caught.value.__cause__, aiohttp.ClientConnectorCertificateError)
    relaxed = FrigateClient(session, base, username="guarita", password=PASSWORD, verify_tls=False)
    assert (await relaxed.version()).raw == "0.17.2-3d4dd3a"
    assert standin(app).logins == 1
    plain = FrigateClient(session, base.replace("https://", "http://"), timeout_s=2)
    with pytest.raises(FrigateError):
        await plain.version()


# --- Frigate unreachable or odd --------------------------------------------------------------


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    yield port


# covers PB-01
async def test_frigate_down(closed_port: int, session: aiohttp.ClientSession, tmp_path: Path) -> None:
    client = FrigateClient(session, f"http://127.0.0.1:{closed_port}", username="u", password="secret-pw")
    calls: list[Callable[[], Awaitable[object]]] = [
        client.version, client.login, lambda: client.download_clip("x", 1, 2, tmp_path / "c")
    ]
    for call in calls:
        expected = f"cannot reach Frigate at http://127.0.0.1:{closed_port}"
        with pytest.raises(FrigateUnavailable, match=expected) as caught:
            await call()
        assert isinstance(caught.value.__cause__, aiohttp.ClientError)
        assert "secret-pw" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


async def _odd_config(request: web.Request) -> web.Response:
    return web.json_response({"mqtt": {"qos": 7}, "cameras": []})


async def _not_json(request: web.Request) -> web.Response:
    return web.Response(text="<html>router login</html>", content_type="text/html")


async def _fastapi_422(request: web.Request) -> web.Response:
    detail = [{"type": "missing", "loc": ["query", "after"], "msg": "Field required"}]
    return web.json_response({"detail": detail}, status=422)


# covers PB-01
async def test_timeout_and_odd_answers(serve: Serve, session: aiohttp.ClientSession) -> None:
    release = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        await asyncio.wait_for(release.wait(), 5)
        return web.Response(text="0.17.2-3d4dd3a")

    app = web.Application()
    app.router.add_get("/api/version", slow)
    app.router.add_get("/api/config", _odd_config)
    app.router.add_get("/api/stats", _not_json)
    app.router.add_get("/api/review", _fastapi_422)
    base = await serve(app)
    client = FrigateClient(session, base, timeout_s=0.2)
    with pytest.raises(FrigateUnavailable, match="did not answer GET .* within 0.2 s"):
        await client.version()
    release.set()
    with pytest.raises(FrigateHttpError, match="Field required") as unprocessable:
        await client.review(T - 60, T)
    assert unprocessable.value.status == 422
    with pytest.raises(FrigateError, match="/api/config in an unexpected shape"):
        await client.config()
    with pytest.raises(FrigateError, match="not JSON"):
        await client.stats()
    with pytest.raises(FrigateHttpError) as caught:
        await client.events()
    assert caught.value.status == 404


# covers PB-01
async def test_export_needs_a_json_body(serve: Serve, session: aiohttp.ClientSession) -> None:
    base = await serve(standin_app())
    async with session.post(f"{base}/api/export/backyard/start/{T - 30}/end/{T}") as raw:
        assert raw.status == 422  # no JSON body: Frigate refuses; the client always sends one
    client = FrigateClient(session, base)
    assert await client.start_export("backyard", T - 30, T)


async def test_constructor_checks_arguments(session: aiohttp.ClientSession) -> None:
    fake = session
    with pytest.raises(ValueError, match="http:// or https://"):
        FrigateClient(fake, "frigate:5000")
    with pytest.raises(ValueError, match="both a Frigate username and password"):
        FrigateClient(fake, "http://frigate:5000", username="admin")
    with pytest.raises(ValueError, match="timeout_s"):
        FrigateClient(fake, "http://frigate:5000", timeout_s=0)
    assert FrigateClient(fake, "http://frigate:5000/").base_url == "http://frigate:5000"


def test_public_names_are_pinned() -> None:
    assert sorted(guarita.frigate.__all__) == sorted([
        "CameraConfig", "CameraStats", "DaysSetting", "DetectSettings", "DetectorStats", "Event",
        "EventAttribute", "EventData", "EventSort", "Export", "FrigateClient", "FrigateConfig",
        "FrigateStats", "FrigateVersion", "LegacyEventRetain", "LegacyRecordEvents",
        "MqttSettings", "Playback", "RecordSettings", "RecordingSegment", "RecordingsDay",
        "RecordingsHour", "RetainMode", "RetainSettings", "ReviewData", "ReviewItem",
        "ReviewRetention", "ServiceStats", "Severity", "SnapshotRetain", "SnapshotSettings",
        "StorageStats", "Timestamp", "ZoneSettings",
    ])
    for name in guarita.frigate.__all__:
        assert getattr(guarita.frigate, name) is not None
    assert isinstance(default_demo_cameras(), StandinCameras)
