"""The data-plan stage of a micro-batch: validate and block, then record verdicts and quarantine.

``validate`` runs right after decoding, before identity resolution, so that identities a plan blocks never
reach the identity graph. ``record`` writes, inside the micro-batch's state transaction, one verdict per
batch (with its identity decisions, for the live stream), the quarantine records of batches something was
blocked from, and the outcome of quarantine replays.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine

from fermion.errors import NotFound
from fermion.identity import BatchPlan, decision_json
from fermion.pipeline.stages import Decoded, event_ids_of
from fermion.plans import (
    PlanResolver,
    Quarantine,
    Verdict,
    VerdictLog,
    VerdictRecord,
    blocked_event_names,
    quarantined_batch,
    replayed_record_id,
)
from fermion.schema import event_name_of, event_type_of
from fermion.store import reading


class Verdicts:
    """Runs data plans over micro-batches and records what they decided."""

    def __init__(
        self,
        engine: Engine,
        resolver: PlanResolver,
        log: VerdictLog,
        quarantine: Quarantine,
        retention_ms: int,
    ) -> None:
        self._engine = engine
        self._resolver = resolver
        self._log = log
        self._quarantine = quarantine
        self._retention_ms = retention_ms

    def validate(self, by_workspace: dict[int, list[Decoded]]) -> dict[int, Verdict]:
        """The verdict of every batch, by inbox id; blocked data is removed from the batches."""
        verdicts: dict[int, Verdict] = {}
        with reading(self._engine) as conn:
            for workspace_id, entries in by_workspace.items():
                plans = self._resolver.for_workspace(conn, workspace_id)
                for entry in entries:
                    ids = event_ids_of(entry.item, entry.batch)
                    verdicts[entry.item.id] = plans.validate(entry.batch, entry.item.input_id, ids)
        return verdicts

    def replaced_events(self, decoded: Sequence[Decoded]) -> dict[int, list[str]]:
        """Event ids that quarantine replays bring back whole.

        These are the copies stored without their blocked attributes: the replay replaces them, and audiences
        and calculated attributes counted them already.
        """
        replaced: dict[int, list[str]] = {}
        for entry in decoded:
            info = entry.batch.source_info
            record_id = replayed_record_id(info.replay_request_id if info is not None else None)
            if record_id is None:
                continue
            try:
                record = self._quarantine.get(entry.item.workspace_id, record_id)
            except NotFound:  # erased since: the replay stores what it carries
                continue
            metadata = record.batch.get("context", {}).get("data_plan", {}).get("block_metadata") or {}
            stripped = {e["event_id"] for e in metadata.get("blocked_event_attributes") or ()}
            ids = [i for i in event_ids_of(entry.item, entry.batch) if i in stripped]
            if ids:
                replaced.setdefault(entry.item.workspace_id, []).extend(ids)
        return replaced

    def record(
        self,
        conn: Any,
        decoded: Sequence[Decoded],
        verdicts: dict[int, Verdict],
        mpids: dict[int, int],
        plans: Sequence[BatchPlan],
        now_ms: int,
    ) -> None:
        """Write verdicts, quarantine records and replay outcomes in the caller's transaction."""
        decisions: dict[str, list[dict[str, object]]] = {}
        for plan in plans:
            for view in plan.views:
                for decision in view.decisions:
                    decisions.setdefault(decision.cause, []).append(decision_json(decision))
        records: list[VerdictRecord] = []
        held: list[dict[str, Any]] = []
        for entry in decoded:
            item, batch = entry.item, entry.batch
            verdict = verdicts[item.id]
            mpid = mpids[item.id]
            environment = "development" if batch.environment == "development" else "production"
            ids = event_ids_of(item, batch)
            events = [
                {
                    "event_id": ids[index],
                    "event_type": event_type_of(event),
                    "event_name": event_name_of(event),
                    "blocked": index in verdict.blocked_events,
                }
                for index, event in enumerate(batch.events or ())
            ]
            summary = {
                "inbox_id": item.id,
                "input_id": item.input_id,
                "environment": environment,
                "mpid": str(mpid),
                "received_ms": item.received_ms,
                "events": events,
                "identity": {"mpid": str(mpid), "decisions": decisions.get(f"batch inbox:{item.id}", [])},
                "verdict": verdict.to_json(),
            }
            records.append(
                VerdictRecord(
                    workspace_id=item.workspace_id,
                    input_id=item.input_id,
                    inbox_id=item.id,
                    mpid=mpid,
                    received_ms=item.received_ms,
                    environment=environment,
                    data_plan_id=verdict.plan_id,
                    version=verdict.plan_version,
                    status=verdict.status,
                    error_count=verdict.error_count,
                    blocked=tuple(verdict.reasons),
                    summary=summary,
                )
            )
            if verdict.blocked:
                original = quarantined_batch(item.payload, verdict)
                held.append(
                    {
                        "workspace_id": item.workspace_id,
                        "input_id": item.input_id,
                        "inbox_id": item.id,
                        "mpid": mpid,
                        "received_ms": item.received_ms,
                        "quarantined_ms": now_ms,
                        "environment": environment,
                        "data_plan_id": verdict.plan_id,
                        "version": verdict.plan_version,
                        "reasons": ",".join(verdict.reasons),
                        "event_names": json.dumps(blocked_event_names(original, verdict)),
                        "batch": json.dumps(original).encode(),
                        "status": "quarantined",
                    }
                )
            info = batch.source_info
            replayed = replayed_record_id(info.replay_request_id if info is not None else None)
            if replayed is not None:
                outcome = "quarantined again" if verdict.blocked else "stored"
                self._quarantine.finish_replay(conn, replayed, outcome, now_ms)
        self._log.record(conn, records, now_ms)
        self._quarantine.add(conn, held)

    def purge(self, now_ms: int) -> None:
        """Forget verdicts older than the retention."""
        self._log.purge(now_ms - self._retention_ms)
