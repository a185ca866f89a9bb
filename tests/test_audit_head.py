"""The audit log's head is logged at start, daily and at shutdown, and checks the log later."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from guarita import audit
from guarita.audit_head import publish_audit_head
from guarita.cli.main import main
from guarita.store import Store

HEAD_LINE = re.compile(r"audit log head (?P<when>.+?): entry (?P<seq>\d+), hash (?P<hash>[0-9a-f]{64}) ")


@pytest.fixture(autouse=True)
def _undo_cli_logging() -> Iterator[None]:
    """``main()`` replaces the root handlers and level; put them back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def add_entry(store: Store, n: int) -> None:
    with store.transaction() as db:
        audit.append(db, at=1_782_824_400.0 + n, actor="op", action="consent.grant", subject=f"cam{n}", details={})


# covers BH-07, BH-09, PB-03
async def test_the_head_is_logged_at_start_daily_and_at_shutdown(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="guarita.audit_head")
    store = Store.open(tmp_path / "data")
    add_entry(store, 1)
    stop = asyncio.Event()
    task = asyncio.create_task(publish_audit_head(store, stop, every_s=0.05))
    await asyncio.sleep(0.01)
    add_entry(store, 2)
    await asyncio.sleep(0.12)
    add_entry(store, 3)
    stop.set()
    await asyncio.wait_for(task, 2)
    heads = [m.groupdict() for m in map(HEAD_LINE.search, caplog.messages) if m]
    assert heads[0]["when"] == "at start" and heads[0]["seq"] == "1"
    assert "(daily)" in {h["when"] for h in heads[1:-1]}
    assert (heads[-1]["when"], heads[-1]["seq"]) == ("at shutdown", "3")
    assert heads[-1]["hash"] == audit.head(store.db)[1]
    store.close()


# covers BH-07, PB-03
def test_a_logged_head_detects_a_log_rewritten_after_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    config = tmp_path / "guarita.yaml"
    config.write_text("provider: {id: acme, name: ACME, kind: security_company}\nstorage: {data_dir: data}\n")
    store = Store.open(tmp_path / "data")
    for n in (1, 2, 3):
        add_entry(store, n)
    _, published = audit.head(store.db)
    store.db.execute("DELETE FROM audit_log WHERE seq = 3")  # cut after the published head
    store.close()
    assert main(["audit", "verify", "-c", str(config)]) == 0  # the chain alone cannot tell
    capsys.readouterr()
    assert main(["audit", "verify", "-c", str(config), "--head", published]) == 1
    assert "no longer in the chain" in capsys.readouterr().err


# covers BH-07, PB-03
def test_audit_verify_says_where_keying_began_in_an_old_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "guarita.yaml"
    config.write_text("provider: {id: acme, name: ACME, kind: security_company}\nstorage: {data_dir: data}\n")
    store = Store.open(tmp_path / "data")
    prev = audit.GENESIS
    for seq in (1, 2):  # entries from a Guarita that did not key its log yet
        digest = audit.entry_hash(prev, seq, 1.5, "op", "config.load", "acme", "{}")
        store.db.execute("INSERT INTO audit_log VALUES (?, 1.5, 'op', 'config.load', 'acme', '{}', ?, ?)",
                         (seq, prev, digest))
        prev = digest
    add_entry(store, 3)  # the first keyed write: switch-over entry 3, then entry 4
    store.close()
    assert main(["audit", "verify", "-c", str(config)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("4 entries, chain intact, head ")
    assert out[1] == "entries 1-2 unkeyed (before keying), keyed (HMAC-SHA-256) from entry 3"
