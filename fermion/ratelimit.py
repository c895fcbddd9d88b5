"""Token buckets: ``rate`` requests per second per key, with a burst, in this process."""

from __future__ import annotations

import math
import threading
from collections.abc import Hashable

from fermion.clock import Clock
from fermion.errors import RateLimited


class TokenBuckets:
    """One token bucket per key; a rate of 0 disables the limit."""

    def __init__(self, rate: float, burst: float, clock: Clock, *, limit: str, what: str) -> None:
        self._rate = rate
        self._burst = float(burst or max(1, math.ceil(rate)))
        self._clock = clock
        self._limit = limit
        self._what = what
        self._buckets: dict[Hashable, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def take(self, key: Hashable, cost: int = 1) -> int:
        """Spend ``cost`` tokens of ``key``, or raise RateLimited; returns the bucket share in use (%)."""
        if self._rate <= 0:
            return 0
        now = self._clock.now_ms()
        with self._lock:
            tokens, last = self._buckets.get(key, (self._burst, now))
            tokens = min(self._burst, tokens + (now - last) / 1000.0 * self._rate)
            if tokens < cost:
                self._buckets[key] = (tokens, now)
                wait = max(1, math.ceil((cost - tokens) / self._rate))
                raise RateLimited(
                    f"The {self._what} rate limit of {self._rate:g}/s was exceeded; retry after {wait} s.",
                    retry_after=wait,
                    limit=self._limit,
                )
            tokens -= cost
            self._buckets[key] = (tokens, now)
        return min(100, round(100 * (1 - tokens / self._burst)))
