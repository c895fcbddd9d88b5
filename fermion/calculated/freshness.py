"""How fresh calculated attributes and audiences are: when to record it, and what lag to report."""

from __future__ import annotations

FRESHNESS_EVERY_MS = 1000
"""Freshness is written at most this often per workspace and process: every batch would make concurrent
workers queue on the definition rows."""


class FreshnessGate:
    """Says when a workspace's freshness is due to be written again (per process)."""

    def __init__(self, every_ms: int = FRESHNESS_EVERY_MS) -> None:
        self._every_ms = every_ms
        self._written_at: dict[int, int] = {}

    def due(self, workspace_id: int, now_ms: int) -> bool:
        """Whether to write now; if so, counts it as written (a clock moved back is always due)."""
        last = self._written_at.get(workspace_id)
        if last is not None and last <= now_ms < last + self._every_ms:
            return False
        self._written_at[workspace_id] = now_ms
        return True


def current_lag_ms(evaluated_ms: int | None, lag_ms: int | None, waiting_ms: int) -> int | None:
    """The lag to report: the last evaluation's, or the age of the oldest batch still waiting when larger.

    None before the first evaluation. A stalled pipeline thus shows growing lag, not silently stale values.
    """
    if evaluated_ms is None:
        return None
    return max(lag_ms or 0, waiting_ms)
