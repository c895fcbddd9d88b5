"""Ingest benchmark: accepted events/s, accept latency and processed events/s, embedded and PostgreSQL.

Starts `fermion serve` on 127.0.0.1, drives it from a separate process with 10-event batches (~2.5 KB) over
keep-alive connections, then waits until the worker has stored every event. Prints one JSON object as its
last line (DESIGN.md §8).

    python bench/ingest.py [--quick] [--backend embedded|postgres|both]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FERMION = ROOT / ".venv" / "bin" / "fermion"
PG_ADMIN_URL = os.environ.get("FERMION_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def make_body(index: int) -> bytes:
    """One ~2.5 KB batch of 10 events for user ``index % 5000``."""
    now = int(time.time() * 1000)
    events = []
    for n in range(10):
        events.append(
            {
                "event_type": "custom_event",
                "data": {
                    "event_name": f"Product Viewed {n % 4}",
                    "custom_event_type": "navigation",
                    "source_message_id": str(uuid.uuid4()),
                    "timestamp_unixtime_ms": now + n,
                    "custom_attributes": {"sku": f"SKU-{index % 997}-{n}"},
                },
            }
        )
    batch = {
        "environment": "production",
        "user_identities": {
            "customer_id": f"user-{index % 5000}",
            "email": f"user{index % 5000}@example.com",
        },
        "user_attributes": {"plan": "gold", "city": "Berlin"},
        "device_info": {"platform": "iOS", "os_version": "17.2"},
        "events": events,
    }
    return json.dumps(batch, separators=(",", ":")).encode()


async def post(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, auth: str, body: bytes
) -> tuple[bytes, bytes, float]:
    """One keep-alive HTTP/1.1 POST: (status line, body, seconds)."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {auth}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    started = time.perf_counter()
    writer.write(head + body)
    status_line = await reader.readline()
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    payload = await reader.readexactly(length) if length else b""
    return status_line, payload, time.perf_counter() - started


async def _drive(port: int, auth: str, bodies: list[bytes], concurrency: int) -> tuple[list[float], int]:
    latencies: list[float] = []
    failures = 0
    queue = list(reversed(bodies))

    async def connection() -> None:
        nonlocal failures
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while queue:
            status_line, _, seconds = await post(reader, writer, "/v2/events", auth, queue.pop())
            latencies.append(seconds)
            if b" 202 " not in status_line:
                failures += 1
        writer.close()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return latencies, failures


def drive_main(args: argparse.Namespace) -> None:
    """The load generator (its own process): prints one JSON line of results."""
    bodies = [make_body(i) for i in range(args.requests)]
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    started = time.perf_counter()
    latencies, failures = asyncio.run(_drive(args.port, args.auth, bodies, args.concurrency))
    elapsed = time.perf_counter() - started
    latencies.sort()
    print(
        json.dumps(
            {
                "elapsed_s": elapsed,
                "requests": len(latencies),
                "failures": failures,
                "bytes_per_batch": statistics.mean(len(b) for b in bodies),
                "p50_ms": latencies[len(latencies) // 2] * 1000,
                "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
                "started_at": time.time() - elapsed,
            }
        )
    )


def drive_and_wait(
    port: int, auth: str, requests: int, concurrency: int
) -> tuple[dict[str, float], int, float]:
    """Run the load generator against the server on ``port``, then wait until the worker stored its events.

    Returns the driver's result, the events this load stored, and the seconds from its first request to the
    last event stored.
    """
    before = events_stored(port)
    driver = subprocess.run(
        [
            sys.executable,
            __file__,
            "--drive",
            "--port",
            str(port),
            "--auth",
            auth,
            "--requests",
            str(requests),
            "--concurrency",
            str(concurrency),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(driver.stdout.strip().splitlines()[-1])
    expected = before + (result["requests"] - result["failures"]) * 10
    deadline = time.time() + 600
    while (stored := events_stored(port)) < expected and time.time() < deadline:
        time.sleep(0.05)
    return result, stored - before, time.time() - result["started_at"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def events_stored(port: int) -> int:
    import urllib.request

    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    found = re.search(r"^fermion_events_stored_total (\S+)$", text, re.M)
    return int(float(found.group(1))) if found else 0


def postgres_env(schema: str) -> dict[str, str]:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
    url = f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"
    return {"FERMION_DATABASE_URL": url, "FERMION_EVENT_STORE_URL": url}


def drop_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as con:
        con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def run_backend(backend: str, requests: int, concurrency: int) -> dict[str, float]:
    port = free_port()
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as data_dir:
        env = {
            **os.environ,
            "FERMION_DATA_DIR": data_dir,
            "FERMION_PORT": str(port),
            "FERMION_LOG_LEVEL": "warning",
        }
        if backend == "postgres":
            env.update(postgres_env(schema))
        server = subprocess.Popen([str(FERMION), "serve"], env=env, stdout=subprocess.PIPE, text=True)
        try:
            key = secret = ""
            assert server.stdout is not None
            while not (key and secret):
                line = server.stdout.readline()
                if not line:
                    raise RuntimeError("server exited before printing its credentials")
                if line.startswith("API key: "):
                    key = line.split(": ", 1)[1].strip()
                if line.startswith("API secret: "):
                    secret = line.split(": ", 1)[1].strip()
            for _ in range(100):
                try:
                    events_stored(port)
                    break
                except OSError:
                    time.sleep(0.1)
            auth = base64.b64encode(f"{key}:{secret}".encode()).decode()
            result, stored, processed_elapsed = drive_and_wait(port, auth, requests, concurrency)
        finally:
            server.terminate()
            server.wait(timeout=60)
            if backend == "postgres":
                drop_schema(schema)
    suffix = "" if backend == "embedded" else "_postgres"
    return {
        f"accepted_events_per_s{suffix}": round(result["requests"] * 10 / result["elapsed_s"]),
        f"accept_p50_ms{suffix}": round(result["p50_ms"], 2),
        f"accept_p99_ms{suffix}": round(result["p99_ms"], 2),
        f"processed_events_per_s{suffix}": round(stored / processed_elapsed),
        f"rejected_requests{suffix}": result["failures"],
        f"events_stored{suffix}": stored,
        f"bytes_per_batch{suffix}": round(result["bytes_per_batch"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="A run under a minute.")
    parser.add_argument("--backend", choices=["embedded", "postgres", "both"], default="both")
    parser.add_argument("--drive", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--auth", default="", help=argparse.SUPPRESS)
    parser.add_argument("--requests", type=int, default=0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    if args.drive:
        drive_main(args)
        return
    requests = args.requests or (3_000 if args.quick else 30_000)
    figures: dict[str, float] = {}
    backends = ["embedded", "postgres"] if args.backend == "both" else [args.backend]
    for backend in backends:
        figures.update(run_backend(backend, requests, args.concurrency))
    units = {
        name: (
            "events/s"
            if "per_s" in name
            else "ms"
            if name.endswith(("_ms", "_ms_postgres"))
            else "bytes"
            if "bytes" in name
            else "count"
        )
        for name in figures
    }
    print(
        json.dumps(
            {
                "benchmark": "ingest",
                "figures": figures,
                "units": units,
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                    "requests": requests,
                    "events_per_batch": 10,
                    "concurrency": args.concurrency,
                },
            }
        )
    )


if __name__ == "__main__":
    main()
