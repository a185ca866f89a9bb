"""Shared by the console's tests: the config, sign-in steps, the in-process server (Chromium and
axe-core are ``browser_support``'s; re-exported here).

Covers: BH-03, BH-09.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from browser_support import browser_needed, check_page, chromium
from harness import ACCREDITED
from harness import write_config as write_harness_config

from guarita.config_loader import load_config
from guarita.consent.registry import Registry
from guarita.standin.mosquitto import MosquittoBroker, free_port
from guarita.standin.tls import TestPki
from guarita.store import Store
from guarita.web.passwords import hash_password

__all__ = ["HERE", "PASSWORDS", "TOKENS", "artifacts", "audit_rows", "browser_needed", "catalogue_topic",
           "check_page", "chromium", "console_config", "csrf_of", "served_console", "sign_in_with_password", "sign_in_with_token", "token_session", "until"]

HERE = {"lat": -19.9245, "lon": -43.9352}
PASSWORDS = {"ana": "ana-" + secrets.token_urlsafe(12), "vitor": "vitor-" + secrets.token_urlsafe(12)}
TOKENS = {"alice": ("admin", secrets.token_urlsafe(24)), "vera": ("viewer", secrets.token_urlsafe(24)),
          "otto": ("auditor", secrets.token_urlsafe(24))}


def console_config(tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki,
                   cameras: dict[str, Any], extra: dict[str, Any] | None = None) -> Path:
    """A cop_bh config: users ana (operator), vitor (viewer); tokens alice (admin), vera (viewer), otto (auditor)."""
    users: dict[str, Any] = {}
    for name, role in (("ana", "operator"), ("vitor", "viewer")):
        file = tmp_path / f"{name}.scrypt"
        file.write_text(hash_password(PASSWORDS[name]) + "\n")
        users[name] = {"role": role, "password_hash_file": str(file)}
    web = {"host": "127.0.0.1", "port": free_port(), "users": users, "tokens": {
        name: {"role": role, "sha256": hashlib.sha256(token.encode()).hexdigest()}
        for name, (role, token) in TOKENS.items()
    }}
    return write_harness_config(tmp_path / "guarita.yaml", frigate_broker=frigate_broker, uplink_broker=uplink_broker,
                                pki=pki, cameras=cameras, programs=["cop_bh"], update_interval=0,
                                extra={"provider": ACCREDITED, "web": web, **(extra or {})})


def catalogue_topic(camera: str) -> str:
    return f"copbh/v1/acme/cameras/{camera}"


def audit_rows(config_path: Path, action: str) -> list[tuple[str, str, str]]:
    store = Store.open(load_config(config_path).storage.data_dir)
    try:
        rows = store.db.execute("SELECT actor, action, details FROM audit_log WHERE action LIKE ? ORDER BY seq",
                                (action + "%",)).fetchall()
        return [(str(a), str(b), str(c)) for a, b, c in rows]
    finally:
        store.close()


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    """Where screenshots go: $GUARITA_ARTIFACTS (kept) or the test's tmp dir."""
    folder = Path(os.environ.get("GUARITA_ARTIFACTS", tmp_path / "artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def until(check: Callable[[], Awaitable[bool]], timeout: float) -> None:
    """Poll ``check`` (a page evaluation: the console's CSP forbids Playwright's wait_for_function)."""
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


async def sign_in_with_password(page: Any, base: str, name: str, password: str) -> None:
    await page.goto(f"{base}/console/sign-in")
    await page.get_by_label("Usuário").fill(name)
    await page.get_by_label("Senha").fill(password)
    await page.locator("form:has(#password) button[type=submit]").click()


async def sign_in_with_token(page: Any, base: str, token: str) -> None:
    await page.goto(f"{base}/console/sign-in")
    await page.get_by_label("Token").fill(token)
    await page.locator("form:has(#token) button[type=submit]").click()


@asynccontextmanager
async def served_console(tmp_path: Path, web: dict[str, Any], extra: dict[str, Any] | None = None) -> AsyncIterator[str]:
    """The web server (API and console) over a real store, at the returned base URL."""
    import yaml

    from guarita.metrics import Metrics
    from guarita.web.api import make_api_app
    from guarita.web.server import make_web_app, serve_web

    document = {
        "provider": ACCREDITED, "storage": {"data_dir": str(tmp_path / "data")},
        "programs": {"cop_bh": {"uplink": {"host": "127.0.0.1"}}},
        "cameras": {"street": {"programs": ["cop_bh"], "location": HERE}},
        "web": {"host": "127.0.0.1", "port": 0, **web}, **(extra or {}),
    }
    path = tmp_path / "guarita.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    config = load_config(path)
    store = Store.open(config.storage.data_dir)
    registry = Registry.for_config(config, store)
    app = make_web_app(lambda: {"status": "ok"}, Metrics(), make_api_app(config, registry, store, lambda: datetime.now(UTC)))
    stop = asyncio.Event()
    bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    server = asyncio.create_task(serve_web(app, "127.0.0.1", 0, stop, bound))
    try:
        yield f"http://127.0.0.1:{await asyncio.wait_for(bound, 10)}"
    finally:
        stop.set()
        await asyncio.wait_for(server, 10)
        store.close()


async def token_session(http: aiohttp.ClientSession, base: str, token: str) -> aiohttp.ClientResponse:
    async with http.get(f"{base}/console/sign-in") as page:
        csrf = re.search(r'name="csrf" value="([^"]+)"', await page.text())
    assert csrf is not None
    async with http.post(f"{base}/console/sign-in", data={"csrf": csrf.group(1), "token": token},
                         allow_redirects=False) as answer:
        return answer


async def csrf_of(http: aiohttp.ClientSession, base: str) -> str:
    async with http.get(f"{base}/console/overview") as page:
        found = re.search(r'name="csrf" value="([^"]+)"', await page.text())
    assert found is not None
    return found.group(1)
