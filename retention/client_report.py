"""The LGPD access report: everything Guarita holds about one client, with who and when.

A client (the homeowner or shop behind a camera) may ask what the provider keeps about them.
``client_report`` gathers it from the store: the client's registry records (every version;
the national id only as its keyed hash), the cameras they own or owned, every consent grant
and revocation on those cameras, the hashes of the evidence files kept for attestations and
signs (never the files), and every evidence request and legal hold that touched their
cameras, with the chain of custody. Markdown for a person, JSON for a system.

Covers: BH-07, BH-08, BH-09.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from guarita.retention.evidence import list_requests
from guarita.retention.footage import RetentionError, iso
from guarita.retention.holds import list_holds

__all__ = ["client_report", "client_report_markdown"]


def _rows(db: sqlite3.Connection, sql: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
    cursor = db.execute(sql, args)
    names = [column[0] for column in cursor.description]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    for row in rows:
        for key in ("recorded_at", "expires_at"):
            if row.get(key) is not None:
                row[key] = iso(float(row[key]))
        if isinstance(row.get("programs"), str):
            row["programs"] = json.loads(row["programs"])
        row.pop("seq", None)
    return rows


def client_report(db: sqlite3.Connection, client_id: str) -> dict[str, Any]:
    """Everything about ``client_id`` as one JSON document.

    Raises:
        RetentionError: the registry has no such client.
    """
    records = _rows(db, "SELECT * FROM registry_clients WHERE client_id = ? ORDER BY seq", (client_id,))
    if not records:
        raise RetentionError(f"the registry has no client {client_id!r}")
    ownership = _rows(db, "SELECT * FROM registry_ownership WHERE camera IN (SELECT camera FROM registry_ownership "
                          "WHERE client_id = ?) ORDER BY seq", (client_id,))
    cameras = sorted({row["camera"] for row in ownership if row["client_id"] == client_id})
    marks = ",".join("?" * len(cameras))
    of_cameras = f"camera IN ({marks})"
    consents = _rows(db, f"SELECT * FROM registry_consents WHERE {of_cameras} AND (client_id = ? OR client_id IS NULL "
                         "OR action = 'revoke') ORDER BY seq", (*cameras, client_id))
    attestations = _rows(db, f"SELECT * FROM registry_attestations WHERE {of_cameras} ORDER BY seq", tuple(cameras))
    signage = _rows(db, f"SELECT * FROM registry_signage WHERE {of_cameras} ORDER BY seq", tuple(cameras))
    requests = [r.as_json() for r in list_requests(db) if any(s.camera in cameras for s in r.sources)]
    holds = [h.as_json() for h in list_holds(db) if h.source.camera in cameras]
    return {
        "client_id": client_id, "records": records, "cameras": cameras, "ownership": ownership,
        "consents": consents, "attestations": attestations, "signage": signage,
        "evidence_requests": requests, "legal_holds": holds,
    }


def _table(rows: list[dict[str, Any]], columns: list[str]) -> list[str]:
    if not rows:
        return ["(none)", ""]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [str(row.get(c) if row.get(c) is not None else "-").replace("|", "\\|") for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def client_report_markdown(report: dict[str, Any]) -> str:
    """The report for a person to read."""
    lines = [f"# What Guarita holds about client {report['client_id']}", "",
             "National ids are kept only as a keyed hash (HMAC); evidence files appear only as their SHA-256.", "",
             "## Registry records", ""]
    lines += _table(report["records"], ["name", "contact", "document_hmac", "recorded_at", "recorded_by"])
    lines += ["## Cameras", "", ", ".join(report["cameras"]) or "(none)", "", "## Ownership", ""]
    lines += _table(report["ownership"], ["camera", "client_id", "recorded_at", "recorded_by"])
    lines += ["## Consents and revocations", ""]
    lines += _table(report["consents"], ["camera", "action", "programs", "evidence_sha256", "expires_at", "reason",
                                         "recorded_at", "recorded_by"])
    lines += ["## Evidence hashes: attestations", ""]
    lines += _table(report["attestations"], ["camera", "public_facing", "evidence_sha256", "recorded_at", "recorded_by"])
    lines += ["## Evidence hashes: signs", ""]
    lines += _table(report["signage"], ["camera", "plate", "photo_sha256", "installed_on", "recorded_at", "recorded_by"])
    lines += ["## Evidence requests and exports", ""]
    if not report["evidence_requests"]:
        lines += ["(none)", ""]
    for request in report["evidence_requests"]:
        lines += [f"### Request {request['id']}: {request['type']} {request['ref']} ({request['status']})", "",
                  f"Requester: {request['requester']}; window {request['window']['from']} → {request['window']['to']}",
                  ""]
        lines += [f"* {step['at']} {step['action']} by {step['by']}" for step in request["custody"]] + [""]
    lines += ["## Legal holds", ""]
    lines += _table(report["legal_holds"], ["id", "camera", "ref", "created_at", "created_by", "frigate_export_id",
                                            "released_at", "released_by"])
    return "\n".join(lines)
