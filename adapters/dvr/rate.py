"""A byte-rate cap shared by every DVR transfer (``fleet.bandwidth_mbps``).

A token bucket with a one-second burst: each transfer takes the bytes of a chunk before it
writes it, and waits when the bucket is empty. The garage link keeps room for everything else.

Covers: PB-06.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

__all__ = ["RateLimiter"]


class RateLimiter:
    """At most ``bytes_per_s`` over time, across every caller of ``take``."""

    def __init__(
        self,
        bytes_per_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if bytes_per_s <= 0:
            raise ValueError("bytes_per_s must be positive")
        self._rate = bytes_per_s
        self._burst = bytes_per_s  # one second's worth
        self._tokens = self._burst
        self._clock = clock
        self._stamp = clock()
        self._sleep = sleep
        self._lock = asyncio.Lock()

    @classmethod
    def from_mbps(cls, mbps: float | None) -> RateLimiter | None:
        """The limiter for a config value in megabits per second (None: no cap)."""
        return None if mbps is None else cls(mbps * 1_000_000 / 8)

    async def take(self, count: int) -> None:
        """Wait until ``count`` bytes may pass."""
        async with self._lock:  # first come, first served
            now = self._clock()
            self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
            self._stamp = now
            self._tokens -= count
            if self._tokens < 0:
                await self._sleep(-self._tokens / self._rate)
