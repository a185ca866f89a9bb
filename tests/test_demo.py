"""`guarita demo`: a compact story of both centres, the garage and the evidence; the README shows it as it is.

Two real runs with the virtual ONVIF camera: one as `scripts/quickstart.sh demo` runs it
(work folder removed at the end), one with ``--keep`` (every path it printed must exist).
"""

from __future__ import annotations

import asyncio
import io
import re
import shutil
from pathlib import Path

import pytest

from guarita.demo.run import run_demo

README = Path(__file__).resolve().parents[1] / "README.md"
WORKDIR = re.compile(r"/tmp/guarita-demo-\w+")

pytestmark = pytest.mark.slow


def _run(duration_s: float, keep_dir: bool) -> str:
    out = io.StringIO()
    assert asyncio.run(run_demo(duration_s=duration_s, keep_dir=keep_dir, out=out)) == 0
    return out.getvalue()


@pytest.fixture(scope="module")
def demo_output() -> str:
    """A run as the README shows it: 20 s, work folder removed at the end."""
    return _run(20, keep_dir=False)


def _at(lines: list[str], fragment: str) -> int:
    return next(i for i, line in enumerate(lines) if fragment in line)


# covers PB-01, PB-05, BH-03, BH-04, BH-07, BH-10, DT-02
def test_demo_shows_both_centres_and_what_was_held_back(demo_output: str) -> None:
    text = demo_output
    assert "[COP-BH] copbh/v1/acme/status = online" in text
    assert "[DETRO] detro/v1/acme/status = online" in text
    rows = {m.group(1): m.groups()[1:] for m in re.finditer(r"^  (\w+)\s+(\d+)\s+(\d+)\s+(\d+)(?:  (.*))?$", text, re.M)}
    published, copbh, detro, why = rows["backyard"]
    assert copbh == detro == "0" and "never leaves" in why
    assert rows["street_corner"][1] == "0" and "no_signage" in rows["street_corner"][3]
    assert not re.search(r"\[(COP-BH|DETRO)\] .*(backyard|street_corner)", text), "held-back cameras never reach a centre"
    assert int(rows["bus_10234_front"][2]) + int(rows["bus_10234_interior"][2]) > 0
    assert "outbox depth {'cop_bh': 0, 'detro': 0}" in text


# covers PB-01, PB-05
def test_demo_counts_events_per_camera_instead_of_printing_each_and_keeps_log_lines_out(demo_output: str) -> None:
    lines = demo_output.splitlines()
    assert len(lines) < 70, f"the story is {len(lines)} lines long"
    assert not [line for line in lines if re.search(r" (INFO|WARNING|DEBUG) guarita", line)], "log lines go to the file"
    first = _at(lines, "[DETRO] first event of bus_10234_front new #1 person score")
    counts = [i for i, line in enumerate(lines) if re.match(r"  \[DETRO\] bus_10234_front: \d+ more events? in ", line)]
    assert counts and first < counts[0]
    per_camera = [re.match(r"  \[DETRO\] bus_10234_front: (\d+) more", lines[i]) for i in counts]
    table = re.search(r"^  bus_10234_front\s+\d+\s+0\s+(\d+)$", demo_output, re.M)
    assert table and int(table.group(1)) == 1 + sum(int(m.group(1)) for m in per_camera if m), "counts add up"
    assert lines[0].startswith("guarita demo: working in /tmp/guarita-demo-") and "log lines go to" in lines[0]


# covers PB-02, PB-06, DT-06, DT-10, DT-11, BH-08, DT-04
def test_demo_shows_a_bus_arriving_syncing_and_its_report_at_detro_and_a_discovered_camera(demo_output: str) -> None:
    lines = demo_output.splitlines()
    arrived = _at(lines, "[garage] bus 10234 pulled in")
    planned = _at(lines, "[garage] bus 10234: DVR answers; 9 files to fetch")
    done, report = _at(lines, "[garage] bus 10234: 100%"), _at(lines, "[DETRO] DVR report, bus 10234 (DVR DVR-2009-000123): ok")
    assert arrived < planned < done < report
    assert "8 files" in lines[report] and "camera 2 11:03–11:04 UTC" in lines[report]
    assert "quarantined: 2/20261120081000.mp4 (duration 30.0 s is outside 1 to 5 minutes" in lines[report]
    assert "bus 10234: 8 segments archived" in demo_output
    recorded = _at(lines, "  [evidence] request 1 recorded by ana (police_authority, ref IP 123/2026)")
    approved, exported = _at(lines, "  [evidence] request 1 approved by bruno"), _at(lines, "[evidence] request 1 exported: 3 clips")
    verified = _at(lines, "  [evidence] request 1 verify: OK (3 files, signature valid)")
    assert done < recorded < approved < exported < verified and "manifest signed" in lines[exported]
    assert lines[recorded].endswith("camera 1, 08:00:30 -03:00 + 2 min")  # the DVR's local time, with its zone
    assert "  [onboarding] WS-Discovery found 1 ONVIF camera(s)" in demo_output
    assert "serial PY-DEMO-0001" in demo_output and "portaria.frigate.yaml" in demo_output


# covers BH-03, BH-04, PB-03
def test_demo_shows_a_camera_shared_when_its_sign_is_recorded_and_withdrawn_on_revocation(demo_output: str) -> None:
    lines = demo_output.splitlines()
    sign, published = _at(lines, "[registry] street_front: sign"), _at(lines, "catalogue: street_front published")
    revoked, withdrawn = _at(lines, "[registry] street_front: consent revoked"), _at(lines, "catalogue: street_front withdrawn")
    assert _at(lines, "[registry] street_front: consent granted") < sign < published < revoked < withdrawn
    assert published < _at(lines, "[COP-BH] first event of street_front")
    assert "  COP-BH received 0 events of cameras outside its catalogue" in lines
    assert "street_front             " in demo_output and "cop_bh: consent_revoked" in demo_output


# covers PB-01
def test_demo_says_it_removed_its_work_folder_and_how_to_keep_it(demo_output: str) -> None:
    workdir = WORKDIR.search(demo_output)
    assert workdir is not None
    last = demo_output.splitlines()[-1]
    assert last.startswith(f"removed {workdir.group(0)} ") and "guarita demo --keep" in last
    assert not Path(workdir.group(0)).exists()


# covers PB-01, PB-02
def test_demo_with_keep_leaves_every_path_it_printed() -> None:
    text = _run(5, keep_dir=True)
    workdir = Path(WORKDIR.search(text).group(0))  # type: ignore[union-attr]
    try:
        printed = {Path(p.rstrip(").,;")) for p in re.findall(rf"{re.escape(str(workdir))}[^\s)]*", text)}
        assert workdir / "demo.log" in printed and workdir / "evidence-request-1" in printed
        assert workdir / "onboarding" / "portaria.frigate.yaml" in printed
        assert [p for p in printed if not p.exists()] == []
        assert text.splitlines()[-1] == f"kept {workdir} (log {workdir / 'demo.log'}); remove it with: rm -r {workdir}"
        assert "INFO guarita.runtime: guarita running for acme" in (workdir / "demo.log").read_text()
        entry = (workdir / "onboarding" / "portaria.frigate.yaml").read_text()
        assert "{FRIGATE_PORTARIA_RTSP_PASSWORD}" in entry and "record" in entry
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _readme_demo_lines() -> list[str]:
    """The lines of the demo's output quoted in the README's Quickstart section ("..." elisions left out)."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Quickstart\n", 1)[1].split("\n## ", 1)[0]
    quoted: list[str] = []
    fence: str | None = None  # the info string of the open code block, or None outside one
    for line in section.splitlines():
        if line.startswith("```"):
            fence = None if fence is not None else line[3:]
        elif fence == "" and line.strip() and line.strip() != "...":
            quoted.append(line)
    return quoted


# Lines whose numbers change from run to run (ports, counts, the camera's clock): their digits match any.
_VARYING = re.compile(r"^(Frigate stand-in: |  \[onboarding\] |  \w+\s+\d+\s+\d+\s+\d+|  updates throttled )")
# A centre's first event of a camera and its counts depend on timing: only their form is compared.
_FIRST_EVENT = re.compile(r"^(  \[[\w-]+\] first event of \S+ )")
_COUNT = re.compile(r"^(  \[[\w-]+\] \S+: )\d+ more events? in ")


def _pattern(readme_line: str) -> re.Pattern[str]:
    if first := _FIRST_EVENT.match(readme_line):
        return re.compile(re.escape(first.group(1)) + r"(new|update|end) #\d+ .+")
    if count := _COUNT.match(readme_line):
        return re.compile(re.escape(count.group(1)) + r"\d+ more events? in \d+–\d+ s \(.+\)")
    escaped = re.escape(WORKDIR.sub("<workdir>", readme_line))
    if _VARYING.match(readme_line):
        escaped = re.sub(r"(?:\\[+-])?\d+(?:\\\.\d+)?", lambda _: r"[+-]?\d+(?:\.\d+)?", escaped)
        escaped = re.sub(r"(?:\\ )+", lambda _: r"\s+", escaped)
    return re.compile(escaped)


def _thread(line: str) -> str:
    """Which thread of the story a line belongs to: lines of one thread come in a fixed order."""
    tagged = re.match(r"  \[([\w-]+)\] (.*)", line)
    if not tagged:
        return "frame"
    tag, rest = tagged.groups()
    if tag == "registry" or rest.startswith("catalogue:"):
        return "consent"
    if tag == "garage" or rest.startswith("DVR report"):
        return "garage"
    if tag in ("evidence", "onboarding"):
        return tag
    return tag + " " + rest.removeprefix("first event of ").split()[0].rstrip(":")


# covers PB-01
def test_readme_quotes_lines_of_a_real_demo_run_in_their_order(demo_output: str) -> None:
    quoted = _readme_demo_lines()
    assert len(quoted) > 20 and any("[evidence]" in line for line in quoted)
    printed = [WORKDIR.sub("<workdir>", line) for line in demo_output.splitlines()]
    by_thread: dict[str, list[str]] = {}
    for line in quoted:
        by_thread.setdefault(_thread(line), []).append(line)
    for thread, lines in by_thread.items():
        candidates = iter([line for line in printed if _thread(line) == thread])
        patterns = [_pattern(line) for line in lines]
        for line, pattern, before in zip(lines, patterns, [None, *patterns]):
            if before is not None and pattern.pattern == before.pattern:
                continue  # a run may count events in more or fewer periods than the README's
            assert any(pattern.fullmatch(p) for p in candidates), f"README line not printed (in order): {line!r}"
