"""A full disk under ``data_dir``: a small tmpfs mounted for the test, filled with a ballast file.

Guarita must say which disk is full, keep running with new messages left on Frigate's
broker (unacknowledged), show the state in /healthz, and carry on with nothing lost once
space returns. Mounting needs root; elsewhere these tests are skipped.
"""

from __future__ import annotations

import asyncio
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from harness import Receiver, lifecycles, running, wait_for, write_config

from guarita.cli.main import main
from guarita.errors import StoreFullError
from guarita.runtime import Runtime
from guarita.standin.frigate_mqtt import FrigateMqttStandin
from guarita.standin.mosquitto import MosquittoBroker
from guarita.standin.tls import TestPki
from guarita.store import Store


class SmallDisk:
    """A tmpfs of ``size_mb`` at ``path``; ``fill`` leaves no free byte, ``free`` removes the ballast."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.ballast = path / "ballast"

    def fill(self) -> None:
        with self.ballast.open("ab", buffering=0) as out:
            for chunk in (b"\0" * 65536, b"\0"):  # then single bytes, so not even a page is left
                try:
                    while True:
                        out.write(chunk)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc
        assert os.statvfs(self.path).f_bavail == 0

    def free(self, nbytes: int | None = None) -> None:
        """Remove the ballast, or only its last ``nbytes``."""
        if nbytes is None:
            self.ballast.unlink()
        else:
            os.truncate(self.ballast, self.ballast.stat().st_size - nbytes)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], check=True)
    try:
        yield SmallDisk(mount)
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _insert(store: Store, size: int) -> None:
    with store.transaction() as db:
        db.execute(
            "INSERT INTO quarantine (received_at, topic, kind, reason, payload_sha256, payload_size, payload) "
            "VALUES (0, 't', 'test', 'test', '', ?, ?)",
            (size, os.urandom(size)),
        )


# covers PB-05, DT-21
def test_a_full_disk_raises_what_is_full_not_a_rollback_error_and_recovers(small_disk: SmallDisk) -> None:
    store = Store.open(small_disk.path / "data")
    try:
        _insert(store, 1000)
        small_disk.fill()
        with pytest.raises(StoreFullError) as caught:
            _insert(store, 500_000)
        message = str(caught.value)
        assert f"the disk holding {small_disk.path / 'data'} is full" in message
        assert "cannot rollback" not in message
        assert store.full == message, "the state /healthz reports"
        assert not store.db.in_transaction
        small_disk.free()
        _insert(store, 500_000)
        assert store.full is None, "a successful commit clears the state"
        assert store.db.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0] == 2
    finally:
        store.close()


BUS = {"bus_10234_front": {"programs": ["detro"], "vehicle": "10234"}}


def _config(tmp_path: Path, disk: SmallDisk, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki) -> Path:
    return write_config(
        tmp_path / "guarita.yaml", frigate_broker=frigate_broker, uplink_broker=uplink_broker, pki=pki,
        cameras=BUS, programs=["detro"], update_interval=0,
        extra={"storage": {"data_dir": str(disk.path / "data")}},
    )


def _ids(messages: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(m["after"]["id"], m["type"]) for m in messages}


async def _publish(frigate_broker: MosquittoBroker, messages: list[dict[str, Any]]) -> None:
    async with FrigateMqttStandin("127.0.0.1", frigate_broker.port) as frigate:
        await frigate.publish_many(f"{frigate.prefix}/events", messages)


async def _full_then_freed(runtime: Runtime, disk: SmallDisk, centre: Any, sent: set[tuple[str, str]]) -> None:
    """Asserts the degraded state while the disk is full, then that everything arrives once freed."""
    await wait_for(lambda: runtime.store.full is not None)
    health = runtime.health()
    assert health["status"] == "failing", "no new event can be kept: /healthz answers 503"
    assert health["store"]["writable"] is False
    assert any(f"the disk holding {disk.path / 'data'} is full" in w for w in health["warnings"]), health
    await asyncio.sleep(1.5)  # a few retries on the still-full disk: the process stays up
    assert runtime.store.full is not None
    assert not {(e["id"], e["type"]) for e in centre.events()} >= sent, "not everything got through a full disk"
    disk.free()
    await centre.wait_until(lambda: {(e["id"], e["type"]) for e in centre.events()} >= sent, 20)
    await wait_for(lambda: runtime.health()["status"] == "ok")
    assert runtime.health()["store"]["writable"] is True


# covers PB-05, DT-02, DT-21
@pytest.mark.slow
async def test_a_full_disk_holds_events_at_frigate_keeps_running_and_loses_none(
    tmp_path: Path, small_disk: SmallDisk, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki
) -> None:
    config = _config(tmp_path, small_disk, frigate_broker, uplink_broker, pki)
    before = lifecycles(list(BUS), 5, updates=1, seed=1)
    during = lifecycles(list(BUS), 400, updates=1, seed=2)  # 1,200 messages: more than the WAL's slack
    async with Receiver(uplink_broker, pki) as centre, running(config) as runtime:
        await _publish(frigate_broker, before)
        await centre.wait_until(lambda: {(e["id"], e["type"]) for e in centre.events()} >= _ids(before), 10)
        runtime.store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # no slack left in the WAL file
        small_disk.fill()
        await _publish(frigate_broker, during)
        await _full_then_freed(runtime, small_disk, centre, _ids(during))


# covers PB-05, DT-21
@pytest.mark.slow
async def test_guarita_starts_degraded_on_a_nearly_full_disk_and_recovers(
    tmp_path: Path, small_disk: SmallDisk, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki
) -> None:
    config = _config(tmp_path, small_disk, frigate_broker, uplink_broker, pki)
    async with running(config):
        pass  # the store exists and Guarita's session on Frigate's broker too
    small_disk.fill()
    small_disk.free(128 * 1024)  # room to open the database (its shared-memory file), not to work
    messages = lifecycles(list(BUS), 400, updates=1, seed=3)
    await _publish(frigate_broker, messages)  # queued at the broker for Guarita
    async with Receiver(uplink_broker, pki) as centre, running(config) as runtime:
        await _full_then_freed(runtime, small_disk, centre, _ids(messages))


# covers PB-05, DT-21
def test_guarita_run_on_a_disk_too_full_to_open_the_store_names_it(
    tmp_path: Path, small_disk: SmallDisk, capsys: pytest.CaptureFixture[str]
) -> None:
    store = Store.open(small_disk.path / "data")
    store.close()
    small_disk.fill()
    config = tmp_path / "guarita.yaml"
    config.write_text(
        "provider: {id: acme, name: ACME, kind: security_company}\n"
        f"storage: {{data_dir: {small_disk.path / 'data'}}}\n"
        "frigate: {url: 'http://127.0.0.1:9', mqtt: {host: 127.0.0.1, port: 9}}\n"
        "cameras: {}\n"
    )
    assert main(["run", "-c", str(config)]) == 1
    error = capsys.readouterr().err
    assert f"the disk holding {small_disk.path / 'data'} is full" in error
    assert "free space on that disk" in error


# covers PB-05, DT-02, DT-21
@pytest.mark.slow
async def test_delivery_marks_that_cannot_be_written_wait_and_nothing_is_lost(
    tmp_path: Path, small_disk: SmallDisk, frigate_broker: MosquittoBroker, uplink_broker: MosquittoBroker, pki: TestPki
) -> None:
    config = _config(tmp_path, small_disk, frigate_broker, uplink_broker, pki)
    messages = lifecycles(list(BUS), 300, updates=1, seed=4)
    async with Receiver(uplink_broker, pki) as centre, running(config) as runtime:
        uplink_broker.stop()
        await wait_for(lambda: not runtime.health()["links"]["uplink:detro"]["up"])
        await _publish(frigate_broker, messages)
        await wait_for(lambda: runtime.outbox.depth("detro") == len(messages))
        runtime.store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        small_disk.fill()
        uplink_broker.start()
        # The centre gets everything; the PUBACKs cannot be recorded while the disk is full.
        await centre.wait_until(lambda: {(e["id"], e["type"]) for e in centre.events()} >= _ids(messages), 20)
        await wait_for(lambda: runtime.store.full is not None)
        await asyncio.sleep(1.5)
        assert runtime.outbox.depth("detro") == len(messages), "not marked delivered yet, so not forgotten"
        assert runtime.health()["links"]["uplink:detro"]["up"], "the uplink carries on"
        small_disk.free()
        await wait_for(lambda: runtime.outbox.depth("detro") == 0)
        await wait_for(lambda: runtime.health()["status"] == "ok")
