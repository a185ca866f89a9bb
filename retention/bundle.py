"""An evidence bundle on disk: its clips, ``manifest.json``, ``manifest.sig`` and the public key.

``write_bundle`` signs the exact bytes of ``manifest.json`` with Ed25519 and writes the raw
64-byte signature to ``manifest.sig`` (so ``openssl pkeyutl -verify -rawin`` checks it too),
plus ``public_key.pem`` for convenience. ``verify_bundle`` passes only when the signature
checks out and every file the manifest lists is there with its SHA-256 and size; it names
every file that fails, and every file the manifest does not list. The key inside the bundle
proves nothing by itself: a court checks against the key the provider published
(``guarita evidence pubkey``), passed with ``--pubkey``, or compares fingerprints. Checked
only against the bundle's own key, a bundle is at best *consistent* (``signer_proven`` is
False). The manifest's ``signature.public_key_sha256`` must name the key that signed it.

Covers: BH-07, BH-08, DT-04, DT-06.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from guarita.retention._signing import fingerprint, load_public_key, public_pem, signature_valid

__all__ = ["MANIFEST", "PUBLIC_KEY", "SIGNATURE", "BundleCheck", "file_sha256", "verify_bundle", "write_bundle"]

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
PUBLIC_KEY = "public_key.pem"


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in chunks."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def write_bundle(folder: Path, manifest: dict[str, Any], key: Ed25519PrivateKey) -> bytes:
    """Write ``manifest.json`` (signed), ``manifest.sig`` and ``public_key.pem``; return the manifest bytes.

    The whole bundle is then made readable by its owner only (folders 0700, files 0600): it
    holds footage released for a legal request (BH-07).
    """
    data = (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode()
    (folder / MANIFEST).write_bytes(data)
    (folder / SIGNATURE).write_bytes(key.sign(data))
    (folder / PUBLIC_KEY).write_bytes(public_pem(key))
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o700 if path.is_dir() else 0o600)
    return data


@dataclass
class BundleCheck:
    """What ``verify_bundle`` found."""

    folder: Path
    key_source: str
    signer_proven: bool = False
    key_fingerprint: str | None = None
    files_ok: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the signature and every file check out (with whichever key was used)."""
        return not self.problems

    @property
    def verified(self) -> bool:
        """True when ``ok`` and the key came from outside the bundle (``--pubkey``)."""
        return self.ok and self.signer_proven

    def as_json(self) -> dict[str, Any]:
        """What ``guarita evidence verify --json`` prints."""
        return {"folder": str(self.folder), "ok": self.ok, "verified": self.verified,
                "signer_proven": self.signer_proven, "key": self.key_source,
                "key_sha256": self.key_fingerprint, "files_ok": self.files_ok, "problems": self.problems}


def _safe(relative: str) -> bool:
    path = PurePosixPath(relative)
    return bool(relative) and not path.is_absolute() and ".." not in path.parts


def _check_files(folder: Path, manifest: dict[str, Any], check: BundleCheck) -> None:
    listed = set()
    for entry in manifest.get("files", []):
        relative = str(entry.get("path", ""))
        if not _safe(relative):
            check.problems.append(f"{relative or '(empty)'}: not a path inside the bundle")
            continue
        listed.add(relative)
        path = folder / relative
        if not path.is_file():
            check.problems.append(f"{relative}: missing")
        elif path.stat().st_size != entry.get("size"):
            check.problems.append(f"{relative}: {path.stat().st_size} bytes, the manifest says {entry.get('size')}")
        elif file_sha256(path) != entry.get("sha256"):
            check.problems.append(f"{relative}: SHA-256 differs from the manifest (the file was changed)")
        else:
            check.files_ok += 1
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        if relative not in listed and relative not in (MANIFEST, SIGNATURE, PUBLIC_KEY):
            check.problems.append(f"{relative}: not listed in the manifest")


def _check_named_key(manifest: dict[str, Any], check: BundleCheck) -> None:
    """The manifest names the fingerprint of the key that signed it; it must be this key's."""
    signature = manifest.get("signature")
    named = signature.get("public_key_sha256") if isinstance(signature, dict) else None
    if named is not None and named != check.key_fingerprint:
        check.problems.append(
            f"{MANIFEST}: signature.public_key_sha256 is {named}, but the key that signed it is "
            f"{check.key_fingerprint} (the bundle was re-signed with another key)"
        )


def verify_bundle(folder: Path, public_key: bytes | None = None, key_name: str = "--pubkey") -> BundleCheck:
    """Check a bundle's signature and every file's hash; ``public_key`` PEM, else the bundle's own key."""
    check = BundleCheck(folder, key_name if public_key is not None else f"{PUBLIC_KEY} in the bundle",
                        signer_proven=public_key is not None)
    if not folder.is_dir():
        check.problems.append(f"{folder}: {'not a folder' if folder.exists() else 'no such folder'}")
        return check
    try:
        data = (folder / MANIFEST).read_bytes()
        manifest = json.loads(data)
    except OSError as exc:
        check.problems.append(f"{MANIFEST}: cannot be read ({exc.strerror or exc})")
        return check
    except ValueError:
        check.problems.append(f"{MANIFEST}: not JSON")
        return check
    if public_key is None:
        try:
            public_key = (folder / PUBLIC_KEY).read_bytes()
        except OSError:
            check.problems.append(f"{PUBLIC_KEY}: missing; pass the provider's key with --pubkey")
    if public_key is not None:
        key = load_public_key(public_key, check.key_source)
        check.key_fingerprint = fingerprint(key)
        try:
            signature = (folder / SIGNATURE).read_bytes()
        except OSError:
            check.problems.append(f"{SIGNATURE}: missing")
        else:
            if not signature_valid(key, signature, data):
                check.problems.append(
                    f"{MANIFEST}: the signature in {SIGNATURE} does not match it with this key "
                    "(the manifest was edited, or another key signed it)"
                )
            elif isinstance(manifest, dict):
                _check_named_key(manifest, check)
    _check_files(folder, manifest if isinstance(manifest, dict) else {}, check)
    return check
