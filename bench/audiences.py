"""Audience benchmark: pipeline events/s with 100 audiences and 50 calculated attributes defined, and the lag
from an event's acceptance to the membership change it causes at a steady 1,000 events/s.

Starts `fermion serve` on the embedded stores, defines the audiences and attributes through the HTTP API, then
1. throughput: drives 10-event batches as fast as the server takes them (bench/ingest.py's load) and measures
   events stored per second until the worker has processed all of them;
2. lag: sends 100 batches/s of 10 events for new users, each batch holding one ``Probe`` event that adds its
   user to the "probe" audience, and reads the membership-change queue: lag = change time − acceptance time of
   the batch that caused it (both taken by the server).

    python bench/audiences.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any


def _ingest() -> ModuleType:
    """bench/ingest.py, whose load generator and helpers this benchmark reuses."""
    spec = importlib.util.spec_from_file_location("bench_ingest", Path(__file__).with_name("ingest.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ingest = _ingest()
CALCULATION_TYPES = [
    "count", "sum", "min", "max", "average", "most_frequent", "unique_values_count", "first_occurrence",
    "last_occurrence", "first_occurrence_timestamp", "last_occurrence_timestamp", "unique_list",
]  # fmt: skip


def _http(port: int, method: str, path: str, token: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=60) as response:
        text = response.read().decode()
    return json.loads(text) if text else None


def _token(data_dir: str, port: int) -> str:
    env = {**os.environ, "FERMION_DATA_DIR": data_dir, "FERMION_LOG_LEVEL": "warning"}
    created = subprocess.run(
        [str(ingest.FERMION), "credentials", "create", "--workspace", "1", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    client = json.loads(created.stdout)
    grant = {
        "client_id": client["client_id"],
        "client_secret": client["client_secret"],
        "audience": "https://api.mparticle.com",
        "grant_type": "client_credentials",
    }
    return str(_http(port, "POST", "/oauth/token", "", grant)["access_token"])


def define(port: int, token: str) -> None:
    """100 audiences and 50 active calculated attributes on the benchmark's events."""
    for i in range(50):
        kind = CALCULATION_TYPES[i % len(CALCULATION_TYPES)]
        point: dict[str, Any] = {"event_name": f"Product Viewed {i % 4}"}
        if kind not in ("count", "first_occurrence_timestamp", "last_occurrence_timestamp"):
            point["attribute_name"] = "sku"
        period = {"type": "within", "within": 1 + i % 7} if i % 2 else {"type": "since", "date": "2020-01-01"}
        definition = {"datapoint": point, "calculation_type": kind, "time_period": period}
        ca_id = _http(port, "POST", "/platform/v2/workspaces/1/calculatedattributes", token,
                      {"name": f"ca {i}", "draft_definition": definition})  # fmt: skip
        _http(port, "POST", f"/platform/v2/workspaces/1/calculatedattributes/{ca_id}/activation", token)
    probe = {"type": "event", "event_name": "Probe", "recency": {"within": 1, "unit": "days"}}
    _http(port, "POST", "/platform/v1/workspace/1/audiences", token, {"name": "probe", "criteria": probe})
    for i in range(99):
        event = {
            "type": "event",
            "event_name": f"Product Viewed {i % 4}",
            "frequency": {"operator": "greater_or_equal", "value": 1 + i % 25},
            "recency": {"within": 1 + i % 30, "unit": "days"},
        }
        if i % 3 == 0:
            event["conditions"] = [
                {"type": "string", "attribute_name": "sku", "operator": "contains", "value": "-1"}
            ]
        attribute = {
            "type": "user_attribute",
            "condition": {
                "type": "string",
                "attribute_name": "city",
                "operator": "equals",
                "value": "Berlin",
            },
        }
        calculated = {
            "type": "calculated_attribute",
            "name": f"ca {i % 50 // 12 * 12}",  # count attributes
            "condition": {"type": "number", "operator": "greater_than", "value": i % 5},
        }
        operator = ("and", "or", "exclude")[i % 3]
        criteria = {
            "type": "group",
            "operator": operator,
            "criteria": [event, attribute if i % 2 else calculated],
        }
        _http(
            port,
            "POST",
            "/platform/v1/workspace/1/audiences",
            token,
            {"name": f"audience {i}", "criteria": criteria},
        )


def wait_ready(port: int, token: str) -> None:
    """Until every audience is backfilled and every attribute calculated."""
    deadline = time.time() + 600
    while time.time() < deadline:
        audiences = _http(port, "GET", "/platform/v1/workspace/1/audiences", token)
        attributes = _http(port, "GET", "/platform/v2/workspaces/1/calculatedattributes", token)
        if all(a["backfill"]["status"] == "done" for a in audiences) and all(
            c["freshness"]["last_evaluated_ms"] is not None for c in attributes
        ):
            return
        time.sleep(0.2)
    raise RuntimeError("definitions were not ready in time")


def probe_body(index: int) -> bytes:
    """A 10-event batch for a new user: nine product views and one Probe."""
    body = json.loads(ingest.make_body(index))
    body["user_identities"] = {"customer_id": f"probe-{index}-{uuid.uuid4().hex[:6]}"}
    body["events"][9]["data"]["event_name"] = "Probe"
    return json.dumps(body, separators=(",", ":")).encode()


async def paced(port: int, auth: str, rate: int, seconds: float) -> int:
    """Send ``rate`` batches per second for ``seconds`` over a few connections; returns batches accepted."""
    total = int(rate * seconds)
    bodies = [probe_body(i) for i in range(total)]
    accepted = 0
    start = time.perf_counter()
    queue = list(enumerate(bodies))
    queue.reverse()

    async def connection() -> None:
        nonlocal accepted
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while queue:
            index, body = queue.pop()
            delay = start + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            status_line, _, _ = await ingest.post(reader, writer, "/v2/events", auth, body)
            accepted += b" 202 " in status_line
        writer.close()

    await asyncio.gather(*(connection() for _ in range(8)))
    return accepted


def lag_phase(port: int, token: str, auth: str, seconds: float) -> dict[str, float]:
    """Steady 1,000 events/s; lags of the probe audience's adds."""
    accepted = asyncio.run(paced(port, auth, 100, seconds))
    audiences = _http(port, "GET", "/platform/v1/workspace/1/audiences", token)
    probe = next(a for a in audiences if a["name"] == "probe")
    deadline = time.time() + 300
    lags: list[float] = []
    while time.time() < deadline:
        changes, after = [], 0
        while page := _http(port, "GET", f"/platform/v1/workspace/1/audiences/{probe['id']}/changes"
                            f"?after_id={after}&limit=10000", token):  # fmt: skip
            changes.extend(page)
            after = page[-1]["id"]
        adds = [c for c in changes if c["action"] == "add" and c["accepted_ms"] is not None]
        if len(adds) >= accepted:
            lags = sorted((c["at_ms"] - c["accepted_ms"]) / 1000 for c in adds)
            break
        time.sleep(0.5)
    if not lags:
        raise RuntimeError("the probe audience did not gain every user in time")
    return {
        "lag_p50_s": round(statistics.median(lags), 3),
        "lag_p95_s": round(lags[int(len(lags) * 0.95) - 1], 3),
        "lag_max_s": round(lags[-1], 3),
        "lag_changes": len(lags),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="A run under a minute.")
    args = parser.parse_args()
    requests = 1_500 if args.quick else 20_000
    lag_seconds = 10.0 if args.quick else 60.0
    port = ingest.free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        env = {
            **os.environ,
            "FERMION_DATA_DIR": data_dir,
            "FERMION_PORT": str(port),
            "FERMION_LOG_LEVEL": "warning",
        }
        server = subprocess.Popen([str(ingest.FERMION), "serve"], env=env, stdout=subprocess.PIPE, text=True)
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
                    ingest.events_stored(port)
                    break
                except OSError:
                    time.sleep(0.1)
            auth = base64.b64encode(f"{key}:{secret}".encode()).decode()
            token = _token(data_dir, port)
            define(port, token)
            wait_ready(port, token)
            result, stored, elapsed = ingest.drive_and_wait(port, auth, requests, 32)
            figures: dict[str, float] = {
                "events_per_s": round(stored / elapsed),
                "accepted_events_per_s": round(result["requests"] * 10 / result["elapsed_s"]),
            }
            figures.update(lag_phase(port, token, auth, lag_seconds))
        finally:
            server.send_signal(2)  # SIGINT: serve stops its worker process first (see bench/identity.py)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    units = {name: "events/s" if name.endswith("per_s") else "count" if name == "lag_changes" else "s"
             for name in figures}  # fmt: skip
    print(
        json.dumps(
            {
                "benchmark": "audiences",
                "figures": figures,
                "units": units,
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                    "audiences": 100,
                    "calculated_attributes": 50,
                    "throughput_requests": requests,
                    "events_per_batch": 10,
                    "lag_rate_events_per_s": 1000,
                    "lag_seconds": lag_seconds,
                    "backend": "embedded",
                },
            }
        )
    )


if __name__ == "__main__":
    main()
