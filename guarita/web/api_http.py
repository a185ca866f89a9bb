"""The REST API's HTTP plumbing: app state, bearer tokens and roles, bodies, evidence, JSON errors.

Handlers in ``guarita.web.api`` raise ``ApiProblem`` (or let ``RegistryRefusal`` and store
errors through); ``guarded`` authenticates, checks the role and turns every refusal into
a JSON answer: ``{"error", "status"}``, plus ``fields`` for a 400. Tokens are compared by
SHA-256 in constant time and never logged; request bodies are never logged nor echoed in
errors (BH-07).

Covers: BH-07, BH-09, PB-03.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import sqlite3
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from guarita.web.api_read_audit import ReadAudit
from guarita.web.api_models import MAX_EVIDENCE_BYTES, ErrorBody, FieldProblem, ValidationErrorBody
from guarita.web.api_openapi import ApiOperation
from guarita.config import ApiRole, GuaritaConfig
from guarita.consent.registry import Registry, RegistryRefusal
from guarita.errors import GuaritaError, StoreError
from guarita.store import Store

__all__ = [
    "API_CLOCK",
    "API_CONFIG",
    "API_REGISTRY",
    "API_READS",
    "API_STORE",
    "MAX_BODY_BYTES",
    "ApiProblem",
    "Caller",
    "Handler",
    "audit_read",
    "authenticate",
    "configured_camera",
    "evidence_file",
    "guarded",
    "invalid",
    "json_answer",
    "json_errors",
    "read_body",
    "token_caller",
]

log = logging.getLogger(__name__)

API_CONFIG: web.AppKey[GuaritaConfig] = web.AppKey("api_config", GuaritaConfig)
API_REGISTRY: web.AppKey[Registry] = web.AppKey("api_registry", Registry)
API_STORE: web.AppKey[Store] = web.AppKey("api_store", Store)
API_READS: web.AppKey[ReadAudit] = web.AppKey("api_reads", ReadAudit)
API_CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("api_clock", Callable[[], datetime])  # type: ignore[arg-type]

# Base64 of the largest evidence file, and room for the rest of the body.
MAX_BODY_BYTES = (MAX_EVIDENCE_BYTES + 2) // 3 * 4 + 64 * 1024
_REALM = 'Bearer realm="guarita"'
_M = TypeVar("_M", bound=BaseModel)


@dataclass(frozen=True)
class Caller:
    """Who is calling: the name of the matching ``web.tokens`` entry, and its role."""

    name: str
    role: ApiRole


class ApiProblem(GuaritaError):
    """An answer other than success, raised by a handler and answered as JSON."""

    def __init__(self, status: int, error: str, fields: list[FieldProblem] | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.fields = fields

    def response(self) -> web.Response:
        """The JSON answer (401 also says how to authenticate)."""
        body: BaseModel
        if self.fields is not None:
            body = ValidationErrorBody(error=self.error, status=self.status, fields=self.fields)
        else:
            body = ErrorBody(error=self.error, status=self.status)
        headers = {"WWW-Authenticate": _REALM} if self.status == 401 else None
        return json_answer(body, self.status, headers)


def invalid(field: str, message: str) -> ApiProblem:
    """A 400 naming one field."""
    return ApiProblem(400, "invalid request", [FieldProblem(field=field, message=message)])


def json_answer(body: BaseModel, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """``body`` as a JSON response."""
    return web.json_response(text=body.model_dump_json(), status=status, headers=headers)


def authenticate(request: web.Request) -> Caller:
    """The caller named by the bearer token.

    Raises:
        ApiProblem: 401, the header is missing or the token matches no ``web.tokens`` entry.
    """
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ApiProblem(401, "send Authorization: Bearer <token>")
    found = token_caller(request.app[API_CONFIG], token)
    if found is None:
        raise ApiProblem(401, "the bearer token is not valid")
    return found


def token_caller(config: GuaritaConfig, token: str) -> Caller | None:
    """Who holds ``token`` among ``web.tokens`` (by SHA-256, in constant time), or None."""
    digest = hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()
    found: Caller | None = None
    for name, entry in config.web.tokens.items():
        if hmac.compare_digest(digest, entry.sha256):  # every entry is compared: no early exit
            found = Caller(name, entry.role)
    return found


Handler = Callable[[web.Request, Caller], Awaitable[web.Response]]


def guarded(operation: ApiOperation, handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Authenticate, check the role, run ``handler``, and answer every refusal as JSON.

    Covers: BH-09.
    """
    action = operation.summary[0].lower() + operation.summary[1:]
    known_query = {param.name for param in operation.query}

    async def handle(request: web.Request) -> web.Response:
        try:
            caller = authenticate(request)
            if caller.role not in operation.roles:
                raise ApiProblem(403, f"the {caller.role.value} role may not {action}")
            unknown = sorted(set(request.query) - known_query)
            if unknown:
                allowed = ", ".join(sorted(known_query)) or "none"
                raise invalid(unknown[0], f"unknown query parameter; this route takes: {allowed}")
            return await handler(request, caller)
        except ApiProblem as problem:
            return problem.response()
        except RegistryRefusal as exc:
            return ApiProblem(409, str(exc)).response()
        except web.HTTPException as exc:  # e.g. 413 from reading an oversized body
            return ApiProblem(exc.status, exc.reason).response()
        except (StoreError, sqlite3.Error, OSError) as exc:
            log.error("API %s %s: the store could not be used: %s", request.method, request.path, exc)
            return ApiProblem(503, "the registry store could not be used; try again").response()

    return handle


@web.middleware
async def json_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """The router's own refusals (no such route, method not allowed) as JSON too."""
    try:
        return await handler(request)
    except web.HTTPError as exc:
        response = ApiProblem(exc.status, exc.reason).response()
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response


def _field_name(location: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in location) or "body"


async def read_body(request: web.Request, model: type[_M]) -> _M:
    """The request body as ``model``.

    Raises:
        ApiProblem: 400 naming every bad field (values are never echoed); 413 past ``MAX_BODY_BYTES``.
    """
    raw = await request.clone(client_max_size=MAX_BODY_BYTES).read()
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        if any(error["type"] == "json_invalid" for error in errors):
            raise ApiProblem(400, "malformed JSON", [FieldProblem(field="body", message=errors[0]["msg"])]) from None
        fields = [FieldProblem(field=_field_name(tuple(e["loc"])), message=e["msg"]) for e in errors]
        raise ApiProblem(400, "invalid request", fields) from None


def configured_camera(request: web.Request) -> str:
    """The ``{camera}`` of the path; 404 unless the config lists it."""
    camera = request.match_info["camera"]
    if camera not in request.app[API_CONFIG].cameras:
        raise ApiProblem(404, f"camera {camera!r} is not in the config")
    return camera


def audit_read(request: web.Request, caller: Caller) -> None:
    """Record that ``caller`` read registry data; called before answering, so no read goes unaudited.

    Reads are coalesced per token, route and minute (``guarita.web.api_read_audit``).

    Covers: BH-09, PB-03.
    """
    request.app[API_READS].record(caller.name, caller.role.value, request.method, request.path)


@contextmanager
def evidence_file(request: web.Request, data: bytes | None, sha256: str | None, field: str) -> Iterator[Path]:
    """A file to hand the registry: the uploaded bytes spooled under ``data_dir/uploads``, or kept evidence.

    Raises:
        ApiProblem: 400, neither or both of the bytes and the hash given.
        RegistryRefusal: no evidence with that hash is kept.
    """
    data_dir = request.app[API_CONFIG].storage.data_dir
    if data is None and sha256 is None:
        raise invalid(field, f"give {field} or evidence_sha256")
    if data is not None and sha256 is not None:
        raise invalid("evidence_sha256", f"give {field} or evidence_sha256, not both")
    if sha256 is not None:
        kept = data_dir / "evidence" / sha256[:2] / sha256
        if not kept.is_file():
            raise RegistryRefusal(f"no evidence with SHA-256 {sha256} is kept: send {field} instead")
        yield kept
        return
    folder = data_dir / "uploads"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    with tempfile.NamedTemporaryFile(dir=folder, prefix="evidence-") as spool:
        spool.write(data or b"")
        spool.flush()
        yield Path(spool.name)
