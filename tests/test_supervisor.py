"""The supervisor of `guarita run`'s services: restart with backoff, health, metric, config errors."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest
from harness import wait_for

from guarita.config_loader import load_config
from guarita.errors import ConfigError, ConfigProblem, FrigateHttpError
from guarita.metrics import Metrics
from guarita.supervisor import Redactor, Service, ServiceState, Supervisor, secret_values


class Flaky:
    """A service that fails ``failures`` times, then runs until stop."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures = failures
        self.error = error
        self.starts = 0

    async def run(self, stop: asyncio.Event) -> None:
        self.starts += 1
        if self.starts <= self.failures:
            raise self.error
        await stop.wait()


class Steady:
    def __init__(self) -> None:
        self.stopped = False

    async def run(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self.stopped = True


# covers PB-01, PB-05, DT-08
async def test_a_failing_service_is_logged_once_counted_restarted_and_shown(caplog: pytest.LogCaptureFixture) -> None:
    metrics = Metrics()
    supervisor = Supervisor(metrics, restart_min_s=0.05, restart_max_s=0.2, settle_s=0.5)
    flaky, steady = Flaky(3, RuntimeError("boom at the password hunter2")), Steady()
    supervisor.redact = Redactor(["hunter2"])
    stop = asyncio.Event()
    with caplog.at_level(logging.INFO, logger="guarita.supervisor"):
        task = asyncio.create_task(supervisor.run([Service("uploader", flaky.run), Service("web", steady.run)], stop))
        await wait_for(lambda: supervisor.status.get("uploader") is not None
                       and supervisor.status["uploader"].restarts >= 1, 5)
        assert supervisor.degraded
        report = supervisor.report()
        assert report["uploader"]["state"] in ("restarting", "recovering")
        assert report["uploader"]["last_error"] == "RuntimeError: boom at the password ***"
        assert report["web"]["state"] == "running"
        await wait_for(lambda: supervisor.status["uploader"].state is ServiceState.RUNNING, 10)
        assert not supervisor.degraded, "healthy again once it ran settle_s without failing"
        assert flaky.starts == 4
        assert metrics.service_restarts.get("uploader") == 3
        assert metrics.service_restarts.get("web") == 0
        assert 'guarita_service_restarts_total{service="uploader"} 3' in metrics.render()
        assert not task.done(), "a failing service does not end the run"
        stop.set()
        await asyncio.wait_for(task, 5)
    assert steady.stopped
    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(failures) == 1, "logged once per failure streak"
    assert "service uploader failed" in failures[0].getMessage()
    assert "Traceback" in failures[0].getMessage(), "an unexpected error comes with its traceback"
    assert "hunter2" not in caplog.text
    assert any("service uploader running again" in r.getMessage() for r in caplog.records)


# covers PB-01, DT-08
async def test_guaritas_own_errors_inside_a_task_group_are_one_line(caplog: pytest.LogCaptureFixture) -> None:
    error = ExceptionGroup("unhandled errors in a TaskGroup", [FrigateHttpError(502, "Bad Gateway", "/api/x")])
    supervisor = Supervisor(Metrics(), restart_min_s=0.05, restart_max_s=0.1, settle_s=5)
    flaky = Flaky(1, error)
    stop = asyncio.Event()
    with caplog.at_level(logging.INFO, logger="guarita.supervisor"):
        task = asyncio.create_task(supervisor.run([Service("cloud_upload", flaky.run)], stop))
        await wait_for(lambda: flaky.starts == 2, 5)
        assert supervisor.report()["cloud_upload"]["last_error"] == (
            "FrigateHttpError: Frigate answered 502 for /api/x: Bad Gateway")
        assert supervisor.report()["cloud_upload"]["state"] == "recovering"
        stop.set()
        await asyncio.wait_for(task, 5)
    assert "Traceback" not in caplog.text


# covers PB-01
async def test_a_configuration_error_stops_every_service_and_is_raised() -> None:
    problem = ConfigProblem("guarita.yaml", 3, 1, "retention.cloud", "bucket gone")
    supervisor = Supervisor(Metrics(), restart_min_s=0.05)
    steady = Steady()
    stop = asyncio.Event()
    with pytest.raises(ConfigError) as caught:
        await asyncio.wait_for(
            supervisor.run([Service("web", steady.run), Service("bad", Flaky(1, ConfigError([problem])).run)], stop), 5
        )
    assert caught.value.problems == [problem]
    assert stop.is_set() and steady.stopped
    assert supervisor.status["bad"].restarts == 0, "a configuration error is not retried"


# covers PB-01
async def test_a_service_with_nothing_to_do_finishes_without_degrading() -> None:
    async def nothing(stop: asyncio.Event) -> None:
        return None

    supervisor = Supervisor(Metrics())
    stop = asyncio.Event()
    task = asyncio.create_task(supervisor.run([Service("retention_check", nothing), Service("web", Steady().run)], stop))
    await wait_for(lambda: "retention_check" in supervisor.status
                   and supervisor.status["retention_check"].state is ServiceState.FINISHED, 5)
    assert not supervisor.degraded
    stop.set()
    await asyncio.wait_for(task, 5)


# covers PB-01
async def test_an_error_while_stopping_is_logged_not_restarted(caplog: pytest.LogCaptureFixture) -> None:
    async def untidy(stop: asyncio.Event) -> None:
        await stop.wait()
        raise RuntimeError("socket already closed")

    metrics = Metrics()
    supervisor = Supervisor(metrics)
    stop = asyncio.Event()
    task = asyncio.create_task(supervisor.run([Service("untidy", untidy)], stop))
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 2)
    assert metrics.service_restarts.get("untidy") == 0
    assert "service untidy failed while stopping: RuntimeError: socket already closed" in caplog.text


# covers BH-07
def test_the_redactor_hides_secrets_and_url_credentials_and_bounds_length() -> None:
    redact = Redactor(["s3cr3t", ""])
    assert redact("login s3cr3t failed at https://admin:pw@frigate:8971/api") == (
        "login *** failed at https://***@frigate:8971/api")
    assert len(redact("x" * 1000)) == 300


# covers BH-07
def test_secret_values_finds_the_resolved_passwords_of_a_config(tmp_path: Path) -> None:
    secret = tmp_path / "frigate.pass"
    secret.write_text("frigate-pw-123\n")
    config = tmp_path / "guarita.yaml"
    config.write_text(json.dumps({
        "provider": {"id": "acme", "name": "ACME", "kind": "security_company"},
        "storage": {"data_dir": str(tmp_path / "data")},
        "frigate": {"username": "admin", "password_file": str(secret)},
        "programs": {"detro": {"uplink": {"host": "127.0.0.1", "port": 1, "password_env": "UPLINK_PW"}}},
        "cameras": {"bus_1_front": {"programs": ["detro"], "vehicle": "1"}},
    }))
    found = secret_values(load_config(config, environ={"UPLINK_PW": "uplink-pw-456"}))
    assert sorted(found) == ["frigate-pw-123", "uplink-pw-456"]
