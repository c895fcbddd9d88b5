"""When to try a failed delivery again: exponential backoff with jitter, Retry-After honoured, within a
window after which the record goes to the dead-letter store."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff ``base_ms · 2^(attempt-1)`` capped at ``max_ms``, with full jitter in [½, 1], for at most
    ``window_ms`` after the record was queued."""

    base_ms: int
    max_ms: int
    window_ms: int

    def next_attempt_ms(
        self, now_ms: int, attempt: int, retry_after_ms: int | None, rng: random.Random | None = None
    ) -> int:
        """When to try again after failed attempt number ``attempt`` (1-based)."""
        backoff = min(self.max_ms, self.base_ms * 2 ** min(max(attempt - 1, 0), 30))
        jittered = int(backoff * (0.5 + (rng or random).random() / 2))
        return now_ms + max(jittered, retry_after_ms or 0)

    def exhausted(self, queued_ms: int, next_attempt_ms: int) -> bool:
        """True when the next attempt would fall outside the retry window."""
        return next_attempt_ms - queued_ms > self.window_ms
