"""The web console's application state and who may open what.

The console is a sub-application of the web server beside the REST API; it keeps a
reference to the API's application (``CONSOLE_API``) and reads the same config, registry,
store, outbox and video hub from it, so every action goes through the code the API uses.
Which role may open a page or send a form is the role table of the API operation doing the
same thing (``roles_of``): there is one table, the API's.

Covers: BH-09.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from typing import TYPE_CHECKING

from aiohttp import web

from guarita.config import ApiRole, GuaritaConfig
from guarita.consent.registry import Registry
from guarita.store import Store
from guarita.web.api import OPERATIONS
from guarita.web.api_http import API_CLOCK, API_CONFIG, API_READS, API_REGISTRY, API_STORE
from guarita.web.console.throttle import SignInThrottle

if TYPE_CHECKING:
    from guarita.web.console.session import Operator

__all__ = [
    "audit_read",
    "CONSOLE_API",
    "CONSOLE_PREFIX",
    "CONSOLE_STOP",
    "CONSOLE_THROTTLE",
    "api_of",
    "clock_of",
    "config_of",
    "registry_of",
    "roles_of",
    "store_of",
]

CONSOLE_PREFIX = "/console"
CONSOLE_API: web.AppKey[web.Application] = web.AppKey("console_api", web.Application)
CONSOLE_STOP: web.AppKey[asyncio.Event] = web.AppKey("console_stop", asyncio.Event)
CONSOLE_THROTTLE: web.AppKey[SignInThrottle] = web.AppKey("console_throttle", SignInThrottle)


def roles_of(operation_id: str) -> frozenset[ApiRole]:
    """The roles the API lets call ``operation_id``."""
    for operation in OPERATIONS:
        if operation.operation_id == operation_id:
            return frozenset(operation.roles)
    raise KeyError(f"no API operation {operation_id!r}")


def api_of(request: web.Request) -> web.Application:
    return request.app[CONSOLE_API]


def audit_read(request: web.Request, operator: Operator) -> None:
    """Record a page read as the API records its reads (``api.read``, coalesced per minute)."""
    api_of(request)[API_READS].record(operator.name, operator.role.value, "GET", request.path)


def config_of(request: web.Request) -> GuaritaConfig:
    return api_of(request)[API_CONFIG]


def registry_of(request: web.Request) -> Registry:
    return api_of(request)[API_REGISTRY]


def store_of(request: web.Request) -> Store:
    return api_of(request)[API_STORE]


def clock_of(request: web.Request) -> Callable[[], datetime]:
    return api_of(request)[API_CLOCK]
