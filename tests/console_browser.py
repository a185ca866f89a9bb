"""Shared helpers for the console's browser tests: Chromium with Playwright, axe-core checks,
screenshots, a `guarita run` config with users and tokens, sharing cameras, reading the audit log.

Used by tests/test_console.py and tests/test_console_cameras.py; Chromium and the axe-core check
themselves are tests/browser_support.py's (re-exported here).
"""

from __future__ import annotations

__all__ = [
    "HERE", "PASSWORDS", "TOKENS", "artifacts", "audit_rows", "browser_needed", "catalogue_topic", "check_page",
    "chromium", "console_config", "csrf_of", "hash_line", "share", "sign_in_with_password", "sign_in_with_token",
    "served_console", "token_session", "until",
]

import asyncio
import hashlib
import io
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from browser_support import browser_needed, check_page, chromium
from harness import ACCREDITED, share_camera
from harness import write_config as write_harness_config
from PIL import Image

from guarita.config_loader import load_config
from guarita.consent.registry import Registry
from guarita.standin.mosquitto import MosquittoBroker, free_port
from guarita.standin.tls import TestPki
from guarita.store import Store
from guarita.web.passwords import hash_password

PASSWORDS = {"ana": "ana-" + secrets.token_urlsafe(12), "vitor": "vitor-" + secrets.token_urlsafe(12)}
TOKENS = {"alice": ("admin", secrets.token_urlsafe(24)), "vera": ("viewer", secrets.token_urlsafe(24))}
HERE = {"lat": -19.9245, "lon": -43.9352}


def catalogue_topic(camera: str) -> str:
    return f"copbh/v1/acme/cameras/{camera}"


def hash_line(password: str) -> str:
    """The password's hash line, made by the CLI as an operator would."""
    made = subprocess.run([sys.executable, "-m", "guarita.cli", "web", "hash-password"], input=password + "\n",
                          capture_output=True, text=True, check=True, timeout=30)
    return made.stdout.strip()


def console_config(tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki,
                   cameras: dict[str, Any]) -> Path:
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
                                extra={"provider": ACCREDITED, "web": web})


def share(config_path: Path, *cameras: str) -> None:
    """Share ``cameras`` through the registry (as the CLI would), with a real JPEG as the attestation image."""
    config = load_config(config_path)
    store = Store.open(config.storage.data_dir)
    try:
        since = datetime.now(UTC) - timedelta(hours=1)
        for camera in cameras:
            clock = share_camera(config, store, camera, since)
            picture = config.storage.data_dir / f"{camera}.jpg"
            image = Image.new("RGB", (320, 180), (70, 110, 150))
            image.paste((0, 0, 0), (0, 0, 160, 180))  # the masked half
            buffer = io.BytesIO()
            image.save(buffer, "JPEG")
            picture.write_bytes(buffer.getvalue())
            Registry.for_config(config, store, clock).attest(camera, public_facing=True, evidence=picture, by="ana")
    finally:
        store.close()


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


async def csrf_of(http: aiohttp.ClientSession, base: str) -> str:
    async with http.get(f"{base}/console/overview") as page:
        found = re.search(r'name="csrf" value="([^"]+)"', await page.text())
    assert found is not None
    return found.group(1)


@asynccontextmanager
async def served_console(tmp_path: Path, web: dict[str, Any]) -> AsyncIterator[str]:
    """The web server (API and console) over a real store, at the returned base URL."""
    import yaml

    from guarita.metrics import Metrics
    from guarita.web.api import make_api_app
    from guarita.web.server import make_web_app, serve_web

    document = {
        "provider": ACCREDITED, "storage": {"data_dir": str(tmp_path / "data")},
        "programs": {"cop_bh": {"uplink": {"host": "127.0.0.1"}}},
        "cameras": {"street": {"programs": ["cop_bh"], "location": HERE}},
        "web": {"host": "127.0.0.1", "port": 0, **web},
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
