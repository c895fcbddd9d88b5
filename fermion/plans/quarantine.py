"""The quarantine: each batch something was blocked from, kept with its block metadata until replayed.

A record holds the original batch as received, with ``context.data_plan.block_metadata`` (spec §1.7). A replay
builds, per record, a batch of only what was blocked: the blocked events and the events that lost attributes
(each pinned to its original event id, so the event store replaces the stripped copy instead of adding a
second one), with the batch's user attributes and identities, addressed to the same profile. Replays are
validated against the plan's latest active version and marked done by the pipeline when processed.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any, Final

import msgspec
from sqlalchemy import Connection, Engine, Row, func, insert, select, update

from fermion.errors import BadRequest, NotFound
from fermion.plans.tables import quarantine
from fermion.plans.validator import BLOCK_REASONS, Verdict
from fermion.store import reading

QUARANTINED: Final = "quarantined"
REPLAYING: Final = "replaying"
REPLAYED: Final = "replayed"
REPLAY_PREFIX: Final = "quarantine:"


@dataclass(frozen=True)
class QuarantineFilter:
    """Which quarantine records to list or replay; ``None`` means any."""

    data_plan_id: str | None = None
    version: int | None = None
    reason: str | None = None
    since_ms: int | None = None
    until_ms: int | None = None
    status: str | None = None
    ids: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.reason is not None and self.reason not in BLOCK_REASONS:
            raise BadRequest(f"reason: {self.reason!r} is not one of {', '.join(BLOCK_REASONS)}")
        if self.status is not None and self.status not in (QUARANTINED, REPLAYING, REPLAYED):
            raise BadRequest(f"status: {self.status!r} is not one of quarantined, replaying, replayed")


@dataclass(frozen=True)
class QuarantineRecord:
    """One quarantined batch."""

    id: int
    workspace_id: int
    input_id: int
    inbox_id: int
    mpid: int
    received_ms: int
    quarantined_ms: int
    environment: str
    data_plan_id: str
    version: int
    reasons: tuple[str, ...]
    event_names: tuple[str, ...]
    status: str
    replay_job: str | None
    replayed_ms: int | None
    replay_outcome: str | None
    batch: dict[str, Any]

    def to_json(self, with_batch: bool = True) -> dict[str, Any]:
        """The record as the API shows it (MPIDs as strings)."""
        body: dict[str, Any] = {
            "id": self.id,
            "input_id": self.input_id,
            "mpid": str(self.mpid),
            "received_ms": self.received_ms,
            "quarantined_ms": self.quarantined_ms,
            "environment": self.environment,
            "data_plan": {"plan_id": self.data_plan_id, "plan_version": self.version},
            "reasons": list(self.reasons),
            "event_names": list(self.event_names),
            "status": self.status,
            "replay_job_id": self.replay_job,
            "replayed_ms": self.replayed_ms,
            "replay_outcome": self.replay_outcome,
        }
        if with_batch:
            body["batch"] = self.batch
        return body


@dataclass(frozen=True)
class ReplayProgress:
    """Where a replay job stands."""

    job_id: str
    selected: int
    pending: int
    stored: int
    quarantined_again: int

    @property
    def done(self) -> bool:
        """Whether every selected record has been processed."""
        return self.pending == 0

    def to_json(self) -> dict[str, Any]:
        """The progress as the API and CLI show it."""
        return {
            "replay_job_id": self.job_id,
            "selected": self.selected,
            "pending": self.pending,
            "stored": self.stored,
            "quarantined_again": self.quarantined_again,
            "done": self.done,
        }


def event_id_of(event: dict[str, Any], inbox_id: int, index: int) -> str:
    """An event's id as the event store keys it: its source_message_id, else its inbox position."""
    data = event.get("data") or {}
    found = data.get("source_message_id")
    return str(found) if found else f"inbox:{inbox_id}:{index}"


def quarantined_batch(payload: bytes, verdict: Verdict) -> dict[str, Any]:
    """The original batch with ``context.data_plan`` naming the plan and carrying the block metadata."""
    batch: dict[str, Any] = msgspec.json.decode(payload)
    context = batch.setdefault("context", {}) or {}
    batch["context"] = context
    plan = dict(context.get("data_plan") or {})
    plan.update(
        {
            "plan_id": verdict.plan_id,
            "plan_version": verdict.plan_version,
            "block_metadata": verdict.block_metadata,
        }
    )
    context["data_plan"] = plan
    return batch


def blocked_event_names(batch: dict[str, Any], verdict: Verdict) -> list[str]:
    """The names of the events a verdict blocked, for listing and filtering."""
    names = []
    for index in sorted(verdict.blocked_events):
        event = (batch.get("events") or [])[index]
        data = event.get("data") or {}
        names.append(str(data.get("event_name") or data.get("screen_name") or event.get("event_type")))
    return names


class Quarantine:
    """Quarantine records in the state store."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        """Add records inside the pipeline's transaction (rows carry the table's columns but ``id``)."""
        if rows:
            conn.execute(insert(quarantine), rows)

    def find(
        self, workspace_id: int, where: QuarantineFilter, limit: int = 100, after_id: int = 0
    ) -> list[QuarantineRecord]:
        """Records matching ``where``, oldest first, after ``after_id``."""
        query = (
            self._select(workspace_id, where)
            .where(quarantine.c.id > after_id)
            .order_by(quarantine.c.id)
            .limit(limit)
        )
        with reading(self._engine) as conn:
            return [_record(r) for r in conn.execute(query)]

    def count(self, workspace_id: int, where: QuarantineFilter) -> int:
        """How many records match ``where``."""
        query = self._select(workspace_id, where).with_only_columns(func.count())
        with reading(self._engine) as conn:
            return int(conn.execute(query).scalar_one())

    def get(self, workspace_id: int, record_id: int) -> QuarantineRecord:
        """One record; ``NotFound`` when it is not in the workspace."""
        c = quarantine.c
        with reading(self._engine) as conn:
            row = conn.execute(
                select(quarantine).where(c.workspace_id == workspace_id, c.id == record_id)
            ).first()
        if row is None:
            raise NotFound(f"No quarantine record {record_id} in workspace {workspace_id}.")
        return _record(row)

    def start_replay(
        self, workspace_id: int, where: QuarantineFilter, limit: int = 10_000
    ) -> tuple[str, list[QuarantineRecord]]:
        """Mark matching records not yet replayed as replaying under a new job; returns the job and them."""
        job = uuid.uuid4().hex[:16]
        selection = QuarantineFilter(
            where.data_plan_id,
            where.version,
            where.reason,
            where.since_ms,
            where.until_ms,
            QUARANTINED,
            where.ids,
        )
        with self._engine.begin() as conn:
            rows = conn.execute(
                self._select(workspace_id, selection).order_by(quarantine.c.id).limit(limit)
            ).all()
            ids = [r.id for r in rows]
            if ids:
                conn.execute(
                    update(quarantine)
                    .where(quarantine.c.id.in_(ids))
                    .values(status=REPLAYING, replay_job=job)
                )
        return job, [_record(r) for r in rows]

    def finish_replay(self, conn: Connection, record_id: int, outcome: str, at_ms: int) -> None:
        """Mark a record replayed (inside the pipeline's transaction that processed its replay)."""
        conn.execute(
            update(quarantine)
            .where(quarantine.c.id == record_id, quarantine.c.status == REPLAYING)
            .values(status=REPLAYED, replayed_ms=at_ms, replay_outcome=outcome)
        )

    def progress(self, workspace_id: int, job_id: str) -> ReplayProgress:
        """Counts of a replay job's records by state."""
        c = quarantine.c
        query = (
            select(c.status, c.replay_outcome, func.count())
            .where(c.workspace_id == workspace_id, c.replay_job == job_id)
            .group_by(c.status, c.replay_outcome)
        )
        with reading(self._engine) as conn:
            rows = conn.execute(query).all()
        if not rows:
            raise NotFound(f"No replay job {job_id} in workspace {workspace_id}.")
        selected = sum(n for _, _, n in rows)
        pending = sum(n for status, _, n in rows if status == REPLAYING)
        again = sum(n for status, outcome, n in rows if status == REPLAYED and outcome == "quarantined again")
        return ReplayProgress(job_id, selected, pending, selected - pending - again, again)

    def _select(self, workspace_id: int, where: QuarantineFilter) -> Any:
        c = quarantine.c
        query = select(quarantine).where(c.workspace_id == workspace_id)
        if where.data_plan_id is not None:
            query = query.where(c.data_plan_id == where.data_plan_id)
        if where.version is not None:
            query = query.where(c.version == where.version)
        if where.reason is not None:
            query = query.where(c.reasons.contains(where.reason))
        if where.since_ms is not None:
            query = query.where(c.quarantined_ms >= where.since_ms)
        if where.until_ms is not None:
            query = query.where(c.quarantined_ms < where.until_ms)
        if where.status is not None:
            query = query.where(c.status == where.status)
        if where.ids is not None:
            query = query.where(c.id.in_(where.ids))
        return query


def replay_batch(record: QuarantineRecord, job_id: str) -> bytes:
    """The batch that re-ingests what a record blocked (see the module docstring)."""
    batch = json.loads(json.dumps(record.batch))
    context = batch.get("context") or {}
    plan = dict(context.get("data_plan") or {})
    metadata = plan.pop("block_metadata", None) or {}
    plan.pop("plan_version", None)
    context["data_plan"] = plan
    batch["context"] = context
    wanted = set(metadata.get("blocked_event_ids") or ())
    wanted |= {entry["event_id"] for entry in metadata.get("blocked_event_attributes") or ()}
    kept = []
    for index, event in enumerate(batch.get("events") or ()):
        event_id = event_id_of(event, record.inbox_id, index)
        if event_id in wanted:
            data = event.setdefault("data", {})
            data["source_message_id"] = event_id
            kept.append(event)
    batch["events"] = kept
    if batch.get("mpid") in (None, "", 0):
        batch["mpid"] = record.mpid
    batch["source_request_id"] = f"{REPLAY_PREFIX}{record.id}:{job_id}"
    batch["source_info"] = {
        **(batch.get("source_info") or {}),
        "replay_request_id": f"{REPLAY_PREFIX}{record.id}",
        "replay_job_id": job_id,
    }
    batch.pop("batch_id", None)
    return json.dumps(batch).encode()


def replayed_record_id(replay_request_id: str | None) -> int | None:
    """The quarantine record a batch replays, from its ``source_info.replay_request_id``."""
    if not replay_request_id or not replay_request_id.startswith(REPLAY_PREFIX):
        return None
    try:
        return int(replay_request_id[len(REPLAY_PREFIX) :])
    except ValueError:
        return None


def _record(row: Row[Any]) -> QuarantineRecord:
    return QuarantineRecord(
        id=row.id,
        workspace_id=row.workspace_id,
        input_id=row.input_id,
        inbox_id=row.inbox_id,
        mpid=row.mpid,
        received_ms=row.received_ms,
        quarantined_ms=row.quarantined_ms,
        environment=row.environment,
        data_plan_id=row.data_plan_id,
        version=row.version,
        reasons=tuple(r for r in row.reasons.split(",") if r),
        event_names=tuple(json.loads(row.event_names)),
        status=row.status,
        replay_job=row.replay_job,
        replayed_ms=row.replayed_ms,
        replay_outcome=row.replay_outcome,
        batch=json.loads(bytes(row.batch)),
    )
