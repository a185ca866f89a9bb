"""Tests of the registry and audit commands: clients, consent, cameras, signage, registry import, audit.

Every test writes to a real SQLite store in ``tmp_path`` through ``guarita.cli.main`` run
in-process; one test runs the module as a real process. Refusals must exit 1 with the
reason on stderr, print nothing on stdout, and never a traceback.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from guarita.cli.main import main
from guarita.registry_input import FIELDS, parse_expiry

CONFIG = """\
provider:
  id: acme
  name: ACME Segurança
  kind: security_company
{accreditation}
storage: {{data_dir: data}}
programs:
  cop_bh: {{uplink: {{host: 127.0.0.1, port: 1883}}}}
cameras:
  street_front: {{programs: [cop_bh], location: {{lat: -19.9245, lon: -43.9352}}}}
  backyard: {{programs: []}}
"""
ACCREDITED = "  accreditation: {date: 2021-03-15}"

CPF, CPF_DIGITS = "529.982.247-25", "52998224725"
CNPJ, CNPJ_DIGITS = "11.222.333/0001-81", "11222333000181"
BAD_CPF = "529.982.247-26"
EVIDENCE = {"form.pdf": b"%PDF signed form", "snap.jpg": b"\xff\xd8 view", "sign.jpg": b"\xff\xd8 sign"}
STREET_LINE = "  street_front: {programs: [cop_bh], location: {lat: -19.9245, lon: -43.9352}}\n"


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


Cli = Callable[..., Result]


@pytest.fixture(autouse=True)
def _undo_cli_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``main()`` installs a root handler and level for the process; take them away afterwards."""
    monkeypatch.delenv("GUARITA_CONFIG", raising=False)
    monkeypatch.delenv("GUARITA_LOG_FORMAT", raising=False)
    root = logging.getLogger()
    level = root.level
    yield
    for handler in [h for h in root.handlers if type(h) is logging.StreamHandler]:
        root.removeHandler(handler)
    root.setLevel(level)


def write_config(directory: Path, *, accredited: bool = True, name: str = "guarita.yaml") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(CONFIG.format(accreditation=ACCREDITED if accredited else ""), encoding="utf-8")
    return path


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """An accredited provider with one cop_bh camera and one private camera, plus evidence files."""
    for name, content in EVIDENCE.items():
        (tmp_path / name).write_bytes(content)
    return write_config(tmp_path)


@pytest.fixture
def cli(config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    """Run ``guarita ARGS -c CONFIG`` in-process from the config's folder."""
    monkeypatch.chdir(config.parent)

    def run(*argv: str, config_path: Path = config) -> Result:
        capsys.readouterr()
        code = main([*argv, "-c", str(config_path)])
        out, err = capsys.readouterr()
        assert "Traceback" not in err
        return Result(code, out, err)

    return run


def refused(result: Result, *needles: str) -> None:
    assert result.code == 1, result
    assert result.out == ""
    assert "error: " in result.err
    for needle in needles:
        assert needle in result.err, result.err


def reasons(cli: Cli, camera: str = "street_front") -> list[str]:
    status = cli("cameras", "status", "--json")
    assert status.code == 0
    (entry,) = [c for c in status.json()["cameras"] if c["camera"] == camera]
    return list(entry["programs"]["cop_bh"]["reasons"])


def share_fully(cli: Cli) -> None:
    assert cli("clients", "add", "padaria", "--name", "Padaria Central", "--by", "ana").code == 0
    by = ("--by", "ana")
    assert cli("consent", "grant", "street_front", "--client", "padaria", "--evidence", "form.pdf", *by).code == 0
    assert cli("cameras", "attest", "street_front", "--public-facing", "--evidence", "snap.jpg", *by).code == 0
    assert cli("signage", "record", "street_front", "--plate", "BH-0042", "--photo", "sign.jpg", *by).code == 0


# ---- status, step by step ---------------------------------------------------------------
# covers BH-01, BH-02, BH-03, BH-04, PB-03, BH-13
def test_status_reasons_go_away_step_by_step_and_come_back_on_revoke(cli: Cli) -> None:
    held = ["no_client", "no_consent", "not_public_facing", "no_signage"]
    assert reasons(cli) == held

    added = cli("clients", "add", "padaria", "--name", "Padaria Central", "--by", "ana")
    assert (added.code, added.out) == (0, "client padaria added\n")
    assert reasons(cli) == held  # a client owns a camera only through a consent

    granted = cli("consent", "grant", "street_front", "--client", "padaria", "--evidence", "form.pdf", "--by", "ana")
    assert granted.code == 0 and granted.out.startswith("consent recorded: street_front for client padaria (cop_bh)")
    assert reasons(cli) == ["not_public_facing", "no_signage"]

    attested = cli("cameras", "attest", "street_front", "--public-facing", "--evidence", "snap.jpg", "--by", "ana")
    assert attested.code == 0
    assert reasons(cli) == ["no_signage"]

    signed = cli("signage", "record", "street_front", "--plate", "BH-0042", "--photo", "sign.jpg", "--by", "ana")
    assert signed.code == 0
    assert reasons(cli) == []

    text = cli("cameras", "status").out.splitlines()
    assert text[0] == "provider acme: accredited (Edital de Chamamento 002/2020 SMSP, 2021-03-15)"
    assert "backyard [no programs: never leaves]" in text
    assert text[text.index("street_front [cop_bh]") + 1] == "  cop_bh: shared"
    assert "client padaria; consent since " in text[text.index("street_front [cop_bh]") + 2]
    assert "public-facing yes; sign BH-0042" in text[-1]

    revoked = cli("consent", "revoke", "street_front", "--by", "ana", "--reason", "client moved out", "--json")
    assert revoked.code == 0 and revoked.json()["revoked"] is True
    assert reasons(cli) == ["consent_revoked"]

    cameras = {c["camera"]: c for c in cli("cameras", "status", "--json").json()["cameras"]}
    street = cameras["street_front"]
    assert street["client"] == "padaria" and street["sign_plate"] == "BH-0042" and street["public_facing"] is True
    assert street["consent"]["programs"] == ["cop_bh"] and street["consent"]["expires"] is None
    assert street["consent"]["revoked"] is not None
    assert cameras["backyard"]["programs"] == {}

    regranted = cli("consent", "grant", "street_front", "--client", "padaria", "--evidence", "form.pdf", "--by", "ana")
    assert regranted.code == 0
    assert reasons(cli) == []


# covers BH-01
def test_a_provider_without_accreditation_shares_nothing(cli: Cli, tmp_path: Path) -> None:
    share_fully(cli)
    unaccredited = write_config(tmp_path, accredited=False, name="unaccredited.yaml")
    status = cli("cameras", "status", "--json", config_path=unaccredited)
    assert status.json()["accredited"] is False
    street = status.json()["cameras"][1]
    assert street["programs"]["cop_bh"] == {"shared": False, "reasons": ["provider_not_accredited"]}
    assert cli("cameras", "status", config_path=unaccredited).out.startswith("provider acme: NOT accredited\n")


# covers BH-02
def test_a_negative_attestation_keeps_the_camera_held_back(cli: Cli) -> None:
    share_fully(cli)
    result = cli("cameras", "attest", "street_front", "--not-public-facing", "--evidence", "snap.jpg", "--by", "bia",
                 "--json")
    assert result.code == 0 and result.json()["public_facing"] is False
    assert reasons(cli) == ["not_public_facing"]


# covers BH-03
def test_expiry_as_a_date_ends_with_that_day_in_belo_horizonte(cli: Cli) -> None:
    assert parse_expiry("2026-12-31") == datetime(2027, 1, 1, 3, 0, tzinfo=UTC)
    assert parse_expiry("2026-12-31T18:00-03:00") == datetime(2026, 12, 31, 21, 0, tzinfo=UTC)
    assert parse_expiry("2026-12-31T21:00Z") == datetime(2026, 12, 31, 21, 0, tzinfo=UTC)
    assert cli("clients", "add", "padaria", "--name", "Padaria", "--by", "ana").code == 0
    year = date.today().year + 2
    granted = cli("consent", "grant", "street_front", "--client", "padaria", "--evidence", "form.pdf", "--by", "ana",
                  "--expires", f"{year}-06-30", "--programs", "cop_bh", "--json")
    assert granted.code == 0
    assert granted.json()["expires_at"] == f"{year}-07-01T03:00:00+00:00"
    status = cli("cameras", "status", "--json").json()["cameras"][1]
    assert status["consent"]["expires"] == f"{year}-07-01T03:00:00+00:00"


# ---- refusals ---------------------------------------------------------------------------
# covers BH-03, PB-03
def test_grant_refusals_exit_1_with_the_reason(cli: Cli) -> None:
    grant = ("consent", "grant")
    refused(cli(*grant, "nowhere", "--client", "padaria", "--evidence", "form.pdf", "--by", "ana"),
            "camera 'nowhere' is not in the config (cameras: backyard, street_front)")
    refused(cli(*grant, "street_front", "--client", "padaria", "--evidence", "form.pdf", "--by", "ana"),
            "no client 'padaria'")
    assert cli("clients", "add", "padaria", "--name", "Padaria", "--by", "ana").code == 0
    base = (*grant, "street_front", "--client", "padaria", "--by", "ana")
    refused(cli(*base, "--evidence", "missing.pdf"), "cannot read the evidence file missing.pdf")
    refused(cli(*base, "--evidence", "form.pdf", "--expires", "2020-01-01"), "is not in the future")
    refused(cli(*base, "--evidence", "form.pdf", "--expires", "2030-01-01T10:00"), "has no time zone")
    refused(cli(*base, "--evidence", "form.pdf", "--expires", "soon"), "expiry 'soon' is neither a date")
    refused(cli(*base, "--evidence", "form.pdf", "--programs", "cop_bh,nasa"), "unknown program 'nasa'")
    refused(cli(*grant, "street_front", "--client", "padaria", "--by", "  ", "--evidence", "form.pdf"), "--by USER")
    assert reasons(cli) == ["no_client", "no_consent", "not_public_facing", "no_signage"]


# covers BH-03, BH-04, BH-02
def test_revoke_attest_and_signage_refusals(cli: Cli, tmp_path: Path) -> None:
    refused(cli("consent", "revoke", "street_front", "--by", "ana", "--reason", "x"), "has no active consent")
    refused(cli("cameras", "attest", "garage", "--public-facing", "--evidence", "snap.jpg", "--by", "ana"), "'garage'")
    refused(cli("signage", "record", "street_front", "--plate", " ", "--photo", "sign.jpg", "--by", "ana"), "plate")
    future = (date.today() + timedelta(days=3)).isoformat()
    refused(cli("signage", "record", "street_front", "--plate", "BH-1", "--photo", "sign.jpg", "--by", "ana",
                "--installed", future), "in the future")
    refused(cli("signage", "record", "street_front", "--plate", "BH-1", "--photo", "sign.jpg", "--by", "ana",
                "--installed", "31/12/2024"), "is not a date")
    recorded = cli("signage", "record", "street_front", "--plate", "BH-1", "--photo", "sign.jpg", "--by", "ana",
                   "--installed", "2024-12-31", "--json")
    assert recorded.json()["installed_on"] == "2024-12-31"
    share_fully(cli)
    refused(cli("consent", "revoke", "street_front", "--by", "ana", "--reason", "  "), "needs a reason")
    # A camera taken out of the config can still have its consent withdrawn.
    (tmp_path / "fewer.yaml").write_text((tmp_path / "guarita.yaml").read_text().replace(STREET_LINE, ""))
    status = cli("cameras", "status", "--json", config_path=tmp_path / "fewer.yaml").json()
    assert status["unconfigured_cameras"] == ["street_front"]
    assert cli("consent", "revoke", "street_front", "--by", "ana", "--reason", "camera removed",
               config_path=tmp_path / "fewer.yaml").code == 0
    assert reasons(cli) == ["consent_revoked"]


# covers PB-01
def test_a_bad_or_missing_config_exits_1(cli: Cli, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "broken.yaml").write_text("provider: {id: acme}\nstorage: {data_dir: data}\n")
    result = cli("clients", "list", config_path=tmp_path / "broken.yaml")
    assert result.code == 1 and "broken.yaml:1:" in result.err and result.out == ""
    assert main(["clients", "list"]) == 1
    assert "no config file: pass -c FILE or set GUARITA_CONFIG" in capsys.readouterr().err


# covers PB-01, PB-03
def test_guarita_config_names_the_file_and_clients_list(cli: Cli, config: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("clients", "list").out == "no clients\n"
    assert cli("clients", "add", "loja", "--name", "Loja", "--contact", "(31) 3333-0000", "--by", "ana").code == 0
    updated = cli("clients", "add", "loja", "--name", "Loja Nova", "--by", "bia", "--json")
    assert updated.json() == {"client": "loja", "updated": True, "has_document": False, "registry_version": 2}
    refused(cli("clients", "add", "Loja Velha", "--name", "X", "--by", "ana"), "client id 'Loja Velha'")
    refused(cli("clients", "add", "vazio", "--name", " ", "--by", "ana"), "needs a name")
    monkeypatch.setenv("GUARITA_CONFIG", str(config))
    capsys.readouterr()
    assert main(["clients", "list", "--json"]) == 0
    (client,) = json.loads(capsys.readouterr().out)
    assert client["client"] == "loja" and client["name"] == "Loja Nova" and client["recorded_by"] == "bia"
    assert client["contact"] == "(31) 3333-0000", "what an update does not give again is kept"
    assert client["has_document"] is False


# ---- personal data and evidence --------------------------------------------------------
# covers BH-07, PB-03
def test_documents_are_checked_and_never_kept_raw(cli: Cli, config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outputs = [
        cli("-v", "clients", "add", "padaria", "--name", "Padaria", "--document", CPF, "--by", "ana"),
        cli("clients", "add", "bad", "--name", "Bad", "--document", BAD_CPF, "--by", "ana"),
        cli("clients", "add", "short", "--name", "Short", "--document", "123", "--by", "ana"),
    ]
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{CNPJ}\n"))
    outputs.append(cli("clients", "add", "loja", "--name", "Loja", "--document", "-", "--by", "ana", "--json"))
    outputs.append(cli("clients", "list", "--json"))
    outputs.append(cli("audit", "verify"))
    assert outputs[0].out == "client padaria added (document kept only as a keyed hash)\n"
    assert "INFO guarita.store" in outputs[0].err  # the logs are part of what is checked below
    refused(outputs[1], "check digits do not match")
    refused(outputs[2], "must be a CPF (11 digits) or a CNPJ (14 digits)")
    assert outputs[3].json()["has_document"] is True
    assert {c["client"]: c["has_document"] for c in outputs[4].json()} == {"loja": True, "padaria": True}

    data = config.parent / "data"
    key = data / "keys" / "document-hmac.key"
    assert key.stat().st_mode & 0o777 == 0o600 and len(key.read_bytes()) == 32
    raw = [CPF, CPF_DIGITS, CNPJ, CNPJ_DIGITS, BAD_CPF, "52998224726"]
    files = [p for p in data.rglob("*") if p.is_file()]
    assert any(p.name == "guarita.db" for p in files)
    for path in files:
        content = path.read_bytes()
        for text in raw:
            assert text.encode() not in content, f"{text} in {path}"
    printed = "".join(r.out + r.err for r in outputs)
    for text in raw:
        assert text not in printed


# covers PB-03, BH-03, BH-04
def test_evidence_is_kept_under_data_dir_by_sha256(cli: Cli, config: Path) -> None:
    share_fully(cli)
    evidence = config.parent / "data" / "evidence"
    for name in ("form.pdf", "snap.jpg", "sign.jpg"):
        content = (config.parent / name).read_bytes()
        digest = hashlib.sha256(content).hexdigest()
        assert (evidence / digest[:2] / digest).read_bytes() == content
    again = cli("cameras", "attest", "street_front", "--public-facing", "--evidence", "snap.jpg", "--by", "ana",
                "--json")
    assert again.json()["evidence_sha256"] == hashlib.sha256(b"\xff\xd8 view").hexdigest()
    assert len([p for p in evidence.rglob("*") if p.is_file()]) == 3


# ---- bulk import ------------------------------------------------------------------------
def csv_line(**cells: str) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([cells.get(field, "") for field in FIELDS])
    return buffer.getvalue()


# covers BH-13, PB-07, BH-03, BH-04, BH-07
def test_import_csv_reports_bad_rows_by_line_and_applies_the_rest(cli: Cli, config: Path) -> None:
    batch = config.parent / "batch"
    (batch / "docs").mkdir(parents=True)
    for name in ("form.pdf", "snap.jpg", "sign.jpg"):
        (batch / "docs" / name).write_bytes((config.parent / name).read_bytes())
    text = (
        ",".join(FIELDS) + "\n"                                                                          # 1
        + csv_line(kind="client", client="padaria", name="Padaria", document=CPF)                          # 2
        + csv_line(kind="client", client="bad", name="Bad", document=BAD_CPF)                              # 3
        + "\n"                                                                                             # 4
        + "# a comment row\n"                                                                              # 5
        + csv_line(kind="client", client="multi", name="Multi", contact="Rua A, 1\nfundos", by="bia")      # 6-7
        + csv_line(kind="consent", camera="nowhere", client="padaria", evidence="docs/form.pdf")           # 8
        + csv_line(kind="consent", camera="street_front", client="padaria", evidence="docs/form.pdf",
                   expires="2099-12-31", programs="cop_bh")                                                # 9
        + csv_line(kind="attest", camera="street_front", evidence="docs/snap.jpg", plate="BH-1",
                   public_facing="yes")                                                                    # 10
        + csv_line(kind="attest", camera="street_front", evidence="docs/snap.jpg", public_facing="sim")    # 11
        + csv_line(kind="signage", camera="street_front", evidence="docs/missing.jpg", plate="BH-9")       # 12
        + csv_line(kind="signage", camera="street_front", evidence="docs/sign.jpg", plate="BH-0042",
                   installed="2025-01-10")                                                                 # 13
        + csv_line(kind="bogus", camera="street_front")                                                    # 14
        + csv_line(kind="revoke", camera="street_front")                                                   # 15
    )
    (batch / "rows.csv").write_text(text, encoding="utf-8")

    result = cli("registry", "import", "batch/rows.csv", "--by", "ana")

    assert result.code == 1
    lines = result.out.splitlines()
    assert lines[0] == "batch/rows.csv: 11 rows, 5 applied, 6 refused"
    status = {int(line.split(":")[0].split()[1]): line.split(": ", 2)[1] for line in lines[1:]}
    assert status == {2: "applied", 3: "REFUSED", 6: "applied", 8: "REFUSED", 9: "applied", 10: "REFUSED",
                      11: "applied", 12: "REFUSED", 13: "applied", 14: "REFUSED", 15: "REFUSED"}
    assert "line 8: REFUSED: camera 'nowhere' is not in the config" in result.out
    assert "line 10: REFUSED: plate: not used by attest rows (leave the cell empty)" in result.out
    assert "line 15: REFUSED: revoke rows need reason" in result.out
    assert result.err.splitlines()[-1] == "error: 6 of 11 rows refused (lines 3, 8, 10, 12, 14, 15)"
    assert BAD_CPF not in result.out and "52998224726" not in result.out
    assert reasons(cli) == []
    clients = {c["client"]: c for c in cli("clients", "list", "--json").json()}
    assert clients["multi"]["contact"] == "Rua A, 1\nfundos" and clients["multi"]["recorded_by"] == "bia"
    assert clients["padaria"]["recorded_by"] == "ana" and "bad" not in clients

    report = cli("registry", "import", "batch/rows.csv", "--by", "ana", "--json")
    assert report.code == 1
    rows = report.json()["rows"]
    assert [r["line"] for r in rows if not r["applied"]] == [3, 8, 10, 12, 14, 15]
    assert rows[0] == {"line": 2, "kind": "client", "subject": "padaria", "applied": True,
                       "detail": "client padaria recorded (document as keyed hash)"}


# covers BH-13, PB-03, BH-07
def test_import_yaml_and_semicolon_csv(cli: Cli, config: Path) -> None:
    (config.parent / "rows.yaml").write_text(
        "- kind: client\n"                                    # 1
        "  client: loja\n"
        "  name: Loja\n"
        f"  document: '{CNPJ}'\n"
        f"- {{kind: client, client: zero, name: Zero, document: {CNPJ_DIGITS}}}\n"  # 5
        "- kind: consent\n"                                   # 6
        "  camera: street_front\n"
        "  client: loja\n"
        "  evidence: form.pdf\n"
        "  programs: [cop_bh]\n"
        "  expires: 2099-12-31\n"
        "- kind: attest\n"                                    # 12
        "  camera: street_front\n"
        "  evidence: snap.jpg\n"
        "  public_facing: yes\n"
        "  colour: red\n"
        "- just a string\n",                                  # 17
        encoding="utf-8",
    )
    result = cli("registry", "import", "rows.yaml", "--by", "ana", "--json")
    assert result.code == 1
    assert [(r["line"], r["applied"]) for r in result.json()["rows"]] == [
        (1, True), (5, False), (6, True), (12, False), (17, False)]
    assert "quote the document" in result.json()["rows"][1]["reason"]
    assert "unknown key 'colour'" in result.json()["rows"][3]["reason"]
    assert CNPJ_DIGITS not in result.out
    assert reasons(cli) == ["not_public_facing", "no_signage"]

    (config.parent / "excel.csv").write_text(
        "kind;camera;evidence;public_facing;by\nattest;street_front;snap.jpg;true;bia\n", encoding="utf-8-sig")
    ok = cli("registry", "import", "excel.csv")
    assert (ok.code, ok.err) == (0, "")
    assert ok.out.startswith("excel.csv: 1 rows, 1 applied, 0 refused\n")
    assert reasons(cli) == ["no_signage"]


# covers PB-03
def test_import_file_level_problems_apply_nothing(cli: Cli, config: Path) -> None:
    folder = config.parent
    (folder / "typo.csv").write_text("kind,client,nmae\nclient,loja,Loja\n")
    refused(cli("registry", "import", "typo.csv", "--by", "ana"), "typo.csv:1: unknown column 'nmae'")
    (folder / "rows.txt").write_text("kind\n")
    refused(cli("registry", "import", "rows.txt"), "an import file is .csv, .yaml or .yml")
    refused(cli("registry", "import", "absent.yaml"), "cannot read absent.yaml")
    (folder / "bad.yaml").write_text("- kind: client\n  client: [unclosed\n")
    refused(cli("registry", "import", "bad.yaml"), "bad.yaml:3: not valid YAML")
    (folder / "map.yaml").write_text("kind: client\n")
    refused(cli("registry", "import", "map.yaml"), "must be a list of rows")
    (folder / "nobody.csv").write_text("kind,client,name\nclient,loja,Loja\n")
    nobody = cli("registry", "import", "nobody.csv")
    assert nobody.code == 1 and "line 2: REFUSED: say who records this" in nobody.out
    assert cli("clients", "list", "--json").json() == []
    (folder / "empty.yaml").write_text("")
    assert cli("registry", "import", "empty.yaml").out == "empty.yaml: 0 rows, 0 applied, 0 refused\n"


# ---- audit ------------------------------------------------------------------------------
def tamper(config: Path, *statements: str) -> None:
    db = sqlite3.connect(config.parent / "data" / "guarita.db")
    try:
        for statement in statements:
            db.execute(statement)
        db.commit()
    finally:
        db.close()


# covers BH-07, BH-09, PB-03
def test_audit_verify_intact_then_an_edited_row(cli: Cli, config: Path) -> None:
    refused(cli("audit", "verify"), "no database at")
    share_fully(cli)  # client, owner (named by the first consent), consent, attestation, sign
    intact = cli("audit", "verify")
    assert intact.code == 0 and intact.out.startswith("5 entries, chain intact, head ")
    document = cli("audit", "verify", "--json").json()
    assert document["entries"] == 5 and document["intact"] is True and len(document["head"]) == 64
    assert intact.out == f"5 entries, chain intact, head {document['head']}\nevery entry keyed (HMAC-SHA-256)\n"
    assert (document["unkeyed_entries"], document["keyed_from"]) == (0, 1)

    tamper(config, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
    broken = cli("audit", "verify")
    assert broken.code == 1 and broken.out == ""
    assert broken.err == "error: audit entry 2: its content does not match its hash: the entry was edited\n"
    report = cli("audit", "verify", "--json")
    assert report.code == 1 and report.json()["broken"] == {
        "seq": 2, "problem": "its content does not match its hash: the entry was edited"}


# covers BH-07, PB-03
def test_audit_verify_names_a_deleted_or_moved_entry(cli: Cli, config: Path) -> None:
    share_fully(cli)
    tamper(config, "DELETE FROM audit_log WHERE seq = 2")
    refused(cli("audit", "verify"), "audit entry 3: expected entry 2 here: an entry was deleted or moved")

    share_fully(cli)  # new entries after the gap do not heal it
    refused(cli("audit", "verify"), "audit entry 3: expected entry 2 here")


# covers BH-07, PB-03
def test_audit_verify_head_detects_a_cut_chain(cli: Cli, config: Path) -> None:
    share_fully(cli)
    head = cli("audit", "verify", "--json").json()["head"]
    assert cli("audit", "verify", "--head", head).code == 0
    tamper(config, "DELETE FROM audit_log WHERE seq = 5")
    assert cli("audit", "verify").out.startswith("4 entries, chain intact")
    refused(cli("audit", "verify", "--head", head), f"head {head} is no longer in the chain")


# ---- a real process ---------------------------------------------------------------------
# covers PB-01, PB-03
def test_the_commands_run_as_a_real_process(config: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUARITA_")} | {"GUARITA_CONFIG": str(config)}

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "guarita.cli", *argv], cwd=config.parent, env=env,
                              capture_output=True, text=True, timeout=30, check=False)

    added = run("clients", "add", "padaria", "--name", "Padaria", "--by", "ana", "--json")
    assert added.returncode == 0 and json.loads(added.stdout)["client"] == "padaria"
    bad = run("consent", "grant", "nowhere", "--client", "padaria", "--evidence", "form.pdf", "--by", "ana")
    assert bad.returncode == 1 and bad.stdout == ""
    assert "camera 'nowhere' is not in the config" in bad.stderr and "Traceback" not in bad.stderr
    status = run("cameras", "status", "--json")
    assert status.returncode == 0
    assert json.loads(status.stdout)["cameras"][1]["programs"]["cop_bh"]["shared"] is False


# covers BH-03, BH-13, PB-07
def test_only_the_owner_consents_and_a_new_owner_needs_new_consent(cli: Cli) -> None:
    share_fully(cli)  # padaria consented first, so padaria owns street_front
    assert reasons(cli) == []
    assert cli("clients", "add", "condo", "--name", "Condomínio", "--by", "ana").code == 0
    refused(cli("consent", "grant", "street_front", "--client", "condo", "--evidence", "form.pdf", "--by", "ana"),
            "belongs to client 'padaria'")
    moved = cli("cameras", "assign", "street_front", "--client", "condo", "--by", "ana", "--json")
    assert moved.code == 0 and moved.json()["client"] == "condo"
    assert reasons(cli) == ["no_consent"], "padaria's consent does not count for condo's camera"
    assert cli("consent", "grant", "street_front", "--client", "condo", "--evidence", "form.pdf", "--by", "ana").code == 0
    assert reasons(cli) == []
    refused(cli("cameras", "assign", "street_front", "--client", "nobody", "--by", "ana"), "no client 'nobody'")
