"""A homeowner's online acceptance: the signed record kept as the consent's evidence.

The record (JSON) says which term (version, SHA-256) was accepted, when, through which
invitation, for which client and cameras, the name typed, the CPF/CNPJ only as the
registry's keyed hash, and the browser's user-agent and address. It is signed with the
provider's Ed25519 evidence key (``data_dir/keys/evidence_ed25519.pem``, the key evidence
bundles are signed with; ``guarita evidence pubkey`` prints its public half), and then
recorded through ``Registry.grant`` like any signed paper form.

File layout: ``{"record": {...}, "signature": {"algorithm": "ed25519", "key_sha256": ...,
"value": base64}}``; the signature covers the record's canonical JSON (sorted keys, no
spaces, UTF-8).

Covers: PB-07, BH-03, BH-07.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from guarita.retention._signing import fingerprint, signature_valid, signing_key
from guarita.web.homeowner.term import Term

__all__ = ["RECORD_KIND", "Acceptance", "canonical", "signed_acceptance", "verify_acceptance"]

RECORD_KIND = "guarita.homeowner_acceptance/1"
_MAX_USER_AGENT = 512


@dataclass(frozen=True)
class Acceptance:
    """What the homeowner submitted, and from where."""

    invitation: int
    client_id: str
    cameras: tuple[str, ...]
    programs: tuple[str, ...]
    name: str
    document_hmac: str
    user_agent: str
    remote_address: str
    accepted_at: datetime


def canonical(record: dict[str, Any]) -> bytes:
    """The bytes the signature covers."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signed_acceptance(data_dir: Path, provider: str, term: Term, acceptance: Acceptance) -> bytes:
    """The signed record's file content."""
    record: dict[str, Any] = {
        "kind": RECORD_KIND,
        "provider": provider,
        "term": {"version": term.version, "sha256": term.sha256},
        "accepted_at": acceptance.accepted_at.isoformat(timespec="milliseconds"),
        "invitation": acceptance.invitation,
        "client": acceptance.client_id,
        "cameras": list(acceptance.cameras),
        "programs": list(acceptance.programs),
        "name": acceptance.name,
        "document_hmac": acceptance.document_hmac,
        "user_agent": acceptance.user_agent[:_MAX_USER_AGENT],
        "remote_address": acceptance.remote_address,
    }
    key = signing_key(data_dir)
    signature = {
        "algorithm": "ed25519",
        "key_sha256": fingerprint(key.public_key()),
        "value": base64.b64encode(key.sign(canonical(record))).decode(),
    }
    return json.dumps({"record": record, "signature": signature}, ensure_ascii=False, indent=2).encode()


def verify_acceptance(content: bytes, key: Ed25519PublicKey) -> dict[str, Any]:
    """The record in ``content`` if ``key`` signed it.

    Raises:
        ValueError: not an acceptance record, or the signature does not verify.
    """
    document = json.loads(content)
    record = document.get("record")
    signature = document.get("signature", {})
    if not isinstance(record, dict) or record.get("kind") != RECORD_KIND:
        raise ValueError("not a homeowner acceptance record")
    if signature.get("algorithm") != "ed25519" or signature.get("key_sha256") != fingerprint(key):
        raise ValueError("signed with another key or algorithm")
    if not signature_valid(key, base64.b64decode(signature.get("value", "")), canonical(record)):
        raise ValueError("the signature does not verify")
    return record
