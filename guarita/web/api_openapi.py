"""The REST API's OpenAPI 3.1 document, built from the route table and the pydantic models.

The document is generated, never written by hand: each ``ApiOperation`` names its method,
path, roles, body and answers, ``guarita.web.api`` registers the same table with aiohttp, and
the schemas come from the models in ``guarita.web.api_models``. So the document cannot drift
from what the server does (and schemathesis checks that it does not).

Covers: BH-09, PB-03.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from guarita.web.api_models import (
    REQUEST_MODELS,
    RESPONSE_MODELS,
    ErrorBody,
    ValidationErrorBody,
    camera_pattern,
)
from guarita.config import ApiRole

__all__ = ["API_PREFIX", "ApiOperation", "QueryParam", "openapi_document"]

API_PREFIX = "/api/v1"
_REF = "#/components/schemas/{model}"


@dataclass(frozen=True)
class QueryParam:
    """An optional query parameter."""

    name: str
    description: str
    schema: dict[str, Any]


@dataclass(frozen=True)
class ApiOperation:
    """One route of the API: what it takes, who may call it, and what it answers.

    ``roles`` empty means public (no token). ``answers`` maps each success status to its
    body model (None: any JSON object); error statuses follow from the rest (token, role, body, camera, writes).
    """

    method: str
    path: str
    operation_id: str
    summary: str
    description: str
    roles: tuple[ApiRole, ...]
    answers: dict[int, type[BaseModel] | None]
    request: type[BaseModel] | None = None
    query: tuple[QueryParam, ...] = ()
    path_params: tuple[QueryParam, ...] = ()
    writes: bool = False
    uploads: bool = False
    refusals: tuple[int, ...] = ()  # further error statuses the handler answers (e.g. 404, 410, 429)

    @property
    def public(self) -> bool:
        return not self.roles

    @property
    def camera(self) -> bool:
        return "{camera}" in self.path


def _error_statuses(operation: ApiOperation) -> list[int]:
    statuses: list[int] = []
    if not operation.public:
        statuses.append(401)
        if set(operation.roles) != set(ApiRole):
            statuses.append(403)
    if operation.request is not None or operation.query:
        statuses.append(400)
    if operation.camera or operation.path_params:
        statuses.append(404)
    if operation.writes:
        statuses.append(409)
    if operation.uploads:
        statuses.append(413)
    statuses += [status for status in operation.refusals if status not in statuses]
    if not operation.public:
        statuses.append(503)
    return statuses


def _json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _ref(model: type[BaseModel]) -> dict[str, Any]:
    return {"$ref": _REF.format(model=model.__name__)}


def _operation(op: ApiOperation) -> dict[str, Any]:
    roles = ", ".join(role.value for role in op.roles) if op.roles else "public: no token needed"
    responses: dict[str, Any] = {}
    for status, model in op.answers.items():
        answer: dict[str, Any] = {"description": HTTPStatus(status).phrase}
        answer["content"] = _json_content(_ref(model) if model is not None else {"type": "object"})
        responses[str(status)] = answer
    for status in _error_statuses(op):
        model = ValidationErrorBody if status == 400 else ErrorBody
        answer = {"description": HTTPStatus(status).phrase, "content": _json_content(_ref(model))}
        if status == 401:
            answer["headers"] = {
                "WWW-Authenticate": {"description": "`Bearer realm=\"guarita\"`", "schema": {"type": "string"}}
            }
        responses[str(status)] = answer
    document: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "description": f"{op.description}\n\nRoles: {roles}.",
        "x-roles": [role.value for role in op.roles],
        "security": [] if op.public else [{"bearer": []}],
        "responses": responses,
    }
    parameters: list[dict[str, Any]] = []
    if op.camera:
        parameters.append({
            "name": "camera", "in": "path", "required": True, "schema": camera_pattern(),
            "description": "Frigate camera name, as in the config's `cameras`.",
        })
    parameters += [
        {"name": p.name, "in": "path", "required": True, "schema": p.schema, "description": p.description}
        for p in op.path_params
    ]
    parameters += [
        {"name": q.name, "in": "query", "required": False, "schema": q.schema, "description": q.description}
        for q in op.query
    ]
    if parameters:
        document["parameters"] = parameters
    if op.request is not None:
        document["requestBody"] = {"required": True, "content": _json_content(_ref(op.request))}
    return document


def _component_schemas(operations: list[ApiOperation]) -> dict[str, Any]:
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [(m, "validation") for m in REQUEST_MODELS]
    models += [(m, "serialization") for m in RESPONSE_MODELS]
    # Models of operations defined outside guarita.web.api_models (e.g. guarita.web.api_vehicle_events).
    models += [(op.request, "validation") for op in operations if op.request and op.request not in REQUEST_MODELS]
    models += [
        (model, "serialization")
        for op in operations
        for model in op.answers.values()
        if model is not None and model not in RESPONSE_MODELS
    ]
    models = list(dict.fromkeys(models))
    _, top = models_json_schema(models, ref_template=_REF)
    schemas: dict[str, Any] = top.get("$defs", {})
    return schemas


def openapi_document(operations: list[ApiOperation], *, version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document describing ``operations`` (paths relative to ``API_PREFIX``)."""
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Guarita REST API",
            "version": version,
            "description": "The consent registry (clients, consent, attestation, signage), camera share status, "
            "the audit log's check and live views of shared cameras. Every call but this document needs "
            "`Authorization: Bearer <token>`; the video a view answers (`stream_url`: fragmented MP4; `hls_url`: "
            "HLS for a video wall, with `init.mp4` and `seg-<n>.m4s`) is not JSON and not listed here; "
            "see docs/api.md and docs/video.md.",
        },
        "servers": [{"url": API_PREFIX}],
        "paths": paths,
        "components": {
            "schemas": _component_schemas(operations),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token whose SHA-256 is listed under `web.tokens` in the config.",
                }
            },
        },
    }
