"""Failed console sign-ins, counted per address: past a few in a window, the address waits.

The counting is ``guarita.web.protection.AddressWindow``, the window the homeowner pages'
rate limit uses too.

Covers: BH-07.
"""

from __future__ import annotations

from guarita.web.protection import ADDRESSES_KEPT, AddressWindow

__all__ = ["MAX_FAILURES", "WINDOW_S", "SignInThrottle"]

MAX_FAILURES = 5
WINDOW_S = 300.0


class SignInThrottle:
    """At most ``MAX_FAILURES`` failed sign-ins per address in any ``WINDOW_S`` seconds."""

    def __init__(self, max_failures: int = MAX_FAILURES, window_s: float = WINDOW_S) -> None:
        self._failures = AddressWindow(max_failures, window_s)
        self._window = window_s
        self._announced: dict[str, float] = {}

    def wait_s(self, address: str, now: float) -> float:
        """Seconds ``address`` must wait before trying again (0 when it may try now)."""
        return self._failures.wait_s(address, now)

    def failed(self, address: str, now: float) -> None:
        """Count one failed sign-in from ``address``."""
        self._failures.count(address, now)

    def first_refusal(self, address: str, now: float) -> bool:
        """True once per window for a throttled address: the refusal worth an audit entry."""
        last = self._announced.get(address)
        if last is not None and now - last < self._window:
            return False
        if len(self._announced) >= ADDRESSES_KEPT:
            self._announced = {a: t for a, t in self._announced.items() if now - t < self._window}
        self._announced[address] = now
        return True
