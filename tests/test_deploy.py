"""The deployment files: the Dockerfile, the compose service beside Frigate, the systemd unit, docs/install.md.

There is no Docker engine in CI, so the image is not built: its instructions are checked
against the code (the user, the /healthz route, the CLI subcommands, the package folders).
The compose file is parsed and its paths and variables compared with the config example it
ships with and with docs/install.md. The systemd unit goes through ``systemd-analyze verify``
(no warning allowed) and its hardening keys are read back.
"""

from __future__ import annotations

import configparser
import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from guarita.cli.main import main
from guarita.config import GuaritaConfig
from guarita.metrics import Metrics
from guarita.web.server import make_web_app

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "deploy" / "compose.yaml"
UNIT = ROOT / "deploy" / "guarita.service"
CONFIG = ROOT / "deploy" / "guarita.yaml"
ENV_EXAMPLE = ROOT / "deploy" / "guarita.env.example"
INSTALL = ROOT / "docs" / "install.md"


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    pairs = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            instruction, _, rest = line.strip().partition(" ")
            pairs.append((instruction.upper(), rest.strip()))
    return pairs


def _one(instruction: str) -> str:
    found = [rest for name, rest in _dockerfile() if name == instruction]
    assert len(found) == 1, f"Dockerfile: expected one {instruction}, found {len(found)}"
    return found[0]


def _dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for name, rest in _dockerfile():
        if name == "ENV":
            env.update(word.split("=", 1) for word in shlex.split(rest))  # type: ignore[misc]
    return env


def _config() -> dict[str, Any]:
    data = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _service() -> dict[str, Any]:
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return dict(compose["services"]["guarita"])


def _volumes(service: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Mount target → (source, options) of the service's short-syntax volumes."""
    mounts = {}
    for entry in service["volumes"]:
        source, target, *options = re.split(r":(?![^{]*})", entry)
        mounts[target] = (source, options[0] if options else "rw")
    return mounts


def _env_keys(node: Any) -> set[str]:
    """The variable names of every ``*_env`` key in a config document."""
    if isinstance(node, dict):
        found = {v for k, v in node.items() if isinstance(k, str) and k.endswith("_env") and isinstance(v, str)}
        return found.union(*(_env_keys(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_env_keys(v) for v in node))
    return set()


def _subcommand_exists(*words: str, capsys: pytest.CaptureFixture[str]) -> bool:
    with pytest.raises(SystemExit) as exit_:
        main([*words, "--help"])
    return exit_.value.code == 0 and f"usage: guarita {' '.join(words)}" in capsys.readouterr().out


# covers PB-07, PB-01
def test_deploy_config_is_a_valid_guarita_config() -> None:
    GuaritaConfig.model_validate(_config())  # unknown keys or bad values raise


# covers PB-07
def test_dockerfile_runs_guarita_run_as_a_non_root_user_with_its_data_in_a_volume(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _one("FROM") == "python:3.11-slim"
    assert any(name == "RUN" and "apt-get install" in rest and "ffmpeg" in rest for name, rest in _dockerfile())
    user = _one("USER")
    assert user not in ("root", "0") and any(
        name == "RUN" and re.search(rf"useradd .*\b{user}$|useradd .*\b{user} ", rest) for name, rest in _dockerfile()
    ), "the image creates the user it runs as"
    entrypoint, cmd = json.loads(_one("ENTRYPOINT")), json.loads(_one("CMD"))
    assert entrypoint == ["guarita"] and cmd == ["run"]
    assert _subcommand_exists(*cmd, capsys=capsys)
    env = _dockerfile_env()
    assert env["GUARITA_CONFIG"] == "/etc/guarita/guarita.yaml"
    assert json.loads(_one("VOLUME")) == [_config()["storage"]["data_dir"]]


# covers PB-07
def test_dockerfile_copies_every_package_folder_the_distribution_maps() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    folders = set(project["tool"]["setuptools"]["package-dir"].values())
    copied = {rest.split()[0] for name, rest in _dockerfile() if name == "COPY"}
    assert folders <= copied and {"pyproject.toml"} <= copied
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert not folders & set(ignored) and "README.md" not in ignored, "pyproject's readme and packages reach the build"


# covers PB-07, PB-05
def test_dockerfile_healthcheck_asks_the_web_servers_healthz_on_the_configs_port() -> None:
    healthcheck = _one("HEALTHCHECK")
    assert "CMD" in healthcheck and "GUARITA_HEALTHZ_URL" in healthcheck
    url = urlsplit(_dockerfile_env()["GUARITA_HEALTHZ_URL"])
    routes = {resource.canonical for resource in make_web_app(lambda: {}, Metrics()).router.resources()}
    assert url.path in routes and url.path == "/healthz"
    assert url.hostname == "127.0.0.1" and url.port == _config()["web"]["port"]
    assert _service()["environment"]["GUARITA_HEALTHZ_URL"] == _dockerfile_env()["GUARITA_HEALTHZ_URL"]


# covers PB-07
def test_compose_service_mounts_frigate_media_read_only_where_the_config_expects_it() -> None:
    service, config = _service(), _config()
    mounts = _volumes(service)
    media = config["frigate"]["media_dir"]
    assert media in mounts and mounts[media][1] == "ro", "Frigate's media folder, read only, at frigate.media_dir"
    config_path = Path(service["environment"]["GUARITA_CONFIG"])
    assert config_path == Path(_dockerfile_env()["GUARITA_CONFIG"])
    assert str(config_path.parent) in mounts and mounts[str(config_path.parent)][1] == "ro"
    ca_file = Path(config["programs"]["cop_bh"]["uplink"]["tls"]["ca_file"])
    assert ca_file.is_relative_to(config_path.parent), "the CA file is inside the read-only config mount"
    data_dir = config["storage"]["data_dir"]
    volume = mounts[data_dir][0]
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert volume in compose["volumes"], "storage.data_dir is a named volume"
    assert service["restart"] in ("unless-stopped", "always")
    assert service["read_only"] is True and service["cap_drop"] == ["ALL"]


# covers PB-07
def test_compose_service_joins_frigates_network_and_reaches_frigate_by_service_name() -> None:
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    (network,) = _service()["networks"]
    assert compose["networks"][network]["external"] is True
    assert compose["networks"][network]["name"].startswith("${FRIGATE_NETWORK")
    config = _config()
    install = INSTALL.read_text(encoding="utf-8")
    frigate = urlsplit(config["frigate"]["url"])
    assert f"{frigate.hostname}:{frigate.port}" in install
    assert f"{config['frigate']['mqtt']['host']}:{config['frigate']['mqtt']['port']}" in install


# covers PB-07
def test_compose_variables_match_the_configs_env_keys_the_env_example_and_the_install_guide() -> None:
    service = _service()
    secrets = _env_keys(_config())
    assert secrets and secrets <= set(service["environment"]), "every *_env key is passed to the container"
    for name in secrets:
        assert service["environment"][name] == f"${{{name}:?set {name} in .env}}", f"{name} comes from .env, required"
    variables = set(re.findall(r"\$\{(\w+)", COMPOSE.read_text(encoding="utf-8")))
    example = {line.split("=", 1)[0] for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
               if line and not line.startswith("#")}
    install = INSTALL.read_text(encoding="utf-8")
    assert variables == example, "deploy/guarita.env.example lists exactly the compose file's variables"
    assert [v for v in sorted(variables) if f"`{v}`" not in install] == [], "docs/install.md names each variable"
    mounts = _volumes(service)
    for target in mounts:
        assert f"`{target}`" in install, f"docs/install.md names the mount {target}"


def _unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True, empty_lines_in_values=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text(encoding="utf-8"))
    return parser


# covers PB-07
def test_systemd_unit_runs_as_its_own_user_with_hardening_and_checks_the_config_first(
    capsys: pytest.CaptureFixture[str],
) -> None:
    service = _unit()["Service"]
    assert service["User"] == service["Group"] == "guarita"
    assert service["StateDirectory"] == "guarita" and service["ConfigurationDirectory"] == "guarita"
    assert f"/var/lib/{service['StateDirectory']}" == _config()["storage"]["data_dir"]
    assert service["Environment"] == "GUARITA_CONFIG=/etc/guarita/guarita.yaml"
    assert service["EnvironmentFile"] == "-/etc/guarita/guarita.env"
    expected = {
        "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes", "NoNewPrivileges": "yes",
        "CapabilityBoundingSet": "", "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter": "@system-service", "Restart": "on-failure",
    }
    assert {key: service.get(key) for key in expected} == expected
    pre, start = shlex.split(service["ExecStartPre"]), shlex.split(service["ExecStart"])
    assert pre[0] == start[0] and pre[1:] == ["check-config"] and start[1:] == ["run"]
    assert _subcommand_exists("check-config", capsys=capsys) and _subcommand_exists("run", capsys=capsys)
    install = INSTALL.read_text(encoding="utf-8")
    media = service["ReadOnlyPaths"].removeprefix("-")
    assert f"`ReadOnlyPaths=-{media}`" in install and f"`{media}`" in install, "docs name the same media folder"
    assert f"`{start[0]} run`" in install and "`EnvironmentFile=/etc/guarita/guarita.env`" in install


# covers PB-07
def test_systemd_analyze_verifies_the_unit_without_a_warning(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None, "systemd-analyze is missing: scripts/quickstart.sh installs the Debian package `systemd`"
    # The unit names /opt/guarita/bin/guarita; verify checks the command exists, so use this venv's.
    here = Path(sys.executable).parent / "guarita"
    unit = tmp_path / "guarita.service"
    unit.write_text(UNIT.read_text(encoding="utf-8").replace("/opt/guarita/bin/guarita", str(here)), encoding="utf-8")
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


# covers PB-07
def test_readme_links_the_install_guide_under_running_it_for_real() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Running it for real\n", 1)[1].split("\n## ", 1)[0]
    assert "(docs/install.md)" in section
