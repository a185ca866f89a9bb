"""Operator input for the consent registry: dates, program lists, and bulk import files.

The single CLI commands and ``guarita registry import`` read values the same way, so a row
of an import file means exactly what the same command line would.

* An expiry is a date (``2026-12-31``: valid through that day in Belo Horizonte time,
  America/Sao_Paulo, so it ends at ``2027-01-01T00:00-03:00``) or an ISO 8601 time with
  a zone (``2026-12-31T18:00-03:00``, ``...Z``). A time without a zone is refused.
* An import file is CSV (header row; ``,`` or ``;`` between cells, as Excel writes in
  Brazil) or YAML (a list of mappings), with these columns/keys::

      kind, camera, client, name, document, contact, evidence, plate, installed,
      expires, programs, public_facing, reason, by

  ``kind`` is ``client``, ``consent``, ``attest``, ``signage`` or ``revoke``; each kind
  needs and allows the columns in ``REQUIRED``/``OPTIONAL``, and a filled cell a kind
  does not use refuses the row. ``evidence`` is the consent form, the attestation
  snapshot or the sign's photo, relative to the import file. Rows apply in file order,
  each on its own; a refused row is reported by its line and the others still apply.

The raw CPF/CNPJ is never put in a message (BH-07).

Covers: BH-03, BH-04, BH-07, BH-13, PB-03, PB-07.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import yaml

from guarita._yaml_marks import load_marked
from guarita.config import GuaritaConfig, ProgramName
from guarita.consent.registry import Registry, RegistryRefusal
from guarita.errors import GuaritaError
from guarita.local_time import local_zone

__all__ = [
    "FIELDS",
    "OPTIONAL",
    "REQUIRED",
    "ImportRow",
    "RowKind",
    "RowOutcome",
    "apply_import",
    "known_camera",
    "operator",
    "parse_expiry",
    "parse_installed",
    "parse_programs",
    "read_import_file",
]

FIELDS = (
    "kind", "camera", "client", "name", "document", "contact", "evidence", "plate", "installed",
    "expires", "programs", "public_facing", "reason", "by",
)


class RowKind(StrEnum):
    """What one import row records."""

    CLIENT = "client"
    CONSENT = "consent"
    ATTEST = "attest"
    SIGNAGE = "signage"
    REVOKE = "revoke"


REQUIRED: dict[RowKind, frozenset[str]] = {
    RowKind.CLIENT: frozenset({"client", "name"}),
    RowKind.CONSENT: frozenset({"camera", "client", "evidence"}),
    RowKind.ATTEST: frozenset({"camera", "evidence", "public_facing"}),
    RowKind.SIGNAGE: frozenset({"camera", "plate", "evidence"}),
    RowKind.REVOKE: frozenset({"camera", "reason"}),
}
OPTIONAL: dict[RowKind, frozenset[str]] = {
    RowKind.CLIENT: frozenset({"document", "contact"}),
    RowKind.CONSENT: frozenset({"expires", "programs"}),
    RowKind.ATTEST: frozenset(),
    RowKind.SIGNAGE: frozenset({"installed"}),
    RowKind.REVOKE: frozenset(),
}
_TRUE = {"true", "yes", "sim", "1"}
_FALSE = {"false", "no", "nao", "não", "0"}


# ---- values ----------------------------------------------------------------------------
def parse_expiry(text: str) -> dt.datetime:
    """A consent's expiry: a date (end of that day in BH) or an ISO 8601 time with a zone.

    Raises:
        RegistryRefusal: neither, or a time without a zone.
    """
    text = text.strip()
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        pass
    else:
        return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=local_zone())
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise RegistryRefusal(
            f"expiry {text!r} is neither a date (2026-12-31) nor an ISO 8601 time (2026-12-31T18:00-03:00)"
        ) from None
    if moment.tzinfo is None:
        raise RegistryRefusal(f"expiry {text!r} has no time zone: add one, e.g. -03:00 or Z")
    return moment


def parse_installed(text: str, today: dt.date) -> dt.date:
    """A sign's installation date (YYYY-MM-DD), not after ``today``.

    Raises:
        RegistryRefusal: not a date, or a date in the future.
    """
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError:
        raise RegistryRefusal(f"installed date {text.strip()!r} is not a date (YYYY-MM-DD)") from None
    if day > today:
        raise RegistryRefusal(f"installed date {day.isoformat()} is in the future")
    return day


def parse_programs(text: str) -> frozenset[ProgramName]:
    """``cop_bh`` or ``cop_bh,detro`` as program names.

    Raises:
        RegistryRefusal: empty, or a name that is not a program.
    """
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise RegistryRefusal("name at least one program (cop_bh, detro)")
    valid = {p.value for p in ProgramName}
    unknown = [name for name in names if name not in valid]
    if unknown:
        raise RegistryRefusal(f"unknown program {unknown[0]!r}: the programs are {', '.join(sorted(valid))}")
    return frozenset(ProgramName(name) for name in names)


def _parse_bool(text: str, column: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise RegistryRefusal(f"{column} {text!r} is neither true nor false")


def known_camera(config: GuaritaConfig, camera: str) -> str:
    """``camera`` if the config lists it.

    Raises:
        RegistryRefusal: naming the camera and the configured ones.
    """
    if camera not in config.cameras:
        names = sorted(config.cameras)
        listed = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "") if names else "none"
        raise RegistryRefusal(f"camera {camera!r} is not in the config (cameras: {listed})")
    return camera


def operator(by: str | None) -> str:
    """Who records a change (``--by`` or the ``by`` column), stripped.

    Raises:
        RegistryRefusal: nobody named.
    """
    if by is None or not by.strip():
        raise RegistryRefusal("say who records this: --by USER (or a `by` column in the import file)")
    return by.strip()


# ---- import files ----------------------------------------------------------------------
@dataclass(frozen=True)
class ImportRow:
    """One row of an import file: its first line (1-based) and its filled cells."""

    line: int
    values: Mapping[str, str]
    problem: str | None = None


@dataclass(frozen=True)
class RowOutcome:
    """What became of one row: applied (``message`` says what was recorded) or refused (why)."""

    line: int
    kind: str
    subject: str
    applied: bool
    message: str


def read_import_file(path: Path) -> list[ImportRow]:
    """Read a ``.csv`` or ``.yaml``/``.yml`` import file into rows.

    Raises:
        RegistryRefusal: the file as a whole cannot be used (unreadable, unknown column,
            not YAML); nothing should then be applied.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise RegistryRefusal(f"cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise RegistryRefusal(f"{path} is not UTF-8 text (save it as CSV UTF-8)") from exc
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(text, path)
    if suffix in (".yaml", ".yml"):
        return _read_yaml(text, path)
    raise RegistryRefusal(f"{path}: an import file is .csv, .yaml or .yml")


def _read_csv(text: str, path: Path) -> list[ImportRow]:
    lines = text.splitlines(keepends=True)
    first = lines[0] if lines else ""
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(lines, delimiter=delimiter)
    header = [cell.strip().lower() for cell in next(reader, [])]
    unknown = [column for column in header if column not in FIELDS]
    if unknown or "kind" not in header or len(set(header)) != len(header):
        problem = f"unknown column {unknown[0]!r}" if unknown else "no `kind` column, or a column twice"
        raise RegistryRefusal(f"{path}:1: {problem}; the columns are: {', '.join(FIELDS)}")
    rows: list[ImportRow] = []
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise RegistryRefusal(f"{path}:{start}: not valid CSV ({exc})") from exc
        if not any(cell.strip() for cell in cells) or cells[0].lstrip().startswith("#"):
            continue
        values = {column: cell.strip() for column, cell in zip(header, cells, strict=False) if cell.strip()}
        extra = len(cells) > len(header) and any(cell.strip() for cell in cells[len(header):])
        rows.append(ImportRow(start, values, "more cells than columns" if extra else None))
    return rows


def _read_yaml(text: str, path: Path) -> list[ImportRow]:
    try:
        doc = load_marked(text)
    except yaml.MarkedYAMLError as exc:
        where = exc.problem_mark or exc.context_mark
        line = where.line + 1 if where else 1
        raise RegistryRefusal(f"{path}:{line}: not valid YAML ({exc.problem or exc})") from exc
    except yaml.YAMLError as exc:
        raise RegistryRefusal(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from exc
    if doc.data is None:
        return []
    if not isinstance(doc.data, list):
        raise RegistryRefusal(f"{path}: the YAML file must be a list of rows (- kind: client ...)")
    rows: list[ImportRow] = []
    for index, item in enumerate(doc.data):
        line = doc.mark_for((index,)).line
        if not isinstance(item, dict):
            rows.append(ImportRow(line, {}, "a row must be a mapping (kind: ..., camera: ...)"))
            continue
        values: dict[str, str] = {}
        problem = None
        for key, value in item.items():
            cell, trouble = _yaml_cell(str(key), value)
            problem = problem or trouble
            if cell:
                values[str(key)] = cell
        rows.append(ImportRow(line, values, problem))
    return rows


def _yaml_cell(key: str, value: object) -> tuple[str, str | None]:
    """A YAML value as the text a CSV cell would hold, or the problem with it."""
    if key not in FIELDS:
        return "", f"unknown key {key!r}; the keys are: {', '.join(FIELDS)}"
    if value is None:
        return "", None
    if key == "document" and not isinstance(value, str):
        return "", "quote the document in YAML ('...'), or its leading zeros are lost"
    if isinstance(value, bool):
        return ("true" if value else "false"), None
    if isinstance(value, dt.date):  # dates and datetimes, as PyYAML reads them
        return value.isoformat(), None
    if isinstance(value, list) and key == "programs":
        return ",".join(str(v) for v in value), None
    if isinstance(value, str | int | float):
        return str(value).strip(), None
    return "", f"{key} must be a single value"


def apply_import(
    rows: list[ImportRow],
    *,
    registry: Registry,
    config: GuaritaConfig,
    base_dir: Path,
    default_by: str | None,
    today: dt.date,
) -> list[RowOutcome]:
    """Apply each row on its own, in order; a refused row does not stop the others."""
    outcomes: list[RowOutcome] = []
    for row in rows:
        kind = row.values.get("kind", "")
        subject = row.values.get("camera") or row.values.get("client") or ""
        try:
            message = _apply(row, registry, config, base_dir, default_by, today)
        except GuaritaError as exc:
            outcomes.append(RowOutcome(row.line, kind, subject, False, str(exc)))
        else:
            outcomes.append(RowOutcome(row.line, kind, subject, True, message))
    return outcomes


def _apply(
    row: ImportRow, registry: Registry, config: GuaritaConfig, base_dir: Path, default_by: str | None, today: dt.date
) -> str:
    if row.problem is not None:
        raise RegistryRefusal(row.problem)
    values = row.values
    try:
        kind = RowKind(values.get("kind", "").lower())
    except ValueError:
        raise RegistryRefusal(f"kind must be one of: {', '.join(k.value for k in RowKind)}") from None
    given = set(values) - {"kind", "by"}
    missing = sorted(REQUIRED[kind] - given)
    if missing:
        raise RegistryRefusal(f"{kind} rows need {', '.join(missing)}")
    extra = sorted(given - REQUIRED[kind] - OPTIONAL[kind])
    if extra:
        raise RegistryRefusal(f"{', '.join(extra)}: not used by {kind} rows (leave the cell empty)")
    by = operator(values.get("by") or default_by)
    if kind is RowKind.CLIENT:
        client = values["client"]
        document, contact = values.get("document"), values.get("contact")
        registry.add_client(client, values["name"], by=by, document=document, contact=contact)
        return f"client {client} recorded" + (" (document as keyed hash)" if "document" in values else "")
    camera = values["camera"]
    if kind is RowKind.REVOKE:
        registry.revoke(camera, by=by, reason=values["reason"])
        return f"consent for {camera} revoked"
    known_camera(config, camera)
    evidence = base_dir / values["evidence"]
    if kind is RowKind.CONSENT:
        programs = parse_programs(values.get("programs", ProgramName.COP_BH.value))
        expires = parse_expiry(values["expires"]) if "expires" in values else None
        digest = registry.grant(
            camera, client_id=values["client"], evidence=evidence, by=by, programs=programs, expires_at=expires
        )
        names = ",".join(sorted(programs))
        return f"consent for {camera} by client {values['client']} ({names}), evidence sha256 {digest}"
    if kind is RowKind.ATTEST:
        public = _parse_bool(values["public_facing"], "public_facing")
        digest = registry.attest(camera, public_facing=public, evidence=evidence, by=by)
        return f"{camera} attested {'public-facing' if public else 'NOT public-facing'}, evidence sha256 {digest}"
    installed = parse_installed(values["installed"], today) if "installed" in values else today
    digest = registry.record_signage(camera, plate=values["plate"], photo=evidence, by=by, installed_on=installed)
    return f"sign {values['plate']} at {camera}, installed {installed.isoformat()}, photo sha256 {digest}"
