"""Funnel invariants on random journeys: counts never grow along the steps; the DuckDB single-statement path
and the per-user kernel agree."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fermion.analytics import Runner, parse_definition, run_funnel
from fermion.clock import FrozenClock
from fermion.events import open_event_store
from tests.analytics.conftest import HOUR, NOW, T0, stored

journey = st.lists(st.tuples(st.sampled_from("ABCX"), st.integers(0, 72)), max_size=8)
users = st.dictionaries(st.integers(1, 6), journey, min_size=1, max_size=6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    spec=users,
    window_h=st.sampled_from([None, 1, 24]),
    steps=st.lists(st.sampled_from("ABC"), min_size=1, max_size=4),
)
def test_fast_path_and_kernel_agree_and_counts_never_increase(
    tmp_path_factory: object, spec: dict[int, list[tuple[str, int]]], window_h: int | None, steps: list[str]
) -> None:
    directory = Path(tmp_path_factory.mktemp("f"))  # type: ignore[attr-defined]
    store = open_event_store(f"duckdb:///{directory / 'e.duckdb'}")
    try:
        store.append(
            [stored(mpid, name, T0 + hours * HOUR) for mpid, steps in spec.items() for name, hours in steps]
        )
        runner = Runner(store, "duckdb", FrozenClock(NOW))
        window = (
            {"kind": "unlimited"}
            if window_h is None
            else {"kind": "whole_funnel", "seconds": window_h * 3600}
        )
        query = parse_definition(
            "funnel",
            {
                "steps": [{"event": name} for name in steps],
                "time_to_convert_bins": 3,
                "window": window,
                "date_range": {"start": "2024-01-01", "end": "2024-01-02"},
            },
        )
        fast = run_funnel(runner, 1, query)  # type: ignore[arg-type]
        kernel = run_funnel(runner, 1, query, force_kernel=True)  # type: ignore[arg-type]
        assert fast == kernel
        counts = [s["count"] for s in fast["steps"]]
        assert counts == sorted(counts, reverse=True)
    finally:
        store.close()
