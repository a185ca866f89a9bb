"""The REST API's request and response bodies, as pydantic models (their schemas are the docs).

Requests forbid unknown keys and are validated strictly from JSON (no ``"true"`` for
``true``). Values are checked the way the CLI checks them (``guarita.registry_input``), so
a body means exactly what the same command line would. Validator messages never repeat
the value given: a CPF/CNPJ must not come back in an error (BH-07).

Covers: BH-03, BH-07, BH-09, PB-03.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema
from pydantic.config import JsonDict
from pydantic_core import PydanticCustomError

from guarita.config import CAMERA_NAME_PATTERN, ProgramName
from guarita.consent.registry import RegistryRefusal, normalise_document
from guarita.registry_input import parse_expiry

__all__ = [
    "AssignBody",
    "AssignDone",
    "AttestationBody",
    "AttestationDone",
    "AuditBreakModel",
    "AuditVerifyReport",
    "CameraStatusModel",
    "CamerasReport",
    "ClientBody",
    "ClientDone",
    "ClientModel",
    "ClientsReport",
    "ConsentBody",
    "ConsentDone",
    "ConsentModel",
    "ErrorBody",
    "EvidenceBytes",
    "FieldProblem",
    "MAX_EVIDENCE_BYTES",
    "ProgramShare",
    "RESPONSE_MODELS",
    "REQUEST_MODELS",
    "RevokeBody",
    "RevokeDone",
    "SignageBody",
    "SignageDone",
    "ValidationErrorBody",
    "camera_pattern",
]

MAX_EVIDENCE_BYTES = 10 * 1024 * 1024
_MAX_BASE64_CHARS = (MAX_EVIDENCE_BYTES + 2) // 3 * 4
_CLIENT_ID = r"^[a-z0-9][a-z0-9_.-]{0,62}$"
_NOT_BLANK = r"\S"
_SHA256 = r"^[0-9a-f]{64}$"
_CAMERA = CAMERA_NAME_PATTERN.pattern
_DATE_TIME: JsonDict = {"format": "date-time"}


def _decode_base64(value: object) -> bytes:
    if not isinstance(value, str):
        raise PydanticCustomError("base64", "must be a base64 string (RFC 4648, standard alphabet, padded)")
    if len(value) > _MAX_BASE64_CHARS:
        raise PydanticCustomError("too_large", f"the file is larger than {MAX_EVIDENCE_BYTES} bytes")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise PydanticCustomError("base64", "is not valid base64 (RFC 4648, standard alphabet, padded)") from None
    if not data:
        raise PydanticCustomError("empty", "the file is empty")
    if len(data) > MAX_EVIDENCE_BYTES:
        raise PydanticCustomError("too_large", f"the file is larger than {MAX_EVIDENCE_BYTES} bytes")
    return data


EvidenceBytes = Annotated[
    bytes,
    PlainValidator(_decode_base64),
    WithJsonSchema(
        {"type": "string", "contentEncoding": "base64", "minLength": 4, "maxLength": _MAX_BASE64_CHARS},
        mode="validation",
    ),
]


def _check_document(value: str) -> str:
    try:
        normalise_document(value)
    except RegistryRefusal as exc:
        raise PydanticCustomError("document", str(exc)) from None
    except ValueError:  # e.g. Unicode digits that str.isdigit() accepts but int() does not
        raise PydanticCustomError("document", "the document must be a CPF (11 digits) or a CNPJ (14 digits)") from None
    return value


def _check_expiry(value: str) -> str:
    try:
        parse_expiry(value)
    except RegistryRefusal as exc:
        raise PydanticCustomError("expiry", str(exc)) from None
    return value


class _Request(BaseModel):
    """Base of request bodies: unknown keys are errors, JSON types are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _Response(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---- requests ---------------------------------------------------------------------------
class ClientBody(_Request):
    """``POST /clients``: record a client (again, to change its details)."""

    id: str = Field(pattern=_CLIENT_ID, description="Client id: lowercase letters, digits, `.`, `_`, `-`.")
    name: str = Field(min_length=1, max_length=200, pattern=_NOT_BLANK, description="Display name.")
    document: Annotated[str, Field(max_length=32), AfterValidator(_check_document)] | None = Field(
        default=None,
        description="CPF or CNPJ (punctuation ignored); stored only as a keyed hash, never returned.",
    )
    contact: Annotated[str, Field(max_length=200)] | None = Field(default=None, description="How to reach the client.")


class AssignBody(_Request):
    """``POST /cameras/{camera}/assign``: which client the camera belongs to."""

    client: str = Field(pattern=_CLIENT_ID, description="The owner; only its consent counts.")


class ConsentBody(_Request):
    """``POST /cameras/{camera}/consent``: the client's consent to share the camera."""

    client: str = Field(pattern=_CLIENT_ID, description="The client authorising (recorded with POST /clients).")
    evidence_base64: EvidenceBytes | None = Field(
        default=None, description="The signed consent form's bytes, base64 (at most 10 MiB decoded)."
    )
    evidence_sha256: Annotated[str, Field(pattern=_SHA256)] | None = Field(
        default=None, description="Instead of the bytes: the SHA-256 of evidence already kept."
    )
    expires: Annotated[str, Field(max_length=64), AfterValidator(_check_expiry)] | None = Field(
        default=None,
        description="A date (`2026-12-31`: through that day, Belo Horizonte time) or an ISO 8601 time with a "
        "zone (`2026-12-31T18:00-03:00`); none = no expiry.",
    )
    programs: list[ProgramName] = Field(
        default_factory=lambda: [ProgramName.COP_BH], min_length=1, description="Programs consented to."
    )


class RevokeBody(_Request):
    """``POST /cameras/{camera}/consent/revoke``: the client withdrew consent."""

    reason: str = Field(min_length=1, max_length=500, pattern=_NOT_BLANK, description="Why (kept in the audit log).")


class AttestationBody(_Request):
    """``POST /cameras/{camera}/attestation``: whether the camera looks only at public space."""

    public_facing: bool = Field(description="True when the camera sees only public space.")
    evidence_base64: EvidenceBytes = Field(description="A snapshot from the camera, base64 (at most 10 MiB).")


class SignageBody(_Request):
    """``POST /cameras/{camera}/signage``: the BH + Segura sign installed at the camera."""

    plate: str = Field(min_length=1, max_length=64, pattern=_NOT_BLANK, description="The sign's plate code.")
    photo_base64: EvidenceBytes = Field(description="A photo of the installed sign, base64 (at most 10 MiB).")
    installed: dt.date | None = Field(
        default=None, description="Installation date (YYYY-MM-DD, not in the future); default today."
    )


# ---- responses --------------------------------------------------------------------------
class ErrorBody(_Response):
    """Any error: what went wrong and the HTTP status."""

    error: str = Field(description="What went wrong, for a person.")
    status: int = Field(description="The HTTP status code.")


class FieldProblem(_Response):
    """One invalid field of a request body."""

    field: str = Field(description="Dotted path of the field (`programs.0`), or `body` for the body as a whole.")
    message: str = Field(description="What is wrong with it.")


class ValidationErrorBody(_Response):
    """A request body that is not valid."""

    error: str = Field(description="`invalid request`.")
    status: int = Field(description="400.")
    fields: list[FieldProblem] = Field(description="Every invalid field.")


class ProgramShare(_Response):
    """The share gate's answer for one program."""

    shared: bool = Field(description="True when the camera's data goes to the program.")
    reasons: list[str] = Field(description="Why not (empty when shared); see docs/registry.md.")


class ConsentModel(_Response):
    """A camera's latest consent."""

    programs: list[str] = Field(description="Programs consented to.")
    since: str = Field(json_schema_extra=_DATE_TIME, description="When it was granted (UTC).")
    expires: str | None = Field(json_schema_extra=_DATE_TIME, description="When it expires, or null.")
    revoked: str | None = Field(json_schema_extra=_DATE_TIME, description="When it was revoked, or null.")


class CameraStatusModel(_Response):
    """One configured camera, as ``guarita cameras status --json`` shows it."""

    camera: str = Field(description="Frigate camera name.")
    programs: dict[str, ProgramShare] = Field(description="The gate's decision per program the camera lists.")
    client: str | None = Field(description="The client owning the camera, or null.")
    consent: ConsentModel | None = Field(description="The latest consent, or null.")
    public_facing: bool = Field(description="The latest attestation.")
    sign_plate: str | None = Field(description="The sign's plate code, or null.")


class CamerasReport(_Response):
    """``GET /cameras``."""

    provider: str = Field(description="The provider's id.")
    accredited: bool = Field(description="Whether the provider is accredited (BH + Segura).")
    registry_version: int = Field(description="Registry version read.")
    at: str = Field(json_schema_extra=_DATE_TIME, description="The time the gate was asked (UTC).")
    cameras: list[CameraStatusModel] = Field(description="Every configured camera, by name.")
    unconfigured_cameras: list[str] = Field(description="Cameras with registry records but not in the config.")


class ClientModel(_Response):
    """A client as last recorded."""

    client: str = Field(description="Client id.")
    name: str = Field(description="Display name.")
    contact: str | None = Field(description="Contact, or null.")
    has_document: bool = Field(description="Whether a CPF/CNPJ (kept only as a keyed hash) is on file.")
    recorded_at: str = Field(json_schema_extra=_DATE_TIME, description="When (UTC).")
    recorded_by: str = Field(description="Who recorded it.")


class ClientsReport(_Response):
    """``GET /clients``."""

    clients: list[ClientModel] = Field(description="Every client, by id.")


class ClientDone(_Response):
    """``POST /clients`` recorded the client."""

    client: str = Field(description="Client id.")
    updated: bool = Field(description="True when the client existed (its details were recorded again).")
    has_document: bool = Field(description="Whether a CPF/CNPJ was given.")
    registry_version: int = Field(description="Registry version after the change.")


class AssignDone(_Response):
    """The owner was recorded."""

    camera: str = Field(description="Camera.")
    client: str = Field(description="Its owner.")
    registry_version: int = Field(description="Registry version after the change.")


class ConsentDone(_Response):
    """The consent was recorded."""

    camera: str = Field(description="Camera.")
    client: str = Field(description="Client.")
    programs: list[str] = Field(description="Programs consented to.")
    expires_at: str | None = Field(json_schema_extra=_DATE_TIME, description="Expiry (UTC), or null.")
    evidence_sha256: str = Field(pattern=_SHA256, description="SHA-256 of the kept evidence.")
    registry_version: int = Field(description="Registry version after the change.")


class RevokeDone(_Response):
    """The consent was revoked."""

    camera: str = Field(description="Camera.")
    revoked: bool = Field(description="Always true.")
    registry_version: int = Field(description="Registry version after the change.")


class AttestationDone(_Response):
    """The attestation was recorded."""

    camera: str = Field(description="Camera.")
    public_facing: bool = Field(description="What was attested.")
    evidence_sha256: str = Field(pattern=_SHA256, description="SHA-256 of the kept snapshot.")
    registry_version: int = Field(description="Registry version after the change.")


class SignageDone(_Response):
    """The sign was recorded."""

    camera: str = Field(description="Camera.")
    plate: str = Field(description="Plate code.")
    installed_on: dt.date = Field(description="Installation date.")
    photo_sha256: str = Field(pattern=_SHA256, description="SHA-256 of the kept photo.")
    registry_version: int = Field(description="Registry version after the change.")


class AuditBreakModel(_Response):
    """Where the audit chain breaks."""

    seq: int = Field(description="The first broken entry.")
    problem: str = Field(description="How it is broken.")


class AuditVerifyReport(_Response):
    """``GET /audit/verify``, as ``guarita audit verify --json`` prints it."""

    entries: int = Field(description="Entries checked.")
    intact: bool = Field(description="True when every entry follows the one before it (and `head` is in it).")
    head: str = Field(pattern=_SHA256, description="Hash of the last entry; keep it to detect a cut later.")
    broken: AuditBreakModel | None = Field(description="The first broken entry, or null.")
    problem: str | None = Field(description="What is wrong, or null.")
    keying: str = Field(description="Which entries are plain SHA-256 (written before keying) and which HMAC-keyed.")


REQUEST_MODELS: tuple[type[BaseModel], ...] = (
    ClientBody, AssignBody, ConsentBody, RevokeBody, AttestationBody, SignageBody,
)
RESPONSE_MODELS: tuple[type[BaseModel], ...] = (
    ErrorBody, ValidationErrorBody, CamerasReport, ClientsReport, ClientDone, AssignDone, ConsentDone, RevokeDone,
    AttestationDone, SignageDone, AuditVerifyReport,
)


def camera_pattern() -> dict[str, Any]:
    """The schema of a ``{camera}`` path parameter (Frigate's camera name rule)."""
    return {"type": "string", "pattern": _CAMERA}
