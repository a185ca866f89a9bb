"""The quarantine stays bounded: a payload prefix per entry, a row cap, an alarm, and a short /healthz.

Real SQLite in ``tmp_path``; the runtime tests build a real ``Runtime`` and feed its bridge
directly, as the Frigate subscriber does.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

from guarita.config import GuaritaConfig
from guarita.metrics import Metrics
from guarita.mqtt import InboundMessage
from guarita.quarantine import Quarantine
from guarita.runtime import Runtime
from guarita.store import DB_FILE, Store

T0 = 1_782_824_400.0
MB = 1_000_000


def _disk_bytes(data_dir: Path) -> int:
    return sum(p.stat().st_size for p in data_dir.glob(f"{DB_FILE}*"))


# covers PB-05, BH-07, DT-21
def test_one_megabyte_garbage_keeps_a_prefix_and_the_table_its_cap(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "data")
    metrics = Metrics()
    quarantine = Quarantine(metrics, keep_bytes=4096, max_rows=100)
    garbage = [os.urandom(16) + b"\xff" * (MB - 16) for _ in range(3)]
    try:
        for n in range(150):
            payload = garbage[n % 3]
            with store.transaction() as db:
                quarantine.add(db, topic="frigate/events", payload=payload, kind="not_json", reason="bad", now=T0 + n)
            quarantine.note("frigate/events", "not_json", "bad")
        rows = store.db.execute("SELECT id, payload_size, payload_sha256, payload FROM quarantine ORDER BY id").fetchall()
        assert len(rows) == 100 and Quarantine.pruned(store.db) == 50
        assert [r[0] for r in rows] == list(range(51, 151)), "the newest are kept"
        last = garbage[149 % 3]
        assert rows[-1][1] == MB and rows[-1][2] == hashlib.sha256(last).hexdigest()
        assert rows[-1][3] == last[:4096], "the prefix, with size and digest of the whole"
        assert metrics.quarantined.get("not_json") == 150
        assert "holds 100 of at most 100 entries (50 oldest pruned)" in (quarantine.warning(store.db) or "")
    finally:
        store.close()
    # 150 MB of garbage in: the store stays a few MB (it grew by 1 MB per message before).
    assert _disk_bytes(tmp_path / "data") < 5 * MB


def _config(tmp_path: Path) -> GuaritaConfig:
    data: dict[str, Any] = {
        "provider": {"id": "acme", "name": "ACME", "kind": "bus_operator"},
        "storage": {"data_dir": str(tmp_path / "data"), "quarantine_max_rows": 100},
        "programs": {"detro": {"uplink": {"host": "127.0.0.1", "port": 18830}}},
        "cameras": {"bus_10234_front": {"programs": ["detro"], "vehicle": "10234"}},
        "web": {"port": 0},
    }
    return GuaritaConfig.model_validate(data, context={"base_dir": tmp_path})


def _metric(text: str, name: str) -> float:
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} not in /metrics"
    return float(match.group(1))


# covers PB-05, BH-07, DT-21
def test_a_crowded_quarantine_alarms_in_healthz_and_metrics(tmp_path: Path) -> None:
    runtime = Runtime(_config(tmp_path), check_frigate=False)
    try:
        garbage = b"{" * MB
        runtime.bridge.process([InboundMessage("frigate/events", garbage, 1, n, False) for n in range(79)])
        health = runtime.health()
        assert health["quarantine"] == {"rows": 79, "max_rows": 100, "pruned": 0}
        assert not any("quarantine" in w for w in health["warnings"])
        runtime.bridge.process([InboundMessage("frigate/events", garbage, 1, n, False) for n in range(30)])
        health = runtime.health()
        assert health["quarantine"] == {"rows": 100, "max_rows": 100, "pruned": 9}
        assert health["status"] == "degraded"
        assert any("the quarantine holds 100 of at most 100 entries" in w for w in health["warnings"]), health
        metrics = runtime.metrics.render()
        assert _metric(metrics, "guarita_quarantine_rows") == 100
        assert _metric(metrics, "guarita_quarantine_pruned_total") == 9
        assert _metric(metrics, 'guarita_events_quarantined_total{kind="oversize"}') == 109
    finally:
        runtime.store.close()
    assert _disk_bytes(tmp_path / "data") < 5 * MB


# covers PB-05, BH-07
def test_frigate_available_is_echoed_in_healthz_only_in_part(tmp_path: Path) -> None:
    runtime = Runtime(_config(tmp_path), check_frigate=False)
    try:
        runtime.bridge.process([InboundMessage("frigate/available", b"online", 1, 1, False)])
        assert runtime.health()["frigate_available"] == "online"
        runtime.bridge.process([InboundMessage("frigate/available", b"A" * MB, 1, 2, False)])
        assert runtime.health()["frigate_available"] == "A" * 32 + "…"
    finally:
        runtime.store.close()
