"""Outputs benchmark: pipeline events/s with no connections and with 5 event connections active, and
Klaviyo audience delivery profiles/s to the local Klaviyo fake.

Pipeline rounds: batches are accepted into the inbox (as the Events API does), then one worker drains them
and is timed; rounds alternate no connections / 5 webhook connections (switched on and off), three pairs, and
each figure is the median of its rounds. Routing (processing and queueing a delivery per connection) is what
the 5-connection round adds; sending is the delivery worker's and is not timed here (its poll is pushed out).
Klaviyo: N audience membership adds are queued for a Klaviyo output with bulk size 10,000, then one delivery
run sends them (bulk import jobs, polled, import errors read) and is timed.

    python bench/outputs.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fermion.clock import SystemClock
from fermion.outputs import NewDelivery
from fermion.runtime import Runtime
from fermion.settings import Settings

EVENTS_PER_BATCH = 10
CONNECTIONS = 5
PAIRS = 3


def batch(index: int) -> bytes:
    events = [
        {
            "event_type": "custom_event",
            "data": {
                "event_name": f"Product Viewed {n % 4}",
                "custom_event_type": "navigation",
                "source_message_id": str(uuid.uuid4()),
                "custom_attributes": {"sku": f"SKU-{index % 997}-{n}", "price": 19.5},
            },
        }
        for n in range(EVENTS_PER_BATCH)
    ]
    body: dict[str, Any] = {
        "environment": "production",
        "user_identities": {
            "customer_id": f"user-{index % 5000}",
            "email": f"user{index % 5000}@example.com",
        },
        "user_attributes": {"plan": "gold", "city": "Berlin"},
        "events": events,
    }
    return json.dumps(body).encode()


def round_trip(runtime: Runtime, source: Any, batches: int, offset: int) -> float:
    """Accept ``batches`` into the inbox, then time one worker draining them; returns events/s."""
    records = []
    for index in range(offset, offset + batches):
        records.extend(runtime.acceptor.single(source, batch(index)).records)
    for start in range(0, len(records), 500):
        runtime.inbox.enqueue(records[start : start + 500])
    worker = runtime.new_worker()
    started = time.perf_counter()
    worker.drain(timeout_s=1800)
    return batches * EVENTS_PER_BATCH / (time.perf_counter() - started)


_FAKE = """
import sys, time
sys.path.insert(0, sys.argv[1])
from tests.fakes.klaviyo import FakeKlaviyo
fake = FakeKlaviyo().start()
print(fake.url, flush=True)
sys.stdin.read()
"""


def phone(n: int) -> str:
    """A distinct valid US number without a country code (the region comes from $Country)."""
    return f"(415) 555-{n % 10_000:04d}" if n < 10_000 else f"(212) 555-{n % 10_000:04d}"


def klaviyo_round(runtime: Runtime, workspace_id: int, profiles: int) -> float:
    """Queue ``profiles`` membership adds for a Klaviyo output; time delivery runs until all are settled;
    returns profiles/s. The Klaviyo fake runs in its own process, as Klaviyo would be elsewhere."""
    root = str(Path(__file__).resolve().parent.parent)
    process = subprocess.Popen(
        [sys.executable, "-c", _FAKE, root], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdin is not None
    url = process.stdout.readline().strip()
    try:
        outputs = runtime.outputs.outputs
        output = outputs.create_output(
            workspace_id,
            "Klaviyo",
            "klaviyo",
            {"private_api_key": "pk_test", "base_url": url, "bulk_size": 10_000, "bulk_wait_s": 0},
        )
        criteria = {
            "type": "user_attribute",
            "condition": {"type": "string", "attribute_name": "plan", "operator": "exists"},
        }
        audience = runtime.audiences.create(workspace_id, "Bench", criteria, None, by="bench")
        connection = outputs.create_connection(workspace_id, output.id, audience_id=audience.id)
        records = [
            NewDelivery(output.id, connection.id, workspace_id, n, "membership", {
                "audience_id": audience.id, "audience_name": "Bench", "action": "add", "mpid": str(n),
                "user_identities": {"email": f"p{n}@example.com", "mobile_number": phone(n)},
                "user_attributes": {"$Country": "USA", "$FirstName": f"P{n}", "plan": "pro"},
                "consent_state": {}})
            for n in range(profiles)
        ]  # fmt: skip
        with runtime.engine.begin() as conn:
            runtime.outputs.deliveries.enqueue(conn, records, runtime.clock.now_ms())
        started = time.perf_counter()
        settled = 0
        while settled < profiles:
            done = runtime.outputs.runner.run_output(output)
            if done == 0:
                raise RuntimeError("delivery stalled")
            settled += done
        elapsed = time.perf_counter() - started
        delivered = runtime.outputs.deliveries.counts(output.id).get("delivered", 0)
        list_id = runtime.outputs.runner._get_state(output.id, "list:Bench")
        headers = {"Authorization": "Klaviyo-API-Key pk_test", "revision": "2026-07-15"}
        members = httpx.get(f"{url}/api/lists/{list_id}/relationships/profiles", headers=headers, timeout=60)
        if delivered != profiles or len(members.json()["data"]) != profiles:
            raise RuntimeError(f"only {delivered} of {profiles} delivered")
        return profiles / elapsed
    finally:
        process.stdin.close()
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="A small load that finishes in under a minute.")
    args = parser.parse_args()
    batches = 400 if args.quick else 3000
    profiles = 10_000 if args.quick else 50_000
    with tempfile.TemporaryDirectory(prefix="fermion-bench-outputs-") as tmp:
        data_dir = Path(tmp) / "data"
        settings = Settings(_env_file=None, data_dir=data_dir, outputs_poll_ms=3_600_000)  # type: ignore[call-arg]
        runtime = Runtime.open(settings, SystemClock())
        try:
            created = runtime.tenancy.bootstrap()
            assert created is not None
            source = created.input
            round_trip(runtime, source, batches // 10, 10_000_000)  # warm-up
            for n in range(CONNECTIONS):
                output = runtime.outputs.outputs.create_output(
                    source.workspace_id, f"hook {n}", "webhook", {"post_url": f"http://127.0.0.1:9/hook{n}"}
                )
                runtime.outputs.outputs.create_connection(
                    source.workspace_id, output.id, input_id=source.id, active=False
                )
            # Rounds alternate without and with the connections, PAIRS times; the figures are medians, so a
            # burst of noise on the shared machine moves one round, not the result.
            from fermion.outputs.tables import connections, deliveries

            none_rounds: list[float] = []
            connected_rounds: list[float] = []
            for pair in range(PAIRS):
                none_rounds.append(round_trip(runtime, source, batches, 2 * pair * batches))
                with runtime.engine.begin() as conn:
                    conn.execute(connections.update().values(active=True))
                connected_rounds.append(round_trip(runtime, source, batches, (2 * pair + 1) * batches))
                # bench only: switch the connections off and park their queued deliveries, so that the next
                # rounds neither route nor send (sending is the delivery worker's, outside these figures)
                with runtime.engine.begin() as conn:
                    conn.execute(connections.update().values(active=False))
                    conn.execute(deliveries.update().values(next_attempt_ms=2**62))
            per_s = klaviyo_round(runtime, source.workspace_id, profiles)
        finally:
            runtime.close()
    none = statistics.median(none_rounds)
    connected = statistics.median(connected_rounds)
    figures = {
        "events_per_s_no_connections": round(none),
        "events_per_s_5_connections": round(connected),
        "routing_cost_ratio": round(1 - connected / none, 3),
        "klaviyo_profiles_per_s": round(per_s),
    }
    rounds = {
        "no_connections": [round(r) for r in none_rounds],
        "5_connections": [round(r) for r in connected_rounds],
    }
    print(json.dumps({"rounds": rounds}), file=sys.stderr)
    print(
        json.dumps(
            {
                "benchmark": "outputs",
                "figures": figures,
                "units": {
                    "events_per_s_no_connections": "events/s",
                    "events_per_s_5_connections": "events/s",
                    "routing_cost_ratio": "share of pipeline throughput",
                    "klaviyo_profiles_per_s": "profiles/s",
                },
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "batches_per_round": batches,
                    "events_per_batch": EVENTS_PER_BATCH,
                    "klaviyo_profiles": profiles,
                    "store": "embedded (SQLite + DuckDB)",
                },
            }
        )
    )


if __name__ == "__main__":
    main()
