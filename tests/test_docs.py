"""The docs and the example config stay true to the code.

* docs/configuration.md documents every key of ``GuaritaConfig`` (type, default,
  constraints, description) and every cross-field rule;
* config.example.yaml shows every key and passes ``guarita check-config``;
* the payloads the real plugins build validate against docs/schemas/, and payloads of
  any other shape do not;
* docs/mqtt.md names the topics, the Last Will and the Frigate-side session as the code
  builds them.
"""

from __future__ import annotations

import copy
import enum
import json
import os
import re
import subprocess
import sys
import types
import typing
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from annotated_types import Ge, Gt, Le, Lt, MinLen
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from guarita._config_rules import RULES
from guarita.config import CameraConfig, GuaritaConfig, Location, ProgramForwardConfig, ProgramName
from guarita.config_loader import CONFIG_ENV, load_config
from guarita.plugins import CopBhPlugin, DetroPlugin
from guarita.runtime import frigate_link_settings, status_topic, uplink_link_settings
from guarita.tracked_object import TrackedObjectEvent, parse_event

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config.example.yaml"
CONFIG_DOC = ROOT / "docs" / "configuration.md"
MQTT_DOC = ROOT / "docs" / "mqtt.md"
SCHEMAS = ROOT / "docs" / "schemas"
CONTRACT = ROOT / "tests" / "fixtures" / "frigate"

# The one environment variable config.example.yaml reads a secret from.
EXAMPLE_ENV = "GUARITA_FRIGATE_MQTT_PASSWORD"

# How a dict-valued field's keys are written in docs and paths.
PLACEHOLDERS = {"programs": "<program>", "cameras": "<name>", "agencies": "<agency>", "tokens": "<token>", "vehicles": "<vehicle>", "users": "<user>"}

# A value that must never be printed.
SECRET = "s3cret-Value-for-test-docs"


# ---- walking the config models ---------------------------------------------------------
def _unwrap(annotation: Any) -> Any:
    """Strip ``Annotated`` and ``X | None`` down to the type that matters."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        if origin in (typing.Union, types.UnionType):
            options = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(options) == 1:
                annotation = options[0]
                continue
        return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def model_fields(model: type[BaseModel] = GuaritaConfig, prefix: str = "") -> Iterator[tuple[str, FieldInfo]]:
    """Every key path of ``model``, depth first, with its field (``programs.<program>.uplink.host``)."""
    for name, field in model.model_fields.items():
        path = f"{prefix}.{name}" if prefix else name
        yield path, field
        inner = _unwrap(field.annotation)
        if _is_model(inner):
            yield from model_fields(inner, path)
        elif typing.get_origin(inner) is dict:
            value = _unwrap(typing.get_args(inner)[1])
            if _is_model(value):
                assert name in PLACEHOLDERS, f"new mapping field {path}: add its key placeholder to the docs and here"
                yield from model_fields(value, f"{path}.{PLACEHOLDERS[name]}")


ALL_FIELDS = dict(model_fields())


def test_model_walk_sees_every_section() -> None:
    paths = set(ALL_FIELDS)
    assert {"provider.id", "frigate.mqtt.tls.key_file", "programs.<program>.uplink.tls.ca_file"} <= paths
    assert {"cameras.<name>.location.lat", "outbox.quota_mb", "web.port"} <= paths


# ---- (a) docs/configuration.md -------------------------------------------------------------
def _doc_rows() -> dict[str, list[str]]:
    """Rows of the reference tables, by key path: [key, type, default, constraints, description]."""
    text = CONFIG_DOC.read_text(encoding="utf-8")
    reference = text.split("\n## Reference", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, list[str]] = {}
    for line in reference.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        key = cells[0].strip("`")
        assert key not in rows, f"{key} is documented twice"
        assert len(cells) == 5, f"row of {key} should have 5 cells: {line}"
        rows[key] = cells
    return rows


def _default_forms(field: FieldInfo) -> list[str] | None:
    """Texts one of which the documented default must contain; None when not checked."""
    if field.default is PydanticUndefined:
        if field.default_factory is None:
            return ["required"]
        made = field.default_factory()  # type: ignore[call-arg]
        if isinstance(made, BaseModel):
            return None  # a section; its keys carry the defaults
        return [json.dumps(made)]  # {} or []
    value = field.default
    if value is None:
        return ["unset"]
    if isinstance(value, bool):
        return [f"`{str(value).lower()}`"]
    if isinstance(value, enum.Enum):
        return [f'`"{value.value}"`', f"`{value.value}`"]
    if isinstance(value, float) and value.is_integer():
        return [f"`{int(value)}`", f"`{value}`"]
    return [f"`{value}`"]


def _constraint_texts(field: FieldInfo) -> list[str]:
    texts: list[str] = []
    for item in field.metadata:
        for kind, attr in ((Ge, "ge"), (Gt, "gt"), (Le, "le"), (Lt, "lt"), (MinLen, "min_length")):
            if isinstance(item, kind):
                texts.append(str(getattr(item, attr)))
        pattern = getattr(item, "pattern", None)
        if pattern:
            texts.append(pattern)
    return texts


def test_every_key_is_documented_with_a_description() -> None:  # covers PB-01
    rows = _doc_rows()
    undocumented = [path for path in ALL_FIELDS if path not in rows]
    assert not undocumented, f"keys missing from docs/configuration.md: {undocumented}"
    for path, field in ALL_FIELDS.items():
        assert (field.description or "").strip(), f"{path} has no description in guarita/config.py"
        key, kind, _default, _constraints, description = rows[path]
        assert kind and description, f"{path}: type and description must not be empty in the docs"


def test_docs_name_no_key_the_models_lack() -> None:
    stale = [key for key in _doc_rows() if key not in ALL_FIELDS]
    assert not stale, f"docs/configuration.md documents keys that do not exist: {stale}"


def test_documented_defaults_and_constraints_match_the_models() -> None:
    rows = _doc_rows()
    for path, field in ALL_FIELDS.items():
        _key, _kind, default, constraints, _description = rows[path]
        forms = _default_forms(field)
        if forms is not None:
            assert any(form in default for form in forms), f"{path}: default {default!r} should show one of {forms}"
        for text in _constraint_texts(field):
            assert text in constraints, f"{path}: constraints {constraints!r} should mention {text!r}"


def test_every_cross_field_rule_is_documented() -> None:  # covers PB-01
    text = CONFIG_DOC.read_text(encoding="utf-8")
    rules = text.split("\n## Cross-field rules", 1)[1].split("\n## ", 1)[0]
    for rule in RULES:
        assert f"`{rule.__name__}`" in rules, f"{rule.__name__} is not documented"


def test_config_doc_covers_env_errors_secrets_and_frigate_qos() -> None:  # covers BH-07
    text = CONFIG_DOC.read_text(encoding="utf-8")
    assert CONFIG_ENV in text
    assert "FILE:LINE:COL key.path: message" in text
    examples = re.findall(r"^\S+\.yaml:\d+:\d+ .+?: .+$", text, flags=re.MULTILINE)
    assert len(examples) >= 5, "the docs should show real error lines"
    for word in ("password_file", "password_env", "never printed or logged"):
        assert word in text
    assert "mqtt.qos: 1" in text and "qos: 1" in text


# ---- (b) config.example.yaml -----------------------------------------------------------------
_COMMENTED_KEY = re.compile(r"^(\s*)# ?(\s*[a-z_][a-z0-9_-]*:(?:\s.*)?)$")


def _uncommented_example() -> Any:
    """The example with every commented-out key line made active (prose stays a comment)."""
    lines = [_COMMENTED_KEY.sub(r"\1\2", line) for line in EXAMPLE.read_text(encoding="utf-8").splitlines()]
    return yaml.safe_load("\n".join(lines))


def _data_paths(data: Any, prefix: tuple[str, ...] = ()) -> Iterator[str]:
    """Key paths of plain YAML data, with the keys of `programs` and `cameras` as placeholders."""
    if not isinstance(data, dict):
        return
    for key, value in data.items():
        # Keys of a mapping field (programs, cameras, agencies) become their placeholder.
        is_entry = bool(prefix) and prefix[-1] in PLACEHOLDERS and (len(prefix) == 1 or prefix[-1] in ("agencies", "tokens", "vehicles", "users"))
        path = (*prefix, PLACEHOLDERS[prefix[-1]] if is_entry else str(key))
        yield ".".join(path)
        # Values that are data, not config keys: inline GeoJSON, and mappings of numbers or lines.
        scalar_mapping = path[-1] in ("area", "folders", "line_speed_limits_kmh") or path[-2:] == ("dvr", "cameras")
        if not scalar_mapping:
            yield from _data_paths(value, path)


def test_example_shows_every_key() -> None:  # covers PB-01
    data = _uncommented_example()
    shown = set(_data_paths(data))
    missing = [path for path in ALL_FIELDS if path not in shown]
    assert not missing, f"config.example.yaml lacks (even commented out): {missing}"
    entries = tuple(PLACEHOLDERS.values())
    unknown = [path for path in shown if path not in ALL_FIELDS and not path.endswith(entries)]
    assert not unknown, f"config.example.yaml shows keys the models lack: {unknown}"
    # Each program shows all of its own keys, not just the union of both.
    program_keys = [p.removeprefix("programs.<program>.") for p in ALL_FIELDS if p.startswith("programs.<program>.")]
    cop_bh_only = ("agencies",)  # verify_agencies_only_for_cop_bh
    for program in ProgramName:
        own = set(_data_paths(data["programs"][program.value]))
        expected = [k for k in program_keys if program is ProgramName.COP_BH or not k.startswith(cop_bh_only)]
        assert not [k for k in expected if k not in own], f"programs.{program.value} lacks some keys"


def test_example_has_the_cameras_the_docs_promise() -> None:
    config = load_config(EXAMPLE, environ={EXAMPLE_ENV: "placeholder"})
    kinds = {
        name: (tuple(c.programs), c.location is not None, c.heading is not None, c.vehicle)
        for name, c in config.cameras.items()
    }
    assert any(p == (ProgramName.COP_BH,) and loc and head for p, loc, head, _ in kinds.values())
    assert any(p == () for p, *_ in kinds.values()), "a private camera with no programs"
    assert [v for p, _, _, v in kinds.values() if p == (ProgramName.DETRO,)] == ["10234", "10234"]
    assert set(config.programs) == set(ProgramName)
    for program in config.programs.values():
        assert program.uplink.tls is not None and program.uplink.tls.ca_file is not None


def test_example_keeps_secrets_out_of_the_file() -> None:  # covers BH-07
    text = EXAMPLE.read_text(encoding="utf-8")
    assert not re.search(r"^\s*#?\s*password\s*:", text, flags=re.MULTILINE)
    assert f"password_env: {EXAMPLE_ENV}" in text


def test_example_placeholders_are_not_real_secrets() -> None:  # covers BH-07
    files = [p for p in (ROOT / "examples").rglob("*") if p.is_file() and p.name != "README.md"]
    assert files
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert "PRIVATE KEY" not in text, f"{path} holds a private key"
        if path.suffix == ".geojson":  # an example area of interest, not a real boundary
            assert "not the real boundary" in text, path
        elif path.suffix == ".pem":  # public CA certificates only, made for the example
            assert text.count("-----BEGIN CERTIFICATE-----") == 1, path
            assert "not a real centre" in _pem_subject(path), path
        else:
            assert "PLACEHOLDER" in text, f"{path} should say it is a placeholder"
    assert "placeholder" in (ROOT / "examples" / "README.md").read_text(encoding="utf-8").lower()


def _pem_subject(path: Path) -> str:
    result = subprocess.run(
        ["openssl", "x509", "-noout", "-subject", "-in", str(path)], capture_output=True, text=True, check=True
    )
    return result.stdout


# ---- (c) check-config on the example -----------------------------------------------------------
def _guarita_command() -> list[str]:
    script = Path(sys.executable).with_name("guarita")
    return [str(script)] if script.exists() else [sys.executable, "-m", "guarita.cli"]


def _check_config(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_guarita_command(), "check-config", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in (EXAMPLE_ENV, CONFIG_ENV)}


def test_check_config_passes_on_the_example(tmp_path: Path) -> None:  # covers PB-01, PB-05
    env = {**_clean_env(), EXAMPLE_ENV: SECRET}
    # Run from elsewhere: relative *_file paths resolve against the config file's folder.
    result = _check_config(["-c", str(EXAMPLE)], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout
    assert SECRET not in result.stdout + result.stderr


def test_check_config_finds_the_example_through_guarita_config(tmp_path: Path) -> None:
    env = {**_clean_env(), EXAMPLE_ENV: "placeholder", CONFIG_ENV: str(EXAMPLE)}
    result = _check_config([], env, tmp_path)
    assert result.returncode == 0, result.stderr


def test_check_config_without_the_secret_prints_the_documented_format(tmp_path: Path) -> None:  # covers BH-07
    result = _check_config(["-c", str(EXAMPLE)], _clean_env(), tmp_path)
    assert result.returncode == 1
    line = next(n for n, text in enumerate(EXAMPLE.read_text().splitlines(), 1) if text.strip().startswith("password_env:"))
    expected = re.compile(
        rf"^{re.escape(str(EXAMPLE))}:{line}:\d+ frigate\.mqtt\.password_env: environment variable {EXAMPLE_ENV} is not set$"
    )
    assert [text for text in result.stderr.splitlines() if expected.match(text)], result.stderr


# ---- (d) payloads against the schemas -------------------------------------------------------------
def _schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return loaded


def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = _schema(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


COP_BH = "guarita.event.v1.cop_bh.json"
DETRO = "guarita.event.v1.detro.json"
STREET = CameraConfig(programs=[ProgramName.COP_BH], location=Location(lat=-19.9245, lon=-43.9352), heading=180)
STREET_NO_HEADING = CameraConfig(programs=[ProgramName.COP_BH], location=Location(lat=-19.9, lon=-43.9))
BUS = CameraConfig(programs=[ProgramName.DETRO], vehicle="10234")
# Present only when the program opted in (programs.<program>.forward); absent by default.
OPT_IN_FIELDS = {"sub_label", "license_plate"}
OPTED_IN = ProgramForwardConfig.model_validate({
    "sub_label": {"enabled": True, "legal_basis": "test"}, "license_plate": {"enabled": True, "legal_basis": "test"},
})


def _contract_payloads() -> list[bytes]:
    raw = [(CONTRACT / f"mqtt-events-{kind}.json").read_bytes() for kind in ("new", "update", "end")]
    # The 0.14 shape: sub_label as a plain string.
    legacy = json.loads(raw[-1])
    legacy["after"]["sub_label"] = "visitor"
    return [*raw, json.dumps(legacy).encode()]


def _events() -> list[TrackedObjectEvent]:
    return [parse_event(payload) for payload in _contract_payloads()]


def _wire(payload: dict[str, Any]) -> Any:
    """What a receiver decodes: the bridge's own serialisation, strict JSON (no NaN)."""
    return json.loads(json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode())


def _cop_bh_payloads() -> list[Any]:
    made = []
    for plugin in (CopBhPlugin("acme"), CopBhPlugin("acme", forward=OPTED_IN)):
        made += [_wire(plugin.event_payload(e, seq, STREET)) for seq, e in enumerate(_events(), 1)]
    return [*made, _wire(CopBhPlugin("acme").event_payload(_events()[0], 1, STREET_NO_HEADING))]


def _detro_payloads() -> list[Any]:
    made = []
    for plugin in (DetroPlugin("acme"), DetroPlugin("acme", forward=OPTED_IN)):
        made += [_wire(plugin.event_payload(e, seq, BUS)) for seq, e in enumerate(_events(), 1)]
    return made


def test_identifying_fields_are_absent_unless_opted_in() -> None:  # covers BH-07
    for payloads in (_cop_bh_payloads(), _detro_payloads()):
        withheld, opted = payloads[:4], payloads[4:8]
        assert not [p for p in withheld if OPT_IN_FIELDS & set(p)]
        assert [p["sub_label"] for p in opted] == [None, None, "john", "visitor"]
        assert all(p["license_plate"] is None for p in opted)


def test_contract_events_cover_every_type_and_sub_label_shape() -> None:
    events = _events()
    assert {e.type.value for e in events} == {"new", "update", "end"}
    assert None in {e.sub_label for e in events} and "visitor" in {e.sub_label for e in events}


@pytest.mark.parametrize(("schema", "build"), [(COP_BH, _cop_bh_payloads), (DETRO, _detro_payloads)])
def test_plugin_payloads_validate(schema: str, build: Any) -> None:  # covers PB-05, BH-11, DT-02
    validator = _validator(schema)
    for payload in build():
        errors = [e.message for e in validator.iter_errors(payload)]
        assert not errors, f"{payload} does not match {schema}: {errors}"
        # FormatChecker checks date-time only when rfc3339-validator is installed: check here too.
        for key in ("start_time", "end_time"):
            if payload[key] is not None:
                assert datetime.fromisoformat(payload[key]).utcoffset() == UTC.utcoffset(None)


@pytest.mark.parametrize(("schema", "build"), [(COP_BH, _cop_bh_payloads), (DETRO, _detro_payloads)])
def test_extra_or_missing_fields_are_refused(schema: str, build: Any) -> None:  # covers PB-05, BH-07
    validator = _validator(schema)
    good = build()[7]  # an opted-in end event: every field there can be
    assert OPT_IN_FIELDS <= set(good)
    for extra in ("snapshot", "thumbnail", "box", "client", "image", "recognized_license_plate", "sub_label_score"):
        assert not validator.is_valid({**good, extra: "x"}), f"{schema} accepts an extra field {extra!r}"
    for field in set(good) - OPT_IN_FIELDS:
        missing = {k: v for k, v in good.items() if k != field}
        assert not validator.is_valid(missing), f"{schema} accepts a payload without {field!r}"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("seq", 0),
        ("seq", "1"),
        ("seq", 1.5),
        ("type", "genai"),
        ("schema", "guarita.event/2"),
        ("score", 1.5),
        ("top_score", "0.9"),
        ("start_time", "2026-06-30T13:00:00.512+00:00"),
        ("start_time", "2026-06-30 13:00:00.512Z"),
        ("start_time", 1782824400.512),
        ("end_time", "yesterday"),
        ("sub_label", ["john", 0.91]),
        ("license_plate", ["RIO2A19", 0.93]),
        ("zones", "porch"),
        ("has_clip", "true"),
        ("provider", "ACME"),
        ("camera", "front door"),
    ],
)
def test_wrong_types_are_refused(field: str, value: Any) -> None:
    for schema, payload in ((COP_BH, _cop_bh_payloads()[0]), (DETRO, _detro_payloads()[0])):
        assert not _validator(schema).is_valid({**payload, field: value}), f"{schema} accepts {field}={value!r}"


def test_program_specific_fields_are_exact() -> None:
    cop, detro = _validator(COP_BH), _validator(DETRO)
    cop_payload, detro_payload = _cop_bh_payloads()[0], _detro_payloads()[0]
    assert not detro.is_valid(cop_payload) and not cop.is_valid(detro_payload)
    for bad in ({"lat": -19.9, "lon": -43.9}, {"lat": 91, "lon": 0, "heading": None}, {"lat": 0, "lon": 0, "heading": 360}):
        assert not cop.is_valid({**cop_payload, "location": bad})
    extra = copy.deepcopy(cop_payload)
    extra["location"]["address"] = "Rua X, 10"
    assert not cop.is_valid(extra)
    assert not cop.is_valid({**cop_payload, "location": None})
    assert not detro.is_valid({**detro_payload, "vehicle": ""})
    assert not detro.is_valid({**detro_payload, "vehicle": 10234})


def test_schemas_are_exact_and_documented() -> None:
    for name in (COP_BH, DETRO):
        schema = _schema(name)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["additionalProperties"] is False
        assert set(schema["required"]) == set(schema["properties"]) - OPT_IN_FIELDS, "every other field is always present"
        assert all(p.get("description") for p in schema["properties"].values())
    mqtt = MQTT_DOC.read_text(encoding="utf-8")
    for field in _schema(COP_BH)["properties"] | _schema(DETRO)["properties"]:
        assert f"| `{field}` |" in mqtt, f"docs/mqtt.md does not describe payload field {field}"
    assert not (SCHEMAS / "status.json").exists() or "online" in (SCHEMAS / "status.json").read_text()


# ---- docs/mqtt.md against the code ---------------------------------------------------------------
def test_mqtt_doc_topics_match_the_plugins() -> None:  # covers PB-05, BH-11, DT-02
    mqtt = MQTT_DOC.read_text(encoding="utf-8")
    cop_topic = CopBhPlugin("<provider>").event_topics("<camera>", STREET)[0]
    detro_topic = DetroPlugin("<provider>").event_topics("<camera>", CameraConfig(programs=[], vehicle="<vehicle>"))[0]
    assert cop_topic == "copbh/v1/<provider>/events/<camera>"
    assert detro_topic == "detro/v1/<provider>/vehicles/<vehicle>/events"
    assert f"`{cop_topic}`" in mqtt and f"`{detro_topic}`" in mqtt
    assert "`<root>/<provider>/status`" in mqtt


def test_mqtt_doc_matches_the_links_the_runtime_builds() -> None:  # covers PB-05, DT-08, DT-21
    config = load_config(EXAMPLE, environ={EXAMPLE_ENV: "placeholder"})
    mqtt = MQTT_DOC.read_text(encoding="utf-8")
    for program in ProgramName:
        settings = uplink_link_settings(config, program)
        assert settings.tls is not None
        will = settings.will
        assert will is not None
        assert will.topic == status_topic(config, program) == f"{config.topic_root(program)}/acme/status"
        assert (will.payload, will.qos, will.retain) == (b"offline", 1, True)
    assert "Last Will" in mqtt and "`offline`" in mqtt and "`online`" in mqtt
    frigate = frigate_link_settings(config)
    assert frigate.clean_start is False
    assert frigate.client_id == "guarita-acme" and "`guarita-<provider>`" in mqtt
    assert frigate.session_expiry_s is not None
    assert f"default {frigate.session_expiry_s // 86400} days" in mqtt
    assert f"default {frigate.receive_maximum}" in mqtt
    for topic in ("<prefix>/events", "<prefix>/reviews", "<prefix>/available"):
        assert f"`{topic}`" in mqtt
    for phrase in ("(`id`, `type`, `seq`)", "at least once", "Manual acknowledgement", "Receive Maximum", "mqtt.qos: 1"):
        assert phrase.lower() in mqtt.lower(), phrase
    assert "not forwarded yet" in mqtt
