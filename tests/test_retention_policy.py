"""The retention policy: one answer, with reasons, for every kind of footage; the config never lowers it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from guarita.cli.main import main
from guarita.config_loader import load_config
from guarita.retention import (
    Footage,
    FootageKind,
    FootageSource,
    HoldBook,
    LegalHold,
    RetentionError,
    RetentionPolicy,
    TimeWindow,
    archive_hold_check,
)

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
DAY = 86400.0
BUS = FootageSource(vehicle="10234", camera_number=1)


def segment(ended_days_ago: float, kind: FootageKind = FootageKind.ARCHIVE_SEGMENT,
            source: FootageSource = BUS) -> Footage:
    end = NOW.timestamp() - ended_days_ago * DAY
    return Footage(kind, source, end - 60, end)


# covers PB-04, DT-12, DT-06
def test_footage_goes_only_after_its_days_and_never_while_held() -> None:
    policy = RetentionPolicy(archive_days=2)
    fresh, old = segment(1.5), segment(2.5)
    assert not policy.decide(fresh, NOW).may_delete
    assert policy.decide(fresh, NOW).reason == "within the 2-day policy until 2026-11-24T00:00:00+00:00"
    assert policy.decide(old, NOW).may_delete and "past the 2-day policy" in policy.decide(old, NOW).reason
    hold = LegalHold(7, FootageSource(vehicle="10234"), TimeWindow(old.start, old.end), "IP 1", 0.0, "ana")
    held = policy.decide(old, NOW, HoldBook([hold]))
    assert (held.may_delete, held.holds, held.reason) == (False, (7,), "held by legal hold 7")
    assert archive_hold_check(HoldBook([hold]))("10234", 2, old.start, old.end)
    assert not archive_hold_check(HoldBook([hold]))("10235", 1, old.start, old.end)
    released = LegalHold(7, hold.source, hold.window, "IP 1", 0.0, "ana", released_at=1.0, released_by="bruno")
    assert policy.decide(old, NOW, HoldBook([released])).may_delete


# covers PB-04, BH-06
def test_frigate_footage_of_cop_bh_cameras_keeps_seven_days_and_the_cloud_kind_waits_for_its_config() -> None:
    policy = RetentionPolicy()
    camera = FootageSource(camera="portaria")
    assert not policy.decide(segment(6.9, FootageKind.FRIGATE_RECORDING, camera), NOW).may_delete
    assert policy.decide(segment(7.1, FootageKind.FRIGATE_RECORDING, camera), NOW).may_delete
    with pytest.raises(RetentionError, match="keeps no cloud objects"):
        policy.decide(segment(9, FootageKind.CLOUD_OBJECT, camera), NOW)
    with pytest.raises(RetentionError, match="keeps no archive segments"):
        policy.days(FootageKind.ARCHIVE_SEGMENT)
    assert RetentionPolicy(cloud_days=10).days(FootageKind.CLOUD_OBJECT) == 10
    for bad in ({"cop_bh_days": 6}, {"archive_days": 1}, {"cloud_days": 3}):
        with pytest.raises(RetentionError):
            RetentionPolicy(**bad)  # type: ignore[arg-type]


# covers PB-04, BH-06, DT-12
def test_check_config_refuses_fewer_than_seven_cop_bh_days(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "guarita.yaml"
    base = {"provider": {"id": "acme", "name": "ACME", "kind": "security_company"},
            "storage": {"data_dir": str(tmp_path)}}
    path.write_text(json.dumps({**base, "retention": {"cop_bh_days": 10}}))
    assert RetentionPolicy.for_config(load_config(path)).days(FootageKind.FRIGATE_RECORDING) == 10
    path.write_text(json.dumps({**base, "retention": {"cop_bh_days": 6}}))
    assert main(["check-config", "-c", str(path)]) == 1
    assert "retention.cop_bh_days" in capsys.readouterr().err
