"""Dead letters: one message an uplink cannot deliver is set aside and the rest go on.

Unit tests drive ``Outbox`` on a real store; the end-to-end tests run a real ``Runtime``
against real Mosquitto uplinks configured to refuse large packets (``max_packet_size``,
``message_size_limit``) or a topic (ACL), over MQTT 5 and 3.1.1.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import UPLINK_ACL
from harness import Receiver, lifecycles, running, wait_for, write_config

from guarita.cli.main import main
from guarita.errors import OutboxFullError
from guarita.metrics import Metrics
from guarita.outbox import Outbox, OutboxMessage
from guarita.runtime import Runtime
from guarita.standin.broker_fleet import BrokerFleet
from guarita.standin.frigate_mqtt import FrigateMqttStandin
from guarita.standin.mosquitto import MosquittoBroker
from guarita.standin.tls import TestPki
from guarita.store import Store

T0 = 1_782_824_400.0


def message(n: int, size: int, uplink: str = "detro") -> OutboxMessage:
    return OutboxMessage(uplink=uplink, idem_key=f"k{n}", order_key="cam", topic=f"t/{n}", payload=b"x" * size)


def put(store: Store, outbox: Outbox, *messages: OutboxMessage) -> None:
    with store.transaction() as db:
        outbox.insert(db, messages)
    outbox.committed(messages)


# covers PB-05, DT-02
def test_a_message_over_the_size_cap_is_set_aside_at_enqueue_and_the_next_is_queued(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = Metrics()
    outbox = Outbox(store, quota_bytes=10**8, warn_ratio=0.8, delivered_keep_s=60, clock=lambda: T0,
                    max_message_bytes=10_000, on_dead_letter=lambda u, k: metrics.dead_lettered.inc(u, k))
    report = message(1, 14_600_000)
    with caplog.at_level(logging.ERROR, "guarita.outbox"):
        put(store, outbox, report, message(2, 100))
    assert [m.topic for m in outbox.pending("detro", 0, 10)] == ["t/2"]
    assert outbox.depth("detro") == 1
    [letter] = outbox.dead_letters()
    assert (letter.topic, letter.size, letter.uplink) == ("t/1", 14_600_000, "detro")
    assert letter.payload == report.payload[:10_000] and not letter.whole, "only a prefix is kept"
    assert letter.sha256 == hashlib.sha256(report.payload).hexdigest()
    assert "14600000 bytes > outbox.max_message_bytes of 10000" in letter.reason
    assert outbox.pending_bytes == message(2, 100).cost + report.cost - 14_600_000 + 10_000, "on the quota"
    with pytest.raises(ValueError, match="kept only in part"):
        outbox.requeue(letter.id, by="ana")
    assert metrics.dead_lettered.get("detro", "too_large") == 1
    assert [r.levelno for r in caplog.records] == [logging.ERROR] and "t/1" in caplog.text
    with store.transaction() as db:
        assert outbox.holds(db, "detro", "k1"), "a redelivered copy is not set aside twice"


# covers PB-05, DT-02, DT-21
def test_dead_letters_count_against_the_quota_so_a_broker_refusing_everything_cannot_fill_the_disk(
    store: Store,
) -> None:
    cost = message(1, 1000).cost
    outbox = Outbox(store, quota_bytes=3 * cost, warn_ratio=0.5, delivered_keep_s=60, clock=lambda: T0)
    put(store, outbox, message(1, 1000), message(2, 1000), message(3, 1000))
    for pending in outbox.pending("detro", 0, 10):
        outbox.dead_letter("detro", pending, "refused", "Not authorized")
    assert outbox.depth("detro") == 0 and outbox.level.value == "full"
    with pytest.raises(OutboxFullError):
        put(store, outbox, message(4, 1000))
    outbox.discard(outbox.dead_letters()[0].id, by="ana")
    put(store, outbox, message(4, 1000))
    assert outbox.depth("detro") == 1


# covers PB-05, DT-02
def test_dead_letter_moves_a_queued_message_out_and_requeue_and_discard_take_it_back(store: Store) -> None:
    outbox = Outbox(store, quota_bytes=10**8, warn_ratio=0.8, delivered_keep_s=60, clock=lambda: T0)
    put(store, outbox, message(1, 100), message(2, 100), message(3, 100))
    first, second, third = outbox.pending("detro", 0, 10)
    before = outbox.pending_bytes
    outbox.dead_letter("detro", second, "refused", "127.0.0.1:8883 refused publish: Not authorized")
    assert [m.topic for m in outbox.pending("detro", 0, 10)] == ["t/1", "t/3"]
    assert outbox.depth("detro") == 2 and outbox.pending_bytes == before, "a dead letter stays on the quota"
    [letter] = outbox.dead_letters("detro")
    assert letter.reason == "refused: 127.0.0.1:8883 refused publish: Not authorized"
    assert outbox.dead_letter_count() == 1
    outbox.requeue(letter.id, by="ana")
    assert [m.topic for m in outbox.pending("detro", 0, 10)] == ["t/1", "t/3", "t/2"], "back, at the end"
    assert outbox.depth("detro") == 3 and outbox.dead_letter_count() == 0
    outbox.dead_letter("detro", outbox.pending("detro", third.id, 1)[0], "poison", "dropped 3 times")
    # Another process (the CLI) discards it: this outbox's counts catch up on reload.
    cli_view = Outbox(store, quota_bytes=10**8, warn_ratio=0.8, delivered_keep_s=60, clock=lambda: T0)
    cli_view.discard(outbox.dead_letters()[0].id, by="ana")
    assert cli_view.pending_bytes == before - second.cost
    assert outbox.dead_letter_count() == 0 and [m.topic for m in outbox.pending("detro", 0, 10)] == ["t/1", "t/3"]
    outbox.reload_counts()
    assert outbox.pending_bytes == before - second.cost and outbox.depth("detro") == 2
    with pytest.raises(KeyError):
        outbox.requeue(999, by="ana")


# ---- end to end ----------------------------------------------------------------------------

BUS = {"bus_10234_front": {"programs": ["detro"], "vehicle": "10234"}}
BIG = 200_000  # bytes: over the uplinks' 100 kB limit below, under outbox.max_message_bytes


def limited_uplink(brokers: BrokerFleet, pki: TestPki, name: str, *limits: str) -> MosquittoBroker:
    users = {"acme": secrets.token_urlsafe(16), "receiver": secrets.token_urlsafe(16)}
    broker = MosquittoBroker(brokers.workdir(name), tls=pki, users=users, acl=UPLINK_ACL, extra_config=limits)
    return brokers.start(broker)


def config_for(tmp_path: Path, frigate_broker: MosquittoBroker, uplink: MosquittoBroker, pki: TestPki, protocol: str) -> Path:
    path = write_config(
        tmp_path / "guarita.yaml", frigate_broker=frigate_broker, uplink_broker=uplink, pki=pki,
        cameras=BUS, programs=["detro"], update_interval=0,
    )
    data = yaml.safe_load(path.read_text())
    data["programs"]["detro"]["uplink"]["protocol"] = protocol
    data["outbox"] = {"max_message_bytes": 1_000_000}
    path.write_text(yaml.safe_dump(data))
    return path


def queue_directly(runtime: Runtime, topic: str, size: int) -> None:
    """A message Guarita generated itself (a report, say), queued ahead of the Frigate events."""
    big = OutboxMessage(uplink="detro", idem_key=f"big:{topic}", order_key="report", topic=topic,
                        payload=json.dumps({"names": "x" * size}).encode())
    with runtime.store.transaction() as db:
        runtime.outbox.insert(db, [big])
    runtime.outbox.committed([big])


def _metric(text: str, pattern: str) -> float:
    match = re.search(rf"^{pattern} (\S+)$", text, re.MULTILINE)
    assert match, f"{pattern} not in /metrics"
    return float(match.group(1))


async def _one_set_aside_rest_delivered(
    runtime: Runtime, centre: Any, frigate_broker: MosquittoBroker, topic: str, kind: str
) -> None:
    queue_directly(runtime, topic, BIG)
    events = lifecycles(list(BUS), 10, updates=1)
    async with FrigateMqttStandin("127.0.0.1", frigate_broker.port) as frigate:
        await frigate.publish_many(f"{frigate.prefix}/events", events)
    sent = {(m["after"]["id"], m["type"]) for m in events}
    await centre.wait_until(lambda: {(e["id"], e["type"]) for e in centre.events()} >= sent, 20)
    await wait_for(lambda: runtime.outbox.depth("detro") == 0)
    [letter] = runtime.outbox.dead_letters()
    assert letter.topic == topic and letter.reason.startswith(kind), letter.reason
    health = runtime.health()
    assert health["status"] == "degraded" and health["outbox"]["dead_letters"] == 1
    assert any("dead letters" in w and "guarita outbox dead-letters" in w for w in health["warnings"])
    metrics = runtime.metrics.render()
    assert _metric(metrics, f'guarita_messages_dead_lettered_total{{uplink="detro",kind="{kind}"}}') == 1
    assert _metric(metrics, "guarita_dead_letters") == 1


# covers PB-05, DT-02, DT-06
@pytest.mark.parametrize(("protocol", "limit", "kind"), [
    ("5", "max_packet_size 100000", "too_large"),  # MQTT 5: the broker announces its limit in CONNACK
    ("3.1.1", "max_packet_size 100000", "poison"),  # MQTT 3.1.1: it only drops the link
    ("5", "message_size_limit 100000", "poison"),  # Mosquitto 2.0 drops an MQTT 5 link on it too
])
async def test_a_message_the_broker_will_not_take_is_set_aside_and_the_rest_delivered(
    tmp_path: Path, brokers: BrokerFleet, frigate_broker: MosquittoBroker, pki: TestPki, protocol: str, limit: str,
    kind: str,
) -> None:
    uplink = limited_uplink(brokers, pki, "limited", limit)
    config = config_for(tmp_path, frigate_broker, uplink, pki, protocol)
    async with Receiver(uplink, pki) as centre, running(config) as runtime:
        await _one_set_aside_rest_delivered(runtime, centre, frigate_broker, "detro/v1/acme/report", kind)


# covers PB-05, DT-02
async def test_a_publish_refused_with_a_reason_code_is_set_aside_at_once(
    tmp_path: Path, brokers: BrokerFleet, frigate_broker: MosquittoBroker, pki: TestPki
) -> None:
    uplink = limited_uplink(brokers, pki, "acl")
    config = config_for(tmp_path, frigate_broker, uplink, pki, "5")
    async with Receiver(uplink, pki) as centre, running(config) as runtime:
        # Outside acme's ACL: Mosquitto answers the MQTT 5 PUBACK with 0x87 not authorised.
        await _one_set_aside_rest_delivered(runtime, centre, frigate_broker, "elsewhere/report", "refused")
        assert runtime.metrics.refused.get("detro") == 1


# covers PB-05, DT-02, DT-06
def test_the_cli_lists_shows_requeues_and_discards_dead_letters(tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    config = tmp_path / "guarita.yaml"
    config.write_text(
        "provider: {id: acme, name: ACME, kind: security_company}\n"
        f"storage: {{data_dir: {tmp_path / 'data'}}}\n"
        "frigate: {url: 'http://127.0.0.1:9', mqtt: {host: 127.0.0.1, port: 9}}\n"
        "outbox: {max_message_bytes: 1024}\n"
        "cameras: {}\n"
    )
    store = Store.open(tmp_path / "data")
    outbox = Outbox(store, quota_bytes=10**8, warn_ratio=0.8, delivered_keep_s=60, clock=lambda: T0, max_message_bytes=1024)
    report = b'{"bad_names": ["' + b"x" * 5000 + b'"]}'
    put(store, outbox, OutboxMessage("detro", "r1", "report", "detro/v1/acme/dvr/report", report), message(2, 10))
    outbox.dead_letter("detro", outbox.pending("detro", 0, 1)[0], "refused", "127.0.0.1:8883 refused publish: Not authorized")
    store.close()

    def cli(*args: str) -> tuple[int, bytes, str]:
        code = main([*args, "-c", str(config)])
        out, err = capsysbinary.readouterr()
        return code, out, err.decode()

    code, out, _ = cli("outbox", "dead-letters", "--json")
    assert code == 0
    too_large, refused = json.loads(out)["dead_letters"]
    assert too_large["uplink"] == "detro" and too_large["topic"] == "detro/v1/acme/dvr/report"
    assert (too_large["bytes"], too_large["kept_bytes"]) == (len(report), 1024)
    assert too_large["sha256"] == hashlib.sha256(report).hexdigest()
    assert too_large["reason"].startswith("too_large: ") and too_large["preview"].startswith('{"bad_names": ["xxx')
    assert refused["topic"] == "t/2" and refused["reason"] == "refused: 127.0.0.1:8883 refused publish: Not authorized"
    code, out, _ = cli("outbox", "dead-letters")
    assert code == 0 and b"2 dead letter(s)" in out and b"detro/v1/acme/dvr/report  5019 bytes (first 1024 kept)" in out
    code, out, _ = cli("outbox", "show", str(too_large["id"]))
    assert code == 0 and out == report[:1024], "the bytes kept, as queued"
    code, _, err = cli("outbox", "requeue", "99", "--by", "ana")
    assert code == 1 and "no dead letter has id 99" in err
    code, _, err = cli("outbox", "requeue", str(too_large["id"]), "--by", "ana")
    assert code == 1 and "kept only in part (1024 of 5019 bytes) and cannot be sent again" in err
    code, out, _ = cli("outbox", "requeue", str(refused["id"]), "--by", "ana")
    assert code == 0 and b"queued again" in out
    code, out, _ = cli("outbox", "discard", str(too_large["id"]), "--by", "ana")
    assert code == 0 and b"discarded" in out
    store = Store.open(tmp_path / "data")
    try:
        topics = [row[0] for row in store.db.execute("SELECT topic FROM outbox WHERE delivered_at IS NULL ORDER BY id")]
        assert topics == ["t/2"]
        actions = [row[0] for row in store.db.execute("SELECT action FROM audit_log ORDER BY seq")]
        assert actions == ["outbox.requeue", "outbox.discard"]
    finally:
        store.close()
    code, out, _ = cli("outbox", "dead-letters", "--json")
    assert json.loads(out) == {"dead_letters": []}
