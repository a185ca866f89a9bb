"""The console's camera records, invitation and map in Chromium against a real ``guarita run``:
assign, consent (with the signed form uploaded), attestation and sign through the forms (each
with its confirmation page) until the centre's broker holds the camera's catalogue entry; a
homeowner invitation made and its link opened; the map; and a viewer who sees none of the
forms and whose forged posts are refused. Every new page is screenshotted and checked with
axe-core (tests/console_browser.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import re
from pathlib import Path

import aiohttp
import pytest
import yaml
from console_browser import (
    HERE,
    PASSWORDS,
    TOKENS,
    artifacts,  # noqa: F401 (a fixture)
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
)
from harness import GuaritaProcess, Receiver
from PIL import Image

from guarita.config_loader import load_config
from guarita.consent.registry import Registry
from guarita.standin.mosquitto import MosquittoBroker
from guarita.standin.tls import TestPki
from guarita.store import Store
from guarita.web.console.camera_forms import MAX_UPLOAD_BYTES
from guarita.web.console.map_page import Area, draw

CENTRO = {"type": "Polygon", "coordinates": [[[-43.95, -19.935], [-43.92, -19.935], [-43.92, -19.91],
                                              [-43.95, -19.91], [-43.95, -19.935]]]}


def jpeg(path: Path) -> Path:
    image = Image.new("RGB", (320, 180), (90, 120, 60))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    path.write_bytes(buffer.getvalue())
    return path


def with_agency(config_path: Path) -> None:
    """Add the Centro-Sul agency's area (inline GeoJSON) to the config."""
    document = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    document["programs"]["cop_bh"]["agencies"] = {"centro_sul": {"name": "Regional Centro-Sul", "area": CENTRO}}
    config_path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")


# covers BH-05
def test_the_map_projects_cameras_and_areas_into_the_view_box() -> None:
    drawing = draw({"a": (-19.92, -43.94), "b": (-19.93, -43.93)},
                   [Area("centro", "Centro", (((-43.95, -19.935), (-43.92, -19.935), (-43.92, -19.91)),))])
    assert drawing is not None and drawing.width == 800
    xs = [float(str(c["x"])) for c in drawing.cameras]
    ys = [float(str(c["y"])) for c in drawing.cameras]
    assert all(20 <= x <= 780 for x in xs) and all(20 <= y <= drawing.height - 20 for y in ys)
    assert xs[0] < xs[1] and ys[0] < ys[1], "east is right, south is down"
    assert draw({}, []) is None


# covers BH-04, BH-09, PB-07
async def test_wrong_or_missing_values_come_back_with_a_message_and_record_nothing(tmp_path: Path) -> None:
    role, token = TOKENS["alice"]
    web = {"tokens": {"alice": {"role": role, "sha256": hashlib.sha256(token.encode()).hexdigest()}}}
    async with served_console(tmp_path, web) as base, \
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        assert (await token_session(http, base, token)).status == 303
        async with http.get(f"{base}/console/cameras/street/record/assign") as answer:
            assert answer.status == 200 and "Nenhum cliente registrado" in await answer.text()
        async with http.get(f"{base}/console/cameras/street/record/paint") as answer:
            assert answer.status == 404

        async def post(path: str, **fields: object) -> tuple[int, str]:
            form = aiohttp.FormData()
            form.add_field("csrf", await csrf_of(http, base))
            for name, value in fields.items():
                for one in value if isinstance(value, list) else [value]:
                    if isinstance(one, bytes):
                        form.add_field(name, one, filename=f"{name}.bin", content_type="application/octet-stream")
                    else:
                        form.add_field(name, str(one))
            async with http.post(f"{base}/console{path}", data=form) as answer:
                return answer.status, await answer.text()

        status, text = await post("/cameras/street/record/assign", client="nobody")
        assert status == 400 and "Escolha um cliente registrado." in text
        store = Store.open(tmp_path / "data")
        try:
            Registry.for_config(load_config(tmp_path / "guarita.yaml"), store).add_client("condo-1", "Flores", by="t")
        finally:
            store.close()
        status, text = await post("/cameras/street/record/consent", client="condo-1", programs="cop_bh")
        assert status == 400 and "Envie o arquivo." in text
        status, text = await post("/cameras/street/record/consent", client="condo-1", programs="cop_bh",
                                  expires="2020-01-01", evidence=b"%PDF")
        assert status == 400 and "A data de expiração 2020-01-01 já passou." in text
        status, text = await post("/cameras/street/record/consent", client="condo-1", evidence=b"%PDF")
        assert status == 400 and "Marque ao menos um programa." in text
        status, text = await post("/cameras/street/record/consent", client="condo-1", programs="cop_bh",
                                  pending="0" * 32, confirm="yes")
        assert status == 409 and "send the form again" in text
        status, text = await post("/cameras/street/record/attest", evidence=b"\xff\xd8")
        assert status == 400 and "Diga o que a câmera vê." in text
        status, text = await post("/cameras/street/record/sign", installed="2999-01-01", plate="P-1", photo=b"x")
        assert status == 400 and "in the future" in text
        status, text = await post("/cameras/street/record/sign", photo=b"x")
        assert status == 400 and "Diga a identificação da placa." in text
        # A file waiting for a confirmation that never came is gone at a later upload, once old.
        status, text = await post("/cameras/street/record/sign", plate="P-1", photo=b"photo")
        assert status == 200 and "Sim, registrar" in text
        waiting = list((tmp_path / "data" / "uploads").glob("console-*"))
        assert len(waiting) == 1 and waiting[0].stat().st_mode & 0o777 == 0o600
        os.utime(waiting[0], (0, 0))
        await post("/cameras/street/record/sign", plate="P-2", photo=b"photo")
        assert not waiting[0].exists()

        assert (await post("/invitations", client="condo-1", cameras="street", days="soon"))[0] == 400
        assert (await post("/invitations", client="condo-1"))[0] == 400
        status, text = await post("/invitations", client="nobody", cameras="street", confirm="yes")
        assert status == 409 and "no client" in text
        async with http.get(f"{base}/console/map") as answer:
            text = await answer.text()
            assert answer.status == 200 and "<circle" in text and "-19.92450, -43.93520" in text
    store = Store.open(tmp_path / "data")
    try:
        assert store.db.execute("SELECT COUNT(*) FROM audit_log WHERE action IN "
                                "('camera.assign', 'consent.grant', 'camera.attest', 'signage.record', "
                                "'invitation.create')").fetchone()[0] == 0
    finally:
        store.close()


@browser_needed
@pytest.mark.slow
# covers BH-03, BH-04, BH-05, BH-09, BH-11, PB-03, PB-07
async def test_records_through_the_forms_share_the_camera_and_an_invitation_opens(
        tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki,
        artifacts: Path) -> None:  # noqa: F811
    cameras = {"street": {"programs": ["cop_bh"], "location": HERE},
               "porch": {"programs": ["cop_bh"], "location": {"lat": -19.95, "lon": -43.96}}}
    config = console_config(tmp_path, frigate_broker, uplink_broker, pki, cameras)
    with_agency(config)
    loaded = load_config(config)
    store = Store.open(loaded.storage.data_dir)
    try:  # the client is recorded beforehand (clients are another page's job)
        Registry.for_config(loaded, store).add_client("condo-1", "Condomínio Flores", by="ana")
    finally:
        store.close()
    form_pdf = tmp_path / "consent-signed.pdf"
    form_pdf.write_bytes(b"%PDF-1.7 consent signed by the building's manager")
    picture, sign_photo = jpeg(tmp_path / "street-now.jpg"), jpeg(tmp_path / "sign.jpg")
    guarita = GuaritaProcess(config).start()
    base = f"http://127.0.0.1:{guarita.web_port}"
    try:
        async with Receiver(uplink_broker, pki) as centre, chromium() as browser:
            await asyncio.to_thread(guarita.wait_healthy, 30)
            page = await browser.new_page(locale="pt-BR")
            await sign_in_with_password(page, base, "ana", PASSWORDS["ana"])
            await page.wait_for_url(f"{base}/console/overview")
            camera_url = f"{base}/console/cameras/street"

            async def through(link: str, fill: object, done: str, shot: str | None = None) -> None:
                await page.goto(camera_url)
                await page.get_by_role("link", name=link).click()
                await fill(page)  # type: ignore[operator]
                if shot:
                    await check_page(page, artifacts, shot)
                await page.get_by_role("button", name="Continuar…").click()
                await page.get_by_role("button", name="Sim, registrar").wait_for()
                if shot:
                    await check_page(page, artifacts, shot + "-confirm")
                await page.get_by_role("button", name="Sim, registrar").click()
                await page.get_by_role("status").wait_for()
                assert await page.get_by_role("status").inner_text() == done

            async def assign(p: object) -> None:
                await page.get_by_label("Cliente").select_option("condo-1")

            async def consent(p: object) -> None:
                await page.get_by_label(re.compile("^Formulário assinado")).set_input_files(str(form_pdf))

            async def attest(p: object) -> None:
                await page.get_by_label("só a via pública").check()
                await page.get_by_label(re.compile("^Imagem atual")).set_input_files(str(picture))

            async def sign(p: object) -> None:
                await page.get_by_label("Identificação da placa").fill("BHS-0042")
                await page.get_by_label(re.compile("^Foto da placa")).set_input_files(str(sign_photo))

            await through("Atribuir a um cliente", assign, "Câmera atribuída ao cliente.", "assign")
            await through("Registrar o consentimento", consent, "Consentimento registrado.", "consent")
            # Too big a file is refused before anything is kept.
            csrf = await page.locator("header input[name=csrf]").get_attribute("value")
            big = await page.request.post(f"{base}/console/cameras/street/record/consent", multipart={
                "csrf": csrf, "client": "condo-1", "programs": "cop_bh",
                "evidence": {"name": "big.pdf", "mimeType": "application/pdf", "buffer": b"%" * (MAX_UPLOAD_BYTES + 1)},
            })
            assert big.status == 400 and "passa de 10 MiB" in await big.text()
            bigger = await page.request.post(f"{base}/console/cameras/street/record/consent", multipart={
                "csrf": csrf, "evidence": {"name": "big.pdf", "mimeType": "application/pdf",
                                           "buffer": b"%" * (MAX_UPLOAD_BYTES + 100_000)}})
            assert bigger.status == 413 and "passa de 10 MiB" in await bigger.text()
            assert bigger.headers["x-frame-options"] == "DENY"
            assert not [m for m in centre.messages if m.topic == catalogue_topic("street") and m.payload]
            await through("Registrar o atestado", attest, "Atestado registrado.", "attest")
            await through("Registrar a placa", sign, "Placa registrada.", "sign")
            await centre.wait_until(lambda: any(centre.on(catalogue_topic("street"))), timeout=10)
            assert "compartilhada" in await page.locator("main .share").inner_text()
            assert await page.get_by_role("img", name=re.compile("street")).evaluate("i => i.naturalWidth") == 320

            # The invitation: a one-time link and its QR code, and the link opens the homeowner's page.
            await page.goto(f"{base}/console/cameras")
            await page.get_by_role("link", name="Convidar um morador (link)").click()
            await page.get_by_label("Cliente").select_option("condo-1")
            await page.get_by_label("porch").check()
            await check_page(page, artifacts, "invite")
            await page.get_by_role("button", name="Continuar…").click()
            await page.get_by_role("button", name="Sim, registrar").click()
            link = await page.get_by_label("Link de uso único").input_value()
            assert re.fullmatch(rf"{re.escape(base)}/h/i/[A-Za-z0-9_-]{{40,}}", link)
            assert await page.locator("svg.qr[role=img]").count() == 1
            await check_page(page, artifacts, "invite-done")
            homeowner = await browser.new_page(locale="pt-BR")
            opened = await homeowner.goto(link)
            assert opened is not None and opened.status == 200
            assert "porch" in await homeowner.locator("body").inner_text()
            await homeowner.screenshot(path=str(artifacts / "invite-opened.png"), full_page=True)

            # The map: both cameras placed, the agency's area drawn, and the same as a list.
            await page.goto(f"{base}/console/cameras")
            await page.get_by_role("link", name="Mapa das câmeras").click()
            assert await page.locator("svg.mapdraw circle").count() == 2
            assert await page.locator("svg.mapdraw polygon").count() == 1
            rows = await page.locator("main table tbody tr").all_inner_texts()
            assert len(rows) == 2 and "centro_sul" in rows[1] and "compartilhada" in rows[1]
            await check_page(page, artifacts, "map")

            # A viewer sees none of these forms, and a forged post with its own CSRF code is refused.
            viewer = await browser.new_page(locale="pt-BR")
            await sign_in_with_token(viewer, base, TOKENS["vera"][1])
            await viewer.wait_for_url(f"{base}/console/overview")
            await viewer.goto(f"{base}/console/cameras/porch")
            assert await viewer.locator("a[href*='/record/'], a[href$='/invitations']").count() == 0
            assert (await viewer.request.get(f"{base}/console/cameras/porch/record/assign")).status == 403
            assert (await viewer.request.get(f"{base}/console/invitations")).status == 403
            csrf = await viewer.locator("header input[name=csrf]").get_attribute("value")
            forged = await viewer.request.post(f"{base}/console/cameras/porch/record/assign",
                                               form={"csrf": csrf, "client": "condo-1", "confirm": "yes"})
            assert forged.status == 403 and "não pode" in await forged.text()
            forged = await viewer.request.post(f"{base}/console/invitations",
                                               form={"csrf": csrf, "client": "condo-1", "cameras": "porch",
                                                     "confirm": "yes"})
            assert forged.status == 403
    finally:
        guarita.stop()
    # As the CLI records them: the signed form kept as evidence by its SHA-256, each change audited as ana.
    digest = hashlib.sha256(form_pdf.read_bytes()).hexdigest()
    kept = loaded.storage.data_dir / "evidence" / digest[:2] / digest
    assert kept.read_bytes() == form_pdf.read_bytes()
    grants = audit_rows(config, "consent.grant")
    assert [actor for actor, _, _ in grants] == ["ana"] and digest in grants[0][2]
    for action in ("camera.assign", "camera.attest", "signage.record", "invitation.create"):
        assert [actor for actor, _, _ in audit_rows(config, action)] == ["ana"], action
    store = Store.open(loaded.storage.data_dir)
    try:
        assert Registry.for_config(loaded, store).owner("porch") is None, "the viewer's forged post did nothing"
    finally:
        store.close()
    assert not list((loaded.storage.data_dir / "uploads").glob("console-*")), "no upload left waiting"
