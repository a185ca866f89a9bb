"""The web server speaks HTTPS when `web.tls` names a certificate (issue 12: the console, the
homeowner pages and the API on one server, "TLS when a certificate is configured").

`guarita run` in this process, real brokers, the test CA's 127.0.0.1 server certificate.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import aiohttp
import pytest
from harness import running, write_config

from guarita.config_loader import load_config
from guarita.errors import ConfigError
from guarita.standin.mosquitto import MosquittoBroker
from guarita.standin.tls import TestPki


def _config(tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki,
            tls: dict[str, str]) -> Path:
    return write_config(
        tmp_path / "guarita.yaml", frigate_broker=frigate_broker, uplink_broker=uplink_broker, pki=pki,
        cameras={"bus_10234_front": {"programs": ["detro"], "vehicle": "10234"}}, programs=["detro"],
        extra={"web": {"host": "127.0.0.1", "port": 0, "tls": tls}},
    )


# covers PB-05, BH-07, PB-07
async def test_the_console_api_and_health_are_served_over_https_only(
    tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki
) -> None:
    config = _config(tmp_path, frigate_broker, uplink_broker, pki,
                     {"cert_file": str(pki.server_cert), "key_file": str(pki.server_key)})
    trusting = ssl.create_default_context(cafile=str(pki.ca_cert))
    async with running(config) as runtime:
        assert runtime.web_port is not None
        port = await runtime.web_port
        async with aiohttp.ClientSession() as session:
            async with session.get(f"https://127.0.0.1:{port}/healthz", ssl=trusting) as answer:
                assert answer.status == 200 and (await answer.json())["provider"] == "acme"
            async with session.get(f"https://127.0.0.1:{port}/console/sign-in", ssl=trusting) as answer:
                assert answer.status == 200 and '<html lang="pt-BR">' in await answer.text()
                cookie = answer.headers["Set-Cookie"]
                assert "Secure" in cookie and "HttpOnly" in cookie, "the session cookie never travels in clear"
            with pytest.raises(aiohttp.ClientError):  # plain HTTP gets no page from a TLS port
                async with session.get(f"http://127.0.0.1:{port}/healthz") as answer:
                    await answer.read()
            with pytest.raises(aiohttp.ClientConnectorCertificateError):  # and the certificate is checked
                async with session.get(f"https://127.0.0.1:{port}/healthz", ssl=ssl.create_default_context()):
                    pass


# covers PB-05
def test_a_key_that_does_not_match_its_certificate_is_a_config_error(
    tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki
) -> None:
    config = _config(tmp_path, frigate_broker, uplink_broker, pki,
                     {"cert_file": str(pki.server_cert), "key_file": str(pki.client_key)})
    with pytest.raises(ConfigError) as error:
        load_config(config)
    (problem,) = [str(p) for p in error.value.problems]
    assert "web.tls.cert_file" in problem and "do not load as a PEM pair" in problem

    config = _config(tmp_path, frigate_broker, uplink_broker, pki,
                     {"cert_file": str(tmp_path / "nowhere.pem"), "key_file": str(pki.server_key)})
    with pytest.raises(ConfigError) as error:
        load_config(config)
    (problem,) = [str(p) for p in error.value.problems]
    assert "web.tls.cert_file" in problem and "file not found" in problem
