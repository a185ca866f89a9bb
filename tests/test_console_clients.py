"""The console's clients and evidence pages in Chromium against a real ``guarita run``: a client
added through the form (and seen by ``guarita clients list``), a client's details and LGPD
report, and an evidence request recorded, refused to its recorder, approved by a second
person, exported, downloaded and verified; roles and CSRF on every form; axe-core on each page.
"""

from __future__ import annotations

import asyncio
import hashlib
import datetime as dt
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from console_browser import (
    HERE,
    PASSWORDS,
    TOKENS,
    artifacts,
    browser_needed,
    check_page,
    chromium,
    console_config,
    csrf_of,
    served_console,
    sign_in_with_password,
    sign_in_with_token,
    token_session,
)
from harness import GuaritaProcess, share_camera

from guarita.adapters.dvr.sync import DvrSync
from guarita.config_loader import load_config
from guarita.consent.registry import Registry
from guarita.standin.dvr_media import make_dvr_tree
from guarita.standin.mosquitto import MosquittoBroker, free_port
from guarita.standin.tls import TestPki
from guarita.store import Store

__all__ = ["artifacts"]  # the fixture, shared with test_console.py

CPF = "529.982.247-25"  # valid check digits


def guarita_cli(config: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "guarita.cli", *argv[:2], "-c", str(config), *argv[2:]],
                          capture_output=True, text=True, timeout=60)


async def prepare(tmp_path: Path, config_path: Path, start: dt.datetime) -> None:
    """Two cameras of condo-1 (the consent of `gate` withdrawn) and a vehicle's DVR segment in the archive."""
    config = load_config(config_path)
    store = Store.open(config.storage.data_dir)
    try:
        since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        share_camera(config, store, "street", since)
        clock = share_camera(config, store, "gate", since)
        Registry.for_config(config, store, clock).revoke("gate", by="ana", reason="cliente pediu a retirada")
        synced = await DvrSync.for_config(config, store, None, clock=lambda: dt.datetime.now(dt.UTC)).sync("10234")
        assert synced is not None and synced.files == 2
    finally:
        store.close()


async def forged_post(page: Any, url: str, form: dict[str, str]) -> Any:
    """A POST with the page's own valid CSRF token, as a role that may not send it."""
    csrf = await page.locator("header input[name=csrf]").get_attribute("value")
    return await page.request.post(url, form={"csrf": csrf, **form})


@browser_needed
@pytest.mark.slow
# covers BH-03, BH-07, BH-08, BH-09, BH-11, DT-04, DT-06, PB-03
async def test_clients_and_evidence_through_the_console(tmp_path: Path, frigate_broker: MosquittoBroker,
                                                        uplink_broker: MosquittoBroker, pki: TestPki,
                                                        artifacts: Path) -> None:
    start = (dt.datetime.now(ZoneInfo("America/Sao_Paulo")) - dt.timedelta(hours=2)).replace(
        tzinfo=None, microsecond=0, second=0)
    dvr = tmp_path / "dvr"
    make_dvr_tree(dvr, start, {1: "1", 2: "2"}, count=1, seconds=60)
    fleet = {"vehicles": {"10234": {"plate": "KXY1A23",
                                    "dvr": {"serial": "DVR-1", "source": f"file://{dvr}", "cameras": {1: "interior", 2: "front"}}}}}
    cameras = {name: {"programs": ["cop_bh"], "location": HERE} for name in ("street", "gate")}
    config = console_config(tmp_path, frigate_broker, uplink_broker, pki, cameras, extra={"fleet": fleet})
    await prepare(tmp_path, config, start)
    guarita = GuaritaProcess(config).start()
    base = f"http://127.0.0.1:{guarita.web_port}"
    try:
        await asyncio.to_thread(guarita.wait_healthy, 30)
        async with chromium() as browser:
            ana = await browser.new_page(locale="pt-BR", accept_downloads=True)
            await sign_in_with_password(ana, base, "ana", PASSWORDS["ana"])
            await ana.wait_for_url(f"{base}/console/overview")

            # ---- clients: a wrong CPF is refused before the confirmation; a right one is kept hashed.
            await ana.get_by_role("link", name="Clientes").click()
            await check_page(ana, artifacts, "clients")
            await ana.get_by_label(re.compile("^Identificador")).fill("padaria-sol")
            await ana.get_by_label("Nome").fill("Padaria Sol Nascente")
            await ana.get_by_label(re.compile("^CPF ou CNPJ")).fill("529.982.247-24")
            await ana.get_by_role("button", name="Adicionar…").click()
            assert "check digits" in await ana.get_by_role("alert").inner_text()
            await ana.get_by_label(re.compile("^CPF ou CNPJ")).fill(CPF)
            await ana.get_by_label("Contato").fill("(31) 3333-0000")
            await ana.get_by_role("button", name="Adicionar…").click()
            await ana.get_by_role("button", name="Sim, registrar").wait_for()
            assert "padaria-sol" in await ana.locator("main .warning").inner_text()
            await check_page(ana, artifacts, "client-confirm")
            await ana.get_by_role("button", name="Sim, registrar").click()
            await ana.wait_for_url(re.compile(r"/console/clients/padaria-sol\?done=added"))
            assert await ana.get_by_role("status").inner_text() == "Cliente registrado."
            listed = guarita_cli(config, "clients", "list", "--json")
            assert listed.returncode == 0, listed.stderr
            row = next(c for c in json.loads(listed.stdout) if c["client"] == "padaria-sol")
            assert (row["name"], row["has_document"], row["recorded_by"]) == ("Padaria Sol Nascente", True, "ana")

            # ---- a client's details: cameras with their consent state, withdrawals; the LGPD report.
            await ana.goto(f"{base}/console/clients")
            await ana.get_by_role("link", name="detalhes de condo-1").click()
            cameras_text = await ana.locator("section[aria-labelledby=cameras-title]").inner_text()
            assert re.search(r"gate\s+revogado em", cameras_text) and re.search(r"street\s+ativo \(cop_bh\)", cameras_text)
            withdrawals = await ana.locator("section[aria-labelledby=withdrawals-title] li").all_inner_texts()
            assert len(withdrawals) == 1 and "gate" in withdrawals[0] and "cliente pediu a retirada" in withdrawals[0]
            await check_page(ana, artifacts, "client")
            async with ana.expect_download() as download_info:
                await ana.get_by_role("link", name=re.compile("relatório LGPD")).click()
            download = await download_info.value
            assert download.suggested_filename == "lgpd-condo-1.md"
            report = Path(await download.path()).read_text(encoding="utf-8")
            cli_report = guarita_cli(config, "report", "client", "condo-1")
            assert report.strip() == cli_report.stdout.strip(), "the same report as `guarita report client`"
            assert "Condominio Flores" in report and "cliente pediu a retirada" in report and "| gate | revoke" in report
            padaria = await ana.request.get(f"{base}/console/clients/padaria-sol/report.json")
            document = json.loads(await padaria.text())
            assert document["records"][0]["document_hmac"] and "52998224725" not in await padaria.text()

            # ---- evidence: recorded by ana, refused to ana, approved by alice, exported, downloaded, verified.
            await ana.get_by_role("link", name="Evidências").click()
            await ana.get_by_label("Tipo de pedido").select_option("judiciary")
            await ana.get_by_label(re.compile("^Referência")).fill("Proc. 5001234-56.2026")
            await ana.get_by_label(re.compile("^Quem pede")).fill("2ª Vara Criminal de BH")
            await ana.get_by_label(re.compile("^Câmeras de veículos")).fill("10234/1")
            await ana.get_by_label(re.compile("^De")).fill((start + dt.timedelta(seconds=2)).isoformat())
            await ana.get_by_label(re.compile("^Até")).fill((start + dt.timedelta(seconds=50)).isoformat())
            await check_page(ana, artifacts, "evidence")
            await ana.get_by_role("button", name="Registrar…").click()
            await ana.get_by_role("button", name="Sim, registrar").wait_for()
            assert "Proc. 5001234-56.2026" in await ana.locator("main .warning").inner_text()
            await ana.get_by_role("button", name="Sim, registrar").click()
            await ana.wait_for_url(re.compile(r"/console/evidence/1\?done=recorded"))
            assert await ana.locator("#evidence-status").inner_text() == "aguardando aprovação"
            await check_page(ana, artifacts, "evidence-request")
            await ana.get_by_role("button", name="Aprovar…").click()
            await check_page(ana, artifacts, "evidence-approve-confirm")
            await ana.get_by_role("button", name="Sim, aprovar").click()
            refusal = await ana.get_by_role("alert").inner_text()
            assert "quem registrou o pedido não pode aprová-lo" in refusal and "BH-08" in refusal
            assert await ana.locator("#evidence-status").inner_text() == "aguardando aprovação"
            await check_page(ana, artifacts, "evidence-refused")

            alice = await browser.new_page(locale="pt-BR", accept_downloads=True)
            await sign_in_with_token(alice, base, TOKENS["alice"][1])
            await alice.wait_for_url(f"{base}/console/overview")
            await alice.goto(f"{base}/console/evidence/1")
            await alice.get_by_role("button", name="Aprovar…").click()
            await alice.get_by_role("button", name="Sim, aprovar").click()
            assert await alice.get_by_role("status").inner_text() == "Pedido aprovado."
            await alice.get_by_role("button", name="Exportar…").click()
            await alice.get_by_role("button", name="Sim, exportar").click()
            assert await alice.get_by_role("status").inner_text() == "Pacote exportado e assinado.", \
                await alice.locator("main").inner_text()
            custody = await alice.locator("#custody li").all_inner_texts()
            assert [re.sub(r"^.*: ", "", step) for step in custody] == ["registrado (ana)", "aprovado (alice)",
                                                                        "exportado (alice)"]
            async with alice.expect_download() as download_info:
                await alice.get_by_role("link", name="Baixar o pacote (ZIP)").click()
            bundle_zip = Path(await (await download_info.value).path())
            with zipfile.ZipFile(bundle_zip) as archive:
                names = archive.namelist()
                archive.extractall(tmp_path / "received")
            assert "1/manifest.json" in names and "1/manifest.sig" in names
            assert any(n.endswith(".mp4") for n in names)
            await alice.get_by_role("link", name="Verificar o pacote").click()
            assert "Pacote verificado" in await alice.locator("#verification").inner_text()
            await check_page(alice, artifacts, "evidence-verified")
            # What the court does with the download: the CLI's check with the provider's key.
            pubkey = tmp_path / "provider.pem"
            pubkey.write_text(guarita_cli(config, "evidence", "pubkey").stdout)
            verified = subprocess.run([sys.executable, "-m", "guarita.cli", "evidence", "verify",
                                       str(tmp_path / "received" / "1"), "--pubkey", str(pubkey)],
                                      capture_output=True, text=True, timeout=60)
            assert verified.returncode == 0 and "bundle verified" in verified.stdout, verified.stdout

            # ---- roles: an auditor reads without forms; a viewer sees neither page; forged posts refused.
            otto = await browser.new_page(locale="pt-BR")
            await sign_in_with_token(otto, base, TOKENS["otto"][1])
            await otto.wait_for_url(f"{base}/console/overview")
            await otto.goto(f"{base}/console/clients")
            assert await otto.locator("main form").count() == 0
            await otto.goto(f"{base}/console/evidence/1")
            assert await otto.locator("main form").count() == 0
            assert await otto.get_by_role("link", name="Baixar o pacote (ZIP)").count() == 0
            await check_page(otto, artifacts, "evidence-auditor")
            forged = await forged_post(otto, f"{base}/console/clients",
                                       {"id": "forged", "name": "Forged", "confirm": "yes"})
            assert forged.status == 403 and "não pode" in await forged.text()
            assert (await otto.request.get(f"{base}/console/evidence/1/bundle.zip")).status == 403
            vitor = await browser.new_page(locale="pt-BR")
            await sign_in_with_password(vitor, base, "vitor", PASSWORDS["vitor"])
            await vitor.wait_for_url(f"{base}/console/overview")
            assert await vitor.get_by_role("link", name="Clientes").count() == 0
            assert await vitor.get_by_role("link", name="Evidências").count() == 0
            assert (await vitor.request.get(f"{base}/console/clients")).status == 403
            forged = await forged_post(vitor, f"{base}/console/evidence/1/approve", {"confirm": "yes"})
            assert forged.status == 403
            bare = await ana.request.post(f"{base}/console/clients", form={"id": "bare", "name": "Bare", "confirm": "yes"})
            assert bare.status == 403 and "CSRF" in await bare.text()
    finally:
        guarita.stop()
    store = Store.open(load_config(config).storage.data_dir)
    try:
        actions = store.db.execute("SELECT actor, action FROM audit_log WHERE action LIKE 'evidence.%' OR "
                                   "action = 'client.add' ORDER BY seq").fetchall()
        clients = {str(r[0]) for r in store.db.execute("SELECT client_id FROM registry_clients")}
    finally:
        store.close()
    assert ("ana", "client.add") in [tuple(a) for a in actions]
    assert [tuple(a) for a in actions if str(a[1]).startswith("evidence.")] == [
        ("ana", "evidence.request"), ("alice", "evidence.approve"), ("alice", "evidence.export"),
        ("alice", "evidence.manifest")]
    assert "forged" not in clients and "bare" not in clients


# ---- the server in this process, with an HTTP client ----------------------------------------
async def post(http: aiohttp.ClientSession, base: str, path: str, form: dict[str, Any]) -> tuple[int, str]:
    data = aiohttp.FormData({"csrf": await csrf_of(http, base)})
    for name, value in form.items():
        for item in value if isinstance(value, list) else [value]:
            data.add_field(name, item)
    async with http.post(f"{base}{path}", data=data, allow_redirects=False) as answer:
        return answer.status, await answer.text()


# covers BH-07, BH-08, BH-09, DT-04
async def test_refusals_on_the_client_and_evidence_forms_say_why(tmp_path: Path) -> None:
    tokens = {"alice": TOKENS["alice"], "bia": ("operator", "bia-" + TOKENS["alice"][1])}
    web = {"tokens": {name: {"role": role, "sha256": hashlib.sha256(token.encode()).hexdigest()}
                      for name, (role, token) in tokens.items()}}
    window = {"from": "2026-11-20T08:00:00", "to": "2026-11-20T08:01:00"}
    frigate = {"frigate": {"url": f"http://127.0.0.1:{free_port()}"}}  # nothing answers there
    async with served_console(tmp_path, web, frigate) as base, \
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as alice, \
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as bia:
        assert (await token_session(alice, base, tokens["alice"][1])).status == 303
        assert (await token_session(bia, base, tokens["bia"][1])).status == 303
        # Clients: what is missing or wrong is said before anything is recorded.
        status, text = await post(alice, base, "/console/clients", {"id": "x1", "name": ""})
        assert status == 400 and "Informe o identificador e o nome" in text
        status, text = await post(alice, base, "/console/clients", {"id": "Bad Id", "name": "Y", "confirm": "yes"})
        assert status == 400 and "must be lowercase letters" in text
        status, text = await post(alice, base, "/console/clients", {"id": "lar", "name": "Lar", "document": "123"})
        assert status == 400 and "CPF (11 digits) or a CNPJ (14 digits)" in text
        assert (await post(alice, base, "/console/clients", {"id": "lar", "name": "Lar", "confirm": "yes"}))[0] == 303
        status, text = await post(alice, base, "/console/clients", {"id": "lar", "name": "Lar Novo"})
        assert status == 200 and "já existe" in text
        async with alice.get(f"{base}/console/clients/ninguem") as page:
            assert page.status == 404
        async with alice.get(f"{base}/console/clients/lar/report.json") as page:
            report = json.loads(await page.text())
            assert report["client_id"] == "lar" and report["cameras"] == []
        async with alice.get(f"{base}/console/clients/lar") as page:
            text = await page.text()
            assert "Nenhuma câmera deste cliente." in text and "Nenhuma revogação." in text

        # Evidence: a type the law does not allow, no camera, an unknown camera, a bad window.
        request = {"type": "judiciary", "ref": "Proc. 1", "requester": "1ª Vara", "cameras": ["street"], **window}
        status, text = await post(alice, base, "/console/evidence", {**request, "type": "press"})
        assert status == 400 and "request type &#39;press&#39; refused" in text and "BH-08" in text
        status, text = await post(alice, base, "/console/evidence", {**request, "cameras": []})
        assert status == 400 and "Escolha ao menos uma câmera." in text
        status, text = await post(alice, base, "/console/evidence", {**request, "cameras": ["porch"]})
        assert status == 400 and "camera &#39;porch&#39; is not under `cameras`" in text
        status, text = await post(alice, base, "/console/evidence", {**request, "vehicles": "10234/1"})
        assert status == 400 and "not under fleet.vehicles" in text
        status, text = await post(alice, base, "/console/evidence", {**request, "from": "ontem"})
        assert status == 400
        status, text = await post(alice, base, "/console/evidence", {**request, "ref": ""})
        assert status == 400 and "Informe a referência" in text
        status, text = await post(alice, base, "/console/evidence", request)
        assert status == 200 and "Sim, registrar" in text and "street" in text
        assert (await post(alice, base, "/console/evidence", {**request, "confirm": "yes"}))[0] == 303
        async with alice.get(f"{base}/console/evidence/9") as page:
            assert page.status == 404
        async with alice.get(f"{base}/console/evidence/1/bundle.zip") as page:
            assert page.status == 404
        status, text = await post(alice, base, "/console/evidence/1/export", {"confirm": "yes"})
        assert status == 409 and "not approved yet" in text
        status, text = await post(alice, base, "/console/evidence/1/approve", {"confirm": "yes"})
        assert status == 409 and "Aprovação recusada" in text
        assert (await post(bia, base, "/console/evidence/1/approve", {"confirm": "yes"}))[0] == 303
        status, text = await post(bia, base, "/console/evidence/1/approve", {"confirm": "yes"})
        assert status == 409 and "already approved by bia" in text
        status, text = await post(alice, base, "/console/evidence/1/export", {})
        assert status == 200 and "Sim, exportar" in text
        # Frigate is not there to export the camera's window: said, and nothing exported.
        status, text = await post(bia, base, "/console/evidence/1/export", {"confirm": "yes"})
        assert status == 409 and "Frigate could not export camera street for request 1" in text
        async with bia.get(f"{base}/console/evidence/1/verify") as page:
            assert "Pacote NÃO verificado" in await page.text()
        async with alice.get(f"{base}/console/clients/lar", headers={"Accept-Language": "en"}) as page:
            assert "Client lar" in await page.text()
