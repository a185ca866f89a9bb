"""The durable outbox: real SQLite in ``tmp_path``, a fake clock, and backpressure end to end.

Unit tests drive ``Outbox`` on a real ``Store``; the integration test runs a real ``Runtime``
against real Mosquitto brokers with a tiny disk quota and the uplink down.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from harness import Receiver, lifecycles, running, wait_for, write_config

from guarita.bridge import EventBridge
from guarita.config import GuaritaConfig
from guarita.config_loader import load_config
from guarita.consent.share_gate import EmptyRegistry
from guarita.errors import OutboxFullError
from guarita.metrics import Metrics
from guarita.mqtt import InboundMessage
from guarita.outbox import ROW_OVERHEAD_BYTES, Outbox, OutboxMessage, QuotaLevel
from guarita.plugins import plugins_for
from guarita.quarantine import Quarantine
from guarita.runtime import Runtime
from guarita.standin.frigate_events import tracked_object_lifecycle
from guarita.standin.frigate_mqtt import FrigateMqttStandin
from guarita.standin.mosquitto import MosquittoBroker
from guarita.standin.tls import TestPki
from guarita.store import Store

T0 = 1_782_824_400.0


class FakeClock:
    """Epoch seconds that move only when a test says so."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_outbox(
    store: Store, clock: Callable[[], float], *, quota: int = 1_000_000, warn: float = 0.8, keep: float = 3600.0
) -> Outbox:
    return Outbox(store, quota_bytes=quota, warn_ratio=warn, delivered_keep_s=keep, clock=clock)


def msg(uplink: str, n: int, *, size: int = 40, camera: str = "cam") -> OutboxMessage:
    """A message whose cost is ``size + 3 + 4 + ROW_OVERHEAD_BYTES`` (topic ``t/x``, key ``k000``)."""
    return OutboxMessage(
        uplink=uplink, idem_key=f"k{n:03d}", order_key=camera, topic="t/x", payload=bytes([n % 256]) * size
    )


COST_40 = 40 + 3 + 4 + ROW_OVERHEAD_BYTES


def put(store: Store, outbox: Outbox, *messages: OutboxMessage) -> None:
    """Insert and commit, as the bridge does."""
    with store.transaction() as db:
        outbox.insert(db, list(messages))
    outbox.committed(messages)


def rows(store: Store) -> list[tuple[Any, ...]]:
    return store.db.execute("SELECT id, uplink, idem_key, delivered_at FROM outbox ORDER BY id").fetchall()


# ---- order, holds, idempotency ----------------------------------------------------------------


# covers PB-05, DT-21
def test_pending_is_insertion_order_per_uplink(store: Store, clock: FakeClock) -> None:
    outbox = make_outbox(store, clock)
    put(store, outbox, msg("detro", 1), msg("cop_bh", 2), msg("detro", 3))
    put(store, outbox, msg("cop_bh", 4), msg("detro", 5))
    detro = outbox.pending("detro", 0, 100)
    assert [m.payload[0] for m in detro] == [1, 3, 5]
    assert [m.payload[0] for m in outbox.pending("cop_bh", 0, 100)] == [2, 4]
    assert [m.payload[0] for m in outbox.pending("detro", detro[0].id, 1)] == [3], "after_id and limit"
    assert outbox.pending("detro", detro[-1].id, 100) == []
    assert outbox.pending("nobody", 0, 100) == []
    first = detro[0]
    assert (first.topic, first.qos, first.retain, first.created_at, first.cost) == ("t/x", 1, False, T0, COST_40)
    assert outbox.depth("detro") == 3 and outbox.depth("cop_bh") == 2 and outbox.depth("nobody") == 0
    assert outbox.pending_bytes == 5 * COST_40


# covers PB-05, DT-21
def test_insert_is_invisible_until_committed_and_rolled_back_with_the_transaction(store: Store, clock: FakeClock) -> None:
    outbox = make_outbox(store, clock)
    with pytest.raises(RuntimeError), store.transaction() as db:
        outbox.insert(db, [msg("detro", 1)])
        raise RuntimeError("the bridge failed after inserting")
    assert rows(store) == [] and outbox.depth("detro") == 0 and outbox.pending_bytes == 0
    with store.transaction() as db:
        outbox.insert(db, [msg("detro", 1)])
    assert outbox.depth("detro") == 0, "counts move only on committed()"
    outbox.committed([msg("detro", 1)])
    assert outbox.depth("detro") == 1


# covers PB-05, DT-08
def test_holds_knows_queued_and_delivered_keys_per_uplink(store: Store, clock: FakeClock) -> None:
    outbox = make_outbox(store, clock)
    assert not outbox.holds(store.db, "detro", "k001")
    put(store, outbox, msg("detro", 1))
    assert outbox.holds(store.db, "detro", "k001")
    assert not outbox.holds(store.db, "cop_bh", "k001"), "keys are per uplink"
    outbox.mark_delivered("detro", outbox.pending("detro", 0, 10))
    assert outbox.holds(store.db, "detro", "k001"), "a delivered key is still held until pruned"


# covers PB-05, DT-08
def test_a_duplicate_key_is_refused_by_the_unique_constraint(store: Store, clock: FakeClock) -> None:
    outbox = make_outbox(store, clock)
    put(store, outbox, msg("detro", 1))
    with pytest.raises(sqlite3.IntegrityError), store.transaction() as db:
        outbox.insert(db, [msg("detro", 2), msg("detro", 1)])
    assert [r[2] for r in rows(store)] == ["k001"], "the whole transaction rolled back"
    put(store, outbox, msg("cop_bh", 1))
    assert [(r[1], r[2]) for r in rows(store)] == [("detro", "k001"), ("cop_bh", "k001")]


def _bridge_config(tmp_path: Path, quota_mb: float = 512) -> GuaritaConfig:
    data: dict[str, Any] = {
        "provider": {"id": "acme", "name": "ACME", "kind": "bus_operator"},
        "storage": {"data_dir": str(tmp_path / "data")},
        "programs": {"detro": {"uplink": {"host": "127.0.0.1", "port": 18830}}},
        "cameras": {"bus_10234_front": {"programs": ["detro"], "vehicle": "10234"}},
        "forward": {"update_interval": 0},
        "outbox": {"quota_mb": quota_mb},
        "web": {"port": 0},
    }
    return GuaritaConfig.model_validate(data, context={"base_dir": tmp_path})


def _inbound(message: dict[str, Any], mid: int) -> InboundMessage:
    return InboundMessage("frigate/events", json.dumps(message).encode(), 1, mid, False)


# covers PB-05, DT-08, DT-21
def test_the_bridge_never_queues_a_redelivered_message_twice(tmp_path: Path, store: Store, clock: FakeClock) -> None:
    config = _bridge_config(tmp_path)
    outbox = make_outbox(store, clock, keep=60)
    metrics = Metrics()
    bridge = EventBridge(
        config, store, outbox, Quarantine(metrics), EmptyRegistry(), plugins_for(config), metrics,
        lambda: datetime.fromtimestamp(clock(), UTC),
    )
    new, end = tracked_object_lifecycle("bus_10234_front", "person", T0, updates=0, rng=random.Random(3))
    bridge.process([_inbound(new, 1), _inbound(new, 2)])  # the same message twice in one batch
    bridge.process([_inbound(new, 3)])  # and redelivered after the commit
    assert outbox.depth("detro") == 1 and len(rows(store)) == 1
    assert metrics.skipped.get("duplicate") == 2
    outbox.mark_delivered("detro", outbox.pending("detro", 0, 10))
    bridge.process([_inbound(new, 4)])  # redelivered after it was delivered, within delivered_keep_s
    assert len(rows(store)) == 1 and metrics.skipped.get("duplicate") == 3
    bridge.process([_inbound(end, 5)])
    payloads = [json.loads(m.payload) for m in outbox.pending("detro", 0, 10)]
    assert [(p["type"], p["seq"]) for p in payloads] == [("end", 2)]


# ---- delivery, restart -----------------------------------------------------------------------


# covers PB-05, DT-21
def test_mark_delivered_updates_counts_and_rows(store: Store, clock: FakeClock) -> None:
    outbox = make_outbox(store, clock)
    put(store, outbox, msg("detro", 1), msg("detro", 2), msg("detro", 3), msg("cop_bh", 4))
    first_two = outbox.pending("detro", 0, 2)
    clock.advance(2.5)
    outbox.mark_delivered("detro", first_two)
    assert outbox.depth("detro") == 1 and outbox.depth("cop_bh") == 1
    assert outbox.pending_bytes == 2 * COST_40
    assert outbox.space_freed.is_set()
    assert [r[3] for r in rows(store)] == [T0 + 2.5, T0 + 2.5, None, None]
    assert [m.payload[0] for m in outbox.pending("detro", 0, 10)] == [3]
    outbox.space_freed.clear()
    outbox.mark_delivered("detro", [])
    assert not outbox.space_freed.is_set(), "nothing delivered, nothing freed"


# covers PB-05, DT-21
def test_marking_a_message_delivered_twice_counts_it_once(store: Store, clock: FakeClock) -> None:
    outbox = make_outbox(store, clock)
    put(store, outbox, msg("detro", 1), msg("detro", 2))
    first = outbox.pending("detro", 0, 1)
    outbox.mark_delivered("detro", first)
    outbox.mark_delivered("detro", first)
    assert outbox.depth("detro") == 1
    assert outbox.pending_bytes == COST_40


# covers DT-21, PB-05
def test_a_new_outbox_on_an_existing_store_reloads_its_counts(tmp_path: Path, clock: FakeClock) -> None:
    first_store = Store.open(tmp_path / "data")
    try:
        outbox = make_outbox(first_store, clock, quota=10 * COST_40, warn=0.4)
        put(first_store, outbox, *(msg("detro", n) for n in range(4)), msg("cop_bh", 9, size=100))
        outbox.mark_delivered("detro", outbox.pending("detro", 0, 1))
        depth, size, level = outbox.depth("detro"), outbox.pending_bytes, outbox.level
    finally:
        first_store.close()
    assert (depth, size, level) == (3, 3 * COST_40 + COST_40 + 60, QuotaLevel.WARN)
    reopened = Store.open(tmp_path / "data")
    try:
        again = make_outbox(reopened, clock, quota=10 * COST_40, warn=0.4)
        assert again.depth("detro") == 3 and again.depth("cop_bh") == 1
        assert again.pending_bytes == size
        assert again.level is QuotaLevel.WARN
        assert [m.payload[0] for m in again.pending("detro", 0, 10)] == [1, 2, 3]
        assert sum(m.cost for m in again.pending("detro", 0, 10) + again.pending("cop_bh", 0, 10)) == size
    finally:
        reopened.close()


# ---- quota -------------------------------------------------------------------------------------


# covers PB-05, DT-21
def test_insert_past_the_quota_raises_and_inserts_nothing(store: Store, clock: FakeClock) -> None:
    outbox = make_outbox(store, clock, quota=3 * COST_40)
    put(store, outbox, msg("detro", 1), msg("detro", 2))
    with pytest.raises(OutboxFullError, match="quota"), store.transaction() as db:
        outbox.insert(db, [msg("detro", 3), msg("detro", 4)])
    assert len(rows(store)) == 2 and outbox.depth("detro") == 2 and outbox.pending_bytes == 2 * COST_40
    put(store, outbox, msg("detro", 3))  # exactly up to the quota still fits
    assert outbox.pending_bytes == outbox.quota_bytes and outbox.level is QuotaLevel.FULL
    with pytest.raises(OutboxFullError), store.transaction() as db:
        outbox.insert(db, [msg("detro", 4, size=1)])
    assert len(rows(store)) == 3


def _level_logs(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage().split(" (")[0]) for r in caplog.records if r.name == "guarita.outbox"]


# covers PB-05, DT-21, DT-08
def test_level_goes_ok_warn_full_ok_and_logs_each_change_once(store: Store, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="guarita.outbox")
    outbox = make_outbox(store, clock, quota=5 * COST_40, warn=0.5)  # warn at 2.5 messages
    assert outbox.level is QuotaLevel.OK
    put(store, outbox, msg("detro", 1), msg("detro", 2))
    assert outbox.level is QuotaLevel.OK and _level_logs(caplog) == []
    put(store, outbox, msg("detro", 3))
    assert outbox.level is QuotaLevel.WARN
    put(store, outbox, msg("detro", 4))
    assert outbox.level is QuotaLevel.WARN
    put(store, outbox, msg("detro", 5))
    assert outbox.level is QuotaLevel.FULL
    for n in (6, 7):
        with pytest.raises(OutboxFullError), store.transaction() as db:
            outbox.insert(db, [msg("detro", n)])
    assert outbox.level is QuotaLevel.FULL
    outbox.mark_delivered("detro", outbox.pending("detro", 0, 5))
    assert outbox.level is QuotaLevel.OK and outbox.pending_bytes == 0
    assert _level_logs(caplog) == [
        (logging.WARNING, "outbox nearly full"),
        (logging.ERROR, "outbox full"),
        (logging.INFO, "outbox back under its warning level"),
    ]
    assert "was full" in caplog.records[-1].getMessage()


# covers PB-05, DT-21
def test_a_refused_insert_raises_the_level_to_full_until_space_is_freed(store: Store, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="guarita.outbox")
    outbox = make_outbox(store, clock, quota=4 * COST_40, warn=0.9)
    put(store, outbox, msg("detro", 1), msg("detro", 2))
    with pytest.raises(OutboxFullError), store.transaction() as db:
        outbox.insert(db, [msg("detro", n) for n in (3, 4, 5)])
    assert outbox.level is QuotaLevel.FULL, "the batch that did not fit is the alarm"
    outbox.mark_delivered("detro", outbox.pending("detro", 0, 1))
    assert outbox.level is QuotaLevel.OK
    assert [level for level, _ in _level_logs(caplog)] == [logging.ERROR, logging.INFO]


# covers PB-05, DT-21
def test_prune_forgets_only_delivered_rows_older_than_keep(store: Store, clock: FakeClock) -> None:
    outbox = make_outbox(store, clock, keep=60)
    put(store, outbox, msg("detro", 1), msg("detro", 2), msg("detro", 3))
    one, two, _ = outbox.pending("detro", 0, 10)
    outbox.mark_delivered("detro", [one])
    clock.advance(30)
    outbox.mark_delivered("detro", [two])
    clock.advance(30)
    assert outbox.prune_delivered() == 0, "exactly keep seconds old is kept"
    clock.advance(0.001)
    assert outbox.prune_delivered() == 1
    assert [r[2] for r in rows(store)] == ["k002", "k003"]
    clock.advance(10_000)
    assert outbox.prune_delivered() == 1
    assert [(r[2], r[3]) for r in rows(store)] == [("k003", None)], "undelivered rows are never pruned"
    assert outbox.depth("detro") == 1
    assert not outbox.holds(store.db, "detro", "k001"), "a pruned key may be queued again"


# covers PB-05, DT-02
def test_wake_event_is_set_on_commit_only_for_that_uplink(store: Store, clock: FakeClock) -> None:
    outbox = make_outbox(store, clock)
    detro, cop_bh = outbox.wake_event("detro"), outbox.wake_event("cop_bh")
    assert outbox.wake_event("detro") is detro
    assert not detro.is_set()
    with store.transaction() as db:
        outbox.insert(db, [msg("detro", 1)])
    assert not detro.is_set(), "not before the commit"
    outbox.committed([msg("detro", 1)])
    assert detro.is_set() and not cop_bh.is_set()


# ---- backpressure, end to end -----------------------------------------------------------------

BUS = {"bus_10234_front": {"programs": ["detro"], "vehicle": "10234"}}


def bus_config(tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki, quota_mb: float) -> Path:
    return write_config(
        tmp_path / "guarita.yaml", frigate_broker=frigate_broker, uplink_broker=uplink_broker, pki=pki,
        cameras=BUS, programs=["detro"], update_interval=0,
        extra={"outbox": {"quota_mb": quota_mb, "warn_ratio": 0.5}},
    )




def _metric(text: str, name: str) -> float:
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} not in /metrics"
    return float(match.group(1))


# covers PB-05, DT-08, DT-21
async def test_backpressure_holds_events_at_the_frigate_broker_and_loses_none(
    tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki
) -> None:
    # The quota holds ~550 messages: more than one Frigate-side batch (BATCH_MAX = 500), far
    # fewer than are published. (A quota smaller than one batch: see the test below.)
    quota_mb = 0.3
    config = bus_config(tmp_path, frigate_broker, uplink_broker, pki, quota_mb)
    messages = lifecycles(list(BUS), 300, updates=1)  # 900 messages
    async with Receiver(uplink_broker, pki) as centre, running(config) as runtime:
        uplink_broker.stop()
        await wait_for(lambda: not runtime.health()["links"]["uplink:detro"]["up"])
        async with FrigateMqttStandin("127.0.0.1", frigate_broker.port) as frigate:
            await frigate.publish_many(f"{frigate.prefix}/events", messages)
        await wait_for(lambda: runtime.outbox.level is QuotaLevel.FULL)
        held_depth = runtime.outbox.depth("detro")
        await asyncio.sleep(0.3)
        assert runtime.outbox.depth("detro") == held_depth, "the outbox stopped at its quota"
        assert 0 < held_depth < len(messages)
        assert runtime.outbox.pending_bytes <= runtime.outbox.quota_bytes == int(quota_mb * 1_000_000)
        assert runtime.web_port is not None
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{await runtime.web_port}/healthz") as answer:
                assert answer.status == 503, "a full outbox keeps no new event: /healthz is failing"
                health = await answer.json()
        assert health["status"] == "failing"
        assert health["outbox"]["level"] == "full"
        assert health["outbox"]["depth"] == {"detro": held_depth}
        assert health["quarantined"] == 0
        metrics = runtime.metrics.render()
        assert _metric(metrics, "guarita_outbox_quota_ratio") >= 1, "a refusing outbox reads as full"
        assert _metric(metrics, 'guarita_outbox_depth{uplink="detro"}') == held_depth
        assert runtime.metrics.forwarded.get("detro") == held_depth, "only what fits was counted as queued"
        assert sum(runtime.metrics.quarantined.values.values()) == 0

        uplink_broker.start()
        await centre.wait_until(lambda: len({(e["id"], e["type"]) for e in centre.events()}) >= len(messages), 20)
        await wait_for(lambda: runtime.outbox.depth("detro") == 0 and runtime.outbox.level is QuotaLevel.OK)
        assert runtime.health()["outbox"]["level"] == "ok"
    sent = {(m["after"]["id"], m["type"]) for m in messages}
    assert {(e["id"], e["type"]) for e in centre.events()} == sent, "every event arrived"
    assert runtime.metrics.forwarded.get("detro") == len(messages)
    assert sum(runtime.metrics.skipped.values.values()) == 0, "nothing dropped, throttled or duplicated"
    assert_nothing_quarantined(tmp_path)


# covers PB-05, DT-08, DT-21
async def test_a_quota_smaller_than_one_batch_does_not_wedge_the_bridge(
    tmp_path: Path, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki
) -> None:
    config = bus_config(tmp_path, frigate_broker, uplink_broker, pki, 0.01)  # ~18 messages
    messages = lifecycles(list(BUS), 20, updates=1)  # 60 messages
    async with Receiver(uplink_broker, pki) as centre:
        async with running(config):
            pass  # creates Guarita's persistent session on the Frigate broker
        uplink_broker.stop()
        async with FrigateMqttStandin("127.0.0.1", frigate_broker.port) as frigate:
            await frigate.publish_many(f"{frigate.prefix}/events", messages)  # queued for Guarita
        runtime = Runtime(load_config(config), reconnect_max_s=0.3, check_frigate=False)
        stop = asyncio.Event()
        task = asyncio.create_task(runtime.run(stop))
        try:
            await wait_for(lambda: runtime.outbox.level is QuotaLevel.FULL)
            assert runtime.health()["outbox"]["level"] == "full"
            uplink_broker.start()
            await centre.wait_until(lambda: len({(e["id"], e["type"]) for e in centre.events()}) >= len(messages), 4)
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)
    assert {(e["id"], e["type"]) for e in centre.events()} == {(m["after"]["id"], m["type"]) for m in messages}


# covers PB-05, DT-21
def test_a_full_outbox_shows_in_the_metrics(tmp_path: Path) -> None:
    config = _bridge_config(tmp_path, quota_mb=0.002)  # ~4 messages
    runtime = Runtime(config, check_frigate=False)
    try:
        batch = [
            _inbound(m, i)
            for i, m in enumerate(tracked_object_lifecycle("bus_10234_front", "person", T0, updates=3, rng=random.Random(5)))
        ]
        runtime.bridge.process(batch[:2])
        with pytest.raises(OutboxFullError):
            runtime.bridge.process(batch[2:])
        assert runtime.health()["outbox"]["level"] == "full"
        assert _metric(runtime.metrics.render(), "guarita_outbox_quota_ratio") >= 1
    finally:
        runtime.store.close()


def assert_nothing_quarantined(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "data" / "guarita.db")
    try:
        assert db.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0] == 0
    finally:
        db.close()
