"""Read the YAML file into a ``GuaritaConfig``, or explain every mistake with its line.

Errors print as ``FILE:LINE:COL key.path: message``; LINE is the bad key's own line, 1-based.
Secrets named by ``*_file``/``*_env`` keys and the TLS files are read here, at load time,
and never logged.

Covers: PB-01, BH-07.
"""

from __future__ import annotations

import difflib
import os
import re
import ssl
import types
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, SecretStr, ValidationError

from guarita._config_rules import RULES, secret_holders
from guarita._yaml_marks import MarkedDocument, load_marked
from guarita.config import GuaritaConfig, ProgramName, TlsConfig, _SecretHolder
from guarita.errors import ConfigError, ConfigProblem

__all__ = ["CONFIG_ENV", "format_key_path", "load_config", "resolve_config_path"]

CONFIG_ENV = "GUARITA_CONFIG"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

Loc = tuple[str | int, ...]


def resolve_config_path(given: str | os.PathLike[str] | None, environ: Mapping[str, str]) -> Path:
    """The config file to use: ``-c`` if given, else ``$GUARITA_CONFIG``.

    Raises:
        ConfigError: neither names a file.
    """
    chosen = given or environ.get(CONFIG_ENV)
    if not chosen:
        raise ConfigError([ConfigProblem("", 0, 0, "-c", f"no config file: pass -c FILE or set {CONFIG_ENV}")])
    return Path(chosen)


def format_key_path(loc: Loc) -> str:
    """``("cameras", "x", "programs", 0)`` → ``cameras.x.programs[0]``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top)"


def _data_loc(data: Any, loc: Loc) -> Loc:
    """Keep the parts of a pydantic ``loc`` that are real keys or indexes in the data.

    Pydantic inserts validator names (``function-after[...]``) and ``[key]`` markers; the
    last part is kept even when absent (a missing or unknown key).
    """
    kept: list[str | int] = []
    node = data
    for position, part in enumerate(loc):
        last = position == len(loc) - 1
        if isinstance(node, dict):
            match = next((k for k in node if str(k) == str(part)), None)
            if match is not None:
                kept.append(str(match))
                node = node[match]
                continue
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            kept.append(part)
            node = node[part]
            continue
        # Past a plain value (``front`` where a mapping is also allowed) a part names a union branch, not a key.
        scalar = node is not None and not isinstance(node, (dict, list))
        if last and part != "[key]" and not scalar:
            kept.append(part)
    return tuple(kept)


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The model class that owns the key at ``loc`` (for "did you mean" hints)."""
    current: Any = GuaritaConfig
    for part in loc[:-1]:
        origin = typing.get_origin(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = field.annotation
        elif origin is dict:
            current = typing.get_args(current)[1]
        elif origin is list:
            current = typing.get_args(current)[0]
        else:
            return None
        while typing.get_origin(current) in (typing.Union, types.UnionType):
            options = [a for a in typing.get_args(current) if a is not type(None)]
            current = options[0]
        if typing.get_origin(current) is typing.Annotated:
            current = typing.get_args(current)[0]
    if isinstance(current, type) and issubclass(current, BaseModel):
        return current
    return None


def _message(error: Any, loc: Loc) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        model = _model_at(loc)
        allowed = sorted(model.model_fields) if model else []
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else (f"; allowed: {', '.join(allowed)}" if allowed else "")
        return f"unknown key{hint}"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def _problems_from_validation(doc: MarkedDocument, exc: ValidationError, file: str) -> Iterator[ConfigProblem]:
    for error in exc.errors():
        loc = _data_loc(doc.data, tuple(error["loc"]))
        mark = doc.mark_for(loc)
        yield ConfigProblem(file, mark.line, mark.column, format_key_path(loc), _message(error, loc))


def _read_secret(holder: _SecretHolder, environ: Mapping[str, str]) -> str | None:
    return _read_source(holder.password_file, holder.password_env, environ, "password")


def _read_source(file: Path | None, env: str | None, environ: Mapping[str, str], what: str) -> str | None:
    """A secret from its file (trimmed) or its environment variable; None when neither is given."""
    if file is not None:
        try:
            return file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"cannot read {what} file {file}: {exc.strerror}") from exc
    if env is not None:
        if not _ENV_NAME.match(env):
            raise ValueError(f"{what}_env must name an environment variable (letters, digits, _), not hold the {what}")
        value = environ.get(env)
        if value is None:
            raise ValueError(f"environment variable {env} is not set")
        return value
    return None


def _resolve_cloud(config: GuaritaConfig, environ: Mapping[str, str]) -> Iterator[tuple[Loc, str]]:
    """Read the cloud copy's access and secret keys into the model."""
    cloud = config.retention.cloud
    if cloud is None:
        return
    for key in ("access_key", "secret_key"):
        file, env = getattr(cloud, f"{key}_file"), getattr(cloud, f"{key}_env")
        try:
            value = _read_source(file, env, environ, key)
        except ValueError as exc:
            yield ("retention", "cloud", f"{key}_file" if file is not None else f"{key}_env"), str(exc)
            continue
        setattr(cloud, f"_{key}", SecretStr(value) if value is not None else None)


def _resolve_passphrases(config: GuaritaConfig, environ: Mapping[str, str]) -> Iterator[tuple[Loc, str]]:
    """Read each SRT ingest's passphrase into the model (10 to 64 characters, as SRT wants)."""
    for name, program in config.programs.items():
        ingest = program.video_ingest
        if ingest is None:
            continue
        key = "passphrase_file" if ingest.passphrase_file is not None else "passphrase_env"
        try:
            value = _read_source(ingest.passphrase_file, ingest.passphrase_env, environ, "passphrase")
        except ValueError as exc:
            yield ("programs", name.value, "video_ingest", key), str(exc)
            continue
        if value is not None and not 10 <= len(value) <= 79:
            yield ("programs", name.value, "video_ingest", key), (
                f"the SRT passphrase must be 10 to 79 characters long (it is {len(value)})")
            continue
        ingest._passphrase = SecretStr(value) if value is not None else None


def _resolve_files(config: GuaritaConfig, environ: Mapping[str, str]) -> Iterator[tuple[Loc, str]]:
    """Read secrets into the models and check TLS files exist; yield (path, message) failures."""
    for loc, holder in secret_holders(config):
        key = "password_file" if holder.password_file is not None else "password_env"
        try:
            value = _read_secret(holder, environ)
        except ValueError as exc:
            yield (*loc, key), str(exc)
            continue
        holder._password = SecretStr(value) if value is not None else None
    tls_sections: list[tuple[Loc, TlsConfig | None]] = [(("frigate", "mqtt", "tls"), config.frigate.mqtt.tls)]
    tls_sections += [(("programs", n.value, "uplink", "tls"), p.uplink.tls) for n, p in config.programs.items()]
    for loc, tls in tls_sections:
        if tls is None:
            continue
        missing = False
        for key in ("ca_file", "cert_file", "key_file"):
            path = getattr(tls, key)
            if path is not None and not path.is_file():
                missing = True
                yield (*loc, key), f"file not found: {path}"
        if not missing:
            yield from _check_tls_material(loc, tls)
    yield from _check_web_tls(config)


def _resolve_agencies(config: GuaritaConfig, base_dir: Path) -> Iterator[tuple[Loc, str]]:
    """Load every agency's area and note which cameras each covers."""
    program = config.programs.get(ProgramName.COP_BH)
    if program is None or not program.agencies:
        return
    # shapely (and numpy) load only when there are areas to read: ~15 MiB of RSS otherwise.
    from guarita.consent.agencies import AgencyArea, AreaError, agencies_covering, load_area

    areas: list[AgencyArea] = []
    for agency, settings in program.agencies.items():
        try:
            areas.append(load_area(agency, settings.area, base_dir))
        except AreaError as exc:
            yield ("programs", "cop_bh", "agencies", agency, "area"), str(exc)
    config._camera_agencies = {
        camera: agencies_covering(areas, c.location.lat, c.location.lon)
        for camera, c in config.cameras.items()
        if c.location is not None and ProgramName.COP_BH in c.programs
    }


def _check_tls_material(loc: Loc, tls: TlsConfig) -> Iterator[tuple[Loc, str]]:
    """Load the CA and client certificate as a link would, so a bad PEM fails here."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if tls.ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(tls.ca_file))
        except (ssl.SSLError, OSError) as exc:
            yield (*loc, "ca_file"), f"not a usable PEM CA certificate: {tls.ca_file} ({exc})"
    if tls.cert_file is not None and tls.key_file is not None:
        try:
            context.load_cert_chain(str(tls.cert_file), str(tls.key_file))
        except (ssl.SSLError, OSError) as exc:
            yield (*loc, "cert_file"), f"certificate and key do not load as a PEM pair ({exc})"


def _check_web_tls(config: GuaritaConfig) -> Iterator[tuple[Loc, str]]:
    """Load the web server's certificate and key as ``guarita run`` will, so a bad pair fails here."""
    tls = config.web.tls
    if tls is None:
        return
    missing = [key for key in ("cert_file", "key_file") if not getattr(tls, key).is_file()]
    for key in missing:
        yield ("web", "tls", key), f"file not found: {getattr(tls, key)}"
    if not missing:
        try:
            tls.server_context()
        except (ssl.SSLError, OSError) as exc:
            yield ("web", "tls", "cert_file"), f"certificate and key do not load as a PEM pair ({exc})"


def _read_text(path: Path, file: str) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError([ConfigProblem(file, 1, 1, "(file)", f"cannot read: {exc.strerror}")]) from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        good = data[: exc.start].decode("utf-8")
        line, col = _line_col(good, len(good))
        message = f"the file is not UTF-8 (byte 0x{data[exc.start]:02x}); save it as UTF-8"
        raise ConfigError([ConfigProblem(file, line, col, "(file)", message)]) from exc


def _line_col(text: str, position: int) -> tuple[int, int]:
    before = text[:position]
    return before.count("\n") + 1, position - (before.rfind("\n") + 1) + 1


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> GuaritaConfig:
    """Load and check the configuration file at ``path``.

    Args:
        path: the YAML file.
        environ: where ``*_env`` secrets are read; ``os.environ`` when None.

    Raises:
        ConfigError: with one ``ConfigProblem`` per mistake found.
    """
    environ = os.environ if environ is None else environ
    file = str(path)
    text = _read_text(path, file)
    try:
        doc = load_marked(text)
    except yaml.MarkedYAMLError as exc:
        where = exc.problem_mark or exc.context_mark
        line, col = (where.line + 1, where.column + 1) if where else (1, 1)
        raise ConfigError([ConfigProblem(file, line, col, "(yaml)", str(exc.problem or exc))]) from exc
    except yaml.reader.ReaderError as exc:
        line, col = _line_col(text, exc.position)
        message = f"character {exc.character!r} is not allowed in YAML (a control character?)"
        raise ConfigError([ConfigProblem(file, line, col, "(yaml)", message)]) from exc
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigProblem(file, 1, 1, "(yaml)", " ".join(str(exc).split()))]) from exc
    if not isinstance(doc.data, dict):
        raise ConfigError([ConfigProblem(file, 1, 1, "(top)", "the file must be a YAML mapping of sections")])
    try:
        config = GuaritaConfig.model_validate(doc.data, context={"base_dir": path.resolve().parent})
    except ValidationError as exc:
        found = sorted(_problems_from_validation(doc, exc, file), key=lambda p: (p.line, p.column))
        raise ConfigError(found) from exc
    config._base_dir = path.resolve().parent
    failures: list[tuple[Loc, str]] = [(v.path, v.message) for rule in RULES for v in rule(config)]
    failures += list(_resolve_files(config, environ))
    failures += list(_resolve_cloud(config, environ))
    failures += list(_resolve_passphrases(config, environ))
    failures += list(_resolve_agencies(config, path.resolve().parent))
    if failures:
        problems = []
        for loc, message in failures:
            at = doc.mark_for(loc)
            problems.append(ConfigProblem(file, at.line, at.column, format_key_path(loc), message))
        raise ConfigError(sorted(problems, key=lambda p: (p.line, p.column)))
    return config
