"""The web console in a real browser: Debian's Chromium, headless, driven by Playwright, against
a real ``guarita run`` (real Mosquitto on both sides, real SQLite, the Frigate MQTT stand-in).

Each page is screenshotted (under pytest's tmp dir, or ``$GUARITA_ARTIFACTS`` when set) and
checked with axe-core (installed from tests/browser's lockfile by ``scripts/quickstart.sh``)
for every WCAG 2 A/AA rule, labels, contrast and ``html-has-lang`` among them.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import random
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from console_browser import (
    HERE,
    PASSWORDS,
    TOKENS,
    artifacts,
    audit_rows,
    browser_needed,
    catalogue_topic,
    check_page,
    chromium,
    console_config,
    csrf_of,
    served_console,
    sign_in_with_password,
    sign_in_with_token,
    token_session,
    until,
)
from harness import GuaritaProcess, Receiver, share_camera
from PIL import Image

from guarita.config_loader import load_config
from guarita.consent.registry import Registry
from guarita.standin.frigate_events import tracked_object_lifecycle
from guarita.standin.frigate_mqtt import FrigateMqttStandin
from guarita.standin.mosquitto import MosquittoBroker
from guarita.standin.rtsp_server import RtspServer, make_clip, rtsp_server_available
from guarita.standin.tls import TestPki
from guarita.store import Store
from guarita.web.i18n import negotiate
from guarita.web.passwords import check_password, hash_password


def hash_line(password: str) -> str:
    """The password's hash line, made by the CLI as an operator would."""
    made = subprocess.run([sys.executable, "-m", "guarita.cli", "web", "hash-password"], input=password + "\n",
                          capture_output=True, text=True, check=True, timeout=30)
    return made.stdout.strip()


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


# ---- without a browser -----------------------------------------------------------------------
# covers BH-07
def test_hash_password_prints_a_scrypt_line_that_checks_only_its_password() -> None:
    line = hash_line("correct horse battery")
    assert re.fullmatch(r"scrypt\$32768\$8\$1\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+", line)
    assert check_password("correct horse battery", line) and not check_password("correct horse batterY", line)
    assert hash_password("correct horse battery") != hash_password("correct horse battery"), "a fresh salt each time"
    short = subprocess.run([sys.executable, "-m", "guarita.cli", "web", "hash-password"], input="short\n",
                           capture_output=True, text=True, timeout=30)
    assert short.returncode == 1 and "at least 10" in short.stderr


# covers BH-03
def test_pages_are_portuguese_unless_the_browser_prefers_english() -> None:
    assert negotiate(None) == "pt-BR" and negotiate("") == "pt-BR"
    assert negotiate("en-US,en;q=0.9") == "en"
    assert negotiate("pt-BR,pt;q=0.9,en;q=0.8") == "pt-BR"
    assert negotiate("fr-FR, en;q=0.5, pt;q=0.4") == "en"
    assert negotiate("en;q=0, pt;q=0.1") == "pt-BR"


# ---- in Chromium, against `guarita run` ------------------------------------------------------
@browser_needed
@pytest.mark.slow
# covers BH-03, BH-04, BH-07, BH-09, DT-16, PB-03
async def test_sign_in_overview_live_revoke_and_audit(tmp_path: Path, frigate_broker: MosquittoBroker,
                                                      uplink_broker: MosquittoBroker, pki: TestPki,
                                                      artifacts: Path) -> None:
    cameras = {name: {"programs": ["cop_bh"], "location": HERE} for name in ("street", "gate", "porch")}
    config = console_config(tmp_path, frigate_broker, uplink_broker, pki, cameras)
    share(config, "street", "gate")
    guarita = GuaritaProcess(config).start()
    base = f"http://127.0.0.1:{guarita.web_port}"
    try:
        async with Receiver(uplink_broker, pki) as centre, chromium() as browser:
            await asyncio.to_thread(guarita.wait_healthy, 30)
            await centre.wait_until(lambda: bool(centre.on(catalogue_topic("street"))), timeout=15)
            english = await browser.new_page(locale="en-US")
            await english.goto(f"{base}/")
            assert await english.locator("h1").inner_text() == "Sign in"
            assert await english.locator("html").get_attribute("lang") == "en"

            page = await browser.new_page(locale="pt-BR")
            answer = await page.goto(f"{base}/")
            assert page.url == f"{base}/console/sign-in?next=/console/overview"
            headers = answer.headers
            assert "default-src 'self'" in headers["content-security-policy"]
            assert "unsafe-inline" not in headers["content-security-policy"]
            assert headers["x-frame-options"] == "DENY" and headers["referrer-policy"] == "no-referrer"
            assert headers["x-content-type-options"] == "nosniff"
            await check_page(page, artifacts, "sign-in")

            # A wrong password is refused, and audited without the password.
            await sign_in_with_password(page, base, "ana", "not-" + PASSWORDS["ana"])
            await page.get_by_role("alert").wait_for()
            assert "incorretos" in await page.get_by_role("alert").inner_text()
            assert page.url.endswith("/console/sign-in")

            await sign_in_with_password(page, base, "ana", PASSWORDS["ana"])
            await page.wait_for_url(f"{base}/console/overview")
            cookie = next(c for c in await page.context.cookies() if c["name"] == "guarita_console")
            assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/console"
            assert await page.locator("#uplink-cop_bh-link").inner_text() == "conectado"
            assert await page.locator("#frigate-link").inner_text() == "conectado"
            await page.locator("body[data-live=on]").wait_for(timeout=10_000)
            await check_page(page, artifacts, "overview")

            # Cameras: each program's state in words, with every reason it is held back.
            await page.get_by_role("link", name="Câmeras").click()
            porch = page.locator("tr", has=page.get_by_role("link", name="detalhes de porch"))
            assert "retida" in await porch.inner_text()
            reasons = await porch.locator(".reasons li").all_inner_texts()
            assert reasons == ["sem cliente registrado", "sem consentimento do cliente para este programa",
                               "não atestada como voltada só para a via pública",
                               "sem placa de sinalização registrada"]
            street = page.locator("tr", has=page.get_by_role("link", name="detalhes de street"))
            assert "compartilhada" in await street.inner_text()
            await check_page(page, artifacts, "cameras")

            # Revoke, with a confirmation step; the centre's retained catalogue entry is cleared.
            await page.get_by_role("link", name="detalhes de street").click()
            image = page.get_by_role("img", name=re.compile("street"))
            assert await image.evaluate("img => img.complete && img.naturalWidth") == 320
            await check_page(page, artifacts, "camera")
            await page.get_by_label(re.compile("^Motivo")).fill("cliente desistiu")
            await page.get_by_role("button", name="Revogar…").click()
            await page.get_by_role("button", name="Sim, revogar").wait_for()
            assert not [m for m in centre.messages if m.topic == catalogue_topic("street") and not m.payload]
            await check_page(page, artifacts, "revoke-confirm")
            await page.get_by_role("button", name="Sim, revogar").click()
            await page.get_by_role("status").wait_for()
            assert await page.get_by_role("status").inner_text() == "Consentimento revogado."
            await centre.wait_until(lambda: b"" in centre.on(catalogue_topic("street")), timeout=5)
            assert "consent_revoked" not in await page.locator("main").inner_text()
            assert "consentimento revogado" in await page.locator(".reasons").inner_text()

            # The audit log (not for an operator: as the API, admins and auditors), filtered, with the chain's state.
            assert await page.get_by_role("link", name="Auditoria").count() == 0
            admin = await browser.new_page(locale="pt-BR")
            await sign_in_with_token(admin, base, TOKENS["alice"][1])
            await admin.wait_for_url(f"{base}/console/overview")
            await admin.get_by_role("link", name="Auditoria").click()
            assert "Cadeia íntegra" in await admin.locator("main").inner_text()
            await admin.get_by_label(re.compile("^Ação")).fill("consent.revoke")
            await admin.get_by_role("button", name="Filtrar").click()
            rows = await admin.locator("table.log tbody tr").all_inner_texts()
            assert len(rows) == 1 and "ana" in rows[0] and "cliente desistiu" in rows[0]
            await check_page(admin, artifacts, "audit")

            # Live: the uplink going down and the outbox filling show without a reload.
            await page.goto(f"{base}/console/overview")
            await page.locator("body[data-live=on]").wait_for(timeout=10_000)
            await page.evaluate("window.notReloaded = true")
            uplink_broker.stop()
            await page.locator("#uplink-cop_bh-link", has_text="desconectado").wait_for(timeout=15_000)
            assert "Sem conexão com a central do programa cop_bh." in await page.locator("#alarms").inner_text()
            async with FrigateMqttStandin("127.0.0.1", frigate_broker.port) as frigate:
                event = tracked_object_lifecycle("gate", "person", time.time(), updates=0, rng=random.Random(1))[0]
                await frigate.publish_event(event)
            depth = page.locator("#uplink-cop_bh-depth")
            await until(lambda: depth.evaluate("cell => Number(cell.textContent) >= 1"), 15)
            assert await page.evaluate("window.notReloaded") is True
            await page.screenshot(path=str(artifacts / "overview-down.png"), full_page=True)
    finally:
        guarita.stop()
    refused = audit_rows(config, "console.sign_in.refused")
    assert [(actor, action) for actor, action, _ in refused] == [("ana", "console.sign_in.refused")]
    assert "wrong password" in refused[0][2] and PASSWORDS["ana"] not in refused[0][2]
    assert [actor for actor, _, _ in audit_rows(config, "consent.revoke")] == ["ana"]
    assert ("ana", "console.sign_in") in [(a, b) for a, b, _ in audit_rows(config, "console.sign_in")]


@browser_needed
@pytest.mark.slow
# covers BH-07, BH-09
async def test_a_viewer_sees_no_forms_and_forged_or_csrf_less_posts_are_refused(
        tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki,
        artifacts: Path) -> None:
    cameras = {"street": {"programs": ["cop_bh"], "location": HERE}}
    config = console_config(tmp_path, frigate_broker, uplink_broker, pki, cameras)
    share(config, "street")
    guarita = GuaritaProcess(config).start()
    base = f"http://127.0.0.1:{guarita.web_port}"
    try:
        await asyncio.to_thread(guarita.wait_healthy, 30)
        async with chromium() as browser:
            viewer = await browser.new_page(locale="pt-BR")
            await sign_in_with_token(viewer, base, TOKENS["vera"][1])
            await viewer.wait_for_url(f"{base}/console/overview")
            assert await viewer.get_by_role("link", name="Auditoria").count() == 0
            await viewer.goto(f"{base}/console/cameras/street")
            assert await viewer.locator("main form").count() == 0
            assert await viewer.get_by_role("link", name="Ver ao vivo").count() == 1
            await check_page(viewer, artifacts, "camera-viewer")
            # A forged POST with the viewer's own valid CSRF token: refused by role.
            csrf = await viewer.locator("header input[name=csrf]").get_attribute("value")
            forged = await viewer.request.post(f"{base}/console/cameras/street/revoke",
                                               form={"csrf": csrf, "reason": "forged", "confirm": "yes"})
            assert forged.status == 403 and "não pode" in await forged.text()
            assert (await viewer.request.get(f"{base}/console/audit")).status == 403

            # An operator's POST without the CSRF token: refused with a page that says why.
            operator = await browser.new_page(locale="pt-BR")
            await sign_in_with_password(operator, base, "ana", PASSWORDS["ana"])
            await operator.wait_for_url(f"{base}/console/overview")
            bare = await operator.request.post(f"{base}/console/cameras/street/revoke",
                                               form={"reason": "no token", "confirm": "yes"})
            assert bare.status == 403 and "CSRF" in await bare.text()
            await operator.set_content(await bare.text())
            await operator.screenshot(path=str(artifacts / "csrf-refused.png"))
            # The sign-out is a form too, and signs out.
            await operator.goto(f"{base}/console/overview")
            await operator.get_by_role("button", name="Sair").click()
            await operator.wait_for_url(re.compile(r"/console/sign-in"))
            assert (await operator.request.get(f"{base}/console/overview", max_redirects=0)).status == 303
        assert audit_rows(config, "consent.revoke") == []

        # Failed sign-ins are limited per address: the sixth in five minutes waits.
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:  # an IP address
            async with http.get(f"{base}/console/sign-in") as page:
                csrf = re.search(r'name="csrf" value="([^"]+)"', await page.text()).group(1)  # type: ignore[union-attr]
            statuses = []
            for attempt in range(6):
                async with http.post(f"{base}/console/sign-in",
                                     data={"csrf": csrf, "name": "ana", "password": f"guess-{attempt}"}) as answer:
                    statuses.append(answer.status)
            async with http.post(f"{base}/console/sign-in",
                                 data={"csrf": csrf, "name": "ana", "password": PASSWORDS["ana"]}) as answer:
                statuses.append(answer.status)
        assert statuses == [401] * 5 + [429, 429]
    finally:
        guarita.stop()
    assert len(audit_rows(config, "console.sign_in.refused")) == 5
    assert len(audit_rows(config, "console.sign_in.throttled")) == 1


@browser_needed
@pytest.mark.slow
@pytest.mark.skipif(shutil.which("ffmpeg") is None or not rtsp_server_available(),
                    reason="needs ffmpeg and GStreamer's RTSP server")
# covers BH-05, BH-09, BH-11
async def test_the_live_view_page_plays_in_chromium(tmp_path: Path, frigate_broker: MosquittoBroker,
                                                    uplink_broker: MosquittoBroker, pki: TestPki,
                                                    artifacts: Path) -> None:
    clip = tmp_path / "street.mp4"
    await make_clip(clip, codec="h264", width=640, height=360, fps=10, seconds=60)
    async with RtspServer({"street": (clip, "h264")}) as camera:
        video = {"source": f"rtsp://127.0.0.1:{camera.port}/street"}
        cameras = {"street": {"programs": ["cop_bh"], "location": HERE, "video": video}}
        config = console_config(tmp_path, frigate_broker, uplink_broker, pki, cameras)
        share(config, "street")
        guarita = GuaritaProcess(config).start()
        base = f"http://127.0.0.1:{guarita.web_port}"
        try:
            await asyncio.to_thread(guarita.wait_healthy, 30)
            async with chromium() as browser:
                page = await browser.new_page(locale="pt-BR")
                await sign_in_with_password(page, base, "vitor", PASSWORDS["vitor"])
                await page.wait_for_url(f"{base}/console/overview")
                await page.goto(f"{base}/console/cameras/street")
                await page.get_by_role("link", name="Ver ao vivo").click()
                await check_page(page, artifacts, "live-form")
                await page.get_by_label(re.compile("^Motivo")).fill("ocorrência 2026-77")
                await page.get_by_role("button", name="Abrir a visualização").click()
                player = page.locator("video#live-video")
                await player.wait_for()
                await until(lambda: player.evaluate("v => v.currentTime > 2"), 30)
                first = await player.evaluate("v => v.currentTime")
                await asyncio.sleep(1.5)
                assert await player.evaluate("v => v.currentTime") > first + 0.5
                assert await player.evaluate("v => v.videoWidth") == 640
                await check_page(page, artifacts, "live")
                await page.get_by_role("button", name="Encerrar a visualização").click()
                await page.wait_for_url(f"{base}/console/cameras/street")
        finally:
            guarita.stop()
    starts = audit_rows(config, "video.view.start")
    assert [(actor, action) for actor, action, _ in starts] == [("vitor", "video.view.start")]
    assert "ocorrência 2026-77" in starts[0][2]
    ends = audit_rows(config, "video.view.end")
    assert len(ends) == 1 and "ended by vitor" in ends[0][2]


# ---- the server in this process, with an HTTP client ----------------------------------------
# covers BH-07, BH-09
async def test_an_idle_session_ends_and_the_cookie_is_secure_behind_tls(tmp_path: Path) -> None:
    role, token = TOKENS["alice"]
    web = {"session_idle_minutes": 0.03, "tokens": {"alice": {"role": role,
                                                              "sha256": hashlib.sha256(token.encode()).hexdigest()}}}
    async with served_console(tmp_path, web) as base, \
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(f"{base}/", allow_redirects=False) as root:
            assert root.status == 303 and root.headers["Location"] == "/console/"
        async with http.get(f"{base}/console/nothing-here") as missing:
            assert missing.status == 404 and missing.headers["X-Frame-Options"] == "DENY"
        async with http.get(f"{base}/console/static/console.js") as script:
            assert script.status == 200 and "frame-ancestors 'none'" in script.headers["Content-Security-Policy"]
        signed = await token_session(http, base, token)
        assert signed.status == 303 and signed.headers["Location"] == "/console/overview"
        cookie = signed.cookies["guarita_console"]
        assert cookie["httponly"] and cookie["samesite"] == "Strict" and not cookie["secure"]
        async with http.get(f"{base}/console/overview", allow_redirects=False) as page:
            assert page.status == 200
        await asyncio.sleep(2.2)  # 0.03 minutes idle
        async with http.get(f"{base}/console/overview", allow_redirects=False) as page:
            assert page.status == 303 and page.headers["Location"].startswith("/console/sign-in")
        # Through a TLS-terminating proxy, the cookie is Secure; a foreign `next` stays home.
        async with http.get(f"{base}/console/sign-in?next=//evil.example/x",
                            headers={"X-Forwarded-Proto": "https"}) as page:
            assert 'name="next" value="/console/overview"' in await page.text()
            assert page.cookies["guarita_console"]["secure"]
    rows = audit_rows(tmp_path / "guarita.yaml", "console.sign_in")
    assert [(actor, action) for actor, action, _ in rows] == [("alice", "console.sign_in")]


# covers PB-01, BH-09
def test_a_user_and_a_token_may_not_share_a_name(tmp_path: Path) -> None:
    from guarita.errors import ConfigError

    file = tmp_path / "ana.scrypt"
    file.write_text(hash_password("ana-password-1") + "\n")
    with pytest.raises(ConfigError, match="'ana' is also a name under `web.tokens`"):
        asyncio.run(_enter(served_console(tmp_path, {
            "users": {"ana": {"role": "operator", "password_hash_file": str(file)}},
            "tokens": {"ana": {"role": "viewer", "sha256": "0" * 64}},
        })))


async def _enter(context: Any) -> None:
    async with context:
        pass


# covers BH-04, BH-07, BH-09, PB-03
async def test_the_pages_work_without_javascript_over_plain_http(tmp_path: Path) -> None:
    from guarita import audit

    role, token = TOKENS["alice"]
    broken = tmp_path / "broken.scrypt"
    broken.write_text("md5$nope\n")
    web = {"tokens": {"alice": {"role": role, "sha256": hashlib.sha256(token.encode()).hexdigest()}},
           "users": {"bruno": {"role": "operator", "password_hash_file": str(broken)}}}
    async with served_console(tmp_path, web) as base, \
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        store = Store.open(tmp_path / "data")
        with store.transaction() as db:
            for n in range(60):
                audit.append(db, at=time.time(), actor="ana", action="test.filler", subject=f"s{n}", details={"n": n})
        store.close()
        # A user whose hash file is unusable is refused like a wrong password (and the log says why).
        async with http.get(f"{base}/console/sign-in") as page:
            csrf = re.search(r'name="csrf" value="([^"]+)"', await page.text())
        assert csrf is not None
        async with http.post(f"{base}/console/sign-in", allow_redirects=False,
                             data={"csrf": csrf.group(1), "name": "bruno", "password": "whatever-it-is"}) as answer:
            assert answer.status == 401
        assert (await token_session(http, base, token)).status == 303
        async with http.get(f"{base}/console/overview", headers={"Accept-Language": "en"}) as page:
            text = await page.text()
            assert '<html lang="en">' in text and 'id="uplink-cop_bh-depth"' in text and ">0<" in text
            assert "unknown" in text, "no running process: the links are unknown"
        async with http.get(f"{base}/console/cameras/street") as page:
            text = await page.text()
            assert "sem cliente registrado" in text and "Nenhuma imagem registrada." in text
            assert "/revoke" not in text, "nothing to revoke without a consent"
        async with http.post(f"{base}/console/cameras/street/revoke", data={"csrf": await csrf_of(http, base)}) as answer:
            assert answer.status == 400 and "Diga o motivo" in await answer.text()
        async with http.post(f"{base}/console/cameras/street/revoke",
                             data={"csrf": await csrf_of(http, base), "reason": "x", "confirm": "yes"}) as answer:
            assert answer.status == 409 and "no active consent" in await answer.text()
        async with http.get(f"{base}/console/cameras/nowhere") as page:
            assert page.status == 404
        async with http.get(f"{base}/console/cameras/street/snapshot") as page:
            assert page.status == 404
        async with http.post(f"{base}/console/cameras/street/live",
                             data={"csrf": await csrf_of(http, base), "reason": "ocorrência 1"}) as answer:
            assert answer.status == 403 and "não está compartilhada" in (text := await answer.text())
            assert "sem cliente registrado" in text and "no_client" not in text
        async with http.get(f"{base}/console/audit?action=test.&from=2020-01-01&to=2099-12-31") as page:
            text = await page.text()
            assert "60 entradas correspondem." in text and text.count("test.filler") == 50
            older = re.search(r'href="(/console/audit\?[^"]*before=\d+)"', text)
        assert older is not None
        async with http.get(base + older.group(1).replace("&amp;", "&")) as page:
            text = await page.text()
            assert text.count("test.filler") == 10 and "Mais recentes" in text
        async with http.get(f"{base}/console/audit?from=31/12/2026") as page:
            assert "Data inválida em: from" in await page.text()
    refusals = audit_rows(tmp_path / "guarita.yaml", "console.sign_in.refused")
    assert len(refusals) == 1 and "password hash file unusable" in refusals[0][2]
