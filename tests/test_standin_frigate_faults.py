"""The stand-in Frigate restarting as contract §9 describes, seen through Guarita's Frigate client."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from guarita.errors import FrigateHttpError, FrigateUnavailable
from guarita.frigate import FrigateClient
from guarita.standin.frigate_api import make_frigate_app, serve_frigate
from guarita.standin.frigate_cameras import StandinCamera, StandinCameras
from guarita.standin.frigate_faults import FaultKind, FrigateFaults, frigate_restart


# covers PB-05, DT-08
async def test_each_fault_reaches_the_client_as_a_real_restart_would() -> None:
    app = make_frigate_app(StandinCameras(cameras=(StandinCamera(name="street"),)), users={"admin": "pw"})
    faults = FrigateFaults.install(app)
    runner, port = await serve_frigate(app)
    try:
        async with aiohttp.ClientSession() as session:
            client = FrigateClient(session, f"http://127.0.0.1:{port}", username="admin", password="pw",
                                   timeout_s=0.5)
            assert (await client.version()).raw.startswith("0.17")

            await faults.set(FaultKind.HTTP_500, runner)
            with pytest.raises(FrigateHttpError) as caught:
                await client.version()
            assert caught.value.status == 500, "before any auth check, as nginx's failed /auth sub-request"

            await faults.set(FaultKind.HTTP_502, runner)
            with pytest.raises(FrigateHttpError) as caught:
                await client.config()
            assert caught.value.status == 502

            await faults.set(FaultKind.TIMEOUT, runner)
            with pytest.raises(FrigateUnavailable, match="did not answer"):
                await client.version()

            await faults.set(FaultKind.REFUSED, runner)
            with pytest.raises(FrigateUnavailable):
                await client.version()
            with pytest.raises(OSError):
                await asyncio.open_connection("127.0.0.1", port)

            await faults.clear(runner)
            assert (await client.version()).raw.startswith("0.17"), "back on the same port"
            assert faults.requests_faulted >= 3
    finally:
        await runner.cleanup()


# covers PB-05
async def test_the_restart_sequence_ends_with_frigate_back() -> None:
    app = make_frigate_app(StandinCameras(cameras=(StandinCamera(name="street"),)))
    faults = FrigateFaults.install(app)
    runner, port = await serve_frigate(app)
    seen: list[FaultKind | None] = []
    try:
        restart = asyncio.create_task(frigate_restart(faults, runner, 0.2))
        while not restart.done():
            if not seen or seen[-1] is not faults.kind:
                seen.append(faults.kind)
            await asyncio.sleep(0.02)
        await restart
        assert [kind for kind in seen if kind is not None] == [FaultKind.HTTP_500, FaultKind.HTTP_502, FaultKind.TIMEOUT, FaultKind.REFUSED]
        assert faults.kind is None
        async with aiohttp.ClientSession() as session:
            assert (await FrigateClient(session, f"http://127.0.0.1:{port}").version()).raw.startswith("0.17")
    finally:
        await runner.cleanup()
