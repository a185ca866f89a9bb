"""The public surface: every ``__all__`` is true, key ones are pinned, and import rules hold.

STYLE.md: every package has an explicit ``__all__`` pinned by a test; only ``guarita/mqtt.py``
imports paho; ``guarita/`` never imports Home Assistant.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIRS = ("guarita", "adapters", "plugins", "consent", "retention")


def distribution_packages() -> list[str]:
    """The packages pyproject.toml ships (``guarita.consent`` maps to ``consent/``, ...)."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return list(pyproject["tool"]["setuptools"]["packages"])


def all_modules() -> list[str]:
    names: set[str] = set()
    for package in distribution_packages():
        names.add(package)
        module = importlib.import_module(package)
        for info in pkgutil.iter_modules(module.__path__, f"{package}."):
            if not info.ispkg:
                names.add(info.name)
    return sorted(names)


MODULES = all_modules()


# covers PB-01
def test_every_package_folder_is_shipped() -> None:
    """A folder with an ``__init__.py`` missing from pyproject's list would be left out of a wheel
    (and the Docker image), though the editable install the tests run on still finds it."""
    mapping = {"guarita": "guarita", "adapters": "guarita.adapters", "plugins": "guarita.plugins",
               "consent": "guarita.consent", "retention": "guarita.retention"}
    found = set()
    for folder, package in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder).parts
            if "__pycache__" not in relative:
                found.add(".".join((package, *relative)))
    assert found == set(distribution_packages())


def load(name: str) -> ModuleType:
    return importlib.import_module(name)


# covers PB-01
def test_the_distribution_ships_every_top_level_folder() -> None:
    assert set(distribution_packages()) >= {
        "guarita", "guarita.frigate", "guarita.adapters", "guarita.plugins", "guarita.consent", "guarita.retention",
    }
    assert len(MODULES) > 30


# covers PB-01
@pytest.mark.parametrize("name", [m for m in MODULES if hasattr(load(m), "__all__")])
def test_every_name_in_all_exists_once(name: str) -> None:
    module = load(name)
    exported = module.__all__
    assert isinstance(exported, list | tuple)
    assert len(exported) == len(set(exported)), f"duplicates in {name}.__all__"
    for attribute in exported:
        assert isinstance(attribute, str)
        assert hasattr(module, attribute), f"{name}.__all__ names {attribute!r}, which does not exist"


# covers PB-01
@pytest.mark.parametrize("name", distribution_packages())
def test_every_package_defines_all(name: str) -> None:
    assert hasattr(load(name), "__all__")


PINNED = {
    "guarita.errors": [
        "ConfigError",
        "ConfigProblem",
        "DvrAuthError",
        "DvrError",
        "DvrFolderMissing",
        "DvrTransferError",
        "DvrUnreachable",
        "FrigateAuthError",
        "FrigateError",
        "FrigateHttpError",
        "FrigateUnavailable",
        "GuaritaError",
        "LinkError",
        "LinkTimeout",
        "ListenError",
        "OutboxFullError",
        "PublishRefused",
        "SecretError",
        "StoreError",
        "StoreFullError",
    ],
    "guarita.mqtt": ["InboundMessage", "LinkSettings", "LinkTls", "MqttLink", "Will"],
    "guarita.outbox": ["DeadLetter", "Outbox", "OutboxMessage", "PendingMessage", "QuotaLevel"],
    "guarita.config": [
        "AccreditationConfig",
        "AgencyConfig",
        "ApiRole",
        "ApiToken",
        "CAMERA_NAME_PATTERN",
        "CameraConfig",
        "CameraRole",
        "CameraVideoConfig",
        "CloudConfig",
        "DvrCameraConfig",
        "DvrConfig",
        "DvrLiveConfig",
        "FleetConfig",
        "FleetRegime",
        "ForwardConfig",
        "FrigateConfig",
        "FrigateMqttConfig",
        "GuaritaConfig",
        "IdentifyingFieldOptIn",
        "Location",
        "MqttProtocol",
        "OutboxConfig",
        "ProgramConfig",
        "ProgramForwardConfig",
        "ProgramName",
        "ProviderConfig",
        "ProviderKind",
        "RetentionConfig",
        "StorageConfig",
        "TelemetryConfig",
        "TelemetryThresholds",
        "TlsConfig",
        "UplinkConfig",
        "VEHICLE_ID_PATTERN",
        "VehicleConfig",
        "VideoConfig",
        "VideoIngestConfig",
        "WebConfig",
        "WebTlsConfig",
        "WebUser",
        "polygon_points",
    ],
    "guarita.video": ["VideoHub", "View", "ViewBook", "ViewLimitReached"],
}


# covers PB-01
@pytest.mark.parametrize("name", sorted(PINNED))
def test_pinned_all(name: str) -> None:
    assert sorted(load(name).__all__) == PINNED[name]


# covers PB-01
def test_every_guarita_error_derives_from_the_root() -> None:
    errors = load("guarita.errors")
    for attribute in errors.__all__:
        value = getattr(errors, attribute)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, errors.GuaritaError), attribute


# covers PB-01, BH-07
def test_every_exported_exception_derives_from_guarita_error() -> None:
    root = load("guarita.errors").GuaritaError
    strays = [
        f"{name}.{attribute}"
        for name in MODULES
        for attribute in getattr(load(name), "__all__", ())
        if isinstance(value := getattr(load(name), attribute), type)
        and issubclass(value, BaseException)
        and not issubclass(value, root)
    ]
    assert strays == []


def python_files() -> list[Path]:
    files = [path for folder in SOURCE_DIRS for path in sorted((ROOT / folder).rglob("*.py"))]
    assert files
    return files


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, statically or via ``importlib.import_module("...")``/``__import__``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in {"import_module", "__import__"} and isinstance(node.args[0].value, str):
                found.add(node.args[0].value)
    return found


def importers_of(top: str) -> list[str]:
    return sorted(
        str(path.relative_to(ROOT))
        for path in python_files()
        if any(name == top or name.startswith(f"{top}.") for name in imported_modules(path))
    )


# covers PB-09, PB-01
def test_only_guarita_mqtt_imports_paho() -> None:
    assert importers_of("paho") == ["guarita/mqtt.py"]


# covers PB-01
def test_nothing_in_the_distribution_imports_home_assistant() -> None:
    assert importers_of("homeassistant") == []


# covers PB-01
def test_the_import_scanner_sees_every_form(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import paho.mqtt.client as paho\nfrom homeassistant.core import HomeAssistant\n"
        "import importlib\nimportlib.import_module('paho.mqtt')\n__import__('homeassistant')\nfrom . import x\n"
    )
    assert imported_modules(sample) == {"paho.mqtt.client", "homeassistant.core", "importlib", "paho.mqtt", "homeassistant"}
