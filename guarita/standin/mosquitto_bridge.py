"""A Mosquitto bridge (a ``connection`` section): the baseline Guarita is measured against.

Used by the benchmark (``topic frigate/# out 1`` to an uplink broker) and by tests of the
stand-in brokers.

Covers: PB-05.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from guarita.standin.tls import CertKey

__all__ = ["PLAIN_NAME", "MosquittoBridge"]

# Names Mosquitto reads safely in its config (bridge names, client ids, work directories).
PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class MosquittoBridge:
    """One Mosquitto bridge (a ``connection`` section) from the broker to a remote one.

    Attributes:
        name: Connection name.
        address: Remote ``host:port``.
        topics: ``topic`` lines without the keyword, ``pattern direction qos
            [local_prefix remote_prefix]``; e.g. ``"frigate/# out 1"``.
        clientid: Client id the bridge uses on the remote broker.
        username: Remote username, if the remote wants one.
        password: Remote password.
        cafile: CA that must have signed the remote's certificate; enables TLS.
        client_cert: Client certificate for remotes that require one.
        cleansession: ``False`` keeps the remote session (and its queue) across
            reconnects, as a durable uplink would.
        restart_timeout: Seconds between reconnection attempts.
        notifications: Publish ``$SYS/broker/connection/...`` state messages.
    """

    name: str
    address: str
    topics: tuple[str, ...] = ("frigate/# out 1",)
    clientid: str | None = None
    username: str | None = None
    password: str | None = None
    cafile: Path | None = None
    client_cert: CertKey | None = None
    cleansession: bool = False
    restart_timeout: int = 1
    notifications: bool = False

    def __post_init__(self) -> None:
        """Reject settings Mosquitto would refuse or misread."""
        if not PLAIN_NAME.fullmatch(self.name):
            raise ValueError(f"bridge name {self.name!r} must match {PLAIN_NAME.pattern}")
        if self.clientid is not None and not PLAIN_NAME.fullmatch(self.clientid):
            raise ValueError(f"bridge clientid {self.clientid!r} must match {PLAIN_NAME.pattern}")
        if not self.topics or any("\n" in topic or not topic.strip() for topic in self.topics):
            raise ValueError(f"bridge {self.name}: topics must be non-empty single lines")
        if self.password is not None and self.username is None:
            raise ValueError(f"bridge {self.name}: a password needs a username")
        if self.client_cert is not None and self.cafile is None:
            raise ValueError(f"bridge {self.name}: a client certificate needs a cafile (TLS)")
        if self.restart_timeout < 1:
            raise ValueError(f"bridge {self.name}: restart_timeout must be at least 1")

    @property
    def remote_clientid(self) -> str:
        """The client id the remote broker sees (and logs) for this bridge."""
        return self.clientid or f"bridge-{self.name}"

    def config_lines(self) -> list[str]:
        """Return the bridge's Mosquitto config lines, ``connection`` first."""
        lines = [
            f"connection {self.name}",
            f"address {self.address}",
            *(f"topic {topic}" for topic in self.topics),
            f"remote_clientid {self.remote_clientid}",
            f"cleansession {str(self.cleansession).lower()}",
            f"restart_timeout {self.restart_timeout}",
            f"notifications {str(self.notifications).lower()}",
            "start_type automatic",
        ]
        if self.username is not None:
            lines.append(f"remote_username {self.username}")
        if self.password is not None:
            lines.append(f"remote_password {self.password}")
        if self.cafile is not None:
            lines.append(f"bridge_cafile {self.cafile}")
        if self.client_cert is not None:
            lines += [
                f"bridge_certfile {self.client_cert.cert}",
                f"bridge_keyfile {self.client_cert.key}",
            ]
        return lines
