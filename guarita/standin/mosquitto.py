"""Private Mosquitto brokers: stand-ins for the production brokers (Frigate's and the uplinks').

Tests, the benchmark and ``guarita demo`` start real Mosquitto 2 processes, each in its
own work directory (``mosquitto.conf``, ``mosquitto.log``, ``persistence/``, ``passwd``,
``acl``) and on free 127.0.0.1 ports chosen once, at construction, so that a restart
comes back on the same ports. :meth:`MosquittoBroker.bridge_to`
(``guarita.standin.mosquitto_bridge``) configures a Mosquitto bridge, the baseline the
benchmark compares Guarita against; ``guarita.standin.broker_fleet`` owns several brokers
and stops all of them, which is what the test fixtures use.

The config always sets ``max_queued_messages 0`` (no limit: an offline persistent
client or bridge loses nothing) and, when persistence is on, keeps the database in the
work directory, saved on :meth:`MosquittoBroker.stop` (SIGTERM). :meth:`~MosquittoBroker.kill`
(SIGKILL) loses whatever was not saved yet, like a power cut.

Privileges: Mosquitto 2 started as root drops to the ``mosquitto`` user unless the
config says ``user root``; it then cannot open its log or persistence in a 0700 pytest
``tmp_path`` and keeps running without them. So, when run as root, the config says
``user root``; run as anyone else the option is not written (Mosquitto only drops
privileges when root), and the broker runs as its caller either way.

Covers: PB-05.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Self

from guarita.errors import GuaritaError
from guarita.standin.mosquitto_bridge import MosquittoBridge
from guarita.standin.tls import CertKey, TestPki

__all__ = [
    "LOOPBACK",
    "BrokerError",
    "MosquittoBridge",
    "MosquittoBroker",
    "free_port",
]

_LOGGER = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
_SHARED_BROKER_PORT = 1883  # the machine's shared broker (and MQTT's default): never ours


def _tool(name: str) -> str:
    """Find a Mosquitto tool; Debian puts the broker in /usr/sbin, off a normal user's PATH."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")
    return found or name


_MOSQUITTO = "mosquitto"
_MOSQUITTO_PASSWD = "mosquitto_passwd"
_START_TIMEOUT_S = 10.0
_STOP_TIMEOUT_S = 10.0
_POLL_S = 0.02
_LOG_TAIL_LINES = 40
_RUNNING = re.compile(r"mosquitto version \S+ running")


class BrokerError(GuaritaError):
    """A stand-in broker could not be started, or did not log what was awaited."""


def free_port(host: str = LOOPBACK, *, exclude: Collection[int] = ()) -> int:
    """Return a TCP port that is free on ``host`` right now; never 1883.

    Args:
        host: Address to probe.
        exclude: Ports not to return (for example one already picked).

    Returns:
        A port number the kernel handed out as free.

    Raises:
        BrokerError: No acceptable port after many tries.
    """
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((host, 0))
            port: int = probe.getsockname()[1]
        if port != _SHARED_BROKER_PORT and port not in exclude:
            return port
    raise BrokerError(f"found no free port on {host}")


class MosquittoBroker:
    """A private Mosquitto 2 process on 127.0.0.1, configured from Python.

    A plain listener is opened unless ``tls`` is given (``plain_listener`` overrides);
    with ``tls`` a TLS listener uses the PKI's server certificate. ``port`` is the TLS
    port when there is one, else the plain port.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        tls: TestPki | None = None,
        require_client_cert: bool = False,
        identity_as_username: bool = False,
        plain_listener: bool | None = None,
        users: Mapping[str, str] | None = None,
        acl: str | None = None,
        persistence: bool = True,
        max_inflight_messages: int = 20,
        extra_config: Sequence[str] = (),
        bridges: Sequence[MosquittoBridge] = (),
        plain_port: int | None = None,
        tls_port: int | None = None,
    ) -> None:
        """Describe the broker and pick its ports; nothing runs until :meth:`start`.

        Args:
            workdir: Directory for config, log, persistence, password and ACL files.
            tls: Test PKI for a TLS listener (server certificate, CA for clients).
            require_client_cert: TLS clients must present a certificate of the CA.
            identity_as_username: Use the client certificate's CN as the username.
            plain_listener: Open a plain listener; default: only when ``tls`` is None.
            users: Username to password; given, anonymous clients are refused.
            acl: ACL file text (``user``/``topic read|write|readwrite`` lines).
            persistence: Keep sessions and queued messages across stop/start.
            max_inflight_messages: Outgoing QoS 1/2 messages in flight per client.
            extra_config: Lines appended after the listeners (they apply to the last).
            bridges: Bridges to other brokers.
            plain_port: Fixed plain port instead of a free one.
            tls_port: Fixed TLS port instead of a free one.

        Raises:
            ValueError: Inconsistent settings, or port 1883.
        """
        self._workdir = workdir
        self._tls = tls
        self._require_client_cert = require_client_cert
        self._identity_as_username = identity_as_username
        self._users: Mapping[str, str] = MappingProxyType(dict(users or {}))
        self._allow_anonymous = users is None and not identity_as_username
        self._acl = acl
        self._persistence = persistence
        self._max_inflight_messages = max_inflight_messages
        self._extra_config = tuple(extra_config)
        self._bridges = list(bridges)
        self._process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0
        self._check(plain_listener, plain_port, tls_port)
        want_plain = tls is None if plain_listener is None else plain_listener
        self._plain_port = (plain_port or free_port()) if want_plain else None
        taken = () if self._plain_port is None else (self._plain_port,)
        self._tls_port = (tls_port or free_port(exclude=taken)) if tls is not None else None

    def _check(
        self, plain_listener: bool | None, plain_port: int | None, tls_port: int | None
    ) -> None:
        """Raise ``ValueError`` for settings that cannot make a working broker."""
        if any(char.isspace() for char in str(self._workdir)):
            raise ValueError(f"Mosquitto cannot read paths with spaces: {self._workdir}")
        if self._tls is None and (self._require_client_cert or self._identity_as_username):
            raise ValueError("client certificates need tls")
        if self._tls is None and plain_listener is False:
            raise ValueError("a broker needs a plain or a TLS listener")
        if _SHARED_BROKER_PORT in (plain_port, tls_port):
            raise ValueError("port 1883 belongs to the shared broker; pick another")
        for username in self._users:
            if not username or ":" in username or any(char.isspace() for char in username):
                raise ValueError(f"username {username!r} is not usable in a password file")
        if self._max_inflight_messages < 0:
            raise ValueError("max_inflight_messages must be 0 (no limit) or more")

    @property
    def workdir(self) -> Path:
        """The broker's work directory."""
        return self._workdir

    @property
    def host(self) -> str:
        """Address clients connect to."""
        return LOOPBACK

    @property
    def port(self) -> int:
        """The TLS port if the broker has a TLS listener, else the plain port."""
        port = self._tls_port if self._tls_port is not None else self._plain_port
        assert port is not None  # _check guarantees one listener
        return port

    @property
    def plain_port(self) -> int | None:
        """Port of the plain listener, if any."""
        return self._plain_port

    @property
    def tls_port(self) -> int | None:
        """Port of the TLS listener, if any."""
        return self._tls_port

    @property
    def tls(self) -> TestPki | None:
        """The PKI of the TLS listener, if any."""
        return self._tls

    @property
    def users(self) -> Mapping[str, str]:
        """Read-only username to password map of the password file."""
        return self._users

    @property
    def bridges(self) -> tuple[MosquittoBridge, ...]:
        """Bridges written into the config at the next start."""
        return tuple(self._bridges)

    @property
    def config_path(self) -> Path:
        """Path of the generated ``mosquitto.conf``."""
        return self._workdir / "mosquitto.conf"

    @property
    def log_path(self) -> Path:
        """Path of the broker's log file (appended across restarts)."""
        return self._workdir / "mosquitto.log"

    @property
    def running(self) -> bool:
        """Whether the broker process is alive."""
        return self._process is not None and self._process.poll() is None

    def bridge_to(
        self,
        remote: MosquittoBroker,
        *,
        name: str = "uplink",
        topics: tuple[str, ...] = ("frigate/# out 1",),
        username: str | None = None,
        client_cert: CertKey | None = None,
        cleansession: bool = False,
    ) -> MosquittoBridge:
        """Add a bridge from this broker to ``remote``; it applies from the next start.

        Args:
            remote: The broker to forward to; its TLS CA is trusted if it has one.
            name: Connection name.
            topics: Bridge topic lines (see :class:`MosquittoBridge`).
            username: Remote user; the password is looked up in ``remote.users``.
            client_cert: Client certificate, for remotes that require one.
            cleansession: See :class:`MosquittoBridge`.

        Returns:
            The bridge (``remote_clientid`` is what the remote logs).
        """
        bridge = MosquittoBridge(
            name=name,
            address=f"{remote.host}:{remote.port}",
            topics=topics,
            username=username,
            password=None if username is None else remote.users[username],
            cafile=None if remote.tls is None else remote.tls.ca_cert,
            client_cert=client_cert,
            cleansession=cleansession,
        )
        self._bridges.append(bridge)
        return bridge

    def config_text(self) -> str:
        """Return the ``mosquitto.conf`` that :meth:`start` writes."""
        lines = ["# Written by guarita.standin.mosquitto: a private stand-in broker."]
        if os.geteuid() == 0:
            # Else Mosquitto drops to user "mosquitto" and cannot reach the work dir.
            lines.append("user root")
        lines += [
            "per_listener_settings false",
            f"allow_anonymous {str(self._allow_anonymous).lower()}",
            "max_queued_messages 0",
            f"max_inflight_messages {self._max_inflight_messages}",
            f"log_dest file {self.log_path}",
            *(f"log_type {kind}" for kind in ("error", "warning", "notice", "information")),
            "connection_messages true",
            f"persistence {str(self._persistence).lower()}",
        ]
        if self._persistence:
            lines += [f"persistence_location {self._workdir / 'persistence'}"]
        if self._users:
            lines.append(f"password_file {self._workdir / 'passwd'}")
        if self._acl is not None:
            lines.append(f"acl_file {self._workdir / 'acl'}")
        if self._plain_port is not None:
            lines.append(f"listener {self._plain_port} {LOOPBACK}")
        if self._tls is not None:
            lines += [
                f"listener {self._tls_port} {LOOPBACK}",
                f"cafile {self._tls.ca_cert}",
                f"certfile {self._tls.server_cert}",
                f"keyfile {self._tls.server_key}",
                f"require_certificate {str(self._require_client_cert).lower()}",
                f"use_identity_as_username {str(self._identity_as_username).lower()}",
            ]
        lines += self._extra_config
        for bridge in self._bridges:
            lines += bridge.config_lines()
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = _START_TIMEOUT_S) -> None:
        """Write the config and start Mosquitto; return once its ports accept connections.

        Raises:
            BrokerError: Already running, Mosquitto missing, or it died or hung on
                start (the message carries the tail of its log).
        """
        if self.running:
            raise BrokerError(f"broker in {self._workdir} is already running")
        self._write_files()
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with (self._workdir / "mosquitto.stderr").open("ab") as output:
            try:
                self._process = subprocess.Popen(
                    [_tool(_MOSQUITTO), "-c", str(self.config_path)],
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    cwd=self._workdir,
                )
            except OSError as exc:
                raise BrokerError(f"could not run {_MOSQUITTO}: {exc}") from exc
        self._wait_ready(time.monotonic() + timeout)
        _LOGGER.debug("Mosquitto in %s is up on port %d", self._workdir, self.port)

    def stop(self, timeout: float = _STOP_TIMEOUT_S) -> None:
        """Stop with SIGTERM, so Mosquitto saves its persistence; SIGKILL if it hangs."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                _LOGGER.warning("Mosquitto in %s ignored SIGTERM; killing it", self._workdir)
                process.kill()
                process.wait()
        self._process = None

    def kill(self) -> None:
        """Stop with SIGKILL, losing anything not yet saved (a crash or power cut)."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        process.wait()
        self._process = None

    def restart(self) -> None:
        """Stop (saving persistence) and start again on the same ports."""
        self.stop()
        self.start()

    def log_text(self) -> str:
        """Return the whole log file (every run), or ``""`` before the first start."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(self, needle: str, timeout: float = _START_TIMEOUT_S) -> str:
        """Wait until the log of the current run contains ``needle``.

        Args:
            needle: Text to find, e.g. ``f" as {bridge.remote_clientid} "``.
            timeout: Seconds to wait.

        Returns:
            The log of the current run.

        Raises:
            BrokerError: Not logged in time.
        """
        deadline = time.monotonic() + timeout
        while True:
            text = self._current_log()
            if needle in text:
                return text
            if time.monotonic() >= deadline:
                raise BrokerError(
                    f"broker in {self._workdir} did not log {needle!r} within {timeout} s:\n"
                    f"{self._log_tail()}"
                )
            time.sleep(_POLL_S)

    def __enter__(self) -> Self:
        """Start the broker."""
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the broker."""
        self.stop()

    def __repr__(self) -> str:
        """Show where the broker lives and listens."""
        return (
            f"MosquittoBroker(workdir={str(self._workdir)!r}, plain_port={self._plain_port}, "
            f"tls_port={self._tls_port}, running={self.running})"
        )

    def _write_files(self) -> None:
        """Write config, password and ACL files into the work directory."""
        self._workdir.mkdir(parents=True, exist_ok=True)
        if self._persistence:
            (self._workdir / "persistence").mkdir(exist_ok=True)
        if self._users:
            self._write_password_file(self._workdir / "passwd")
        if self._acl is not None:
            (self._workdir / "acl").write_text(self._acl, encoding="utf-8")
        self.config_path.write_text(self.config_text(), encoding="utf-8")

    def _write_password_file(self, path: Path) -> None:
        """Make a hashed password file with ``mosquitto_passwd -b``."""
        path.unlink(missing_ok=True)
        for index, (username, password) in enumerate(self._users.items()):
            create = ["-c"] if index == 0 else []
            args = [_tool(_MOSQUITTO_PASSWD), *create, "-b", str(path), username, password]
            try:
                result = subprocess.run(
                    args, capture_output=True, text=True, check=False, timeout=30.0
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise BrokerError(f"could not run {_MOSQUITTO_PASSWD}: {exc}") from exc
            if result.returncode != 0:
                raise BrokerError(
                    f"{_MOSQUITTO_PASSWD} failed for user {username!r}: "
                    f"{(result.stderr or result.stdout).strip()}"
                )

    def _wait_ready(self, deadline: float) -> None:
        """Wait for the "running" log line and for every listener to accept a connection."""
        process = self._process
        assert process is not None
        ports = [port for port in (self._plain_port, self._tls_port) if port is not None]
        while True:
            returncode = process.poll()
            if returncode is not None:
                self._process = None
                raise BrokerError(
                    f"Mosquitto in {self._workdir} exited with code {returncode} on start:\n"
                    f"{self._log_tail()}"
                )
            if _RUNNING.search(self._current_log()) and all(map(_accepts, ports)):
                return
            if time.monotonic() >= deadline:
                self.kill()
                raise BrokerError(
                    f"Mosquitto in {self._workdir} was not ready in time:\n{self._log_tail()}"
                )
            time.sleep(_POLL_S)

    def _current_log(self) -> str:
        """Return the log written since the last :meth:`start`."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._log_offset)
                return log.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def _log_tail(self) -> str:
        """Return the last lines of the current run's log and of Mosquitto's stderr."""
        try:
            stderr = (self._workdir / "mosquitto.stderr").read_text(errors="replace")
        except FileNotFoundError:
            stderr = ""
        lines = (self._current_log() + stderr).splitlines()
        return "\n".join(lines[-_LOG_TAIL_LINES:])


def _accepts(port: int) -> bool:
    """Whether a TCP connection to ``LOOPBACK:port`` succeeds."""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5):
            return True
    except OSError:
        return False
