"""Ingest rate limiting: a token bucket of batches per second for each workspace, in this process."""

from __future__ import annotations

import math
import threading

from fermion.clock import Clock
from fermion.errors import RateLimited


class RateLimiter:
    """Allows ``rate`` batches per second per workspace with a burst of ``burst``; 0 disables it."""

    def __init__(self, rate: float, burst: int, clock: Clock) -> None:
        self._rate = rate
        self._burst = float(burst or max(1, math.ceil(rate)))
        self._clock = clock
        self._buckets: dict[int, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def take(self, workspace_id: int, batches: int) -> int:
        """Spend ``batches`` tokens or raise RateLimited; returns the percentage of the bucket in use."""
        if self._rate <= 0:
            return 0
        now = self._clock.now_ms()
        with self._lock:
            tokens, last = self._buckets.get(workspace_id, (self._burst, now))
            tokens = min(self._burst, tokens + (now - last) / 1000.0 * self._rate)
            if tokens < batches:
                self._buckets[workspace_id] = (tokens, now)
                wait = math.ceil((batches - tokens) / self._rate)
                raise RateLimited(
                    f"Ingest rate limit of {self._rate:g} batches/s for this workspace exceeded; "
                    f"retry after {wait} s.",
                    retry_after=max(1, wait),
                )
            tokens -= batches
            self._buckets[workspace_id] = (tokens, now)
        return min(100, round(100 * (1 - tokens / self._burst)))
