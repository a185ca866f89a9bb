"""What the browser tests share: Debian's Chromium driven by Playwright, and the axe-core check.

``check_page`` screenshots a page, then asserts axe-core (installed from tests/browser's
lockfile by ``scripts/quickstart.sh``) finds no WCAG 2 A/AA violation on it: labels,
contrast and ``html-has-lang`` among the rules. Also the console's ``artifacts`` folder, ``until`` and the sign-in steps. Used by
tests/test_console.py, tests/test_console_fleet.py and tests/test_homeowner.py.

Covers: BH-03, PB-07.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "AXE", "CHROMIUM", "artifacts", "browser_needed", "check_page", "chromium", "sign_in_with_password",
    "sign_in_with_token", "until",
]

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).resolve().parent / "browser" / "node_modules" / "axe-core" / "axe.min.js"

browser_needed = pytest.mark.skipif(
    not CHROMIUM.exists() or not AXE.exists(),
    reason="needs Debian's chromium and axe-core (scripts/quickstart.sh installs both)",
)


@asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield browser
        finally:
            await browser.close()


async def check_page(page: Any, artifacts: Path, name: str) -> None:
    """Screenshot the page, then assert axe-core finds no WCAG 2 A/AA violation on it."""
    await page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
    await page.evaluate(AXE.read_text(encoding="utf-8"))
    result = await page.evaluate(
        "async () => (await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa']}}))"
        ".violations.map(v => ({id: v.id, nodes: v.nodes.map(n => n.target.join(' '))}))"
    )
    ran = await page.evaluate("axe.getRules(['wcag2a', 'wcag2aa']).map(r => r.ruleId)")
    assert {"label", "color-contrast", "html-has-lang"} <= set(ran)
    assert result == [], f"{name}: {result}"


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
