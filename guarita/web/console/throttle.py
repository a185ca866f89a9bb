"""Failed console sign-ins, counted per address: past a few in a window, the address waits.

Covers: BH-07.
"""

from __future__ import annotations

from collections import deque

__all__ = ["MAX_FAILURES", "WINDOW_S", "SignInThrottle"]

MAX_FAILURES = 5
WINDOW_S = 300.0
_ADDRESSES_KEPT = 10_000


class SignInThrottle:
    """At most ``MAX_FAILURES`` failed sign-ins per address in any ``WINDOW_S`` seconds."""

    def __init__(self, max_failures: int = MAX_FAILURES, window_s: float = WINDOW_S) -> None:
        self._max = max_failures
        self._window = window_s
        self._failures: dict[str, deque[float]] = {}
        self._announced: dict[str, float] = {}

    def _recent(self, address: str, now: float) -> deque[float]:
        times = self._failures.get(address, deque())
        while times and times[0] <= now - self._window:
            times.popleft()
        return times

    def wait_s(self, address: str, now: float) -> float:
        """Seconds ``address`` must wait before trying again (0 when it may try now)."""
        times = self._recent(address, now)
        if len(times) < self._max:
            return 0.0
        return max(times[0] + self._window - now, 0.0)

    def failed(self, address: str, now: float) -> None:
        """Count one failed sign-in from ``address``."""
        if len(self._failures) >= _ADDRESSES_KEPT and address not in self._failures:
            self._forget_old(now)
        times = self._recent(address, now)
        times.append(now)
        self._failures[address] = times

    def first_refusal(self, address: str, now: float) -> bool:
        """True once per window for a throttled address: the refusal worth an audit entry."""
        last = self._announced.get(address)
        if last is not None and now - last < self._window:
            return False
        self._announced[address] = now
        return True

    def _forget_old(self, now: float) -> None:
        for address in [a for a, t in self._failures.items() if not t or t[-1] <= now - self._window]:
            del self._failures[address]
            self._announced.pop(address, None)
