"""Requirement IDs cited by tests (``# covers PB-05``) exist, and issue 2's are all covered.

IDs nobody cites yet are printed, not failed: later issues will cover them.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "docs" / "requirements.md"
ID = re.compile(r"\b(?:PB|BH|DT)-\d{2}\b")
DEFINITION = re.compile(r"^- ((?:PB|BH|DT)-\d{2}) ", re.MULTILINE)
COVERS = re.compile(r"^[ \t]*#[ \t]*covers\b:?(.*)$", re.MULTILINE | re.IGNORECASE)

ISSUE_2 = {"PB-01", "PB-05", "PB-09", "BH-07", "BH-09", "BH-11", "DT-02", "DT-08", "DT-21"}


def citing_files() -> list[Path]:
    """The main suite's tests and the Home Assistant integration's (``tests_hass/``)."""
    return sorted([*(ROOT / "tests").glob("*.py"), *(ROOT / "tests_hass").glob("*.py")])


def defined_ids() -> set[str]:
    return set(DEFINITION.findall(REQUIREMENTS.read_text(encoding="utf-8")))


def cited_ids() -> dict[str, set[str]]:
    """ID → the test files citing it."""
    cited: dict[str, set[str]] = {}
    for path in citing_files():
        for line in COVERS.findall(path.read_text(encoding="utf-8")):
            for found in ID.findall(line):
                cited.setdefault(found, set()).add(path.name)
    return cited


# covers PB-01
def test_requirements_define_the_three_families() -> None:
    ids = defined_ids()
    assert {"PB-01", "PB-09", "BH-01", "BH-13", "DT-01", "DT-22"} <= ids
    assert len(ids) == 9 + 13 + 22


# covers PB-01
def test_every_cited_id_exists() -> None:
    ids = defined_ids()
    unknown = {found: sorted(files) for found, files in cited_ids().items() if found not in ids}
    assert unknown == {}, "typo in a `# covers` line?"


# covers PB-01
def test_malformed_covers_lines_are_not_silently_ignored() -> None:
    # A cover line whose IDs do not match the pattern (e.g. "PB5", "BH-7") would cite nothing.
    bad: list[str] = []
    for path in citing_files():
        for line in COVERS.findall(path.read_text(encoding="utf-8")):
            leftovers = ID.sub("", line).replace(",", " ").split()
            if leftovers:
                bad.append(f"{path.name}: # covers{line}")
    assert bad == []


# covers PB-01
def test_issue_2_requirements_are_all_cited(capsys: pytest.CaptureFixture[str]) -> None:
    ids = defined_ids()
    assert ISSUE_2 <= ids
    cited = cited_ids()
    assert ISSUE_2 - set(cited) == set()
    missing = sorted(ids - set(cited), key=lambda i: (i[:2], int(i[3:])))
    with capsys.disabled():
        print(f"\nrequirements not cited by any test yet ({len(missing)}): {', '.join(missing) or 'none'}")


# covers PB-09
@pytest.mark.parametrize("name", ["paho-mqtt", "aiohttp", "ffmpeg-python", "apscheduler", "pyyaml"])
def test_named_dependencies_are_declared_with_both_bounds(name: str) -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    declared = {}
    for spec in pyproject["project"]["dependencies"]:
        match = re.match(r"^([A-Za-z0-9._-]+)\s*(.*)$", spec)
        assert match, spec
        declared[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    assert name in declared, f"{name} is not a dependency"
    bounds = declared[name].replace(" ", "").split(",")
    assert any(b.startswith(">=") for b in bounds), f"{name} has no lower bound: {declared[name]!r}"
    assert any(b.startswith("<") and not b.startswith("<=") for b in bounds), f"{name} has no upper bound"


# covers PB-09
def test_paho_and_apscheduler_are_pinned_below_their_next_major() -> None:
    dependencies = " ".join(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])
    assert re.search(r"paho-mqtt>=2[.\d]*,<3\b", dependencies), "paho-mqtt 2.x"
    assert re.search(r"APScheduler>=3[.\d]*,<4\b", dependencies, re.IGNORECASE), "APScheduler 3.x"
