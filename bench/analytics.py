"""Analytics benchmark: a funnel, daily unique users per event, retention and flows over N generated events.

Generates N synthetic events (N/20 users, 20 event names, 90 days, two custom attributes) straight into an
embedded DuckDB event store file (one SQL statement, not through HTTP), then times each analysis through the
same path the API uses (definitions → SQL → the store's read-only ``query``). Sizes: 1M and 10M events
(``--quick``: 1M only). Prints one JSON object as its last line (DESIGN.md §8).

    python bench/analytics.py [--quick] [--sizes 1000000,10000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fermion.analytics import Runner, parse_definition, run_query  # noqa: E402
from fermion.clock import FrozenClock  # noqa: E402
from fermion.events import open_event_store  # noqa: E402

DAY_MS = 86_400_000
T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z
DAYS = 90
NOW = T0 + DAYS * DAY_MS
RANGE = {"start": "2024-01-01", "end": "2024-03-30"}

ANALYSES: dict[str, tuple[str, dict[str, Any]]] = {
    "funnel_s": (
        "funnel",
        {
            "steps": [{"event": f"event_{i:02d}"} for i in range(4)],
            "window": {"kind": "whole_funnel", "seconds": 7 * 86_400},
            "date_range": RANGE,
        },
    ),
    "uniques_s": (  # the daily series of unique users per event, without range totals
        "segmentation",
        {
            "series": [{"event": None, "measure": "users"}],
            "group_by": {"property": "event_name", "limit": 25},
            "interval": "day",
            "totals": False,
            "date_range": RANGE,
        },
    ),
    "uniques_totals_s": (  # the same with each event's distinct users over the whole range
        "segmentation",
        {
            "series": [{"event": None, "measure": "users"}],
            "group_by": {"property": "event_name", "limit": 25},
            "interval": "day",
            "date_range": RANGE,
        },
    ),
    "retention_s": (
        "retention",
        {
            "start": {"event": None},
            "returning": {"event": None},
            "period": "week",
            "periods": 8,
            "date_range": {"start": "2024-01-01", "end": "2024-03-24"},
        },
    ),
    "flows_s": ("flows", {"event": "event_00", "max_steps": 5, "date_range": RANGE}),
}


def generate(path: Path, events: int) -> float:
    """Write ``events`` synthetic events into a new DuckDB event store at ``path``; returns seconds taken."""
    import duckdb

    open_event_store(f"duckdb:///{path}").close()  # the store's own schema
    users = max(1, events // 20)
    started = time.perf_counter()
    con = duckdb.connect(str(path))
    con.execute("SET enable_progress_bar = false")
    # A user's events are spread over the 90 days; names are skewed so that funnels narrow step by step.
    con.execute(
        f"""
        INSERT INTO events (workspace_id, input_id, event_uid, mpid, event_type, event_name,
                            timestamp_ms, received_ms, session_uuid, session_id, environment,
                            source_message_id, inbox_id, body)
        SELECT 1, 1, 'bench:' || i, u, 'custom_event', name, ts, ts, NULL, NULL, 'production', NULL, 0,
               '{{"event_type":"custom_event","data":{{"event_name":"' || name ||
               '","custom_attributes":{{"plan":"' || (CASE WHEN u % 3 = 0 THEN 'pro' ELSE 'free' END) ||
               '","amount":"' || CAST(i % 100 AS VARCHAR) || '"}}}}}}'
        FROM (
            SELECT i,
                   CAST(hash(i, 1) % {users} AS BIGINT) + 1 AS u,
                   'event_' || lpad(CAST(CAST(floor(20 * pow(CAST(hash(i, 2) % 1000000 AS DOUBLE) / 1e6, 1.6))
                       AS INTEGER) AS VARCHAR), 2, '0') AS name,
                   {T0} + CAST(hash(i, 3) % {DAYS * DAY_MS} AS BIGINT) AS ts
            FROM range({events}) t(i)
        ) g
        ORDER BY ts
        """
    )
    con.execute("CHECKPOINT")
    con.close()
    return time.perf_counter() - started


def time_analyses(path: Path, repeat: int) -> dict[str, float]:
    """Median seconds of each analysis over ``repeat`` runs (after one warm-up run)."""
    store = open_event_store(f"duckdb:///{path}")
    runner = Runner(store, store.dialect, FrozenClock(NOW), timeout_s=0)
    figures: dict[str, float] = {}
    try:
        for figure, (kind, definition) in ANALYSES.items():
            query = parse_definition(kind, definition)
            run_query(runner, 1, query)
            runs = []
            for _ in range(repeat):
                started = time.perf_counter()
                run_query(runner, 1, query)
                runs.append(time.perf_counter() - started)
            figures[figure] = round(statistics.median(runs), 3)
            print(f"  {figure}: {figures[figure]} s (runs {[round(r, 3) for r in runs]})", file=sys.stderr)
    finally:
        store.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1M events only (under a minute).")
    parser.add_argument("--sizes", default="", help="Comma-separated event counts (default 1M,10M).")
    parser.add_argument("--repeat", type=int, default=3, help="Timed runs per analysis (median reported).")
    parser.add_argument("--keep", default="", help="Directory to keep the generated stores in.")
    args = parser.parse_args()
    sizes = (
        [int(s) for s in args.sizes.split(",")]
        if args.sizes
        else [1_000_000]
        if args.quick
        else [1_000_000, 10_000_000]
    )
    figures: dict[str, float] = {}
    generated: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="fermion-bench-analytics-") as scratch:
        folder = Path(args.keep or scratch)
        folder.mkdir(parents=True, exist_ok=True)
        for size in sizes:
            label = f"{size // 1_000_000}m" if size % 1_000_000 == 0 else str(size)
            path = folder / f"events-{label}.duckdb"
            if not path.exists():
                generated[label] = round(generate(path, size), 1)
                print(f"generated {size} events in {generated[label]} s", file=sys.stderr)
            for name, value in time_analyses(path, args.repeat).items():
                figures[f"{name}_{label}"] = value
    print(
        json.dumps(
            {
                "benchmark": "analytics",
                "figures": figures,
                "units": {name: "s" for name in figures},
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                    "engine": "duckdb",
                    "users_per_event": 1 / 20,
                    "event_names": 20,
                    "days": DAYS,
                    "repeat": args.repeat,
                    "generate_s": generated,
                },
            }
        )
    )


if __name__ == "__main__":
    main()
