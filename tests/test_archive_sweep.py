"""The DVR archive sweep: past ``fleet.archive_days`` footage goes, index first; held footage stays."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from guarita import audit
from guarita.adapters.dvr.archive import segment_path
from guarita.cli.main import main
from guarita.retention.archive_sweep import sweep_archive
from guarita.store import Store

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
DAY = 86400.0


def seed(data_dir: Path, starts: list[float], *, camera: int = 1, vehicle: str = "10234") -> list[Path]:
    """Index rows and small files for 60 s segments starting at ``starts`` (epoch s)."""
    store = Store.open(data_dir)
    paths = []
    with store.transaction() as db:
        for start in starts:
            name = dt.datetime.fromtimestamp(start, dt.UTC).strftime("%Y%m%d%H%M%S.mp4")
            path = segment_path(data_dir, vehicle, camera, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"x" * 100)
            paths.append(path)
            db.execute(
                "INSERT INTO dvr_segments VALUES (?, ?, ?, ?, 60, 100, 'h', ?)", (vehicle, camera, name, start, start)
            )
    store.close()
    return paths


# covers DT-12, DT-06
def test_segments_that_ended_before_the_cutoff_go_and_the_rest_stay(tmp_path: Path) -> None:
    cutoff = NOW.timestamp() - 7 * DAY
    starts = [cutoff - 3 * 3600, cutoff - 120, cutoff - 30, cutoff + 60, NOW.timestamp() - 3600]
    paths = seed(tmp_path, starts)
    store = Store.open(tmp_path)
    report = sweep_archive(store, tmp_path, now=NOW, archive_days=7)
    assert (report.segments, report.bytes, report.held) == (2, 200, 0)
    # The one that started before the cutoff but ended after it is kept: it holds footage within the 7 days.
    assert [p.exists() for p in paths] == [False, False, True, True, True]
    assert store.db.execute("SELECT COUNT(*) FROM dvr_segments").fetchone() == (3,)
    assert store.db.execute("SELECT COUNT(*) FROM dvr_deletions").fetchone() == (0,)
    assert report.oldest_kept == starts[2]
    entries = store.db.execute("SELECT action, details FROM audit_log").fetchall()
    assert entries[-1][0] == "retention.sweep" and json.loads(entries[-1][1])["deleted_segments"] == 2
    assert audit.verify(store.db)[1] is None
    store.close()


# covers DT-12
def test_a_dry_run_counts_and_changes_nothing_and_held_footage_stays(tmp_path: Path) -> None:
    old = NOW.timestamp() - 10 * DAY
    paths = seed(tmp_path, [old, old + 60, old + 120])
    store = Store.open(tmp_path)
    dry = sweep_archive(store, tmp_path, now=NOW, archive_days=7, dry_run=True)
    assert (dry.segments, dry.dry_run) == (3, True) and all(p.exists() for p in paths)
    held = sweep_archive(store, tmp_path, now=NOW, archive_days=7, is_held=lambda v, c, s, e: s == old + 60)
    assert (held.segments, held.held) == (2, 1)
    assert [p.exists() for p in paths] == [False, True, False]
    with pytest.raises(ValueError, match="DT-12"):
        sweep_archive(store, tmp_path, now=NOW, archive_days=1)
    store.close()


# covers DT-12
def test_an_interrupted_sweep_is_finished_by_the_next(tmp_path: Path) -> None:
    (path,) = seed(tmp_path, [NOW.timestamp() - DAY])
    store = Store.open(tmp_path)
    with store.transaction() as db:  # a sweep that died after its index transaction
        db.execute("DELETE FROM dvr_segments")
        db.execute("INSERT INTO dvr_deletions VALUES (?, 0)", (str(path),))
    report = sweep_archive(store, tmp_path, now=NOW, archive_days=7)
    assert not path.exists() and report.segments == 0
    assert store.db.execute("SELECT COUNT(*) FROM dvr_deletions").fetchone() == (0,)
    store.close()


# covers DT-12, DT-21
def test_positions_past_the_policy_go_with_the_footage(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    with store.transaction() as db:
        for ts in (NOW.timestamp() - 8 * DAY, NOW.timestamp() - DAY):
            db.execute("INSERT INTO vehicle_positions (vehicle, ts, lat, lon) VALUES ('10234', ?, -22.9, -43.2)", (ts,))
    report = sweep_archive(store, tmp_path, now=NOW, archive_days=7)
    assert report.positions == 1
    assert store.db.execute("SELECT COUNT(*) FROM vehicle_positions").fetchone() == (1,)
    store.close()


# covers DT-12
def test_retention_sweep_command_with_now_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    seed(data, [NOW.timestamp() - 3 * DAY, NOW.timestamp() - DAY])
    config = tmp_path / "g.yaml"
    config.write_text(json.dumps({
        "provider": {"id": "acme", "name": "ACME", "kind": "bus_operator"},
        "storage": {"data_dir": str(data)},
        "fleet": {"archive_days": 2, "vehicles": {}},
    }))
    assert main(["retention", "sweep", "-c", str(config), "--now", "2026-11-23T09:00:00-03:00", "--dry-run",
                 "--json"]) == 0
    document = json.loads(capsys.readouterr().out)["archive"]
    assert (document["deleted_segments"], document["dry_run"]) == (1, True)
    assert document["cutoff"] == "2026-11-21T12:00:00+00:00"
    assert main(["retention", "sweep", "-c", str(config), "--now", "2026-11-23T09:00:00-03:00"]) == 0
    assert "deleted 1 segments" in capsys.readouterr().out
    assert main(["retention", "sweep", "-c", str(config), "--now", "yesterday"]) == 1
    assert "--now 'yesterday' is not an ISO 8601" in capsys.readouterr().err


# covers DT-12, PB-04, DT-06
def test_the_hourly_sweep_of_guarita_run_keeps_held_footage(tmp_path: Path) -> None:
    from guarita.retention import FootageSource, TimeWindow, add_hold
    from guarita.runtime import sweep_archive_with_holds

    old = NOW.timestamp() - 10 * DAY
    paths = seed(tmp_path, [old, old + 600])
    store = Store.open(tmp_path)
    add_hold(store, FootageSource(vehicle="10234", camera_number=1), TimeWindow(old + 590, old + 700),
             ref="IP 1/2026", by="ana", at=NOW.timestamp())
    store.close()
    sweep_archive_with_holds(tmp_path, NOW, 7)  # on its own connection, as in a worker thread
    assert [p.exists() for p in paths] == [False, True]
