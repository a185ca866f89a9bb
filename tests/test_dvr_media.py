"""The ffmpeg-made DVR media stand-in: trees laid out as DT-10 says, bad files bad as claimed."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest

from guarita.adapters.dvr.names import parse_start
from guarita.adapters.dvr.validate import validate_segment
from guarita.standin.dvr_media import (
    make_dvr_tree,
    make_invalid_set,
    make_segment,
    make_telemetry_lines,
    stamp_name,
    truncate,
    write_checksum_sidecar,
)

START = dt.datetime(2026, 11, 20, 8, 0, 0)


# covers DT-10, DT-11
async def test_a_dvr_tree_has_one_folder_per_camera_and_consecutive_valid_segments(tmp_path: Path) -> None:
    files = make_dvr_tree(tmp_path, START, {1: "1", 2: "cam2"}, count=3, seconds=60, gap_after=1)
    names = {folder: sorted(p.name for p in (tmp_path / folder).iterdir()) for folder in ("1", "cam2")}
    expected = ["20261120080000.mp4", "20261120080200.mp4", "20261120080300.mp4"]  # 08:01 is the gap
    assert names == {"1": expected, "cam2": expected}
    assert files == [tmp_path / f / n for f in ("1", "cam2") for n in expected]
    assert all(parse_start(name, dt.UTC) is not None for name in expected)
    assert (tmp_path / "1" / expected[0]).read_bytes() == (tmp_path / "cam2" / expected[2]).read_bytes()  # encoded once
    check = await validate_segment(files[0])
    assert check.valid and check.codec == "h264" and check.duration_s == pytest.approx(60, abs=1)


# covers DT-11
async def test_every_file_of_the_invalid_set_fails_for_the_reason_it_claims(tmp_path: Path) -> None:
    expected = make_invalid_set(tmp_path, START)
    assert len(expected) == 6 and (tmp_path / "clip.mp4") in expected
    for path, keyword in expected.items():
        if keyword == "name":
            assert parse_start(path.name, dt.UTC) is None and (await validate_segment(path)).valid
            continue
        check = await validate_segment(path)
        assert check.reason is not None and keyword.lower() in check.reason.lower(), (path.name, check.reason)


# covers DT-10
def test_sidecars_telemetry_and_truncation(tmp_path: Path) -> None:
    segment = make_segment(tmp_path / "1" / stamp_name(START), 60)
    sidecar = write_checksum_sidecar(segment)
    digest = hashlib.sha256(segment.read_bytes()).hexdigest()
    assert sidecar.name == "20261120080000.mp4.sha256"
    assert sidecar.read_text() == f"{digest}  20261120080000.mp4\n"
    samples = [{"t": "2026-11-20T08:00:00", "speed_kmh": 41.5}, {"t": "2026-11-20T08:00:01", "speed_kmh": 42.0}]
    lines = make_telemetry_lines(tmp_path / "telemetry" / stamp_name(START, ".jsonl"), samples)
    assert [json.loads(line) for line in lines.read_text().splitlines()] == samples
    size = segment.stat().st_size
    assert truncate(segment, 0.5).stat().st_size == size // 2
    with pytest.raises(ValueError):
        truncate(segment, 1.0)
