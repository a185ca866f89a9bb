"""Guarita's exception tree; every error a technician sees comes from here.

    GuaritaError
    ├── ConfigError            bad YAML file: carries one ConfigProblem per mistake
    ├── SecretError            a *_file / *_env secret cannot be read
    ├── StoreError             the SQLite store cannot be opened or migrated
    │   └── StoreFullError     the disk holding the store is full
    ├── OutboxFullError        the outbox reached its disk quota
    ├── ListenError            a port Guarita serves on cannot be bound (taken, not allowed)
    ├── LinkError              an MQTT link (Frigate side or an uplink) failed
    │   ├── LinkTimeout        the broker did not answer in time
    │   └── PublishRefused     the broker refused one message (MQTT 5 PUBACK reason code)
    ├── FrigateError           Frigate's HTTP API failed
    │   ├── FrigateUnavailable could not reach Frigate at all
    │   ├── FrigateAuthError   login refused (401) or forbidden (403)
    │   └── FrigateHttpError   any other non-2xx answer; carries status and message
    └── DvrError               a bus DVR source failed
        ├── DvrUnreachable     the DVR does not answer (the bus is not in the garage)
        ├── DvrAuthError       the DVR refused the credentials
        └── DvrTransferError   a listing or a transfer broke off or made no sense
            └── DvrFolderMissing   a folder the config names is not on the DVR

Foreign errors (paho rc, aiohttp, sqlite3, OSError) are translated once, at the module
that talks to them, with ``raise ... from exc``.

Covers: PB-01.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ConfigError",
    "ConfigProblem",
    "DvrAuthError",
    "DvrError",
    "DvrFolderMissing",
    "DvrTransferError",
    "DvrUnreachable",
    "FrigateAuthError",
    "FrigateError",
    "FrigateHttpError",
    "FrigateUnavailable",
    "GuaritaError",
    "LinkError",
    "LinkTimeout",
    "ListenError",
    "OutboxFullError",
    "PublishRefused",
    "SecretError",
    "StoreError",
    "StoreFullError",
]


class GuaritaError(Exception):
    """Root of every error Guarita raises on purpose."""


@dataclass(frozen=True)
class ConfigProblem:
    """One mistake in the YAML file, located as ``file:line:col key.path: message``."""

    file: str
    line: int
    column: int
    key_path: str
    message: str

    def __str__(self) -> str:
        if not self.file:  # no file to point into (none was named): the message alone
            return self.message
        return f"{self.file}:{self.line}:{self.column} {self.key_path}: {self.message}"


class ConfigError(GuaritaError):
    """The configuration file is invalid; ``problems`` lists every mistake found."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class SecretError(GuaritaError):
    """A secret named by a ``*_file`` or ``*_env`` key could not be read."""


class StoreError(GuaritaError):
    """The SQLite store could not be opened, migrated or written."""


class StoreFullError(StoreError):
    """The disk holding the store is full: nothing can be written until space is freed."""


class OutboxFullError(GuaritaError):
    """The outbox of an uplink reached its disk quota; nothing more can be queued."""


class ListenError(GuaritaError):
    """A port Guarita serves on cannot be bound: taken by another process, or not allowed."""


class LinkError(GuaritaError):
    """An MQTT link failed: connection refused, TLS rejected, or dropped."""


class LinkTimeout(LinkError):
    """The broker did not answer within the allowed time."""


class PublishRefused(LinkError):
    """The broker answered a publish with a failure reason code (``reason_code``, e.g. 0x87, 0x95)."""

    def __init__(self, message: str, reason_code: int) -> None:
        self.reason_code = reason_code
        super().__init__(message)


class FrigateError(GuaritaError):
    """Frigate's HTTP API could not serve a request."""


class FrigateUnavailable(FrigateError):
    """Frigate could not be reached (connection refused, DNS, TLS, timeout)."""


class FrigateAuthError(FrigateError):
    """Frigate refused the credentials (401) or the user lacks the role (403)."""


class FrigateHttpError(FrigateError):
    """Frigate answered with an unexpected HTTP status."""

    def __init__(self, status: int, message: str, url: str) -> None:
        self.status = status
        self.url = url
        super().__init__(f"Frigate answered {status} for {url}: {message}")


class DvrError(GuaritaError):
    """A bus DVR source failed; the message names the vehicle's source (without credentials)."""


class DvrUnreachable(DvrError):
    """The DVR does not answer: the bus is away, or its Wi-Fi has not joined yet."""


class DvrAuthError(DvrError):
    """The DVR refused the configured credentials."""


class DvrTransferError(DvrError):
    """A listing could not be read or a transfer broke off; what was fetched so far is kept."""


class DvrFolderMissing(DvrTransferError):
    """A folder asked for is not on the DVR (HTTP 404, FTP 550, no such directory on the card)."""
