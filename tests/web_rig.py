"""Shared by the API tests: the web app served on a free port of 127.0.0.1 with a client session,
and a served API called with a holder's bearer token.

Covers: BH-11, PB-05, DT-05.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from guarita.config import GuaritaConfig
from guarita.store import Store
from guarita.web.server import serve_web

__all__ = ["ServedApi", "served_app"]


@asynccontextmanager
async def served_app(app: web.Application) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    """Serve ``app`` on a free port; yields its base address and a client session; stops it after."""
    stop = asyncio.Event()
    bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    server = asyncio.create_task(serve_web(app, "127.0.0.1", 0, stop, bound))
    try:
        port = await asyncio.wait_for(bound, 10)
        async with aiohttp.ClientSession() as session:
            yield f"http://127.0.0.1:{port}", session
    finally:
        stop.set()
        await asyncio.wait_for(server, 15)


@dataclass
class ServedApi:
    """A served API (``/api/v1``), what it writes to, and its config; ``token`` names each holder's token."""

    base: str
    session: aiohttp.ClientSession
    store: Store
    config: GuaritaConfig

    def token(self, who: str) -> str:
        raise NotImplementedError

    async def call(self, method: str, path: str, who: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token(who)}"}
        async with self.session.request(method, f"{self.base}/api/v1{path}", json=body, headers=headers) as answer:
            return answer.status, await answer.json()

    async def playback_built(self, playback_id: str, who: str, *, polls: int = 600,
                             pause: float = 0.05) -> dict[str, Any]:
        """The playback once its build is over (``GET /playback/{id}`` until it is no longer ``building``)."""
        for _ in range(polls):
            status, current = await self.call("GET", f"/playback/{playback_id}", who)
            assert status == 200, current
            if current["state"] != "building":
                return dict(current)
            await asyncio.sleep(pause)
        raise AssertionError(f"playback {playback_id} still building after {polls * pause:.0f} s")
