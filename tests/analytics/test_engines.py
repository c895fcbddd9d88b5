"""The same definitions give identical results on DuckDB and PostgreSQL; queries are bounded by a timeout and
reach a DuckDB store held by another process through its local socket."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from fermion.analytics import Runner, parse_definition, run_query
from fermion.clock import FrozenClock
from fermion.events import EventStore, LocalReadClient, LocalReadServer, QueryTimeout, open_event_store
from tests.analytics.conftest import HOUR, NOW, T0, stored

DEFINITIONS: list[tuple[str, dict[str, Any]]] = [
    (
        "segmentation",
        {
            "series": [{"event": "e0", "measure": "users"}, {"event": None}],
            "group_by": {"property": "plan", "limit": 2},
            "date_range": {"start": "2024-01-01", "end": "2024-01-10"},
            "timezone": "America/New_York",
            "formulas": [{"name": "per user", "expression": "B / A"}],
        },
    ),
    (
        "segmentation",
        {
            "series": [{"event": "e1", "measure": "p90", "property": "amount"}],
            "interval": "week",
            "date_range": {"start": "2024-01-01", "end": "2024-01-10"},
        },
    ),
    (
        "funnel",
        {
            "steps": [{"event": "e0"}, {"event": "e1"}, {"event": "e2"}],
            "window": {"kind": "whole_funnel", "seconds": 86400},
            "date_range": {"start": "2024-01-01", "end": "2024-01-10"},
        },
    ),
    (
        "funnel",
        {
            "steps": [{"event": "e0"}, {"event": "e1"}],
            "exclusions": [{"event": "e3"}],
            "breakdown": {"property": "plan"},
            "over_time": "day",
            "date_range": {"start": "2024-01-01", "end": "2024-01-10"},
        },
    ),
    (
        "retention",
        {
            "start": {"event": "e0"},
            "returning": {"event": None},
            "period": "day",
            "periods": 5,
            "date_range": {"start": "2024-01-01", "end": "2024-01-05"},
        },
    ),
    (
        "flows",
        {"event": "e0", "date_range": {"start": "2024-01-01", "end": "2024-01-10"}, "session_gap_s": 7200},
    ),
]


def _events() -> list[Any]:
    rng = random.Random(7)
    return [
        stored(
            rng.randint(1, 40),
            f"e{rng.randint(0, 3)}",
            T0 + rng.randint(0, 240) * HOUR,
            plan=rng.choice(["a", "b", "c"]),
            amount=str(rng.randint(1, 100)),
        )
        for _ in range(600)
    ]


def _results(store: EventStore) -> list[dict[str, Any]]:
    runner = Runner(store, store.dialect, FrozenClock(NOW))
    return [run_query(runner, 1, parse_definition(kind, d)) for kind, d in DEFINITIONS]


def test_duckdb_and_postgres_give_identical_results(tmp_path: Path, postgres_schema_url: str) -> None:
    events = _events()
    duck = open_event_store(f"duckdb:///{tmp_path / 'e.duckdb'}")
    pg = open_event_store(postgres_schema_url)
    try:
        duck.append(events)
        pg.append(events)
        assert _results(duck) == _results(pg)
    finally:
        duck.close()
        pg.close()


def test_a_query_past_the_timeout_is_stopped(store: EventStore) -> None:
    slow = "SELECT count(*) FROM range(100000000000)" if store.dialect == "duckdb" else "SELECT pg_sleep(5)"
    with pytest.raises(QueryTimeout, match=r"0\.2 s"):
        store.query(slow, {}, 0.2)
    assert store.query("SELECT 1", {}, 1.0) == [(1,)]


def test_queries_reach_a_store_held_by_another_process_over_the_socket(tmp_path: Path) -> None:
    store = open_event_store(f"duckdb:///{tmp_path / 'e.duckdb'}")
    server = LocalReadServer(store, tmp_path / "w.sock", lambda: b"")
    server.start()
    client = LocalReadClient(tmp_path / "w.sock")
    try:
        store.append(_events())
        remote = Runner(client, "duckdb", FrozenClock(NOW))
        assert [run_query(remote, 1, parse_definition(k, d)) for k, d in DEFINITIONS] == _results(store)
        with pytest.raises(QueryTimeout):
            client.query("SELECT count(*) FROM range(100000000000)", {}, 0.2)
    finally:
        client.close()
        server.stop()
        store.close()


def test_work_in_python_is_bounded_by_the_same_timeout() -> None:
    import time

    from fermion.analytics import Deadline

    assert list(Deadline(0).watch(range(3))) == [0, 1, 2]
    with pytest.raises(QueryTimeout):
        list(Deadline(0.5, started=time.monotonic() - 1).watch(range(3)))
