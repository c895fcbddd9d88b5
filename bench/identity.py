"""Identity benchmark: IDSync identify req/s and latency on a seeded graph, and the pipeline with resolution.

Seeds the embedded state store with profiles (each with a customer ID, an email and an IDFV) before the server
starts, starts `fermion serve` on 127.0.0.1, and drives ``POST /v1/identify`` from a separate process over
keep-alive connections: mostly users that exist, one request in ten from a new user (who gets a new profile).
A second phase sends the ingest benchmark's batches to the same server, whose pipeline resolves every batch
through IDSync, and waits until every event is stored. Prints one JSON object as its last line (DESIGN.md §8).

    python bench/identity.py [--quick] [--profile OUT.txt]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import importlib.util
import json
import os
import platform
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
FERMION = ROOT / ".venv" / "bin" / "fermion"
PY_SPY = ROOT / ".venv" / "bin" / "py-spy"
_SEED_CHUNK = 100_000
_GOLDEN = 0x9E3779B97F4A7C15  # odd, so multiplying by it permutes the 64-bit integers


def _ingest() -> ModuleType:
    """bench/ingest.py, whose load generator and helpers the pipeline phase reuses."""
    spec = importlib.util.spec_from_file_location("bench_ingest", Path(__file__).with_name("ingest.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ingest = _ingest()


def seeded_mpid(index: int) -> int:
    """The MPID of seeded user ``index``: distinct for every index, spread over the signed 64-bit range."""
    value = ((index + 1) * _GOLDEN) & (2**64 - 1)
    return value - 2**64 if value >= 2**63 else value


def customer_id(index: int) -> str:
    """The same spelling as the ingest benchmark's batches, so that its users resolve to seeded profiles."""
    return f"user-{index}"


def email(index: int) -> str:
    return f"user{index}@example.com"


def idfv(index: int) -> str:
    return str(uuid.UUID(int=(index * _GOLDEN) & (2**128 - 1))).upper()


SEEDED_TYPES = (("customer_id", customer_id), ("email", email), ("ios_idfv", idfv))


def seed(data_dir: Path, profiles: int) -> tuple[str, str, float]:
    """Migrate and bootstrap the store, then bulk-insert ``profiles`` profiles; returns key, secret, time."""
    from fermion.runtime import Runtime
    from fermion.settings import Settings

    runtime = Runtime.open(Settings(data_dir=data_dir))
    try:
        created = runtime.tenancy.bootstrap()
        assert created is not None, "the data dir was not empty"
        workspace = created.input.workspace_id
    finally:
        runtime.close()
    started = time.perf_counter()
    now = int(time.time() * 1000) - 86_400_000
    con = sqlite3.connect(data_dir / "fermion.db", isolation_level=None)
    try:
        con.execute("PRAGMA synchronous=OFF")
        con.execute("PRAGMA cache_size=-262144")  # 256 MB
        for start in range(0, profiles, _SEED_CHUNK):
            indexes = range(start, min(start + _SEED_CHUNK, profiles))
            con.execute("BEGIN")
            con.executemany(
                "INSERT INTO identity_profiles (workspace_id, mpid, created_ms, orphaned) "
                "VALUES (?, ?, ?, 0)",
                sorted((workspace, seeded_mpid(i), now) for i in indexes),
            )
            links = [
                (workspace, identity_type, value(i), seeded_mpid(i), now)
                for identity_type, value in SEEDED_TYPES
                for i in indexes
            ]
            links.sort()
            con.executemany(
                "INSERT INTO identity_links (workspace_id, identity_type, identity_value, mpid, created_ms) "
                "VALUES (?, ?, ?, ?, ?)",
                links,
            )
            con.execute("COMMIT")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()
    return created.input.api_key, created.api_secret, time.perf_counter() - started


# --- the load generator (its own process) ----------------------------------------------------------------


async def _identify_load(
    port: int, auth: str, profiles: int, seconds: float, concurrency: int, new_share: float
) -> dict[str, object]:
    latencies: list[float] = []
    counts = {"errors": 0, "wrong_mpid": 0, "new": 0}
    deadline = time.perf_counter() + seconds
    rng = random.Random(7)

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.perf_counter() < deadline:
            if rng.random() < new_share:
                token = uuid.uuid4().hex
                known = {"customerid": f"new-{token}", "ios_idfv": token.upper()}
                expected = None
                counts["new"] += 1
            else:
                index = rng.randrange(profiles)
                known = {"customerid": customer_id(index), "ios_idfv": idfv(index)}
                expected = str(seeded_mpid(index))
            body = json.dumps({"environment": "production", "known_identities": known}).encode()
            status_line, payload, seconds = await ingest.post(reader, writer, "/v1/identify", auth, body)
            latencies.append(seconds)
            if b" 200 " not in status_line:
                counts["errors"] += 1
            elif expected is not None and json.loads(payload)["mpid"] != expected:
                counts["wrong_mpid"] += 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "elapsed_s": elapsed,
        "requests": len(latencies),
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[max(int(len(latencies) * 0.99) - 1, 0)] * 1000,
        **counts,
    }


def drive_main(args: argparse.Namespace) -> None:
    """The identify load generator: prints one JSON line of results."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(
        _identify_load(args.port, args.auth, args.profiles, args.seconds, args.concurrency, args.new_share)
    )
    print(json.dumps(result))


# --- the benchmark ----------------------------------------------------------------------------------------


def _start_server(data_dir: Path, port: int) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "FERMION_DATA_DIR": str(data_dir),
        "FERMION_PORT": str(port),
        "FERMION_LOG_LEVEL": "warning",
    }
    server = subprocess.Popen([str(FERMION), "serve"], env=env, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    while True:  # the store is bootstrapped already: serve lists the inputs instead of printing a secret
        line = server.stdout.readline()
        if not line:
            raise RuntimeError("server exited before it listened")
        if line.startswith("Fermion listening"):
            break
    for _ in range(100):
        try:
            ingest.events_stored(port)
            return server
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not answer /metrics")


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _stop_server(server: subprocess.Popen[str], data_dir: Path) -> None:
    """Stop `fermion serve` and its worker process.

    SIGINT, not SIGTERM: uvicorn re-raises a captured SIGTERM once it has shut down, which kills `serve`
    before it stops its worker process (left running, holding the data dir). A child of `serve` that still
    runs on this data dir afterwards is killed by its id.
    """
    children = _children(server.pid)
    server.send_signal(signal.SIGINT)
    try:
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    marker = f"FERMION_DATA_DIR={data_dir}".encode()
    for pid in children:
        with contextlib.suppress(OSError):
            if marker in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                os.kill(pid, signal.SIGKILL)


def _identify_phase(
    port: int, auth: str, profiles: int, seconds: float, args: argparse.Namespace, server_pid: int
) -> dict[str, float]:
    spy = None
    if args.profile:  # the API process only; the pipeline worker is idle in this phase
        duration = str(round(seconds))
        spy = subprocess.Popen(
            [str(PY_SPY), "record", "-p", str(server_pid), "-f", "raw", "-o", args.profile, "-d", duration],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    driver = subprocess.run(
        [
            sys.executable,
            __file__,
            "--drive",
            "--port",
            str(port),
            "--auth",
            auth,
            "--profiles",
            str(profiles),
            "--seconds",
            str(seconds),
            "--concurrency",
            str(args.concurrency),
            "--new-share",
            str(args.new_share),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    if spy is not None:
        spy.wait(timeout=120)
    result = json.loads(driver.stdout.strip().splitlines()[-1])
    return {
        "identify_req_per_s": round(result["requests"] / result["elapsed_s"]),
        "identify_p50_ms": round(result["p50_ms"], 2),
        "identify_p99_ms": round(result["p99_ms"], 2),
        "identify_requests": result["requests"],
        "identify_new_users": result["new"],
        "identify_errors": result["errors"],
        "identify_wrong_mpid": result["wrong_mpid"],
    }


def _pipeline_phase(port: int, auth: str, requests: int, concurrency: int) -> dict[str, float]:
    """The ingest benchmark's load on the seeded server; its users are seeded profiles."""
    result, stored, elapsed = ingest.drive_and_wait(port, auth, requests, concurrency)
    return {
        "processed_events_per_s": round(stored / elapsed),
        "accepted_events_per_s": round(result["requests"] * 10 / result["elapsed_s"]),
        "pipeline_rejected_requests": result["failures"],
        "pipeline_events_stored": stored,
    }


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--quick", action="store_true", help="A run under a minute.")
    parser.add_argument("--profiles", type=int, default=0, help="Profiles (1,000,000; quick 100,000).")
    parser.add_argument("--seconds", type=float, default=0, help="Identify load duration (20; quick 10).")
    parser.add_argument("--requests", type=int, default=0, help="Ingest requests (30,000; quick 3,000).")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--new-share", type=float, default=0.1, help="Share of new users' requests.")
    parser.add_argument("--profile", default=None, help="Record the server with py-spy (raw) into this file.")
    parser.add_argument("--drive", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--auth", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        drive_main(args)
        return
    profiles = args.profiles or (100_000 if args.quick else 1_000_000)
    seconds = args.seconds or (10.0 if args.quick else 20.0)
    requests = args.requests or (3_000 if args.quick else 30_000)
    port = ingest.free_port()
    with tempfile.TemporaryDirectory() as directory:
        data_dir = Path(directory)
        key, secret, seed_s = seed(data_dir, profiles)
        auth = base64.b64encode(f"{key}:{secret}".encode()).decode()
        server = _start_server(data_dir, port)
        try:
            figures: dict[str, float] = {"profiles_seeded": profiles, "seed_s": round(seed_s, 1)}
            figures.update(_identify_phase(port, auth, profiles, seconds, args, server.pid))
            figures.update(_pipeline_phase(port, auth, requests, args.concurrency))
        finally:
            _stop_server(server, data_dir)
    units = {
        name: (
            "requests/s"
            if name == "identify_req_per_s"
            else "events/s"
            if name.endswith("_per_s")
            else "ms"
            if name.endswith("_ms")
            else "s"
            if name.endswith("_s")
            else "count"
        )
        for name in figures
    }
    print(
        json.dumps(
            {
                "benchmark": "identity",
                "figures": figures,
                "units": units,
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                    "backend": "embedded",
                    "identify_seconds": seconds,
                    "identify_new_user_share": args.new_share,
                    "ingest_requests": requests,
                    "events_per_batch": 10,
                    "concurrency": args.concurrency,
                },
            }
        )
    )


if __name__ == "__main__":
    main()
