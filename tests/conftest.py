"""Shared fixtures: a throwaway PKI, real Mosquitto brokers on free 127.0.0.1 ports, an empty store.

Every broker a fixture starts belongs to the test's :class:`BrokerFleet`, which stops
it at teardown even when the test fails.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from guarita.standin.broker_fleet import BrokerFleet
from guarita.standin.mosquitto import MosquittoBroker
from guarita.standin.tls import TestPki, make_test_pki
from guarita.store import Store

# What the uplink lets each account do: acme publishes only under its own trees.
UPLINK_ACL = """\
user acme
topic write copbh/v1/acme/#
topic write detro/v1/acme/#
topic read #

user receiver
topic read #
"""


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    """A throwaway CA with a 127.0.0.1/localhost server and a client certificate."""
    return make_test_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """An empty store in the test's own folder, closed afterwards."""
    opened = Store.open(tmp_path / "data")
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def brokers(tmp_path: Path) -> Iterator[BrokerFleet]:
    """Factory for more brokers: ``brokers.start(MosquittoBroker(brokers.workdir("x")))``."""
    with BrokerFleet(tmp_path / "brokers") as fleet:
        yield fleet


@pytest.fixture
def frigate_broker(brokers: BrokerFleet) -> MosquittoBroker:
    """Frigate's broker: plain listener, anonymous, persistence on."""
    return brokers.start(MosquittoBroker(brokers.workdir("frigate")))


@pytest.fixture
def uplink_broker(brokers: BrokerFleet, pki: TestPki) -> MosquittoBroker:
    """An uplink: TLS only (test CA), users ``acme`` and ``receiver``, ``UPLINK_ACL``.

    Passwords are random per test; read them from ``uplink_broker.users``.
    """
    users = {"acme": secrets.token_urlsafe(16), "receiver": secrets.token_urlsafe(16)}
    broker = MosquittoBroker(brokers.workdir("uplink"), tls=pki, users=users, acl=UPLINK_ACL)
    return brokers.start(broker)


@pytest.fixture(autouse=True)
def _restore_root_logging() -> Iterator[None]:
    """``guarita.cli.main`` installs a stderr handler on the root logger; pytest closes that stream
    after the test, so later log lines would fail to write. Put the root logger back as it was."""
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
