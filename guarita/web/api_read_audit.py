"""Audited reads of registry data, coalesced so a flood of reads cannot flood the audit log.

The first read of a route by a token in a clock minute is written at once as ``api.read``
(before the answer goes out, so a read the log cannot record is refused). Further reads of
that route by that token in the same minute are counted, and written as one
``api.read.repeat`` entry carrying the count and the minute when a later read comes in or
the server stops. 5,000 reads in a minute thus make two entries, not 5,000. If the process
is killed, the count of the minute in progress is lost; its first read is already recorded.

Covers: BH-09, PB-03.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from guarita import audit
from guarita.store import Store

__all__ = ["READ_WINDOW_S", "ReadAudit", "ReadKey"]

READ_WINDOW_S = 60


@dataclass(frozen=True)
class ReadKey:
    """Who read what, in which window (``window`` = start of the minute, seconds since the epoch)."""

    actor: str
    role: str
    method: str
    path: str
    window: int


class ReadAudit:
    """The audit entries of API reads, one per token, route and minute plus a count of the rest."""

    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock
        self._repeats: dict[ReadKey, int] = {}

    def record(self, actor: str, role: str, method: str, path: str) -> None:
        """Record one read; raises ``StoreError`` when the log cannot be written."""
        at = self._clock().timestamp()
        window = int(at // READ_WINDOW_S) * READ_WINDOW_S
        self.flush(before=window)
        key = ReadKey(actor, role, method, path, window)
        if key in self._repeats:
            self._repeats[key] += 1
            return
        with self._store.transaction() as db:
            audit.append(db, at=at, actor=actor, action="api.read", subject=path,
                         details={"method": method, "role": role})
        self._repeats[key] = 0

    def flush(self, before: int | None = None) -> None:
        """Write the counts of windows that started before ``before`` (all of them when None)."""
        done = [k for k in self._repeats if before is None or k.window < before]
        if not done:
            return
        counted = [(k, self._repeats[k]) for k in done if self._repeats[k]]
        if counted:
            at = self._clock().timestamp()
            with self._store.transaction() as db:
                for key, count in counted:
                    minute = datetime.fromtimestamp(key.window, UTC).isoformat(timespec="minutes")
                    audit.append(db, at=at, actor=key.actor, action="api.read.repeat", subject=key.path,
                                 details={"method": key.method, "role": key.role, "minute": minute, "count": count})
        for key in done:
            del self._repeats[key]
