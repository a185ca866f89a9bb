"""The stand-in brokers behave like real Mosquitto: checked with the mosquitto_* CLIs.

Subscribers use persistent sessions registered first (``mosquitto_sub -c -E`` exits
once the broker acknowledged the subscription), so nothing races: messages published
afterwards are queued for them and collected by reconnecting with the same id.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from guarita.standin.broker_fleet import BrokerFleet
from guarita.standin.mosquitto import (
    BrokerError,
    MosquittoBridge,
    MosquittoBroker,
    free_port,
)
from guarita.standin.tls import CertKey, CertUsage, PkiError, TestPki, issue_cert, make_ca

_CLI_TIMEOUT_S = 15.0
_COLLECT_WAIT_S = 5


@dataclass(frozen=True)
class _Login:
    """How a CLI client authenticates; empty means anonymous with the broker's CA."""

    user: str | None = None
    password: str | None = None
    cafile: Path | None = None
    cert: CertKey | None = None


def _connect_args(broker: MosquittoBroker, login: _Login) -> list[str]:
    """Return the ``mosquitto_pub``/``mosquitto_sub`` options to reach ``broker``."""
    args = ["-h", broker.host, "-p", str(broker.port)]
    if login.user is not None:
        password = login.password if login.password is not None else broker.users[login.user]
        args += ["-u", login.user, "-P", password]
    if broker.tls is not None:
        args += ["--cafile", str(login.cafile or broker.tls.ca_cert)]
    if login.cert is not None:
        args += ["--cert", str(login.cert.cert), "--key", str(login.cert.key)]
    return args


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    """Run a CLI client and capture its output."""
    return subprocess.run(args, capture_output=True, text=True, check=False, timeout=_CLI_TIMEOUT_S)


def _publish(
    broker: MosquittoBroker, topic: str, payload: str, login: _Login = _Login()
) -> subprocess.CompletedProcess[str]:
    """Publish one QoS 1 message with ``mosquitto_pub``."""
    args = ["-q", "1", "-t", topic, "-m", payload]
    return _run(["mosquitto_pub", *_connect_args(broker, login), *args])


def _register(
    broker: MosquittoBroker, client_id: str, topic: str, login: _Login = _Login()
) -> None:
    """Create a persistent QoS 1 subscription for ``client_id``, then go offline."""
    args = ["-c", "-i", client_id, "-q", "1", "-t", topic, "-E"]
    result = _run(["mosquitto_sub", *_connect_args(broker, login), *args])
    assert result.returncode == 0, result.stderr


def _collect(
    broker: MosquittoBroker, client_id: str, topic: str, count: int, login: _Login = _Login()
) -> list[str]:
    """Reconnect ``client_id`` and return ``count`` messages as ``"topic payload"``."""
    args = ["-c", "-i", client_id, "-q", "1", "-t", topic, "-v", "-C", str(count)]
    args += ["-W", str(_COLLECT_WAIT_S)]
    result = _run(["mosquitto_sub", *_connect_args(broker, login), *args])
    assert result.returncode == 0, f"rc={result.returncode} {result.stderr}"
    return result.stdout.splitlines()


def test_plain_broker_anonymous_pub_sub(frigate_broker: MosquittoBroker) -> None:
    """Anonymous clients publish and subscribe on the plain Frigate-side broker."""
    # covers PB-05
    _register(frigate_broker, "sub-1", "frigate/#")
    assert _publish(frigate_broker, "frigate/events", "hello").returncode == 0
    assert _collect(frigate_broker, "sub-1", "frigate/#", 1) == ["frigate/events hello"]


def test_tls_with_right_ca_and_password(uplink_broker: MosquittoBroker) -> None:
    """A client trusting the test CA, with the right password, gets through TLS."""
    # covers PB-05
    receiver = _Login(user="receiver")
    _register(uplink_broker, "recv", "copbh/#", receiver)
    result = _publish(uplink_broker, "copbh/v1/acme/cam1", "event", _Login(user="acme"))
    assert result.returncode == 0, result.stderr
    assert _collect(uplink_broker, "recv", "copbh/#", 1, receiver) == ["copbh/v1/acme/cam1 event"]


def test_tls_with_wrong_ca_is_refused(uplink_broker: MosquittoBroker, tmp_path: Path) -> None:
    """A client trusting another CA refuses the uplink's certificate."""
    # covers PB-05
    other_ca = make_ca(tmp_path / "other-ca", name="other", common_name="Unrelated CA")
    result = _publish(
        uplink_broker, "copbh/v1/acme/cam1", "x", _Login(user="acme", cafile=other_ca.cert)
    )
    assert result.returncode != 0
    assert "TLS" in result.stderr


def test_wrong_password_and_anonymous_are_refused(uplink_broker: MosquittoBroker) -> None:
    """The uplink refuses a wrong password and anonymous clients."""
    # covers PB-05
    wrong = _publish(uplink_broker, "copbh/v1/acme/cam1", "x", _Login("acme", "not-it"))
    assert wrong.returncode != 0
    assert "not authorised" in wrong.stderr
    anonymous = _publish(uplink_broker, "copbh/v1/acme/cam1", "x")
    assert anonymous.returncode != 0


def test_acl_keeps_acme_inside_its_tree(uplink_broker: MosquittoBroker) -> None:
    """``acme`` cannot publish outside ``copbh/v1/acme/#`` and ``detro/v1/acme/#``."""
    # covers PB-05
    receiver = _Login(user="receiver")
    acme = _Login(user="acme")
    _register(uplink_broker, "recv", "#", receiver)
    # Denied publishes are acknowledged and dropped; the allowed one comes after them,
    # so if any denied message got through it would be collected first.
    for forbidden in ("copbh/v1/other/cam1", "detro/v1/other/bus1", "frigate/events"):
        assert _publish(uplink_broker, forbidden, "forbidden", acme).returncode == 0
    assert _publish(uplink_broker, "detro/v1/acme/bus1", "allowed", acme).returncode == 0
    assert _collect(uplink_broker, "recv", "#", 1, receiver) == ["detro/v1/acme/bus1 allowed"]


def test_client_certificate_required(brokers: BrokerFleet, pki: TestPki) -> None:
    """With ``require_client_cert`` only clients with a certificate of the CA connect."""
    # covers PB-05
    broker = brokers.start(
        MosquittoBroker(brokers.workdir("mtls"), tls=pki, require_client_cert=True)
    )
    assert _publish(broker, "frigate/events", "x").returncode != 0
    with_cert = _publish(broker, "frigate/events", "x", _Login(cert=pki.client))
    assert with_cert.returncode == 0, with_cert.stderr


def test_queued_qos1_message_survives_restart(frigate_broker: MosquittoBroker) -> None:
    """A QoS 1 message queued for an offline persistent client survives stop/start."""
    # covers PB-05
    _register(frigate_broker, "durable", "frigate/events")
    assert _publish(frigate_broker, "frigate/events", "queued").returncode == 0
    port = frigate_broker.port
    frigate_broker.stop()
    assert not frigate_broker.running
    frigate_broker.start()
    assert frigate_broker.port == port
    assert _collect(frigate_broker, "durable", "frigate/events", 1) == ["frigate/events queued"]
    assert "Saving in-memory database" in frigate_broker.log_text()


def test_bridge_forwards_frigate_topics(
    brokers: BrokerFleet, frigate_broker: MosquittoBroker
) -> None:
    """A Mosquitto bridge forwards ``frigate/#`` and nothing else."""
    # covers PB-05
    remote = brokers.start(MosquittoBroker(brokers.workdir("remote")))
    _register(remote, "remote-sub", "#")
    bridge = frigate_broker.bridge_to(remote, name="remote")
    frigate_broker.restart()
    remote.wait_for_log(f" as {bridge.remote_clientid} ")
    assert _publish(frigate_broker, "other/topic", "local only").returncode == 0
    assert _publish(frigate_broker, "frigate/events", "bridged").returncode == 0
    assert _collect(remote, "remote-sub", "#", 1) == ["frigate/events bridged"]


def test_tls_bridge_into_the_acme_tree(
    frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker
) -> None:
    """A TLS bridge logs in as ``acme`` and maps ``frigate/#`` into its tree."""
    # covers PB-05
    receiver = _Login(user="receiver")
    _register(uplink_broker, "recv", "#", receiver)
    bridge = frigate_broker.bridge_to(
        uplink_broker, topics=('frigate/# out 1 "" copbh/v1/acme/',), username="acme"
    )
    frigate_broker.restart()
    uplink_broker.wait_for_log(f" as {bridge.remote_clientid} ")
    assert _publish(frigate_broker, "frigate/cam1/person", "seen").returncode == 0
    assert _collect(uplink_broker, "recv", "#", 1, receiver) == [
        "copbh/v1/acme/frigate/cam1/person seen"
    ]


def test_start_failure_raises_with_log_tail(brokers: BrokerFleet) -> None:
    """A broker that dies on start raises with Mosquitto's own error message."""
    # covers PB-05
    broker = brokers.add(
        MosquittoBroker(brokers.workdir("broken"), extra_config=["no_such_option 1"])
    )
    with pytest.raises(BrokerError, match="no_such_option"):
        broker.start()
    assert not broker.running


def test_ports_never_collide_with_the_shared_broker(tmp_path: Path) -> None:
    """Neither free ports nor explicit ports can be the shared broker's 1883."""
    # covers PB-05
    assert all(free_port() != 1883 for _ in range(20))
    with pytest.raises(ValueError, match="1883"):
        MosquittoBroker(tmp_path / "b", plain_port=1883)


def test_lifecycle_kill_restart_and_context_manager(tmp_path: Path) -> None:
    """kill(), restart() and the context manager leave no process behind."""
    # covers PB-05
    with MosquittoBroker(tmp_path / "cm", persistence=False) as broker:
        assert broker.running
        with pytest.raises(BrokerError, match="already running"):
            broker.start()
        broker.kill()
        assert not broker.running
        broker.restart()
        assert broker.running
        assert broker.log_text().count("running") == 2
        with pytest.raises(BrokerError, match="did not log"):
            broker.wait_for_log("never logged", timeout=0.1)
    assert not broker.running
    assert "persistence false" in broker.config_path.read_text()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"require_client_cert": True}, "need tls"),
        ({"plain_listener": False}, "plain or a TLS listener"),
        ({"users": {"a:b": "pw"}}, "not usable"),
        ({"max_inflight_messages": -1}, "max_inflight_messages"),
    ],
)
def test_broker_rejects_inconsistent_settings(
    tmp_path: Path, options: dict[str, object], message: str
) -> None:
    """Settings that cannot make a working broker fail at construction."""
    # covers PB-05
    with pytest.raises(ValueError, match=message):
        MosquittoBroker(tmp_path / "b", **options)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="spaces"):
        MosquittoBroker(tmp_path / "with space")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"name": "two words"}, "bridge name"),
        ({"clientid": "a/b"}, "clientid"),
        ({"topics": ()}, "topics"),
        ({"password": "pw"}, "needs a username"),
        ({"client_cert": CertKey(Path("c"), Path("k"))}, "needs a cafile"),
        ({"restart_timeout": 0}, "restart_timeout"),
    ],
)
def test_bridge_rejects_inconsistent_settings(options: dict[str, object], message: str) -> None:
    """Bridge settings Mosquitto would refuse or misread fail at construction."""
    # covers PB-05
    settings: dict[str, object] = {"name": "up", "address": "127.0.0.1:1", **options}
    with pytest.raises(ValueError, match=message):
        MosquittoBridge(**settings)  # type: ignore[arg-type]


def test_bridge_with_client_certificate_config(pki: TestPki) -> None:
    """A TLS bridge with a client certificate writes every bridge_* file option."""
    # covers PB-05
    bridge = MosquittoBridge(
        name="up", address="127.0.0.1:1", cafile=pki.ca_cert, client_cert=pki.client
    )
    assert bridge.remote_clientid == "bridge-up"
    assert f"bridge_certfile {pki.client_cert}" in bridge.config_lines()
    assert f"bridge_keyfile {pki.client_key}" in bridge.config_lines()


def test_fleet_names_and_listener_choice(brokers: BrokerFleet, pki: TestPki) -> None:
    """Fleet names are unique; TLS plus plain listeners get distinct ports."""
    # covers PB-05
    broker = brokers.add(MosquittoBroker(brokers.workdir("both"), tls=pki, plain_listener=True))
    with pytest.raises(ValueError, match="taken"):
        brokers.workdir("both")
    assert broker.plain_port is not None
    assert broker.tls_port is not None
    assert broker.plain_port != broker.tls_port == broker.port
    assert brokers.brokers == (broker,)
    assert broker.log_text() == ""
    assert "running=False" in repr(broker)
    broker.stop()
    broker.kill()


def test_pki_files_verify_and_are_world_readable(pki: TestPki, tmp_path: Path) -> None:
    """The server and client certificates chain to the CA and anyone can read them."""
    # covers PB-05
    extra = pki.issue_client_cert("acme")
    files = [pki.ca_cert, pki.server_cert, pki.client_cert, extra.cert]
    result = _run(
        ["openssl", "verify", "-x509_strict", "-CAfile", str(pki.ca_cert), *map(str, files[1:])]
    )
    assert result.returncode == 0, result.stderr
    assert all(path.stat().st_mode & 0o044 == 0o044 for path in [*files, pki.server_key, extra.key])
    with pytest.raises(ValueError, match="common name"):
        pki.issue_client_cert("a/b", name="bad")
    with pytest.raises(PkiError, match="openssl"):
        issue_cert(
            CertKey(tmp_path / "no.crt", tmp_path / "no.key"),
            tmp_path,
            name="leaf",
            common_name="leaf",
            usage=CertUsage.CLIENT,
        )
