"""Analytics benchmark: a funnel, daily unique users per event, retention and flows over N generated events.

Generates N synthetic events (N/20 users, 20 event names, 90 days, two custom attributes) straight into an
embedded DuckDB event store file (one SQL statement, not through HTTP), then times each analysis through the
same path the API uses (definitions → SQL → the store's read-only ``query``). Sizes: 1M and 10M events
(``--quick``: 1M only). Prints one JSON object as its last line (DESIGN.md §8).

    python bench/analytics.py [--quick] [--sizes 1000000,10000000] [--repeat 3] [--postgres-users 10000]

With ``--postgres-users N``, the events of N users of the 1M set also go into a small DuckDB store and a
PostgreSQL schema; every analysis runs on both, and ``machine.postgres_comparison`` says whether the results
are identical and how long each engine took.
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
from fermion.events import COLUMNS, open_event_store  # noqa: E402

PG_URL = os.environ.get("FERMION_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
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


def time_analyses(url: str, repeat: int) -> tuple[dict[str, float], dict[str, Any]]:
    """Median seconds of each analysis over ``repeat`` runs (after one warm-up run), and the results."""
    store = open_event_store(url)
    runner = Runner(store, store.dialect, FrozenClock(NOW), timeout_s=0)
    figures: dict[str, float] = {}
    results: dict[str, Any] = {}
    try:
        for figure, (kind, definition) in ANALYSES.items():
            query = parse_definition(kind, definition)
            results[figure] = run_query(runner, 1, query)
            runs = []
            for _ in range(repeat):
                started = time.perf_counter()
                run_query(runner, 1, query)
                runs.append(time.perf_counter() - started)
            figures[figure] = round(statistics.median(runs), 3)
            print(f"  {figure}: {figures[figure]} s (runs {[round(r, 3) for r in runs]})", file=sys.stderr)
    finally:
        store.close()
    return figures, results


def postgres_subset(source: Path, folder: Path, users: int, url: str) -> tuple[str, str, int]:
    """The events of the first ``users`` users of ``source`` in a new DuckDB file and PostgreSQL schema."""
    import duckdb
    import psycopg

    subset = folder / f"events-{users}-users.duckdb"
    subset.unlink(missing_ok=True)
    open_event_store(f"duckdb:///{subset}").close()
    columns = ", ".join(COLUMNS)
    con = duckdb.connect(str(subset))
    con.execute("SET enable_progress_bar = false")
    con.execute(f"ATTACH '{source}' AS src (READ_ONLY)")
    con.execute(
        f"INSERT INTO events ({columns}) SELECT {columns} FROM src.events WHERE mpid <= {users} ORDER BY seq"
    )
    table = con.execute(f"SELECT {columns} FROM events ORDER BY seq").to_arrow_table()
    con.close()
    schema = f"bench_analytics_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as pg:
        pg.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        pg.execute(f"CREATE SCHEMA {schema}")
    schema_url = f"{url}?options=-csearch_path%3D{schema}"
    open_event_store(schema_url).close()
    with (
        psycopg.connect(schema_url) as pg,
        pg.cursor() as cur,
        cur.copy(f"COPY events ({columns}) FROM STDIN") as copy,
    ):
        for row in zip(*(table.column(c).to_pylist() for c in COLUMNS), strict=True):
            copy.write_row(row)
    return f"duckdb:///{subset}", schema_url, table.num_rows


def drop_schema(url: str, schema_url: str) -> None:
    import psycopg

    schema = schema_url.rsplit("%3D", 1)[1]
    with psycopg.connect(url, autocommit=True) as pg:
        pg.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1M events only (under a minute).")
    parser.add_argument("--sizes", default="", help="Comma-separated event counts (default 1M,10M).")
    parser.add_argument("--repeat", type=int, default=3, help="Timed runs per analysis (median reported).")
    parser.add_argument("--keep", default="", help="Directory to keep the generated stores in.")
    parser.add_argument(
        "--postgres-users",
        type=int,
        default=0,
        help="Also load this many users' events (from the 1M set) into DuckDB and PostgreSQL and compare.",
    )
    parser.add_argument("--postgres-url", default=PG_URL, help="PostgreSQL for --postgres-users.")
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
    comparison: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="fermion-bench-analytics-") as scratch:
        folder = Path(args.keep or scratch)
        folder.mkdir(parents=True, exist_ok=True)
        for size in sizes:
            label = f"{size // 1_000_000}m" if size % 1_000_000 == 0 else str(size)
            path = folder / f"events-{label}.duckdb"
            if not path.exists():
                generated[label] = round(generate(path, size), 1)
                print(f"generated {size} events in {generated[label]} s", file=sys.stderr)
            timed, _ = time_analyses(f"duckdb:///{path}", args.repeat)
            for name, value in timed.items():
                figures[f"{name}_{label}"] = value
        if args.postgres_users:
            first = folder / f"events-{sizes[0] // 1_000_000}m.duckdb"
            duck_url, pg_url, count = postgres_subset(first, folder, args.postgres_users, args.postgres_url)
            try:
                duck_figures, duck_results = time_analyses(duck_url, args.repeat)
                pg_figures, pg_results = time_analyses(pg_url, args.repeat)
            finally:
                drop_schema(args.postgres_url, pg_url)
            comparison = {
                "events": count,
                "identical": {name: duck_results[name] == pg_results[name] for name in ANALYSES},
                "duckdb_s": duck_figures,
                "postgres_s": pg_figures,
            }
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
                    "postgres_comparison": comparison,
                },
            }
        )
    )


if __name__ == "__main__":
    main()
