"""What the browser tests share: Debian's Chromium driven by Playwright, and the axe-core check.

``check_page`` screenshots a page, then asserts axe-core (installed from tests/browser's
lockfile by ``scripts/quickstart.sh``) finds no WCAG 2 A/AA violation on it: labels,
contrast and ``html-has-lang`` among the rules. Used by tests/test_console.py and
tests/test_homeowner.py.

Covers: BH-03, PB-07.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

__all__ = ["AXE", "CHROMIUM", "browser_needed", "check_page", "chromium"]

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
