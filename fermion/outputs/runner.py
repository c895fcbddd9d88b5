"""The delivery worker: for each output, claim its due records, send them, record the outcomes.

Per-output isolation: each output is handled in its own thread of a pool, and an output already in flight
is not started again, so one slow or failing output (every call bounded by the output's ``timeout_s``)
never delays another. Nothing here sleeps to retry: retries are data on the records. A destination that
refuses the output's credentials faults the output: its records stay queued and it is skipped until it is
resumed or its settings change (spec activation §3.4, §5.4).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from functools import partial
from typing import Any

import httpx
from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from fermion.clock import Clock
from fermion.outputs.catalog import Output, Outputs
from fermion.outputs.deliveries import Deliveries
from fermion.outputs.integrations import (
    CredentialsRefused,
    DeliveryFailed,
    Outcome,
    SendContext,
    integration_named,
)
from fermion.outputs.integrations.base import Record
from fermion.outputs.tables import output_state
from fermion.store import is_postgres, reading

_log = logging.getLogger("fermion.outputs")
MAX_ROUNDS_PER_RUN = 50
RUN_BUDGET_S = 5.0


class DeliveryRunner:
    """Sends the due records of every output, each output independently."""

    def __init__(
        self, engine: Engine, clock: Clock, outputs: Outputs, deliveries: Deliveries, *, max_parallel: int = 8
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._outputs = outputs
        self._deliveries = deliveries
        self._pool = ThreadPoolExecutor(max_workers=max_parallel, thread_name_prefix="fermion-output")
        self._in_flight: dict[int, Future[int]] = {}
        self._lock = threading.Lock()
        self._clients: dict[tuple[int, int], httpx.Client] = {}

    def tick(self) -> None:
        """Start a run for every output not already running nor faulted; returns at once."""
        with self._lock:
            self._in_flight = {k: f for k, f in self._in_flight.items() if not f.done()}
            for output in self._outputs.outputs():
                if output.id not in self._in_flight and output.faulted_ms is None:
                    self._in_flight[output.id] = self._pool.submit(self._guarded, output)

    def deliver_due(self, timeout_s: float = 60.0) -> dict[int, int]:
        """Run every output once, in parallel, and wait: records settled per output (tests, drains)."""
        self.tick()
        with self._lock:
            running = dict(self._in_flight)
        wait(list(running.values()), timeout=timeout_s)
        return {k: f.result() for k, f in running.items() if f.done()}

    def _guarded(self, output: Output) -> int:
        try:
            return self.run_output(output)
        except Exception:  # worker guard: one output's failure is logged and retried at the next tick
            _log.exception("delivery run failed", extra={"output_id": output.id})
            return 0

    def run_output(self, output: Output) -> int:
        """Claim, send and settle the output's due records until none are due (bounded per run); a faulted
        output sends nothing."""
        if output.faulted_ms is not None:
            return 0
        integration = integration_named(output.integration)
        settings = output.settings
        bulk_size = int(settings.get("bulk_size") or integration.bulk_size)
        wait_s = settings.get("bulk_wait_s")
        wait_ms = int(integration.bulk_wait_s if wait_s is None else wait_s) * 1000
        settled = 0
        started = time.monotonic()
        connection_settings = {c.id: c.settings for c in self._outputs.connections(output_id=output.id)}
        for _ in range(MAX_ROUNDS_PER_RUN):
            records = self._deliveries.claim(output.id, bulk_size, wait_ms)
            if not records:
                break
            ctx = SendContext(
                http=self._client(output),
                now_ms=self._clock.now_ms,
                connection_settings=connection_settings,
                get_state=partial(self._get_state, output.id),
                set_state=partial(self._set_state, output.id),
            )
            try:
                outcomes = integration.send(settings, records, ctx)
            except CredentialsRefused as exc:
                return settled + self._fault(output, records, exc)
            except DeliveryFailed as exc:
                status = "retry" if exc.retryable else "dead"
                outcomes = [Outcome(r.id, status, exc.reason, exc.retry_after_ms) for r in records]
            except Exception as exc:  # worker guard: an integration bug must not lose records; retry them
                _log.exception("integration failed", extra={"output_id": output.id})
                outcomes = [Outcome(r.id, "retry", f"{type(exc).__name__}: {exc}") for r in records]
            given = {o.record_id for o in outcomes}
            outcomes += [Outcome(r.id, "retry", "no outcome reported") for r in records if r.id not in given]
            self._deliveries.settle(output.id, records, outcomes)
            settled += len(records)
            if len(records) < bulk_size or time.monotonic() - started > RUN_BUDGET_S:
                break
        return settled

    def _fault(self, output: Output, records: list[Record], refused: CredentialsRefused) -> int:
        """Fault the output; records already sent in the call are settled, the others wait for a resume."""
        done = {o.record_id for o in refused.settled}
        if refused.settled:
            self._deliveries.settle(output.id, [r for r in records if r.id in done], refused.settled)
        if self._outputs.mark_faulted(output.id, refused.reason, output.updated_ms):
            _log.warning("output faulted: %s", refused.reason, extra={"output_id": output.id})
        self._deliveries.hold(
            output.id, [r for r in records if r.id not in done], f"output faulted: {refused.reason}"
        )
        return len(records)

    def _client(self, output: Output) -> httpx.Client:
        timeout = float(output.settings.get("timeout_s") or 10)
        key = (output.id, int(timeout * 1000))
        client = self._clients.get(key)
        if client is None:
            client = httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False)
            self._clients[key] = client
        return client

    def _get_state(self, output_id: int, key: str) -> str | None:
        s = output_state.c
        with reading(self._engine) as conn:
            found = conn.execute(select(s.value).where(s.output_id == output_id, s.key == key)).scalar()
        return None if found is None else str(found)

    def _set_state(self, output_id: int, key: str, value: str) -> None:
        dialect: Any = postgresql if is_postgres(str(self._engine.url)) else sqlite
        statement = dialect.insert(output_state).values(output_id=output_id, key=key, value=value)
        statement = statement.on_conflict_do_update(
            index_elements=["output_id", "key"], set_={"value": value}
        )
        with self._engine.begin() as conn:
            conn.execute(statement)

    def close(self) -> None:
        """Stop the pool (waiting for runs in flight) and close HTTP clients."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        for client in self._clients.values():
            client.close()
        self._clients.clear()
