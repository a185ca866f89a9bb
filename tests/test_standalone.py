"""The repository stands alone: no test, doc or script reaches outside it.

A clone with nothing beside it must run every test, so the Frigate examples and the
requirement list live in the repository (tests/fixtures/, docs/requirements.md).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from frigate_payloads import FRIGATE_FIXTURES, REAL_CAPTURE

ROOT = Path(__file__).resolve().parents[1]
SCANNED = [ROOT / "README.md", *(ROOT / d for d in ("tests", "docs", "scripts", "bench"))]
# Spelled in pieces so that this file does not match itself.
OUTSIDE = re.compile("|".join([
    re.escape("../" + "shared"),
    re.escape("/work/" + "shared"),
    r"parents\[2\]",
    re.escape(".parent / " + '"shared"'),
]))
TEXT_SUFFIXES = {".py", ".md", ".sh", ".yaml", ".yml", ".json", ".txt", ".toml", ".cfg", ".ini"}
MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")


def scanned_files() -> list[Path]:
    files: list[Path] = []
    for place in SCANNED:
        candidates = [place] if place.is_file() else sorted(place.rglob("*"))
        files += [p for p in candidates if p.is_file() and p.suffix in TEXT_SUFFIXES and "__pycache__" not in p.parts
                  and "node_modules" not in p.parts]  # installed by npm ci (tests/browser), not ours
    return files


# covers PB-01
def test_nothing_refers_to_a_folder_beside_the_repository() -> None:
    files = scanned_files()
    assert len(files) > 50, "the scan found the tests and docs"
    hits = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in files
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert hits == []


# covers PB-01
def test_every_relative_link_in_the_docs_stays_inside_the_repository() -> None:
    outside: list[str] = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), *sorted(p for p in (ROOT / "tests").rglob("*.md") if "node_modules" not in p.parts)]:
        for target in MARKDOWN_LINK.findall(doc.read_text(encoding="utf-8")):
            if re.match(r"^[a-z]+:|^#", target):
                continue  # a URL or an anchor on the same page
            resolved = (doc.parent / target.split("#")[0]).resolve()
            if not resolved.is_relative_to(ROOT) or not resolved.exists():
                outside.append(f"{doc.relative_to(ROOT)}: {target}")
    assert outside == []


# covers PB-01
@pytest.mark.parametrize("name", [
    "mqtt-events-new.json", "mqtt-events-update.json", "mqtt-events-end.json", "api-version.txt",
])
def test_the_frigate_examples_are_in_the_repository(name: str) -> None:
    assert (FRIGATE_FIXTURES / name).is_file()
    assert REAL_CAPTURE.is_file() and REAL_CAPTURE.stat().st_size > 10_000
