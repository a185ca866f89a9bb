"""The homeowner's opt-in and withdrawal pages, end to end (issue 12).

Real parts: `guarita run` (in this process for the plain-HTTP test, as a process for the
browser test), real Mosquitto (Frigate's broker and COP-BH's uplink over TLS), real SQLite,
the Frigate stand-in for the snapshots, and Debian's chromium driven by Playwright. The clerk
creates the invitation with `guarita consent invite`; the homeowner's consent and withdrawal
go through the registry, and the withdrawal clears the camera's retained catalogue entry on
COP-BH's broker.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from conftest import UPLINK_ACL
from browser_support import browser_needed, check_page, chromium
from harness import ACCREDITED, GuaritaProcess, Receiver, running, write_config
from PIL import Image

from guarita.config import GuaritaConfig
from guarita.config_loader import load_config
from guarita.consent.registry import Registry
from guarita.retention._signing import signing_key
from guarita.standin.frigate_api import StandinCamera, StandinCameras, make_frigate_app, serve_frigate
from guarita.standin.broker_fleet import BrokerFleet
from guarita.standin.mosquitto import MosquittoBroker
from guarita.standin.tls import TestPki
from guarita.store import Store
from guarita.web.homeowner.acceptance import verify_acceptance
from guarita.web.homeowner.term import current_term

CPF = "529.982.247-25"
BAD_CPF = "529.982.247-24"
LEFT_HALF = "0,0,0.5,0,0.5,1,0,1"
CAMERAS: dict[str, Any] = {
    "street_front": {"programs": ["cop_bh"], "location": {"lat": -19.9245, "lon": -43.9352}, "heading": 135,
                     "privacy_masks": [LEFT_HALF]},
    "street_side": {"programs": ["cop_bh"], "location": {"lat": -19.9250, "lon": -43.9360}, "heading": 270},
    "garage": {"programs": []},
}
PROVIDER = {**ACCREDITED, "accreditation": {"reference": "Edital de Chamamento 002/2020 SMSP", "date": "2021-03-01"}}
AREA = {"type": "Polygon", "coordinates": [[[-43.95, -19.94], [-43.92, -19.94], [-43.92, -19.91], [-43.95, -19.91],
                                            [-43.95, -19.94]]]}
HEADERS = {
    "Content-Security-Policy": "default-src 'self'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


@pytest.fixture
def uplink_broker(brokers: BrokerFleet, pki: TestPki) -> MosquittoBroker:
    """COP-BH's broker (TLS, the test ACL), which also takes the agencies' topics."""
    users = {"acme": secrets.token_urlsafe(16), "receiver": secrets.token_urlsafe(16)}
    acl = UPLINK_ACL.replace("topic write detro/v1/acme/#", "topic write copbh/v1/agency/+/acme/#")
    return brokers.start(MosquittoBroker(brokers.workdir("uplink"), tls=pki, users=users, acl=acl))


def catalogue_topic(camera: str) -> str:
    return f"copbh/v1/acme/cameras/{camera}"


@asynccontextmanager
async def frigate_standin() -> AsyncIterator[int]:
    """The Frigate stand-in's HTTP API (it serves each camera's latest.jpg); yields its port."""
    cameras = StandinCameras(cameras=(StandinCamera(name="street_front"), StandinCamera(name="street_side")))
    runner, port = await serve_frigate(make_frigate_app(cameras))
    try:
        yield port
    finally:
        await runner.cleanup()


def homeowner_config(tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki,
                     frigate_port: int) -> Path:
    path = write_config(
        tmp_path / "guarita.yaml", frigate_broker=frigate_broker, uplink_broker=uplink_broker, pki=pki,
        cameras=CAMERAS, programs=["cop_bh"], update_interval=0,
        extra={"provider": PROVIDER,
               "frigate": {"url": f"http://127.0.0.1:{frigate_port}",
                           "mqtt": {"host": "127.0.0.1", "port": frigate_broker.port}}},
    )
    data = yaml.safe_load(path.read_text())
    data["programs"]["cop_bh"]["agencies"] = {"centro_sul": {"name": "Regional Centro-Sul", "area": AREA}}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@contextmanager
def registry_of(config_path: Path) -> Iterator[tuple[GuaritaConfig, Registry]]:
    """The registry as the CLI opens it: its own connection to the store `guarita run` uses."""
    config = load_config(config_path)
    store = Store.open(config.storage.data_dir)
    try:
        yield config, Registry.for_config(config, store)
    finally:
        store.close()


def add_client(config_path: Path) -> None:
    with registry_of(config_path) as (_, registry):
        registry.add_client("condo-1", "Condomínio Flores", by="ana")


def attest_and_sign(config_path: Path, cameras: list[str]) -> None:
    """The provider's part after the homeowner's consent: public-facing attestation and the sign."""
    with registry_of(config_path) as (config, registry):
        photo = config.storage.data_dir / "sign.jpg"
        photo.write_bytes(b"\xff\xd8 the BH + Segura sign")
        for camera in cameras:
            registry.attest(camera, public_facing=True, evidence=photo, by="ana")
            registry.record_signage(camera, plate=f"BH-{camera}", photo=photo, by="ana")


def guarita_cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "guarita.cli", *argv], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONUNBUFFERED="1"))


def invite(config_path: Path, *extra: str) -> dict[str, Any]:
    """`guarita consent invite` as the clerk types it."""
    done = guarita_cli("consent", "invite", "condo-1", "--cameras", "street_front,street_side", "--by", "ana",
                       "-c", str(config_path), "--json", *extra)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def check_acceptance(config: GuaritaConfig, invitation: int, user_agent_part: str) -> dict[str, Any]:
    """Both cameras' consent is this client's, with the signed acceptance record as evidence; returns the record."""
    store = Store.open(config.storage.data_dir)
    try:
        rows = store.db.execute(
            "SELECT camera, action, client_id, evidence_sha256, recorded_by FROM registry_consents ORDER BY seq"
        ).fetchall()
        document_hmac = store.db.execute(
            "SELECT document_hmac FROM registry_clients WHERE client_id = 'condo-1' ORDER BY seq DESC LIMIT 1"
        ).fetchone()[0]
    finally:
        store.close()
    assert [(r[0], r[1], r[2]) for r in rows] == [("street_front", "grant", "condo-1"),
                                                   ("street_side", "grant", "condo-1")]
    assert rows[0][3] == rows[1][3]
    assert rows[0][4] == f"homeowner:condo-1 (invitation {invitation})"
    kept = config.storage.data_dir / "evidence" / rows[0][3][:2] / rows[0][3]
    content = kept.read_bytes()
    assert hashlib.sha256(content).hexdigest() == rows[0][3]
    record = verify_acceptance(content, signing_key(config.storage.data_dir).public_key())
    term = current_term()
    assert record["term"] == {"version": term.version, "sha256": term.sha256}
    assert record["invitation"] == invitation
    assert record["client"] == "condo-1"
    assert record["cameras"] == ["street_front", "street_side"]
    assert record["name"] == "Maria da Silva"
    assert record["document_hmac"] == document_hmac and len(document_hmac) == 64
    assert "52998224725" not in content.decode() and CPF not in content.decode()
    assert user_agent_part in record["user_agent"]
    assert record["remote_address"] == "127.0.0.1"
    assert abs(time.time() - _timestamp(record["accepted_at"])) < 60
    tampered = content.replace(b"Maria da Silva", b"Mario da Silva")
    with pytest.raises(ValueError, match="does not verify"):
        verify_acceptance(tampered, signing_key(config.storage.data_dir).public_key())
    return record


def _timestamp(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


def token_of(link: str) -> str:
    match = re.search(r"/h/i/([A-Za-z0-9_-]{43})$", link)
    assert match, link
    return match.group(1)


async def test_homeowner_flow_over_plain_http(
    tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A homeowner consents and withdraws with plain HTTP forms, no JavaScript (PB-07, BH-03, BH-04, BH-07).

    The page shows the provider's accreditation, the masked snapshots, what sharing means and
    the term's hash; the consent is recorded with a signed acceptance record as evidence; the
    link then works no more, and used, expired and unknown links answer alike; the withdrawal
    link clears the catalogue entry on COP-BH's broker within a second; /h/ is rate-limited.
    """
    from guarita.cli.main import main

    async with frigate_standin() as frigate_port:
        config_path = homeowner_config(tmp_path, frigate_broker, uplink_broker, pki, frigate_port)
        add_client(config_path)
        qr = tmp_path / "invite.png"
        assert main(["consent", "invite", "condo-1", "--cameras", "street_front,street_side", "--by", "ana",
                     "-c", str(config_path), "--qr", str(qr)]) == 0
        printed = capsys.readouterr().out
        link = printed.strip().splitlines()[2]
        config = load_config(config_path)
        assert link.startswith(f"http://127.0.0.1:{config.web.port}/h/i/")
        token = token_of(link)
        with Image.open(qr) as picture:
            assert picture.size[0] >= 200
        with registry_of(config_path) as (_, registry):  # only the token's hash is kept
            stored = registry._store.db.execute("SELECT token_sha256 FROM homeowner_invitations").fetchall()
        assert stored == [(hashlib.sha256(token.encode()).hexdigest(),)]
        assert main(["consent", "invite", "condo-1", "--cameras", "garage", "--by", "ana", "-c", str(config_path)]) == 1
        assert "not in the cop_bh program" in capsys.readouterr().err

        jar = aiohttp.CookieJar(unsafe=True)
        async with Receiver(uplink_broker, pki) as centre, running(config_path), \
                aiohttp.ClientSession(cookie_jar=jar) as http:
            page = await http.get(link)
            html = await page.text()
            assert page.status == 200, html
            for header, value in HEADERS.items():
                assert page.headers[header].startswith(value)
            assert '<html lang="pt-BR">' in html
            for text in ("ACME Segurança", "Edital de Chamamento 002/2020 SMSP", "street_front", "street_side",
                         "Regional Centro-Sul", "7 dias em nuvem", "interior da sua casa nunca",
                         current_term().sha256, f"Versão {current_term().version}"):
                assert text in html, text
            assert "<script" not in html and "style=" not in html
            english = await (await http.get(link, headers={"Accept-Language": "en-GB,en;q=0.9,pt;q=0.5"})).text()
            assert '<html lang="en">' in english and "What sharing means" in english

            # The snapshot, with the privacy mask blanked; only cameras of the invitation.
            snapshot = await http.get(f"{link}/camera/1.jpg")
            assert snapshot.status == 200 and snapshot.content_type == "image/jpeg"
            image = Image.open(io.BytesIO(await snapshot.read())).convert("RGB")
            assert image.getpixel((2, image.height // 2)) == (0, 0, 0)
            assert (await http.get(f"{link}/camera/3.jpg")).status == 404

            form_token = re.search(r'name="form_token" value="([0-9a-f]{64})"', html)
            assert form_token
            fields = {"form_token": form_token.group(1), "name": "Maria da Silva", "document": BAD_CPF, "agree": "yes"}
            # A post from elsewhere (no token) is refused; an invalid CPF is refused next to its field.
            async with aiohttp.ClientSession() as stranger:
                forged = await stranger.post(link, data={**fields, "document": CPF, "form_token": "0" * 64})
                assert forged.status == 403
            refused = await http.post(link, data=fields)
            refused_html = await refused.text()
            assert refused.status == 400
            assert re.search(r'id="document-error">Este CPF/CNPJ não é válido', refused_html)
            assert 'aria-invalid="true"' in refused_html

            accepted = await http.post(link, data={**fields, "document": CPF}, headers={"User-Agent": "plain-http/1"})
            accepted_html = await accepted.text()
            assert accepted.status == 200, accepted_html
            assert "ainda não começou" in accepted_html
            withdraw = re.search(r'id="withdraw-link">(http://127\.0\.0\.1:\d+/h/w/[A-Za-z0-9_-]{43})<', accepted_html)
            assert withdraw, accepted_html
            record = check_acceptance(config, 1, "plain-http/1")
            assert record["programs"] == ["cop_bh"]

            # The link is used: the same neutral page as an unknown one.
            reused = await http.get(link)
            unknown = await http.get(link[:-4] + "AAAA")
            reused_html = await reused.text()
            assert (reused.status, unknown.status) == (410, 404)
            assert reused_html == await unknown.text()
            assert "street_front" not in reused_html and "ACME" not in reused_html
            assert (await http.post(link, data={**fields, "document": CPF})).status == 410
            assert (await http.get(f"{link}/camera/1.jpg")).status == 410

            # Sharing waits for the provider's attestation and sign; then the catalogue entry is retained.
            attest_and_sign(config_path, ["street_front", "street_side"])
            await centre.wait_until(lambda: bool(centre.on(catalogue_topic("street_front"))), timeout=5)

            withdraw_page = await http.get(withdraw.group(1))
            withdraw_html = await withdraw_page.text()
            assert withdraw_page.status == 200 and "street_front" in withdraw_html
            receipt = await (await http.get(withdraw.group(1) + "/receipt")).text()
            assert record["accepted_at"] and withdraw.group(1) in receipt and "autorização em vigor" in receipt
            withdraw_token = re.search(r'name="form_token" value="([0-9a-f]{64})"', withdraw_html)
            assert withdraw_token
            sent = time.time()
            done = await http.post(withdraw.group(1), data={"form_token": withdraw_token.group(1)})
            assert done.status == 200 and "Autorização retirada" in await done.text()
            await centre.wait_until(lambda: b"" in centre.on(catalogue_topic("street_front")), timeout=5)
            cleared = next(m for m in centre.messages if m.topic == catalogue_topic("street_front") and not m.payload)
            assert cleared.at - sent < 1.0, f"catalogue cleared {cleared.at - sent:.2f} s after the withdrawal"
            print(f"plain HTTP: withdrawal to catalogue cleared on the broker: {cleared.at - sent:.3f} s")
            with registry_of(config_path) as (_, registry):
                snap = registry.snapshot()
                assert all(snap.cameras[c].consent.revoked_at is not None  # type: ignore[union-attr]
                           for c in ("street_front", "street_side"))
            again = await (await http.get(withdraw.group(1))).text()
            assert "Não há autorização em vigor" in again
            audit_db = Store.open(config.storage.data_dir)
            try:
                actions = [(row[0], row[1]) for row in audit_db.db.execute(
                    "SELECT actor, action FROM audit_log WHERE actor != 'guarita' ORDER BY seq")]
            finally:
                audit_db.close()
            homeowner = "homeowner:condo-1 (invitation 1)"
            withdrawer = "homeowner:condo-1 (withdrawal link 1)"
            assert actions == [
                ("ana", "client.add"), ("ana", "invitation.create"), (homeowner, "client.add"),
                (homeowner, "camera.assign"), (homeowner, "consent.grant"),
                (homeowner, "camera.assign"), (homeowner, "consent.grant"), (homeowner, "invitation.accept"),
                ("ana", "camera.attest"), ("ana", "signage.record"), ("ana", "camera.attest"), ("ana", "signage.record"),
                (withdrawer, "consent.revoke"), (withdrawer, "consent.revoke"), (withdrawer, "homeowner.withdraw"),
            ]
            assert main(["audit", "verify", "-c", str(config_path)]) == 0

            # Expired: the same neutral page.
            capsys.readouterr()
            assert main(["consent", "invite", "condo-1", "--cameras", "street_front", "--by", "ana", "--json",
                         "-c", str(config_path), "--days", "0.00001"]) == 0
            expiring = json.loads(capsys.readouterr().out)["link"]
            await asyncio.sleep(1.0)
            expired = await http.get(expiring)
            assert expired.status == 410 and await expired.text() == reused_html

            # Rate limit: 30 requests a minute per address on /h/.
            statuses = [(await http.get(link[:-4] + "BBBB")).status for _ in range(35)]
            assert statuses[-1] == 429 and set(statuses) == {404, 429}
            limited = await http.get(link)
            assert limited.status == 429 and limited.headers["Retry-After"] == "60"
            assert limited.headers["X-Frame-Options"] == "DENY"
            assert (await http.get(f"http://127.0.0.1:{config.web.port}/healthz")).status == 200


ARTIFACTS = Path(__file__).resolve().parents[1] / "tmp" / "artifacts" / "homeowner"  # screenshots; not committed


@pytest.mark.slow
@browser_needed
async def test_homeowner_in_a_real_browser(
    tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The clerk invites, the homeowner consents and later withdraws in chromium, against `guarita run` (PB-07, BH-03, BH-04, BH-07).

    An invalid CPF is refused next to its field; the consent is recorded with the signed
    acceptance record; the used, an expired and an unknown link get the identical neutral
    page; once attested and signed the camera is in COP-BH's catalogue, and the withdrawal
    link clears it there within a second. axe-core finds no WCAG 2 A/AA violation on any
    page, in Portuguese and in English. Screenshots go to tmp/artifacts/homeowner.
    """
    from guarita.cli.main import main

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with frigate_standin() as frigate_port:
        config_path = homeowner_config(tmp_path, frigate_broker, uplink_broker, pki, frigate_port)
        with registry_of(config_path) as (_, registry):  # this client's CPF is on file: the typed one must match
            registry.add_client("condo-1", "Condomínio Flores", by="ana", document=CPF)
        assert main(["consent", "invite", "condo-1", "--cameras", "street_front", "--by", "ana", "--json",
                     "-c", str(config_path), "--days", "0.00001"]) == 0
        expiring = json.loads(capsys.readouterr().out)["link"]
        process = GuaritaProcess(config_path).start()
        try:
            process.wait_healthy()
            qr = tmp_path / "invite.svg"
            made = invite(config_path, "--qr", str(qr))
            assert qr.read_text().lstrip().startswith("<?xml") and "<svg" in qr.read_text()
            link = made["link"]
            config = load_config(config_path)
            async with Receiver(uplink_broker, pki) as centre, chromium() as browser:
                page = await (await browser.new_context(locale="pt-BR", viewport={"width": 900, "height": 900})).new_page()
                shown = await page.goto(link)
                assert shown is not None and shown.status == 200
                assert await page.locator("html").get_attribute("lang") == "pt-BR"
                assert "credenciada no programa BH + Segura" in await page.inner_text("main")
                widths = await page.locator("figure img").evaluate_all("imgs => imgs.map(i => i.naturalWidth)")
                assert len(widths) == 2 and all(w > 0 for w in widths), "both masked snapshots load"
                await check_page(page, ARTIFACTS, "01-invitation")

                await page.get_by_label("Seu nome completo").fill("Maria da Silva")
                await page.get_by_label("CPF ou CNPJ").fill(BAD_CPF)
                await page.get_by_label("Li o termo acima").check()
                await page.get_by_role("button", name="Autorizar o compartilhamento").click()
                assert "não é válido" in await page.locator("#document-error").inner_text()
                assert await page.get_by_label("CPF ou CNPJ").get_attribute("aria-invalid") == "true"
                await check_page(page, ARTIFACTS, "02-invalid-cpf")

                await page.get_by_label("CPF ou CNPJ").fill(CPF)
                await page.get_by_label("Li o termo acima").check()
                await page.get_by_role("button", name="Autorizar o compartilhamento").click()
                await page.get_by_role("heading", name="Autorização registrada").wait_for()
                assert "ainda não começou" in await page.inner_text("main")
                withdraw_url = await page.locator("#withdraw-link").get_attribute("href")
                assert withdraw_url and withdraw_url.startswith(f"http://127.0.0.1:{config.web.port}/h/w/")
                await check_page(page, ARTIFACTS, "03-accepted")

                assert main(["cameras", "status", "-c", str(config_path), "--json"]) == 0
                cameras = {c["camera"]: c for c in json.loads(capsys.readouterr().out)["cameras"]}
                assert cameras["street_front"]["client"] == "condo-1"
                assert cameras["street_front"]["consent"]["programs"] == ["cop_bh"]
                assert cameras["street_front"]["programs"]["cop_bh"]["shared"] is False  # waits for attest + sign
                check_acceptance(config, made["invitation"], "Chrome")

                answers = []
                for target in (link, link[:-4] + "AAAA", expiring):  # used, unknown, expired
                    answer = await page.goto(target)
                    assert answer is not None
                    answers.append((answer.status, await answer.body()))
                assert [status for status, _ in answers] == [410, 404, 410]
                assert answers[0][1] == answers[1][1] == answers[2][1]
                assert "Este link não está disponível" in await page.inner_text("main")
                await check_page(page, ARTIFACTS, "04-link-not-available")

                attest_and_sign(config_path, ["street_front", "street_side"])
                await centre.wait_until(lambda: bool(centre.on(catalogue_topic("street_front"))), timeout=5)
                await page.goto(withdraw_url + "/receipt")
                assert "autorização em vigor" in await page.inner_text("main")
                await check_page(page, ARTIFACTS, "05-receipt")
                await page.goto(withdraw_url)
                await check_page(page, ARTIFACTS, "06-withdraw")
                sent = time.time()
                await page.get_by_role("button", name="Confirmo: retirar a autorização").click()
                await centre.wait_until(lambda: b"" in centre.on(catalogue_topic("street_front")), timeout=5)
                cleared = next(m for m in centre.messages
                               if m.topic == catalogue_topic("street_front") and not m.payload)
                assert cleared.at - sent < 1.0, f"catalogue cleared {cleared.at - sent:.2f} s after the click"
                print(f"browser: withdrawal click to catalogue cleared on the broker: {cleared.at - sent:.3f} s")
                await page.get_by_role("heading", name="Autorização retirada").wait_for()
                await check_page(page, ARTIFACTS, "07-withdrawn")

                english = await (await browser.new_context(locale="en-US")).new_page()
                await english.goto(withdraw_url + "/receipt")
                assert await english.locator("html").get_attribute("lang") == "en"
                assert "consent withdrawn" in await english.inner_text("main")
                await check_page(english, ARTIFACTS, "08-receipt-english")
            async with aiohttp.ClientSession() as http:
                statuses = [(await http.get(link)).status for _ in range(31)]
            assert 429 in statuses and statuses[0] == 410
        finally:
            process.stop()


# ---- the parts on their own (fast) ------------------------------------------------------
MINIMAL = """\
provider: {{id: acme, name: ACME Segurança, kind: security_company, accreditation: {{date: 2021-03-15}}}}
storage: {{data_dir: {data}}}
frigate: {{url: "http://127.0.0.1:{frigate}", mqtt: {{host: 127.0.0.1, port: 1883}}}}
programs:
  cop_bh: {{uplink: {{host: 127.0.0.1, port: 1883}}}}
cameras:
  street_front: {{programs: [cop_bh], location: {{lat: -19.9245, lon: -43.9352}}}}
  street_side: {{programs: [cop_bh], location: {{lat: -19.9250, lon: -43.9360}}}}
"""


@pytest.fixture
def minimal(tmp_path: Path) -> Iterator[tuple[GuaritaConfig, Store, Registry]]:
    """A config whose Frigate does not answer, its store and registry, client condo-1 with its CPF on file."""
    from guarita.standin.mosquitto import free_port

    path = tmp_path / "guarita.yaml"
    path.write_text(MINIMAL.format(data=tmp_path / "data", frigate=free_port()), encoding="utf-8")
    config = load_config(path)
    store = Store.open(config.storage.data_dir)
    registry = Registry.for_config(config, store)
    registry.add_client("condo-1", "Condomínio Flores", by="ana", document=CPF)
    registry.add_client("loja", "Loja", by="ana")
    try:
        yield config, store, registry
    finally:
        store.close()


def test_invitations_are_refused_for_what_the_client_may_not_consent_to(
    minimal: tuple[GuaritaConfig, Store, Registry], tmp_path: Path,
) -> None:
    """Only a known client, for its own cop_bh cameras of the config, for a positive lifetime (PB-07, BH-03)."""
    from guarita.consent.registry import RegistryRefusal
    from guarita.runtime import utc_now
    from guarita.web.homeowner.invitations import create_invitation, write_qr

    config, store, registry = minimal
    registry.assign("street_side", client_id="loja", by="ana")

    def make(client: str, cameras: list[str], days: float = 7, by: str = "ana") -> None:
        create_invitation(config, store, registry, client_id=client, cameras=cameras, by=by, clock=utc_now, days=days)

    for args, message in [
        (("nobody", ["street_front"]), "no client 'nobody'"),
        (("condo-1", ["street_side"]), "belongs to client 'loja'"),
        (("condo-1", ["attic"]), "not in the config"),
        (("condo-1", [" "]), "at least one camera"),
        (("condo-1", ["street_front"], 0), "more than 0"),
        (("condo-1", ["street_front"], 7, " "), "who creates"),
    ]:
        with pytest.raises(RegistryRefusal, match=message):
            make(*args)  # type: ignore[arg-type]
    assert store.db.execute("SELECT COUNT(*) FROM homeowner_invitations").fetchone() == (0,)
    with pytest.raises(RegistryRefusal, match=r"\.svg or \.png"):
        write_qr("http://x/h/i/t", tmp_path / "qr.gif")


def test_words_limits_and_signatures() -> None:
    """Portuguese unless English is preferred; the rate limit's window slides; a record signed by another key fails (BH-07)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from guarita.web.i18n import CATALOGUE, negotiate
    from guarita.web.homeowner.strings import HOMEOWNER_MESSAGES, add_homeowner_messages
    from guarita.web.protection import AddressWindow, RequestLimiter

    assert negotiate("en;q=bad, pt;q=0.3") == "pt-BR"  # the console's choice (tests/test_console.py covers the rest)
    add_homeowner_messages()
    assert set(HOMEOWNER_MESSAGES) <= CATALOGUE.keys() and all(k.startswith("home.") for k in HOMEOWNER_MESSAGES)
    now = [0.0]
    limiter = RequestLimiter(limit=2, window_s=60, clock=lambda: now[0])
    assert [limiter.allow("a"), limiter.allow("a"), limiter.allow("a"), limiter.allow("b")] == [True, True, False, True]
    now[0] = 60.5
    assert limiter.allow("a")
    window = AddressWindow(limit=1, window_s=60, addresses_kept=2)  # memory stays bounded: the longest unseen go
    for address in ("a", "b", "a", "c"):
        window.count(address, 1.0)
    assert [window.wait_s(x, 2.0) > 0 for x in ("a", "b", "c")] == [True, False, True]
    record = json.dumps({"record": {"kind": "guarita.homeowner_acceptance/1"},
                         "signature": {"algorithm": "ed25519", "key_sha256": "0" * 64, "value": ""}}).encode()
    with pytest.raises(ValueError, match="another key"):
        verify_acceptance(record, Ed25519PrivateKey.generate().public_key())
    with pytest.raises(ValueError, match="not a homeowner acceptance"):
        verify_acceptance(b'{"record": {}}', Ed25519PrivateKey.generate().public_key())


async def test_pages_refuse_a_different_document_and_answer_neutrally(
    minimal: tuple[GuaritaConfig, Store, Registry],
) -> None:
    """A CPF other than the one on file is refused; no snapshot without Frigate; anything unknown under /h/ is neutral (PB-07, BH-07)."""
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from guarita.runtime import utc_now
    from guarita.web.homeowner.invitations import create_invitation
    from guarita.web.homeowner.pages import HOMEOWNER_PREFIX, make_homeowner_app

    config, store, registry = minimal
    made = create_invitation(config, store, registry, client_id="condo-1", cameras=["street_front"], by="ana",
                             clock=utc_now)
    app = web.Application()
    app.add_subapp(HOMEOWNER_PREFIX, make_homeowner_app(config, registry, store, utc_now))
    async with TestClient(TestServer(app, host="127.0.0.1"), cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        path = f"/h/i/{made.token}"
        html = await (await http.get(path)).text()
        form_token = re.search(r'name="form_token" value="([0-9a-f]{64})"', html)
        assert form_token
        other = "111.444.777-35"
        answer = await http.post(path, data={"form_token": form_token.group(1), "name": "", "document": other})
        text = await answer.text()
        assert answer.status == 400
        for field in ("name-error", "document-error", "agree-error"):
            assert f'id="{field}"' in text
        assert "não confere com o cadastrado" in text
        assert store.db.execute("SELECT COUNT(*) FROM registry_consents").fetchone() == (0,)

        snapshot = await http.get(f"{path}/camera/1.jpg")
        assert snapshot.status == 503
        neutral = await http.get("/h/nothing/here")
        assert neutral.status == 404 and "Este link não está disponível" in await neutral.text()
        assert neutral.headers["Content-Security-Policy"].startswith("default-src 'self'")
        unknown_withdrawal = await http.post("/h/w/" + "A" * 43, data={})
        assert unknown_withdrawal.status == 404
        assert await unknown_withdrawal.text() == await neutral.text()
        css = await http.get("/h/static/homeowner.css")
        assert css.status == 200 and css.content_type == "text/css"


async def test_an_acceptance_with_one_camera_refused_grants_none_and_leaves_the_invitation_open(
    minimal: tuple[GuaritaConfig, Store, Registry],
) -> None:
    """A camera given to another client after the invitation: no camera is granted, the link still works (PB-07, BH-03).

    Once the camera is back with its client, the same link records both cameras.
    """
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from guarita.runtime import utc_now
    from guarita.web.homeowner.invitations import create_invitation
    from guarita.web.homeowner.pages import HOMEOWNER_PREFIX, make_homeowner_app

    config, store, registry = minimal
    made = create_invitation(config, store, registry, client_id="condo-1", cameras=["street_front", "street_side"],
                             by="ana", clock=utc_now)
    registry.assign("street_side", client_id="loja", by="ana")  # the second camera changes hands meanwhile
    app = web.Application()
    app.add_subapp(HOMEOWNER_PREFIX, make_homeowner_app(config, registry, store, utc_now))

    def consents() -> list[tuple[str, str]]:
        return store.db.execute("SELECT camera, client_id FROM registry_consents ORDER BY camera").fetchall()

    async with TestClient(TestServer(app, host="127.0.0.1"), cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        path = f"/h/i/{made.token}"

        async def accept() -> aiohttp.ClientResponse:
            form_token = re.search(r'name="form_token" value="([0-9a-f]{64})"', await (await http.get(path)).text())
            assert form_token, "the invitation page is shown"
            return await http.post(path, data={"form_token": form_token.group(1), "name": "Maria da Silva",
                                               "document": CPF, "agree": "yes"})

        refused = await accept()
        assert refused.status == 409 and "Não foi possível registrar agora" in await refused.text()
        assert consents() == [], "street_front was granted although street_side was refused"
        assert store.db.execute("SELECT used_at FROM homeowner_invitations").fetchall() == [(None,)]
        assert store.db.execute("SELECT COUNT(*) FROM homeowner_withdrawal_links").fetchone() == (0,)

        registry.assign("street_side", client_id="condo-1", by="ana")
        accepted = await accept()
        assert accepted.status == 200 and "Autorização registrada" in await accepted.text()
        assert consents() == [("street_front", "condo-1"), ("street_side", "condo-1")]
        assert store.db.execute("SELECT used_at IS NOT NULL FROM homeowner_invitations").fetchall() == [(1,)]
