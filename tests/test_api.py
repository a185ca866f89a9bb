"""The REST API on a real aiohttp server (127.0.0.1, free port) over a real SQLite store.

Role tests for every route and caller, validation errors naming their field, the audit
entries of reads and writes, an end-to-end grant + attestation + sign that makes the
camera shared, and schemathesis against the API's own OpenAPI document.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import logging
import secrets
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import jsonschema
import pytest
from guarita.consent.registry import Registry
from harness import Receiver, running, write_config
from hypothesis import HealthCheck, Phase, given, settings
from web_rig import served_app

from guarita import audit
from guarita.web.api_openapi import openapi_document
from guarita.web.api import MAX_BODY_BYTES, OPERATIONS, make_api_app
from guarita.config import ApiRole, GuaritaConfig
from guarita.metrics import Metrics
from guarita.standin.mosquitto import MosquittoBroker, free_port
from guarita.standin.tls import TestPki
from guarita.store import Store
from guarita.web.server import make_web_app, serve_web

NOW = datetime(2026, 6, 30, 13, 0, tzinfo=UTC)
CPF = "529.982.247-25"
FORM = b"%PDF-1.7 signed authorisation of the client"
SNAPSHOT = b"\xff\xd8\xff\xe0 snapshot of the street"
PHOTO = b"\xff\xd8\xff\xe0 photo of the BH + Segura sign"

# Who holds which token: name → (role, token). The names are the actors the audit log records.
HOLDERS: dict[str, tuple[ApiRole, str]] = {
    "alice": (ApiRole.ADMIN, secrets.token_urlsafe(24)),
    "otto": (ApiRole.OPERATOR, secrets.token_urlsafe(24)),
    "audrey": (ApiRole.AUDITOR, secrets.token_urlsafe(24)),
    "vera": (ApiRole.VIEWER, secrets.token_urlsafe(24)),
}
NO_TOKEN = "no-token"
BAD_TOKEN = "bad-token"
CALLERS = [*HOLDERS, NO_TOKEN, BAD_TOKEN]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def token_config(holders: dict[str, tuple[ApiRole, str]]) -> dict[str, Any]:
    return {name: {"role": role.value, "sha256": hashlib.sha256(token.encode()).hexdigest()}
            for name, (role, token) in holders.items()}


def make_config(data_dir: Path, holders: dict[str, tuple[ApiRole, str]]) -> GuaritaConfig:
    return GuaritaConfig.model_validate({
        "provider": {"id": "acme", "name": "ACME Segurança", "kind": "security_company",
                     "accreditation": {"date": "2024-05-02"}},
        "storage": {"data_dir": str(data_dir)},
        "programs": {"cop_bh": {"uplink": {"host": "127.0.0.1"}}},
        "cameras": {
            "street_front": {"programs": ["cop_bh"], "location": {"lat": -19.9245, "lon": -43.9352}},
            "lobby": {"programs": ["cop_bh"], "location": {"lat": -19.9246, "lon": -43.9353}},
            "garage": {"programs": []},
            "porch": {"programs": ["cop_bh"], "location": {"lat": -19.9247, "lon": -43.9354},
                      "privacy_masks": ["0,0,0.5,0,0.5,1,0,1"]},
        },
        "web": {"host": "127.0.0.1", "port": 0, "tokens": token_config(holders)},
    })


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]


@dataclass
class Api:
    """A served API and what it writes to."""

    base: str
    session: aiohttp.ClientSession
    store: Store
    registry: Registry
    clock: Clock
    data_dir: Path

    async def call(self, method: str, path: str, who: str | None = None, body: Any = None,
                   raw: bytes | None = None) -> Answer:
        headers = {}
        if who == BAD_TOKEN:
            headers["Authorization"] = "Bearer " + secrets.token_urlsafe(24)
        elif who is not None and who != NO_TOKEN:
            headers["Authorization"] = f"Bearer {HOLDERS[who][1]}"
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None:
            headers["Content-Type"] = "application/json"
        payload = io.BytesIO(data) if data is not None else None
        async with self.session.request(method, self.base + path, data=payload, headers=headers) as response:
            text = await response.text()
            parsed = json.loads(text) if response.content_type == "application/json" else text
            return Answer(response.status, parsed, dict(response.headers))

    def audit(self) -> list[tuple[str, str, str]]:
        rows = self.store.db.execute("SELECT actor, action, subject FROM audit_log ORDER BY seq").fetchall()
        return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]

    def audit_text(self) -> str:
        return "\n".join(str(tuple(r)) for r in self.store.db.execute("SELECT * FROM audit_log"))


def build_app(data_dir: Path, holders: dict[str, tuple[ApiRole, str]], clock: Clock) -> tuple[Any, Store, Registry]:
    config = make_config(data_dir, holders)
    store = Store.open(data_dir)
    registry = Registry(store, data_dir, accredited=True, clock=clock)
    app = make_web_app(lambda: {"status": "ok"}, Metrics(), make_api_app(config, registry, store, clock))
    return app, store, registry


@asynccontextmanager
async def serving(tmp_path: Path, holders: dict[str, tuple[ApiRole, str]] = HOLDERS) -> AsyncIterator[Api]:
    clock = Clock()
    data_dir = tmp_path / "data"
    app, store, registry = build_app(data_dir, holders, clock)
    try:
        async with served_app(app) as (base, session):
            yield Api(base, session, store, registry, clock, data_dir)
    finally:
        store.close()


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with serving(tmp_path) as served:
        # A client, and a consent on street_front (so a revocation has something to revoke).
        served.registry.add_client("padaria", "Padaria Central", by="setup")
        form = tmp_path / "form.pdf"
        form.write_bytes(FORM)
        served.registry.grant("street_front", client_id="padaria", evidence=form, by="setup")
        with served.store.transaction() as db:  # a sensor event of the fleet, to acknowledge
            db.execute(
                "INSERT INTO vehicle_events (id, vehicle, type, ts, value, threshold, source, details, created_at) "
                "VALUES ('10234-harsh_braking-1782824406000', '10234', 'harsh_braking', 1782824406, -3.4, -2.5, "
                "'mqtt', '{}', 1782824406)"
            )
        yield served


# ---- roles --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Route:
    method: str
    path: str
    body: dict[str, Any] | None
    success: int
    roles: frozenset[ApiRole]

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"


READERS = frozenset({ApiRole.ADMIN, ApiRole.OPERATOR, ApiRole.AUDITOR})
WRITERS = frozenset({ApiRole.ADMIN, ApiRole.OPERATOR})
ROUTES = [
    Route("GET", "/api/v1/cameras", None, 200, READERS | {ApiRole.VIEWER}),
    Route("GET", "/api/v1/clients", None, 200, READERS),
    Route("POST", "/api/v1/clients", {"id": "mercado", "name": "Mercado Sul", "contact": "(31) 3333-0000"},
          201, WRITERS),
    Route("POST", "/api/v1/cameras/lobby/assign", {"client": "padaria"}, 201, WRITERS),
    Route("POST", "/api/v1/cameras/lobby/consent", {"client": "padaria", "evidence_base64": b64(FORM)}, 201, WRITERS),
    Route("POST", "/api/v1/cameras/street_front/consent/revoke", {"reason": "client moved out"}, 200, WRITERS),
    Route("POST", "/api/v1/cameras/lobby/attestation", {"public_facing": True, "evidence_base64": b64(SNAPSHOT)},
          201, WRITERS),
    Route("POST", "/api/v1/cameras/lobby/signage", {"plate": "BH-0042", "photo_base64": b64(PHOTO)}, 201, WRITERS),
    Route("GET", "/api/v1/audit/verify", None, 200, frozenset({ApiRole.ADMIN, ApiRole.AUDITOR})),
    Route("GET", "/api/v1/vehicle-events", None, 200, READERS | {ApiRole.VIEWER}),
    Route("GET", "/api/v1/summary", None, 200, READERS | {ApiRole.VIEWER}),
    Route("POST", "/api/v1/vehicle-events/10234-harsh_braking-1782824406000/ack",
          {"action": "called the driver", "by": "ana"}, 201, WRITERS),
]


def test_the_role_table_covers_every_route_of_the_document() -> None:
    # The live view's and playback's routes need a shared camera and video: tests/test_video.py and
    # tests/test_video_playback.py cover their roles, tests/test_video_detro.py those of a bus's cameras.
    documented = {
        f"{op.method} /api/v1{op.path.replace('{camera}', 'X').replace('{id}', 'X')}" for op in OPERATIONS
        if op.roles and not op.path.startswith(("/views", "/playback", "/vehicles/"))
    }
    tested = {
        f"{r.method} {r.path.replace('street_front', 'X').replace('lobby', 'X')}".replace(
            "10234-harsh_braking-1782824406000", "X"
        )
        for r in ROUTES
    }
    assert tested == documented
    assert {op.path: set(op.roles) for op in OPERATIONS if op.method == "GET"} == {
        "/cameras": set(ApiRole), "/clients": set(READERS), "/audit/verify": {ApiRole.ADMIN, ApiRole.AUDITOR},
        "/vehicle-events": set(ApiRole), "/summary": set(ApiRole), "/views": set(ApiRole), "/playback": set(ApiRole),
        "/playback/{id}": {ApiRole.ADMIN, ApiRole.OPERATOR, ApiRole.VIEWER}, "/openapi.json": set(),
    }


# covers BH-09, PB-03, BH-07
@pytest.mark.parametrize("who", CALLERS)
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
async def test_each_route_answers_each_caller_by_role(api: Api, route: Route, who: str) -> None:
    answer = await api.call(route.method, route.path, who, route.body)
    if who in (NO_TOKEN, BAD_TOKEN):
        assert answer.status == 401
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        assert answer.body["status"] == 401 and answer.body["error"]
    elif HOLDERS[who][0] in route.roles:
        assert answer.status == route.success, answer.body
        if route.method == "POST":  # the registry and the audit log name the token's holder
            assert api.audit()[-1][0] == who
    else:
        assert answer.status == 403
        assert answer.body == {"error": answer.body["error"], "status": 403}
        assert HOLDERS[who][0].value in answer.body["error"]
    if answer.status in (401, 403):
        assert api.audit()[-1][0] == "setup", "a refused call changed or read nothing"


# covers BH-09, PB-03
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
async def test_with_no_tokens_configured_every_call_is_401(tmp_path: Path, route: Route) -> None:
    async with serving(tmp_path, holders={}) as closed:
        for who in ("alice", NO_TOKEN, BAD_TOKEN):
            answer = await closed.call(route.method, route.path, who, route.body)
            assert answer.status == 401, who
            assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        document = await closed.call("GET", "/api/v1/openapi.json")
        assert document.status == 200 and document.body["openapi"].startswith("3.1")
        assert closed.audit() == []


async def test_health_and_metrics_need_no_token(api: Api) -> None:
    health = await api.call("GET", "/healthz")
    assert health.status == 200 and health.body == {"status": "ok"}
    metrics = await api.call("GET", "/metrics")
    assert metrics.status == 200


async def test_a_bearer_scheme_is_case_insensitive_and_other_schemes_are_refused(api: Api) -> None:
    token = HOLDERS["vera"][1]
    for header, status in ((f"bearer {token}", 200), (f"Basic {token}", 401), (token, 401), ("Bearer ", 401)):
        async with api.session.get(api.base + "/api/v1/cameras", headers={"Authorization": header}) as response:
            assert response.status == status, header


# ---- end to end ---------------------------------------------------------------------------
def status_of(answer: Answer, camera: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in answer.body["cameras"] if c["camera"] == camera)
    return found


# covers BH-03, BH-04, BH-09, PB-03, PB-07
async def test_grant_attest_and_sign_over_the_api_make_the_camera_shared(tmp_path: Path) -> None:
    async with serving(tmp_path) as api:
        before = await api.call("GET", "/api/v1/cameras", "vera")
        assert before.status == 200
        assert status_of(before, "lobby")["programs"]["cop_bh"] == {
            "shared": False, "reasons": ["no_client", "no_consent", "not_public_facing", "no_signage"],
        }
        assert (await api.call("POST", "/api/v1/clients", "otto",
                               {"id": "padaria", "name": "Padaria Central", "document": CPF})).status == 201
        granted = await api.call("POST", "/api/v1/cameras/lobby/consent", "otto",
                                 {"client": "padaria", "evidence_base64": b64(FORM), "expires": "2026-12-31"})
        assert granted.status == 201, granted.body
        assert granted.body["evidence_sha256"] == hashlib.sha256(FORM).hexdigest()
        assert granted.body["expires_at"] == "2027-01-01T03:00:00+00:00"  # end of the day in Belo Horizonte
        assert (await api.call("POST", "/api/v1/cameras/lobby/attestation", "otto",
                               {"public_facing": True, "evidence_base64": b64(SNAPSHOT)})).status == 201
        signed = await api.call("POST", "/api/v1/cameras/lobby/signage", "otto",
                                {"plate": " BH-0042 ", "photo_base64": b64(PHOTO), "installed": "2026-06-29"})
        assert signed.status == 201
        assert signed.body["plate"] == "BH-0042" and signed.body["installed_on"] == "2026-06-29"

        after = await api.call("GET", "/api/v1/cameras", "vera")
        lobby = status_of(after, "lobby")
        assert lobby["programs"]["cop_bh"] == {"shared": True, "reasons": []}
        assert lobby["client"] == "padaria" and lobby["public_facing"] is True and lobby["sign_plate"] == "BH-0042"
        assert lobby["consent"]["since"] == "2026-06-30T13:00:00+00:00"
        assert status_of(after, "garage")["programs"] == {}
        assert after.body["registry_version"] > before.body["registry_version"]
        for digest in (hashlib.sha256(d).hexdigest() for d in (FORM, SNAPSHOT, PHOTO)):
            assert (api.data_dir / "evidence" / digest[:2] / digest).is_file()
        assert list((api.data_dir / "uploads").iterdir()) == [], "spooled uploads are removed"

        revoked = await api.call("POST", "/api/v1/cameras/lobby/consent/revoke", "otto", {"reason": "contract ended"})
        assert revoked.status == 200 and revoked.body["revoked"] is True
        held = status_of(await api.call("GET", "/api/v1/cameras", "vera"), "lobby")["programs"]["cop_bh"]
        assert held == {"shared": False, "reasons": ["consent_revoked"]}

        writes = [(actor, action) for actor, action, _ in api.audit() if action != "api.read"]
        assert ("otto", "consent.grant") in writes and ("otto", "signage.record") in writes
        assert ("otto", "consent.revoke") in writes
        assert {actor for actor, _ in writes} == {"otto"}
        verified = await api.call("GET", "/api/v1/audit/verify", "audrey")
        assert verified.body["intact"] is True and verified.body["entries"] == len(api.audit())


# covers BH-07
async def test_clients_are_listed_without_the_document_and_updates_answer_200(api: Api) -> None:
    added = await api.call("POST", "/api/v1/clients", "alice", {"id": "mercado", "name": "Mercado", "document": CPF})
    assert added.status == 201 and added.body["has_document"] is True and added.body["updated"] is False
    again = await api.call("POST", "/api/v1/clients", "alice", {"id": "mercado", "name": "Mercado Sul"})
    assert again.status == 200 and again.body["updated"] is True
    listed = await api.call("GET", "/api/v1/clients", "audrey")
    mercado = next(c for c in listed.body["clients"] if c["client"] == "mercado")
    assert mercado["name"] == "Mercado Sul" and mercado["recorded_by"] == "alice"
    digits = CPF.replace(".", "").replace("-", "")
    for text in (json.dumps(listed.body), api.audit_text()):
        assert digits not in text and CPF not in text


async def test_consent_may_name_evidence_already_kept_by_its_hash(api: Api) -> None:
    digest = hashlib.sha256(FORM).hexdigest()  # kept by the fixture's grant
    granted = await api.call("POST", "/api/v1/cameras/lobby/consent", "otto",
                             {"client": "padaria", "evidence_sha256": digest, "programs": ["cop_bh"]})
    assert granted.status == 201 and granted.body["evidence_sha256"] == digest
    unknown = await api.call("POST", "/api/v1/cameras/lobby/consent", "otto",
                             {"client": "padaria", "evidence_sha256": "0" * 64})
    assert unknown.status == 409 and "0" * 64 in unknown.body["error"]


# covers BH-09, PB-03
async def test_reads_of_registry_data_are_audited_with_the_token_name(api: Api) -> None:
    await api.call("GET", "/api/v1/cameras", "vera")
    await api.call("GET", "/api/v1/clients", "audrey")
    await api.call("GET", "/api/v1/audit/verify", "audrey")
    reads = [entry for entry in api.audit() if entry[1] == "api.read"]
    assert reads == [("vera", "api.read", "/api/v1/cameras"), ("audrey", "api.read", "/api/v1/clients")]
    details = api.store.db.execute("SELECT details FROM audit_log WHERE action = 'api.read'").fetchall()
    assert [json.loads(d[0]) for d in details] == [{"method": "GET", "role": "viewer"},
                                                   {"method": "GET", "role": "auditor"}]


# covers BH-07
async def test_tokens_and_personal_data_are_never_logged(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await api.call("POST", "/api/v1/clients", "otto",
                   {"id": "mercado", "name": "Mercado Sul", "document": CPF, "contact": "ana@mercado.example"})
    await api.call("POST", "/api/v1/clients", "otto", {"id": "Bad Id", "name": "x", "document": "123.456.789-00"})
    await api.call("GET", "/api/v1/clients", BAD_TOKEN)
    logged = caplog.text + api.audit_text()
    for secret in (*(token for _, token in HOLDERS.values()), CPF, "123.456.789-00", "ana@mercado.example"):
        assert secret not in logged


async def test_audit_verify_names_the_first_broken_entry_and_checks_a_head(api: Api) -> None:
    intact = await api.call("GET", "/api/v1/audit/verify", "alice")
    head = intact.body["head"]
    assert intact.body["intact"] is True and intact.body["broken"] is None
    assert (await api.call("GET", f"/api/v1/audit/verify?head={head.upper()}", "alice")).body["intact"] is True
    gone = await api.call("GET", f"/api/v1/audit/verify?head={'ab' * 32}", "alice")
    assert gone.status == 200 and gone.body["intact"] is False and "no longer in the chain" in gone.body["problem"]
    api.store.db.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
    broken = await api.call("GET", "/api/v1/audit/verify", "audrey")
    assert broken.body["intact"] is False and broken.body["broken"]["seq"] == 2


# ---- validation and refusals --------------------------------------------------------------
def fields(answer: Answer) -> dict[str, str]:
    assert answer.status == 400, answer.body
    assert answer.body["status"] == 400 and answer.body["error"] in ("invalid request", "malformed JSON")
    return {f["field"]: f["message"] for f in answer.body["fields"]}


# covers BH-03
@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/clients", {"id": "mercado", "name": "Mercado", "nickname": "x"}, "nickname"),
        ("/api/v1/clients", {"name": "Mercado"}, "id"),
        ("/api/v1/clients", {"id": "Mercado Sul", "name": "Mercado"}, "id"),
        ("/api/v1/clients", {"id": "mercado", "name": "   "}, "name"),
        ("/api/v1/clients", {"id": "mercado", "name": "Mercado", "document": "529.982.247-26"}, "document"),
        ("/api/v1/clients", {"id": "mercado", "name": "Mercado", "document": "5299822472²"}, "document"),
        ("/api/v1/clients", {"id": "mercado", "name": 7}, "name"),
        ("/api/v1/cameras/lobby/consent", {"client": "padaria"}, "evidence_base64"),
        ("/api/v1/cameras/lobby/consent", {"client": "padaria", "evidence_base64": "not base64!"}, "evidence_base64"),
        ("/api/v1/cameras/lobby/consent", {"client": "padaria", "evidence_base64": b64(FORM),
                                           "evidence_sha256": hashlib.sha256(FORM).hexdigest()}, "evidence_sha256"),
        ("/api/v1/cameras/lobby/consent", {"client": "padaria", "evidence_base64": b64(FORM), "programs": []},
         "programs"),
        ("/api/v1/cameras/lobby/consent", {"client": "padaria", "evidence_base64": b64(FORM),
                                           "programs": ["cop_bh", "nasa"]}, "programs.1"),
        ("/api/v1/cameras/lobby/consent", {"client": "padaria", "evidence_base64": b64(FORM),
                                           "expires": "2026-12-31T18:00"}, "expires"),
        ("/api/v1/cameras/lobby/consent/revoke", {}, "reason"),
        ("/api/v1/cameras/lobby/attestation", {"public_facing": "yes", "evidence_base64": b64(SNAPSHOT)},
         "public_facing"),
        ("/api/v1/cameras/lobby/attestation", {"public_facing": True, "evidence_base64": ""}, "evidence_base64"),
        ("/api/v1/cameras/lobby/signage", {"plate": "BH-1", "photo_base64": b64(PHOTO), "installed": "2026-07-01"},
         "installed"),
        ("/api/v1/cameras/lobby/signage", {"plate": "BH-1", "photo_base64": b64(PHOTO), "installed": "30/06/2026"},
         "installed"),
        ("/api/v1/cameras/lobby/signage", {"plate": "BH-1"}, "photo_base64"),
    ],
)
async def test_invalid_bodies_are_refused_naming_the_field(
    api: Api, path: str, body: dict[str, Any], field: str
) -> None:
    before = api.audit()
    problems = fields(await api.call("POST", path, "otto", body))
    assert field in problems, problems
    assert all(message for message in problems.values())
    assert api.audit() == before, "nothing was recorded"


@pytest.mark.parametrize("raw", [b"{bad json", b"", b"[1, 2]", b"null", b'"text"'])
async def test_a_body_that_is_not_a_json_object_is_400(api: Api, raw: bytes) -> None:
    problems = fields(await api.call("POST", "/api/v1/clients", "otto", raw=raw))
    assert list(problems) == ["body"]


async def test_a_document_in_error_is_not_echoed(api: Api) -> None:
    answer = await api.call("POST", "/api/v1/clients", "otto",
                            {"id": "mercado", "name": "Mercado", "document": "529.982.247-26"})
    assert answer.status == 400 and "529" not in json.dumps(answer.body)


async def test_a_bad_audit_head_is_400(api: Api) -> None:
    assert fields(await api.call("GET", "/api/v1/audit/verify?head=xyz", "audrey")) == {"head": "must be 64 hex digits"}


# covers BH-07
async def test_an_audit_head_with_a_trailing_newline_is_400(api: Api) -> None:
    head = (await api.call("GET", "/api/v1/audit/verify", "audrey")).body["head"]
    answer = await api.call("GET", f"/api/v1/audit/verify?head={head}%0A", "audrey")
    assert fields(answer) == {"head": "must be 64 hex digits"}


# covers BH-07, PB-03
async def test_audit_verify_says_which_entries_are_keyed(api: Api) -> None:
    answer = await api.call("GET", "/api/v1/audit/verify", "audrey")
    assert answer.body["intact"] is True and answer.body["keying"] == "every entry keyed (HMAC-SHA-256)"


# covers BH-07
async def test_an_oversized_authorization_header_logs_no_token(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    token = HOLDERS["alice"][1]
    host, port = api.base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    header = f"Bearer {token}{'A' * 64 * 1024}"
    writer.write(f"GET /api/v1/clients HTTP/1.1\r\nHost: {host}\r\nAuthorization: {header}\r\n\r\n".encode())
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    assert answer.startswith(b"HTTP/1.") and b" 400 " in answer.split(b"\r\n")[0]
    await asyncio.sleep(0.05)
    assert "malformed request refused with 400" in caplog.text
    assert token not in caplog.text and "Traceback" not in caplog.text


# covers BH-09, PB-03
async def test_a_flood_of_reads_makes_a_bounded_number_of_audit_entries(api: Api) -> None:
    before = len(api.audit())
    semaphore = asyncio.Semaphore(32)

    async def read() -> int:
        async with semaphore:
            return (await api.call("GET", "/api/v1/clients", "audrey")).status

    assert set(await asyncio.gather(*(read() for _ in range(5000)))) == {200}
    api.clock.now += timedelta(minutes=1)
    assert (await api.call("GET", "/api/v1/clients", "audrey")).status == 200
    assert (await api.call("GET", "/api/v1/cameras", "vera")).status == 200
    new = api.audit()[before:]
    assert new == [("audrey", "api.read", "/api/v1/clients"), ("audrey", "api.read.repeat", "/api/v1/clients"),
                   ("audrey", "api.read", "/api/v1/clients"), ("vera", "api.read", "/api/v1/cameras")]
    (details,) = api.store.db.execute("SELECT details FROM audit_log WHERE action = 'api.read.repeat'").fetchone()
    assert json.loads(details) == {"method": "GET", "role": "auditor", "minute": "2026-06-30T13:00+00:00",
                                   "count": 4999}
    assert audit.verify(api.store.db)[1] is None


# covers BH-09, PB-03
async def test_coalesced_reads_are_written_when_the_server_stops(tmp_path: Path) -> None:
    async with serving(tmp_path) as api:
        for _ in range(3):
            assert (await api.call("GET", "/api/v1/cameras", "vera")).status == 200
        assert [a for _, a, _ in api.audit()] == ["api.read"]
        store = api.store
    db = sqlite3.connect(store.path)
    rows = db.execute("SELECT action, details FROM audit_log ORDER BY seq").fetchall()
    db.close()
    assert [(a, json.loads(d).get("count")) for a, d in rows] == [("api.read", None), ("api.read.repeat", 2)]


# covers BH-03
@pytest.mark.parametrize("action", ["assign", "consent", "attestation", "signage", "consent/revoke"])
async def test_an_unknown_camera_is_404(api: Api, action: str) -> None:
    body = {"assign": {"client": "padaria"},
            "consent": {"client": "padaria", "evidence_base64": b64(FORM)},
            "attestation": {"public_facing": True, "evidence_base64": b64(SNAPSHOT)},
            "signage": {"plate": "BH-1", "photo_base64": b64(PHOTO)},
            "consent/revoke": {"reason": "gone"}}[action]
    answer = await api.call("POST", f"/api/v1/cameras/nowhere/{action}", "otto", body)
    assert answer.status == 404 and "nowhere" in answer.body["error"] and answer.body["status"] == 404


async def test_a_camera_removed_from_the_config_can_still_be_revoked(tmp_path: Path) -> None:
    async with serving(tmp_path) as api:
        form = tmp_path / "form.pdf"
        form.write_bytes(FORM)
        api.registry.add_client("padaria", "Padaria", by="setup")
        api.registry.grant("old_camera", client_id="padaria", evidence=form, by="setup")
        answer = await api.call("POST", "/api/v1/cameras/old_camera/consent/revoke", "otto", {"reason": "removed"})
        assert answer.status == 200
        cameras = await api.call("GET", "/api/v1/cameras", "alice")
        assert cameras.body["unconfigured_cameras"] == ["old_camera"]


# covers BH-03, PB-03
@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        ("/api/v1/cameras/lobby/consent", {"client": "nobody", "evidence_base64": b64(FORM)}, "no client 'nobody'"),
        ("/api/v1/cameras/lobby/consent", {"client": "padaria", "evidence_base64": b64(FORM), "expires": "2026-01-01"},
         "not in the future"),
        ("/api/v1/cameras/lobby/consent/revoke", {"reason": "x"}, "no active consent"),
        ("/api/v1/cameras/lobby/assign", {"client": "nobody"}, "no client 'nobody'"),
        ("/api/v1/cameras/street_front/consent", {"client": "mercado", "evidence_base64": b64(FORM)},
         "belongs to client 'padaria'"),
    ],
)
async def test_registry_refusals_are_409_with_the_reason(api: Api, path: str, body: dict[str, Any], words: str) -> None:
    api.registry.add_client("mercado", "Mercado", by="setup")
    answer = await api.call("POST", path, "otto", body)
    assert answer.status == 409 and words in answer.body["error"] and answer.body["status"] == 409


# covers BH-09
async def test_when_the_store_fails_nothing_is_read_or_written_and_the_answer_is_503(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    api.store.db.close()
    for method, path, body in (("GET", "/api/v1/cameras", None), ("GET", "/api/v1/clients", None),
                               ("POST", "/api/v1/clients", {"id": "mercado", "name": "Mercado", "document": CPF})):
        answer = await api.call(method, path, "alice", body)
        assert answer.status == 503 and answer.body["status"] == 503, path
    assert HOLDERS["alice"][1] not in caplog.text and CPF not in caplog.text


async def test_unknown_routes_and_methods_answer_json(api: Api) -> None:
    missing = await api.call("GET", "/api/v1/nothing", "alice")
    assert missing.status == 404 and missing.body == {"error": "Not Found", "status": 404}
    wrong = await api.call("DELETE", "/api/v1/clients", "alice")
    assert wrong.status == 405 and wrong.body["status"] == 405 and "GET" in wrong.headers["Allow"]


async def test_evidence_up_to_10_mib_is_accepted_and_larger_is_refused(api: Api) -> None:
    big = secrets.token_bytes(10 * 1024 * 1024)
    body = {"public_facing": True, "evidence_base64": b64(big)}
    accepted = await api.call("POST", "/api/v1/cameras/lobby/attestation", "otto", body)
    assert accepted.status == 201 and accepted.body["evidence_sha256"] == hashlib.sha256(big).hexdigest()
    for extra in (b"1", b"123"):  # one byte more has the same base64 length; three more are longer
        too_big = await api.call("POST", "/api/v1/cameras/lobby/attestation", "otto",
                                 {"public_facing": True, "evidence_base64": b64(big + extra)})
        assert "larger than" in fields(too_big)["evidence_base64"]
    huge = await api.call("POST", "/api/v1/cameras/lobby/attestation", "otto", raw=b" " * (MAX_BODY_BYTES + 1))
    assert huge.status == 413 and huge.body["status"] == 413


async def test_consent_expiry_follows_the_injected_clock(api: Api) -> None:
    await api.call("POST", "/api/v1/cameras/lobby/consent", "otto",
                   {"client": "padaria", "evidence_base64": b64(FORM), "expires": "2026-07-01T00:00:00Z"})
    await api.call("POST", "/api/v1/cameras/lobby/attestation", "otto",
                   {"public_facing": True, "evidence_base64": b64(SNAPSHOT)})
    await api.call("POST", "/api/v1/cameras/lobby/signage", "otto", {"plate": "BH-7", "photo_base64": b64(PHOTO)})
    assert status_of(await api.call("GET", "/api/v1/cameras", "vera"), "lobby")["programs"]["cop_bh"]["shared"]
    api.clock.now += timedelta(days=1)
    held = status_of(await api.call("GET", "/api/v1/cameras", "vera"), "lobby")["programs"]["cop_bh"]
    assert held == {"shared": False, "reasons": ["consent_expired"]}


# ---- the OpenAPI document -----------------------------------------------------------------
async def test_the_document_describes_every_route_with_bodies_and_answers(api: Api) -> None:
    answer = await api.call("GET", "/api/v1/openapi.json")
    assert answer.status == 200
    document = answer.body
    assert document["openapi"] == "3.1.0" and document["servers"] == [{"url": "/api/v1"}]
    routes = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert routes == {(op.method, op.path) for op in OPERATIONS}
    schemas = document["components"]["schemas"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert operation["summary"] and operation["responses"], (method, path)
            if method == "post":
                ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                assert ref.rsplit("/", 1)[1] in schemas
                assert {"400", "401", "403", "409"} <= set(operation["responses"])
    assert schemas["ClientBody"]["additionalProperties"] is False
    assert document["paths"]["/openapi.json"]["get"]["security"] == []


def test_the_document_is_valid_openapi_3_1() -> None:
    document = openapi_document(list(OPERATIONS), version="test")
    for schema in document["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)
    loaded = installed_schemathesis().openapi.from_dict(document)
    loaded.validate()  # against the OpenAPI 3.1 meta-schema
    assert len([result.ok() for result in loaded.get_all_operations()]) == len(OPERATIONS)


def test_docs_describe_every_route_role_and_status() -> None:
    text = (Path(__file__).resolve().parents[1] / "docs" / "api.md").read_text(encoding="utf-8")
    for operation in OPERATIONS:
        assert f"`{operation.method} /api/v1{operation.path}" in text, operation.path
    for role in ApiRole:
        assert f"| `{role.value}` |" in text
    for status in (400, 401, 403, 404, 405, 409, 413, 503):
        assert f"| {status} |" in text


# ---- schemathesis against the live server --------------------------------------------------
@contextmanager
def server_in_a_thread(tmp_path: Path) -> Iterator[tuple[str, Store]]:
    """The app on 127.0.0.1 in its own thread and loop, for synchronous (requests) clients."""
    clock = Clock()
    app, store, registry = build_app(tmp_path / "data", HOLDERS, clock)
    form = tmp_path / "form.pdf"
    form.write_bytes(FORM)
    registry.add_client("padaria", "Padaria", by="setup")
    registry.grant("street_front", client_id="padaria", evidence=form, by="setup")
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    bound: asyncio.Future[int] = loop.create_future()
    ready = threading.Event()
    bound.add_done_callback(lambda _: ready.set())
    thread = threading.Thread(target=loop.run_until_complete, args=(serve_web(app, "127.0.0.1", 0, stop, bound),))
    thread.start()
    try:
        assert ready.wait(15), "the server did not start"
        yield f"http://127.0.0.1:{bound.result()}", store
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(15)
        loop.close()
        store.close()


def installed_schemathesis() -> Any:
    # A test dependency (pyproject's `test` extra); skipped, and named by `-ra`, where it is missing.
    return pytest.importorskip("schemathesis", reason="schemathesis is not installed: pip install -e '.[test]'")


def exercise(strategy: Any, *, base: str, token: str, negative: bool, statuses: set[int], examples: int = 10) -> None:
    """Send ``examples`` generated cases; each answer must be what the document says (and invalid data refused)."""
    checks = installed_schemathesis().checks
    chosen = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
              checks.response_schema_conformance, checks.response_headers_conformance]
    if negative:
        chosen.append(checks.negative_data_rejection)

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def run(case: Any) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        response = case.call(base_url=f"{base}/api/v1", headers=headers, timeout=10)
        sent = set(parse_qs(urlsplit(response.request.url).query, keep_blank_values=True))
        if negative and not set(case.query or {}) <= sent:
            # The HTTP client dropped a generated parameter it cannot encode (an object, an empty
            # list): what reached the server is no longer the invalid request schemathesis made.
            return
        case.validate_response(response, checks=chosen, headers=headers)
        statuses.add(response.status_code)

    run()


# covers BH-09, PB-03
def test_schemathesis_finds_the_api_true_to_its_document(tmp_path: Path) -> None:
    with server_in_a_thread(tmp_path) as (base, store):
        schemathesis = installed_schemathesis()
        positive_mode, negative_mode = schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE
        schema = schemathesis.openapi.from_url(f"{base}/api/v1/openapi.json")
        admin = HOLDERS["alice"][1]
        seen: dict[str, set[int]] = {}
        ran = 0
        for result in schema.get_all_operations():
            operation = result.ok()
            cameras: list[dict[str, str] | None] = [None]
            if "{camera}" in operation.path:
                cameras += [{"camera": "lobby"}, {"camera": "street_front"}]
            for camera in cameras:
                positive = seen.setdefault(f"{operation.method.upper()} {operation.path}", set())
                exercise(operation.as_strategy(positive_mode, path_parameters=camera), base=base,
                         token=admin, negative=False, statuses=positive)
                # Negative cases may also spoil the token: their statuses are not kept.
                exercise(operation.as_strategy(negative_mode, path_parameters=camera), base=base,
                         token=admin, negative=True, statuses=set())
                ran += 1
        # Every operation but the document itself (schemathesis leaves out the URL it loaded).
        assert ran == len(OPERATIONS) - 1 + 2 * 5
        assert len(seen) == len(OPERATIONS) - 1
        assert not {401, 403} & set().union(*seen.values()), seen
        assert 201 in seen["POST /cameras/{camera}/signage"] and 200 in seen["POST /cameras/{camera}/consent/revoke"]

        refused: set[int] = set()
        exercise(schema["/clients"]["POST"].as_strategy(), base=base, token=HOLDERS["vera"][1],
                 negative=False, statuses=refused, examples=5)
        assert refused == {403}
        count, broken = audit.verify(store.db)
        assert broken is None and count > 2


# ---- the API in `guarita run` ---------------------------------------------------------------
# covers BH-03, BH-04, BH-09, PB-03
async def test_guarita_run_serves_the_api_and_applies_its_changes_to_cop_bh(
    tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki
) -> None:
    config = write_config(
        tmp_path / "guarita.yaml", frigate_broker=frigate_broker, uplink_broker=uplink_broker, pki=pki,
        cameras={"street_front": {"programs": ["cop_bh"], "location": {"lat": -19.9245, "lon": -43.9352}}},
        programs=["cop_bh"],
        extra={
            "provider": {"id": "acme", "name": "ACME Segurança", "kind": "security_company",
                         "accreditation": {"date": "2021-03-01"}},
            "web": {"host": "127.0.0.1", "port": free_port(), "tokens": token_config(HOLDERS)},
        },
    )
    topic = "copbh/v1/acme/cameras/street_front"
    operator = {"Authorization": f"Bearer {HOLDERS['otto'][1]}"}
    async with Receiver(uplink_broker, pki) as centre, running(config) as runtime, aiohttp.ClientSession() as http:
        assert runtime.web_port is not None
        base = f"http://127.0.0.1:{await runtime.web_port}"
        async with http.get(f"{base}/api/v1/cameras") as closed, http.get(f"{base}/healthz") as health:
            assert closed.status == 401 and health.status == 200
        for path, body in (
            ("/clients", {"id": "padaria", "name": "Padaria Central"}),
            ("/cameras/street_front/consent", {"client": "padaria", "evidence_base64": b64(FORM)}),
            ("/cameras/street_front/attestation", {"public_facing": True, "evidence_base64": b64(SNAPSHOT)}),
            ("/cameras/street_front/signage", {"plate": "BH-0042", "photo_base64": b64(PHOTO)}),
        ):
            async with http.post(f"{base}/api/v1{path}", json=body, headers=operator) as answer:
                assert answer.status == 201, await answer.text()
        await centre.wait_until(lambda: bool(centre.on(topic)), timeout=5)
        assert json.loads(centre.on(topic)[0])["sign_plate"] == "BH-0042"
        async with http.get(f"{base}/api/v1/cameras", headers=operator) as answer:
            status = (await answer.json())["cameras"][0]
        assert status["programs"]["cop_bh"] == {"shared": True, "reasons": []}

        async with http.post(f"{base}/api/v1/cameras/street_front/consent/revoke", json={"reason": "moved out"},
                             headers=operator) as answer:
            assert answer.status == 200
        await centre.wait_until(lambda: b"" in centre.on(topic), timeout=5)
        rows = runtime.store.db.execute("SELECT actor, action FROM audit_log WHERE actor != 'guarita'").fetchall()
        assert {row[0] for row in rows} == {"otto"}
        assert {"client.add", "consent.grant", "camera.attest", "signage.record", "consent.revoke", "api.read"} <= {
            row[1] for row in rows
        }


# covers BH-07, BH-04
async def test_an_attestation_through_the_api_records_the_snapshot_with_the_privacy_masks_blanked(api: Api) -> None:
    from PIL import Image

    from guarita.privacy_mask import mask_jpeg

    picture = io.BytesIO()
    Image.new("RGB", (64, 36), (200, 200, 200)).save(picture, "JPEG")
    upload = picture.getvalue()
    answer = await api.call("POST", "/api/v1/cameras/porch/attestation", "otto",
                            {"public_facing": True, "evidence_base64": b64(upload)})
    assert answer.status == 201, answer.body
    assert answer.body["evidence_sha256"] != hashlib.sha256(upload).hexdigest()
    assert answer.body["evidence_sha256"] == hashlib.sha256(mask_jpeg(upload, ["0,0,0.5,0,0.5,1,0,1"])).hexdigest()
    refused = await api.call("POST", "/api/v1/cameras/porch/attestation", "otto",
                             {"public_facing": True, "evidence_base64": b64(SNAPSHOT)})
    assert refused.status == 400 and refused.body["fields"][0]["field"] == "evidence_base64"
