"""HACS and Home Assistant metadata: hacs.json, manifest.json (keys, order, version), the brand
images (PNG sizes), translations matching strings.json, and the action's fields described."""

from __future__ import annotations

import json
import re
import struct
import tomllib
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
INTEGRATION = ROOT / "custom_components" / "guarita"
HACS_KEYS = {"name", "content_in_root", "zip_release", "filename", "hide_default_branch", "country",
             "homeassistant", "hacs", "persistent_directory", "render_readme"}


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path.name} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def keys(tree: Any, prefix: str = "") -> set[str]:
    if not isinstance(tree, dict):
        return {prefix}
    return set().union(*(keys(value, f"{prefix}/{key}") for key, value in tree.items()))


def placeholders(tree: Any) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{path}/{key}")
        else:
            found[path] = set(re.findall(r"\{(\w+)\}", node))

    walk(tree, "")
    return found


# covers PB-08
def test_hacs_json_names_the_integration_and_the_home_assistant_it_needs() -> None:
    hacs = json.loads((ROOT / "hacs.json").read_text(encoding="utf-8"))
    assert hacs["name"] == "Guarita"
    assert set(hacs) <= HACS_KEYS, set(hacs) - HACS_KEYS
    assert hacs["homeassistant"] == "2025.4.1" and hacs["content_in_root"] is False
    assert [p.name for p in (ROOT / "custom_components").iterdir() if p.is_dir() and p.name != "__pycache__"] == [
        "guarita"
    ], "HACS installs exactly one integration from custom_components/"


# covers PB-08
def test_manifest_keys_order_and_version_follow_the_rules() -> None:
    manifest = json.loads((INTEGRATION / "manifest.json").read_text(encoding="utf-8"))
    names = list(manifest)
    assert names[:2] == ["domain", "name"] and names[2:] == sorted(names[2:])
    assert {"codeowners", "config_flow", "documentation", "iot_class", "issue_tracker", "requirements",
            "version"} <= set(names)
    assert manifest["domain"] == "guarita" == INTEGRATION.name
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert manifest["version"] == pyproject["project"]["version"]
    assert manifest["config_flow"] is True and manifest["iot_class"] == "local_polling"
    assert manifest["requirements"] == [], "Home Assistant's own aiohttp is all it needs"
    assert all(owner.startswith("@") for owner in manifest["codeowners"])
    assert manifest["documentation"].startswith("https://") and manifest["issue_tracker"].startswith("https://")


# covers PB-08
def test_brand_images_have_the_sizes_home_assistant_asks_for() -> None:
    brand = INTEGRATION / "brand"
    assert png_size(brand / "icon.png") == (256, 256)
    assert png_size(brand / "icon@2x.png") == (512, 512)
    width, height = png_size(brand / "logo.png")
    assert 128 <= min(width, height) <= 256 and width >= height


# covers PB-08
def test_translations_have_every_string_and_placeholder_of_strings_json() -> None:
    strings = json.loads((INTEGRATION / "strings.json").read_text(encoding="utf-8"))
    for language in ("en", "pt-BR"):
        translated = json.loads((INTEGRATION / "translations" / f"{language}.json").read_text(encoding="utf-8"))
        assert keys(translated) == keys(strings), language
        assert placeholders(translated) == placeholders(strings), language
    assert json.loads((INTEGRATION / "translations" / "en.json").read_text(encoding="utf-8")) == strings


# covers PB-08, DT-17
def test_the_action_and_its_fields_are_described() -> None:
    services = yaml.safe_load((INTEGRATION / "services.yaml").read_text(encoding="utf-8"))
    strings = json.loads((INTEGRATION / "strings.json").read_text(encoding="utf-8"))["services"]
    assert set(services) == set(strings) == {"acknowledge_event"}
    assert set(services["acknowledge_event"]["fields"]) == set(strings["acknowledge_event"]["fields"])


# covers PB-08
def test_quality_scale_states_every_bronze_and_silver_rule() -> None:
    rules = yaml.safe_load((INTEGRATION / "quality_scale.yaml").read_text(encoding="utf-8"))["rules"]
    bronze_silver = {
        "action-setup", "appropriate-polling", "brands", "common-modules", "config-flow",
        "config-flow-test-coverage", "dependency-transparency", "docs-actions", "docs-high-level-description",
        "docs-installation-instructions", "docs-removal-instructions", "entity-event-setup", "entity-unique-id",
        "has-entity-name", "runtime-data", "test-before-configure", "test-before-setup", "unique-config-entry",
        "action-exceptions", "config-entry-unloading", "docs-configuration-parameters",
        "docs-installation-parameters", "entity-unavailable", "integration-owner", "log-when-unavailable",
        "parallel-updates", "reauthentication-flow", "test-coverage",
    }
    assert bronze_silver <= set(rules)
    for rule in bronze_silver:
        value = rules[rule]
        if isinstance(value, dict):
            assert value["status"] == "exempt" and value["comment"], rule
        else:
            assert value == "done", rule


# covers PB-08
def test_every_translated_entity_and_the_action_have_an_icon() -> None:
    icons = json.loads((INTEGRATION / "icons.json").read_text(encoding="utf-8"))
    strings = json.loads((INTEGRATION / "strings.json").read_text(encoding="utf-8"))
    with_device_class = {"frigate_link", "uplink_link"}  # connectivity: Home Assistant's own icons
    for platform, entities in strings["entity"].items():
        assert set(entities) - with_device_class == set(icons["entity"][platform]), platform
        for key, icon in icons["entity"][platform].items():
            assert icon["default"].startswith("mdi:")
            assert set(icon.get("state", {})) <= set(entities[key].get("state", {"on": 0, "off": 0})), key
    assert set(icons["services"]) == set(strings["services"])
