"""``guarita report client``: everything Guarita holds about one client (LGPD access request)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest

from guarita.cli.main import main
from guarita.consent.registry import Registry
from guarita.retention import FootageSource, RequestType, TimeWindow, add_hold, approve_request, record_request
from guarita.store import Store

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def setup(tmp_path: Path) -> Path:
    config = tmp_path / "guarita.yaml"
    config.write_text(json.dumps({
        "provider": {"id": "acme", "name": "ACME", "kind": "security_company"},
        "storage": {"data_dir": str(tmp_path / "data")},
        "cameras": {"portaria": {}, "garagem": {}},
    }))
    store = Store.open(tmp_path / "data")
    registry = Registry(store, tmp_path / "data", accredited=True, clock=lambda: NOW)
    evidence = tmp_path / "termo.pdf"
    evidence.write_bytes(b"%PDF-1.4 consent form")
    registry.add_client("casa-silva", "Maria Silva", by="ana", document="529.982.247-25", contact="+55 31 99999-0000")
    registry.add_client("loja-b", "Loja B", by="ana")
    registry.assign("portaria", client_id="casa-silva", by="ana")
    registry.assign("garagem", client_id="loja-b", by="ana")
    registry.grant("portaria", client_id="casa-silva", evidence=evidence, by="ana")
    registry.attest("portaria", public_facing=True, evidence=evidence, by="ana")
    registry.revoke("portaria", by="ana", reason="client moved")
    window = TimeWindow(NOW.timestamp() - 3600, NOW.timestamp())
    at = NOW.timestamp()
    mine = record_request(store, request_type=RequestType.POLICE_AUTHORITY, ref="IP 9/2026", requester="PCMG",
                          sources=[FootageSource(camera="portaria")], window=window, by="ana", at=at)
    approve_request(store, mine.id, by="bruno", at=at + 60)
    record_request(store, request_type=RequestType.JUDICIARY, ref="other", requester="TJMG",
                   sources=[FootageSource(camera="garagem")], window=window, by="ana", at=at)
    add_hold(store, FootageSource(camera="portaria"), window, ref="IP 9/2026", by="ana", at=at)
    store.close()
    return config


# covers BH-07, BH-08, BH-09
def test_the_report_holds_registry_consents_hashes_cameras_and_requests(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = setup(tmp_path)
    assert main(["report", "client", "casa-silva", "-c", str(config), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["cameras"] == ["portaria"]
    assert [r["name"] for r in report["records"]] == ["Maria Silva"]
    assert "529" not in json.dumps(report), "the national id appears only as its keyed hash"
    assert [c["action"] for c in report["consents"]] == ["grant", "revoke"]
    digest = hashlib.sha256(b"%PDF-1.4 consent form").hexdigest()
    assert report["consents"][0]["evidence_sha256"] == digest == report["attestations"][0]["evidence_sha256"]
    (request,) = report["evidence_requests"]
    assert request["ref"] == "IP 9/2026" and [s["by"] for s in request["custody"]] == ["ana", "bruno"]
    assert [h["ref"] for h in report["legal_holds"]] == ["IP 9/2026"]
    assert main(["report", "client", "casa-silva", "-c", str(config)]) == 0
    text = capsys.readouterr().out
    assert "# What Guarita holds about client casa-silva" in text and "client moved" in text
    assert "Request 1: police_authority IP 9/2026 (approved)" in text and "other" not in text.split("## Legal")[0]
    assert main(["report", "client", "nobody", "-c", str(config)]) == 1
    assert "no client 'nobody'" in capsys.readouterr().err
