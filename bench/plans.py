"""Pipeline throughput with a 200-data-point data plan active, against the same load with no plan.

One run, one embedded store: batches are accepted into the inbox (as the Events API does), then one worker
processes them and is timed. After a warm-up of each kind, four rounds alternate — no plan, plan, no plan,
plan — so the store's growth favours neither side; each figure is the mean of its two rounds. The plan's
validators are compiled once per process (the warm-up), as in a long-running worker. Every event of the plan
rounds matches a data point and is validated against its schema (custom attributes with types, enums,
patterns).

    python bench/plans.py [--quick]

Prints one JSON line last: events_per_s_plan, events_per_s_no_plan, slowdown_ratio (no_plan / plan).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fermion.clock import SystemClock
from fermion.runtime import Runtime
from fermion.settings import Settings

POINTS = 200
EVENTS_PER_BATCH = 10
PLAN = "bench_plan"


def data_point(index: int) -> dict[str, Any]:
    attributes = {
        "category": {"type": "string", "enum": ["a", "b", "c", f"only-{index}"]},  # 200 distinct schemas
        "price": {"type": "number", "minimum": 0, "maximum": 10_000},
        "sku": {"type": "string", "pattern": "^[A-Z]{2}[0-9]{4}$"},
        "in_stock": {"type": "boolean"},
    }
    schema = {
        "properties": {
            "data": {
                "type": "object",
                "properties": {
                    "custom_attributes": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": attributes,
                        "required": ["category"],
                    }
                },
            }
        }
    }
    return {
        "match": {
            "type": "custom_event",
            "criteria": {"event_name": f"Event {index}", "custom_event_type": "other"},
        },
        "validator": {"type": "json_schema", "definition": schema},
    }


def batch(index: int, with_plan: bool) -> bytes:
    events = [
        {
            "event_type": "custom_event",
            "data": {
                "event_name": f"Event {(index * EVENTS_PER_BATCH + n) % POINTS}",
                "custom_event_type": "other",
                "source_message_id": str(uuid.uuid4()),
                "custom_attributes": {"category": "b", "price": 19.5, "sku": "AB1234", "in_stock": True},
            },
        }
        for n in range(EVENTS_PER_BATCH)
    ]
    body: dict[str, Any] = {
        "environment": "production",
        "user_identities": {"customer_id": f"user-{index % 5000}"},
        "events": events,
    }
    if with_plan:
        body["context"] = {"data_plan": {"plan_id": PLAN}}
    return json.dumps(body).encode()


def round_trip(runtime: Runtime, source: Any, batches: int, with_plan: bool, offset: int) -> float:
    """Accept ``batches`` into the inbox, then time one worker draining them; returns events/s."""
    records = []
    for index in range(offset, offset + batches):
        records.extend(runtime.acceptor.single(source, batch(index, with_plan)).records)
    for start in range(0, len(records), 500):
        runtime.inbox.enqueue(records[start : start + 500])
    worker = runtime.new_worker()
    started = time.perf_counter()
    worker.drain(timeout_s=1800)
    elapsed = time.perf_counter() - started
    return batches * EVENTS_PER_BATCH / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="A small load that finishes in under a minute.")
    args = parser.parse_args()
    batches = 600 if args.quick else 10_000
    with tempfile.TemporaryDirectory(prefix="fermion-bench-plans-") as tmp:
        settings = Settings(_env_file=None, data_dir=Path(tmp) / "data")  # type: ignore[call-arg]
        runtime = Runtime.open(settings, SystemClock())
        try:
            created = runtime.tenancy.bootstrap()
            assert created is not None
            source = created.input
            document = {"data_points": [data_point(i) for i in range(POINTS)]}
            runtime.plans.create_plan(
                source.workspace_id,
                {
                    "data_plan_id": PLAN,
                    "data_plan_name": "Bench plan",
                    "data_plan_versions": [
                        {"version": 1, "activated_environment": "production", "version_document": document}
                    ],
                },
                "bench",
            )
            round_trip(runtime, source, batches // 10, False, 10_000_000)  # warm-up
            round_trip(runtime, source, batches // 10, True, 20_000_000)
            rounds = [round_trip(runtime, source, batches, n % 2 == 1, n * batches) for n in range(4)]
            counts = runtime.verdicts.counts(source.workspace_id)
        finally:
            runtime.close()
    no_plan = (rounds[0] + rounds[2]) / 2
    planned = (rounds[1] + rounds[3]) / 2
    figures = {
        "events_per_s_plan": round(planned),
        "events_per_s_no_plan": round(no_plan),
        "slowdown_ratio": round(no_plan / planned, 3),
    }
    print(
        json.dumps({"verdicts": counts, "rounds": [round(r) for r in rounds]}),
        file=sys.stderr,
    )
    print(
        json.dumps(
            {
                "benchmark": "plans",
                "figures": figures,
                "units": {
                    "events_per_s_plan": "events/s",
                    "events_per_s_no_plan": "events/s",
                    "slowdown_ratio": "x",
                },
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "batches_per_round": batches,
                    "events_per_batch": EVENTS_PER_BATCH,
                    "data_points": POINTS,
                    "store": "embedded (SQLite + DuckDB)",
                },
            }
        )
    )


if __name__ == "__main__":
    main()
