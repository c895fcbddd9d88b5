"""When freshness is recorded and what lag is reported."""

from __future__ import annotations

from fermion.calculated import FreshnessGate, current_lag_ms


def test_freshness_is_written_at_most_once_a_second_per_workspace() -> None:
    gate = FreshnessGate()
    assert [gate.due(1, t) for t in (0, 500, 999, 1000, 1200)] == [True, False, False, True, False]
    assert gate.due(2, 1200) is True  # another workspace
    assert gate.due(1, 100) is True  # a clock moved back
    assert current_lag_ms(None, None, 5_000) is None
    assert current_lag_ms(10, 200, 0) == 200
    assert current_lag_ms(10, 200, 5_000) == 5_000  # a stalled pipeline shows as lag
