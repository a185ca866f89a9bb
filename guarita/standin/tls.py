"""Throwaway test PKI made with the ``openssl`` CLI: a stand-in for the uplinks' real CAs.

Tests, the benchmark and ``guarita demo`` need TLS brokers without a real certificate
authority. :func:`make_test_pki` writes a CA, a server certificate for ``127.0.0.1`` and
``localhost`` and a client certificate (for client-certificate auth) into a directory;
:func:`make_ca` makes a second, unrelated CA for "wrong CA is refused" tests.

Keys are EC P-256 (fast to make), certificates are SHA-256 and carry the extensions
strict verifiers want (basicConstraints, keyUsage, extendedKeyUsage, subject and
authority key identifiers), so Python's ``ssl`` and Mosquitto both accept them.

File permissions: Mosquitto 2, started as root, drops privileges to the ``mosquitto``
user unless its config says ``user root``. The brokers in
:mod:`guarita.standin.mosquitto` never drop privileges (they write ``user root`` when
run as root and the option is ignored otherwise), which is the robust fix because the
pytest ``tmp_path`` tree above these files is mode 0700 anyway. On top of that every
file here is made world-readable (0644, directory 0755) so that a broker which does run
as ``mosquitto`` can read them too, provided the parent directories let it through.
World-readable private keys are acceptable only because these keys are throwaway.

Covers: PB-05.
"""

from __future__ import annotations

import logging
import re
import subprocess
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import ClassVar

from guarita.errors import GuaritaError

__all__ = [
    "CertKey",
    "CertUsage",
    "PkiError",
    "TestPki",
    "issue_cert",
    "make_ca",
    "make_test_pki",
]

_LOGGER = logging.getLogger(__name__)

_OPENSSL = "openssl"
_OPENSSL_TIMEOUT_S = 30.0
_FILE_MODE = 0o644
_DIR_MODE = 0o755
# Characters allowed in a common name: ``/`` and ``=`` would break ``-subj``.
_COMMON_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}")
_FILE_STEM = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# ``openssl req`` insists on a config; this one makes it ignore the system openssl.cnf.
_REQ_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""


class PkiError(GuaritaError):
    """The ``openssl`` CLI is missing or failed to make a test certificate."""


class CertUsage(StrEnum):
    """What a leaf certificate is for (its extendedKeyUsage)."""

    SERVER = "serverAuth"
    CLIENT = "clientAuth"


@dataclass(frozen=True)
class CertKey:
    """A PEM certificate and its unencrypted PEM private key."""

    cert: Path
    key: Path


@dataclass(frozen=True)
class TestPki:
    """Paths of a throwaway PKI: CA, server certificate and one client certificate."""

    __test__: ClassVar[bool] = False  # not a pytest test class despite the name

    directory: Path
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    client_cn: str
    days: int

    @property
    def ca(self) -> CertKey:
        """The CA certificate and key."""
        return CertKey(self.ca_cert, self.ca_key)

    @property
    def server(self) -> CertKey:
        """The server certificate (127.0.0.1, localhost) and key."""
        return CertKey(self.server_cert, self.server_key)

    @property
    def client(self) -> CertKey:
        """The client certificate (CN ``client_cn``) and key."""
        return CertKey(self.client_cert, self.client_key)

    def issue_client_cert(self, common_name: str, *, name: str | None = None) -> CertKey:
        """Issue another client certificate signed by this CA, in this directory.

        Args:
            common_name: The certificate's CN (Mosquitto's username when the listener
                sets ``use_identity_as_username``).
            name: File stem; defaults to ``client-<common_name>``.

        Returns:
            The new certificate and key.
        """
        return issue_cert(
            self.ca,
            self.directory,
            name=name or f"client-{common_name.replace(' ', '_')}",
            common_name=common_name,
            usage=CertUsage.CLIENT,
            days=self.days,
        )


def make_test_pki(
    directory: Path,
    *,
    client_cn: str = "guarita-test-client",
    server_dns: tuple[str, ...] = ("localhost",),
    server_ips: tuple[str, ...] = ("127.0.0.1",),
    days: int = 7,
) -> TestPki:
    """Write a CA, a server certificate and a client certificate into ``directory``.

    Args:
        directory: Where the files go (``ca.crt``, ``ca.key``, ``server.*``,
            ``client.*``); created if missing.
        client_cn: Common name of the client certificate.
        server_dns: DNS names in the server certificate's subjectAltName.
        server_ips: IP addresses in the server certificate's subjectAltName.
        days: Validity of every certificate.

    Returns:
        The paths of the PKI.

    Raises:
        PkiError: ``openssl`` is missing or failed.
        ValueError: A name is not usable.
    """
    ca = make_ca(directory, days=days)
    server = issue_cert(
        ca,
        directory,
        name="server",
        common_name=server_dns[0] if server_dns else server_ips[0],
        usage=CertUsage.SERVER,
        dns_names=server_dns,
        ip_addresses=server_ips,
        days=days,
    )
    client = issue_cert(
        ca, directory, name="client", common_name=client_cn, usage=CertUsage.CLIENT, days=days
    )
    _LOGGER.debug("Made a test PKI in %s", directory)
    return TestPki(
        directory=directory,
        ca_cert=ca.cert,
        ca_key=ca.key,
        server_cert=server.cert,
        server_key=server.key,
        client_cert=client.cert,
        client_key=client.key,
        client_cn=client_cn,
        days=days,
    )


def make_ca(
    directory: Path, *, name: str = "ca", common_name: str = "Guarita Test CA", days: int = 7
) -> CertKey:
    """Make a self-signed CA as ``<name>.crt`` and ``<name>.key`` in ``directory``.

    Called with another ``name`` (and directory) it makes an unrelated CA, whose
    certificate must not validate servers of the first one.

    Args:
        directory: Where the files go; created if missing.
        name: File stem.
        common_name: The CA's CN.
        days: Validity.

    Returns:
        The CA certificate and key.

    Raises:
        PkiError: ``openssl`` is missing or failed.
        ValueError: A name is not usable.
    """
    _check_names(name, common_name, days)
    _make_dir(directory)
    config = _write(directory / f"{name}.req.cnf", _REQ_CONFIG)
    pair = CertKey(directory / f"{name}.crt", directory / f"{name}.key")
    _new_key(pair.key)
    _run_openssl(
        "req", "-new", "-x509", "-config", str(config), "-extensions", "ca_ext",
        "-key", str(pair.key), "-subj", f"/CN={common_name}", "-days", str(days),
        "-sha256", "-out", str(pair.cert),
    )  # fmt: skip
    config.unlink()
    _share(pair.cert)
    return pair


def issue_cert(
    ca: CertKey,
    directory: Path,
    *,
    name: str,
    common_name: str,
    usage: CertUsage,
    dns_names: tuple[str, ...] = (),
    ip_addresses: tuple[str, ...] = (),
    days: int = 7,
) -> CertKey:
    """Make a leaf certificate signed by ``ca`` as ``<name>.crt`` and ``<name>.key``.

    Args:
        ca: The signing CA.
        directory: Where the files go; created if missing.
        name: File stem.
        common_name: The certificate's CN.
        usage: Server or client authentication.
        dns_names: DNS subjectAltNames.
        ip_addresses: IP subjectAltNames.
        days: Validity.

    Returns:
        The certificate and key.

    Raises:
        PkiError: ``openssl`` is missing or failed.
        ValueError: A name is not usable.
    """
    _check_names(name, common_name, days)
    _make_dir(directory)
    pair = CertKey(directory / f"{name}.crt", directory / f"{name}.key")
    csr = directory / f"{name}.csr"
    config = _write(
        directory / f"{name}.req.cnf",
        _REQ_CONFIG + _leaf_extensions(usage, dns_names, ip_addresses),
    )
    _new_key(pair.key)
    _run_openssl(
        "req", "-new", "-config", str(config), "-key", str(pair.key),
        "-subj", f"/CN={common_name}", "-out", str(csr),
    )  # fmt: skip
    _run_openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca.cert), "-CAkey", str(ca.key),
        "-CAserial", str(ca.cert.with_suffix(".srl")), "-CAcreateserial",
        "-extfile", str(config), "-extensions", "leaf_ext",
        "-days", str(days), "-sha256", "-out", str(pair.cert),
    )  # fmt: skip
    csr.unlink()
    config.unlink()
    _share(pair.cert)
    return pair


def _leaf_extensions(
    usage: CertUsage, dns_names: tuple[str, ...], ip_addresses: tuple[str, ...]
) -> str:
    """Return the ``[leaf_ext]`` config section of a leaf certificate."""
    lines = [
        "[leaf_ext]",
        "basicConstraints = critical, CA:FALSE",
        "keyUsage = critical, digitalSignature, keyEncipherment",
        f"extendedKeyUsage = {usage.value}",
        "subjectKeyIdentifier = hash",
        "authorityKeyIdentifier = keyid, issuer",
    ]
    alt_names = [f"DNS:{dns}" for dns in dns_names] + [f"IP:{ip}" for ip in ip_addresses]
    if alt_names:
        lines.append(f"subjectAltName = {', '.join(alt_names)}")
    return "\n".join(lines) + "\n"


def _check_names(name: str, common_name: str, days: int) -> None:
    """Raise ``ValueError`` unless the file stem, CN and validity are usable."""
    if not _FILE_STEM.fullmatch(name):
        raise ValueError(f"certificate file name {name!r} must match {_FILE_STEM.pattern}")
    if not _COMMON_NAME.fullmatch(common_name):
        raise ValueError(f"common name {common_name!r} must match {_COMMON_NAME.pattern}")
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")


def _make_dir(directory: Path) -> None:
    """Create ``directory`` (if needed) and let other users traverse it."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(_DIR_MODE)


def _write(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` and return the path."""
    path.write_text(text, encoding="ascii")
    return path


def _new_key(path: Path) -> None:
    """Write a new unencrypted EC P-256 private key to ``path``."""
    _run_openssl(
        "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(path)
    )
    _share(path)


def _share(path: Path) -> None:
    """Make ``path`` readable by every user (see the module docstring for why)."""
    path.chmod(_FILE_MODE)


def _run_openssl(*args: str) -> None:
    """Run ``openssl`` with ``args``; raise ``PkiError`` with its stderr if it fails."""
    try:
        result = subprocess.run(
            [_OPENSSL, *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=_OPENSSL_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PkiError(f"could not run openssl {args[0]}: {exc}") from exc
    if result.returncode != 0:
        raise PkiError(
            f"openssl {args[0]} failed with exit code {result.returncode}: {result.stderr.strip()}"
        )
