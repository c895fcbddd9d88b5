"""The pipeline worker: claims inbox micro-batches from its partitions and runs the stages on them.

Per micro-batch: decode and resolve every batch, append the events to the event store (idempotent on
``event_uid``), then in one state-store transaction apply the profile updates and delete the processed
inbox rows. A crash between the two replays the micro-batch, which changes nothing. A batch that fails is
parked with its error; the worker goes on.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine

from fermion.audiences import AudienceEvaluator, Audiences
from fermion.calculated import CalculatedValues
from fermion.clock import Clock
from fermion.events import EventStore
from fermion.identity import IdentityService
from fermion.metrics import Metrics
from fermion.outputs import OutputServices, RoutedBatch
from fermion.pipeline.stages import (
    Decoded,
    Prepared,
    activate,
    decode_item,
    expire_windows,
    identity_of,
    prepare,
)
from fermion.pipeline.verdicts import Verdicts
from fermion.platform import Input, Tenancy
from fermion.privacy import DataSubjectRights
from fermion.profiles import ProfileStore
from fermion.queue import INBOX_PARTITIONS, Inbox, InboxItem, PartitionLeases
from fermion.schema import BatchLimits

_log = logging.getLogger("fermion.pipeline")


@dataclass(frozen=True)
class TickResult:
    """What one pass of the worker did."""

    claimed: int
    processed: int
    parked: int
    events_stored: int


class Worker:
    """Processes inbox work for the partitions it leases."""

    def __init__(
        self,
        engine: Engine,
        inbox: Inbox,
        events: EventStore,
        profiles: ProfileStore,
        identity: IdentityService,
        tenancy: Tenancy,
        clock: Clock,
        metrics: Metrics,
        *,
        batch_size: int,
        lease_ms: int,
        poll_ms: int,
        dedupe_retention_ms: int,
        limits: BatchLimits,
        verdicts: Verdicts,
        worker_id: str | None = None,
        calculated: CalculatedValues | None = None,
        audiences: AudienceEvaluator | None = None,
        activation_sweep_ms: int = 1000,
        outputs: OutputServices | None = None,
        audience_catalog: Audiences | None = None,
        outputs_poll_ms: int = 250,
        outputs_sync_page: int = 1000,
        privacy: DataSubjectRights | None = None,
        dsr_sweep_ms: int = 1000,
    ) -> None:
        self._engine = engine
        self._inbox = inbox
        self._events = events
        self._profiles = profiles
        self._identity = identity
        self._tenancy = tenancy
        self._clock = clock
        self._metrics = metrics
        self._batch_size = batch_size
        self._poll_s = poll_ms / 1000
        self._dedupe_retention_ms = dedupe_retention_ms
        self._limits = limits
        self._verdicts = verdicts
        self.worker_id = worker_id or f"worker-{uuid.uuid4().hex[:12]}"
        self._leases = PartitionLeases(engine, clock, self.worker_id, lease_ms)
        self._renew_every_ms = max(100, lease_ms // 3)
        self._next_renew_ms = 0
        self._next_purge_ms = 0
        self._next_alias_ms = 0
        self._partitions: list[int] = []
        self._inputs: dict[int, Input] = {}
        self._stop = threading.Event()
        self._calculated = calculated
        self._audiences = audiences
        self._activation_sweep_ms = activation_sweep_ms
        self._next_activation_ms = 0
        self._outputs = outputs
        self._audience_catalog = audience_catalog
        self._outputs_poll_ms = outputs_poll_ms
        self._outputs_sync_page = outputs_sync_page
        self._next_outputs_ms = 0
        self._privacy = privacy
        self._dsr_sweep_ms = dsr_sweep_ms
        self._next_dsr_ms = 0

    def tick(self) -> TickResult:
        """Renew leases when due, then claim and process one micro-batch."""
        now = self._clock.now_ms()
        if now >= self._next_renew_ms:
            self._partitions = self._leases.renew()
            self._next_renew_ms = now + self._renew_every_ms
        if now >= self._next_purge_ms:
            self._inbox.forget_requests_before(now - self._dedupe_retention_ms)
            self._verdicts.purge(now)
            if self._outputs is not None:
                self._outputs.purge(now)
            self._next_purge_ms = now + 3_600_000
        if now >= self._next_alias_ms:
            self._next_alias_ms = now + 1000
            self._carry_out_aliases()
        if now >= self._next_activation_ms:
            self._next_activation_ms = now + self._activation_sweep_ms
            self._activation_jobs()
        if now >= self._next_outputs_ms:
            self._next_outputs_ms = now + self._outputs_poll_ms
            self._outputs_jobs()
        if self._privacy is not None and now >= self._next_dsr_ms:
            self._next_dsr_ms = now + self._dsr_sweep_ms
            self._data_subject_requests()
        owned = None if len(self._partitions) == INBOX_PARTITIONS else self._partitions
        items = self._inbox.claim(owned, self._batch_size)
        if not items:
            return TickResult(0, 0, 0, 0)
        try:
            stored, parked = self._process(items)
        except Exception:  # worker guard: isolate the failing batch by processing one at a time
            _log.exception("micro-batch failed; retrying its batches one by one", extra={"size": len(items)})
            stored, parked = 0, 0
            for item in items:
                try:
                    s, p = self._process([item])
                    stored, parked = stored + s, parked + p
                except Exception as exc:  # worker guard: park it with its error and go on
                    self._park(item, exc)
                    parked += 1
        processed = len(items) - parked
        self._metrics.batches_processed.inc(processed)
        self._metrics.events_stored.inc(stored)
        return TickResult(len(items), processed, parked, stored)

    def _process(self, items: list[InboxItem]) -> tuple[int, int]:
        decoded: list[Decoded] = []
        parked = 0
        for item in items:
            try:
                decoded.append(decode_item(item, self._limits))
            except Exception as exc:  # worker guard: a batch that cannot be decoded is parked
                self._park(item, exc)
                parked += 1
        by_workspace: dict[int, list[Decoded]] = {}
        for entry in decoded:
            by_workspace.setdefault(entry.item.workspace_id, []).append(entry)
        # Plans before identity: identities a plan blocks must never reach the identity graph.
        checked = self._verdicts.validate(by_workspace)
        for entries in by_workspace.values():
            for index, entry in enumerate(entries):
                if checked[entry.item.id].blocked:
                    entries[index] = Decoded(
                        entry.item, entry.batch, identity_of(entry.item, entry.batch, entry.identity.mpid)
                    )
        decoded = [entry for entries in by_workspace.values() for entry in entries]
        plans = [
            self._identity.plan_batches(ws, [d.identity for d in entries], "batch inbox")
            for ws, entries in by_workspace.items()
        ]
        mpids = {key: mpid for plan in plans for key, mpid in plan.mpids.items()}
        prepared = Prepared()
        for entry in decoded:
            verdict = checked[entry.item.id]
            prepare(
                entry,
                mpids[entry.item.id],
                self._input(entry.item.input_id),
                prepared,
                verdict.blocked_events,
            )
        replaced = self._verdicts.replaced_events(decoded)
        for workspace_id, uids in replaced.items():
            self._events.delete_events(workspace_id, uids)
        stored = self._events.append(prepared.events)
        counted = prepared
        if replaced:  # events a replay brings back whole were counted when first stored
            again = {(ws, uid) for ws, uids in replaced.items() for uid in uids}
            kept = [e for e in prepared.events if (e.workspace_id, e.event_uid) not in again]
            counted = Prepared(kept, prepared.profiles, prepared.item_ids)
        now = self._clock.now_ms()
        with self._engine.begin() as conn:
            for plan in plans:
                self._identity.save_plan(conn, plan)
            notes: dict[int, list[dict[str, Any]]] = {}
            if self._privacy is not None:
                changes = self._privacy.consent.record(conn, prepared.profiles, now)
                notes = {item: found for item, found in zip(prepared.item_ids, changes, strict=True) if found}
            self._profiles.apply(conn, prepared.profiles, now)
            self._verdicts.record(conn, decoded, checked, mpids, plans, now)
            if self._calculated is not None and self._audiences is not None:
                activate(conn, self._calculated, self._audiences, counted, now)
            if self._outputs is not None:
                routed = [
                    RoutedBatch(
                        entry.item.workspace_id,
                        entry.item.input_id,
                        entry.item.id,
                        mpids[entry.item.id],
                        entry.item.received_ms,
                        entry.batch,
                        checked[entry.item.id].blocked_events,
                        notes.get(entry.item.id, ()),
                    )
                    for entry in decoded
                ]
                self._outputs.router.route_batches(conn, routed, now)
            self._inbox.ack(conn, prepared.item_ids)
        return stored, parked

    def _carry_out_aliases(self) -> None:
        """Copy the events of due alias requests; a crash repeats the copy, which adds nothing twice."""
        for job in self._identity.aliases.due():
            copied = self._events.copy_events(
                job.workspace_id,
                job.source_mpid,
                job.destination_mpid,
                job.start_ms,
                job.end_ms,
                f"alias:{job.id}:",
            )
            with self._engine.begin() as conn:
                self._profiles.adopt_first_seen(conn, job.workspace_id, job.destination_mpid, job.source_mpid)
                self._identity.aliases.complete(conn, job, copied)

    def _activation_jobs(self) -> None:
        """Calculate new attributes and backfill new audiences from the event store, then expire windows."""
        calculated, audiences = self._calculated, self._audiences
        if calculated is None or audiences is None:
            return
        now = self._clock.now_ms()

        def evaluate(conn: Connection, workspace_id: int, mpids: set[int]) -> None:
            audiences.evaluate(conn, workspace_id, mpids, [], now)

        try:
            calculated.calculate_pending(self._events, evaluate)
            audiences.backfill_pending(self._events)
            with self._engine.begin() as conn:
                expire_windows(conn, calculated, audiences, now)
        except Exception:  # worker guard: batches keep flowing; freshness stops advancing, which shows
            _log.exception("backfill or window expiry failed; retrying at the next sweep")

    def _outputs_jobs(self) -> None:
        """outputs.route for audience connections (the membership-change queue, then a page of each initial
        sync), then start delivery runs."""
        if self._outputs is None:
            return
        try:
            if self._audience_catalog is not None:
                while self._outputs.router.route_changes(self._audience_catalog) == 1000:
                    pass
                if self._audiences is not None:  # after the changes, so a leaver's delete follows its add
                    self._outputs.router.sync_audiences(
                        self._audience_catalog, self._audiences, self._outputs_sync_page
                    )
            self._outputs.runner.tick()
        except Exception:  # worker guard: batches keep flowing; undelivered changes wait for the next pass
            _log.exception("routing audience changes or starting deliveries failed")

    def _data_subject_requests(self) -> None:
        """Carry out due data subject requests (erasure deletes events here, where the store is open)."""
        assert self._privacy is not None
        try:
            self._privacy.orchestrator.run_due(self._events)
        except Exception:  # worker guard: batches keep flowing; the request stays open and is retried
            _log.exception("data subject requests failed; retrying at the next sweep")

    def _park(self, item: InboxItem, exc: Exception) -> None:
        _log.error("batch parked", extra={"inbox_id": item.id, "error": repr(exc)})
        self._inbox.park(item.id, f"{type(exc).__name__}: {exc}")
        self._metrics.batches_parked.inc()

    def _input(self, input_id: int) -> Input | None:
        found = self._inputs.get(input_id)
        if found is None:
            try:
                found = self._tenancy.get_input(input_id)
            except Exception:  # an input deleted since acceptance: process without feed details
                return None
            self._inputs[input_id] = found
        return found

    def run(self) -> None:
        """Process until :meth:`stop` is called; sleeps only when there is nothing to do."""
        _log.info("worker started", extra={"worker_id": self.worker_id})
        try:
            while not self._stop.is_set():
                try:
                    result = self.tick()
                except Exception:  # worker guard: a store outage must not end the worker
                    _log.exception("worker tick failed; retrying")
                    self._stop.wait(1.0)
                    continue
                if result.claimed == 0:
                    self._stop.wait(self._poll_s)
        finally:
            try:
                self._leases.release()
            except Exception:  # the leases expire on their own
                _log.warning("could not release partition leases")
            _log.info("worker stopped", extra={"worker_id": self.worker_id})

    def stop(self) -> None:
        """Ask :meth:`run` to return after the current micro-batch."""
        self._stop.set()

    def drain(self, timeout_s: float = 30.0) -> None:
        """Process until no pending work is left that this worker can reach, then give back its leases."""
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline:
                self._next_renew_ms = 0
                if self.tick().claimed == 0:
                    return
            raise TimeoutError("the inbox did not drain in time")
        finally:
            self._leases.release()
            self._partitions = []
            self._next_renew_ms = 0
