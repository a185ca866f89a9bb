"""Publish the audit log's head (last entry and hash) where the database writer cannot rewrite it.

``guarita run`` logs one INFO line with the head when it starts, once a day, and when it
stops. Ship that log off the machine (journald forwarding, syslog, the daily log archive):
``guarita audit verify --head HASH`` with any head seen there fails if the log was later cut
or rewritten after it, which the chain alone cannot show.

Covers: BH-07, BH-09, PB-03.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3

from guarita import audit
from guarita.link_state import wait_or_stop
from guarita.store import Store

__all__ = ["HEAD_EVERY_S", "log_audit_head", "publish_audit_head"]

log = logging.getLogger(__name__)

HEAD_EVERY_S = 24 * 3600.0


def log_audit_head(store: Store, when: str) -> None:
    """Log the head at INFO: the line an operator keeps off the machine."""
    try:
        seq, digest = audit.head(store.db)
    except sqlite3.Error as exc:
        log.error("cannot read the audit log head %s: %s", when, exc)
        return
    log.info("audit log head %s: entry %d, hash %s (check later with `guarita audit verify --head %s`)",
             when, seq, digest, digest)


async def publish_audit_head(store: Store, stop: asyncio.Event, every_s: float = HEAD_EVERY_S) -> None:
    """Log the head now, every ``every_s`` seconds, and once more when ``stop`` is set."""
    log_audit_head(store, "at start")
    while not stop.is_set():
        await wait_or_stop(stop, every_s)
        log_audit_head(store, "at shutdown" if stop.is_set() else "(daily)")
