"""A full disk under ``data_dir``: a small tmpfs mounted for the test, filled with a ballast file.

Guarita must say which disk is full, keep running with new messages left on Frigate's
broker (unacknowledged), show the state in /healthz, and carry on with nothing lost once
space returns. Mounting needs root; elsewhere these tests are skipped.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from guarita.errors import StoreFullError
from guarita.store import Store


class SmallDisk:
    """A tmpfs of ``size_mb`` at ``path``; ``fill`` leaves no free byte, ``free`` removes the ballast."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.ballast = path / "ballast"

    def fill(self) -> None:
        chunk = b"\0" * 65536
        with self.ballast.open("ab") as out:
            try:
                while True:
                    out.write(chunk)
                    out.flush()
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
        # Finish with single bytes so not even a page is left.
        with self.ballast.open("ab", buffering=0) as out:
            try:
                while True:
                    out.write(b"\0")
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
        assert os.statvfs(self.path).f_bavail == 0

    def free(self) -> None:
        self.ballast.unlink()


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
