"""Supervision of ``guarita run``'s services: no single service's failure ends the process.

Each long-running service is an ``async run(stop)``. The :class:`Supervisor` runs every one
as a task of one ``TaskGroup``. When a service raises anything but a cancellation or a
configuration error, the supervisor

* logs it once per failure streak, naming the service (a traceback for an unexpected error;
  Guarita's own errors carry a message a technician can act on, so only that message);
* counts it in ``guarita_service_restarts_total{service}``;
* restarts the service after an exponential backoff (``restart_min_s`` doubling up to
  ``restart_max_s``), reset once the service has run ``settle_s`` without failing;
* shows it in ``/healthz`` under ``services``: ``restarting`` while it waits, ``recovering``
  once restarted and until it has run ``settle_s``; either makes the status ``degraded``.

A configuration error (:data:`FATAL_ERRORS`: the config or a secret it names is unusable, and
restarting cannot fix that) ends the run: the other services are told to stop, and
:meth:`Supervisor.run` raises that error once they have. The stop event ends it cleanly.

Covers: PB-01, PB-05, DT-02, DT-08.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, SecretStr

from guarita.errors import ConfigError, GuaritaError, SecretError
from guarita.link_state import Backoff, wait_or_stop
from guarita.metrics import Metrics

__all__ = ["FATAL_ERRORS", "Redactor", "Service", "ServiceState", "ServiceStatus", "Supervisor", "secret_values"]

log = logging.getLogger(__name__)

FATAL_ERRORS: tuple[type[GuaritaError], ...] = (ConfigError, SecretError)
"""Errors that end ``guarita run`` instead of a restart: the configuration must be fixed first."""

ERROR_TEXT_MAX = 300
_URL_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


def _leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions inside ``exc``, with task-group wrappers taken off."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def _fatal_in(exc: BaseException) -> GuaritaError | None:
    """The configuration error in ``exc``, if there is one."""
    for leaf in _leaves(exc):
        if isinstance(leaf, FATAL_ERRORS):
            return leaf
    return None


class ServiceState(StrEnum):
    """Where a supervised service stands."""

    RUNNING = "running"
    RESTARTING = "restarting"  # failed; waiting out the backoff before the next start
    RECOVERING = "recovering"  # restarted, not yet running settle_s without failing
    FINISHED = "finished"  # returned on its own: nothing (more) to do in this configuration


@dataclass(frozen=True)
class Service:
    """One named long-running service: ``run(stop)`` returns when ``stop`` is set."""

    name: str
    run: Callable[[asyncio.Event], Awaitable[None]]


@dataclass
class ServiceStatus:
    """A service's state for ``/healthz``."""

    state: ServiceState
    since: float
    restarts: int = 0
    last_error: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The service's entry under ``/healthz`` ``services``."""
        return {
            "state": self.state.value,
            "since": datetime.fromtimestamp(self.since, UTC).isoformat(timespec="seconds"),
            "restarts": self.restarts,
            "last_error": self.last_error,
        }


def secret_values(model: BaseModel) -> list[str]:
    """Every secret a config holds (``SecretStr`` fields and resolved private secrets), non-empty."""
    found: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, SecretStr):
            if value.get_secret_value():
                found.append(value.get_secret_value())
        elif isinstance(value, BaseModel):
            for item in value.__dict__.values():
                walk(item)
            for item in (value.__pydantic_private__ or {}).values():
                walk(item)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list | tuple | set | frozenset):
            for item in value:
                walk(item)

    walk(model)
    return found


class Redactor:
    """Makes an error text safe for ``/healthz``: no secret, no URL credentials, bounded length."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def clean(self, text: str) -> str:
        """``text`` without secrets or URL credentials, whatever its length (for logs)."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return _URL_USERINFO.sub("***@", text)

    def __call__(self, text: str) -> str:
        text = self.clean(text)
        return text if len(text) <= ERROR_TEXT_MAX else text[: ERROR_TEXT_MAX - 1] + "…"


class Supervisor:
    """Runs services until ``stop``, restarting a failed one with backoff."""

    def __init__(
        self,
        metrics: Metrics,
        *,
        restart_min_s: float = 1.0,
        restart_max_s: float = 60.0,
        settle_s: float = 60.0,
        redact: Redactor | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.metrics = metrics
        self.restart_min_s = restart_min_s
        self.restart_max_s = restart_max_s
        self.settle_s = settle_s
        self.redact = redact or Redactor()
        self.clock = clock
        self.status: dict[str, ServiceStatus] = {}
        self.fatal: GuaritaError | None = None

    @property
    def degraded(self) -> bool:
        """True while any service is restarting or has not yet run ``settle_s`` since its restart."""
        return any(s.state in (ServiceState.RESTARTING, ServiceState.RECOVERING) for s in self.status.values())

    def report(self) -> dict[str, dict[str, Any]]:
        """Every service's state, for ``/healthz``."""
        return {name: status.as_json() for name, status in self.status.items()}

    async def run(self, services: Sequence[Service], stop: asyncio.Event) -> None:
        """Run ``services`` until ``stop`` is set.

        Raises:
            ConfigError, SecretError: a service found the configuration unusable; the other
                services were stopped first.
        """
        names = [s.name for s in services]
        if len(names) != len(set(names)):
            raise ValueError(f"service names must be unique: {names}")
        for service in services:
            self.status[service.name] = ServiceStatus(ServiceState.RUNNING, self.clock())
            self.metrics.service_restarts.inc(service.name, by=0)
        async with asyncio.TaskGroup() as group:
            for service in services:
                group.create_task(self._keep(service, stop), name=f"guarita service {service.name}")
        if self.fatal is not None:
            raise self.fatal

    def _set(self, name: str, state: ServiceState) -> None:
        status = self.status[name]
        status.state = state
        status.since = self.clock()

    def _settled(self, name: str, backoff: Backoff) -> None:
        status = self.status[name]
        backoff.reset()
        if status.state is ServiceState.RECOVERING:
            log.info("service %s running again (restarted %d times so far)", name, status.restarts)
            self._set(name, ServiceState.RUNNING)

    async def _keep(self, service: Service, stop: asyncio.Event) -> None:
        """Run one service until ``stop``; restart it after each failure."""
        loop = asyncio.get_running_loop()
        backoff = Backoff(min_s=self.restart_min_s, max_s=self.restart_max_s)
        while not stop.is_set():
            settling = loop.call_later(self.settle_s, self._settled, service.name, backoff)
            try:
                await service.run(stop)
            except Exception as exc:  # the safety net: anything is logged and counted
                settling.cancel()  # a failure before settle_s: the backoff keeps growing
                fatal = _fatal_in(exc)
                if fatal is not None:
                    log.error("service %s stopped guarita: %s", service.name, fatal)
                    if self.fatal is None:
                        self.fatal = fatal
                    stop.set()
                    return
                if stop.is_set():  # failed while shutting down: nothing to restart
                    log.warning("service %s failed while stopping: %s", service.name, self._describe(exc))
                    return
                delay = backoff.next_delay()
                self._failed(service.name, exc, delay)
                await wait_or_stop(stop, delay)
                if not stop.is_set():
                    self._set(service.name, ServiceState.RECOVERING)
                continue
            finally:
                settling.cancel()
            if not stop.is_set():
                log.info("service %s has nothing more to do", service.name)
                self._set(service.name, ServiceState.FINISHED)
            return

    def _describe(self, exc: Exception) -> str:
        """``Type: message`` of each error in ``exc``, safe to show."""
        return self.redact("; ".join(f"{type(e).__name__}: {e}" for e in _leaves(exc)))

    def _failed(self, name: str, exc: Exception, delay: float) -> None:
        status = self.status[name]
        first_of_streak = status.state is ServiceState.RUNNING
        status.restarts += 1
        status.last_error = self._describe(exc)
        self.metrics.service_restarts.inc(name)
        self._set(name, ServiceState.RESTARTING)
        if not first_of_streak:
            log.debug("service %s failed again: %s; restarting in %.1f s", name, status.last_error, delay)
        elif all(isinstance(e, GuaritaError) for e in _leaves(exc)):
            log.error("service %s failed: %s; restarting it with backoff", name, status.last_error)
        else:
            trace = self.redact.clean("".join(traceback.format_exception(exc)).rstrip())
            log.error("service %s failed; restarting it with backoff\n%s", name, trace)
