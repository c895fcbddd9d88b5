"""Data subject requests: submit, read, list by group, cancel; the status object and its transitions.

Statuses move ``pending`` → ``in_progress`` → ``completed``, or ``pending`` → ``cancelled`` (cancel only
while pending). Each change, creation included, queues a signed status callback to every
``status_callback_urls`` entry and a line in the audit log (without personal data).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from fermion.clock import Clock
from fermion.errors import BadRequest, Conflict, NotFound
from fermion.privacy.subject import SubjectRequest
from fermion.privacy.tables import dsr_audit, dsr_callbacks, dsr_requests
from fermion.store import reading

PENDING, IN_PROGRESS, COMPLETED, CANCELLED = "pending", "in_progress", "completed", "cancelled"
OPEN = (PENDING, IN_PROGRESS)
EXTENSION_KEYS = ("domain", "name", "status", "status_message")  # what a status response shows of a partner
SAFETY_MS = 48 * 3_600_000  # expected completion = scheduled processing time + 48 h


def iso(ms: int | None) -> str | None:
    """UTC ISO 8601 with a Z, as the DSR API writes times."""
    if ms is None:
        return None
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class DsrRecord:
    """One stored request."""

    workspace_id: int
    subject_request_id: str
    regulation: str
    request_type: str
    api_version: str
    received_ms: int
    due_ms: int
    expected_ms: int
    status: str
    group_id: str | None
    identities: dict[str, str]
    callback_urls: list[str]
    requested_by: str
    receipts: list[dict[str, Any]]
    extensions: list[dict[str, Any]]
    completed_ms: int | None
    results_expire_ms: int | None
    base_url: str
    forward_order: str | None = None  # JSON: identities still to forward (an erasure being retried)

    def status_json(self) -> dict[str, Any]:
        """The status object of the DSR API (v3 shape), with Fermion's receipts added."""
        results = None
        if self.request_type != "erasure" and self.status == COMPLETED:
            results = f"{self.base_url}/v3/requests/{self.subject_request_id}/results"
        return {
            "controller_id": str(self.workspace_id),
            "expected_completion_time": iso(self.expected_ms) if self.status in OPEN else None,
            "subject_request_id": self.subject_request_id,
            "group_id": self.group_id,
            "request_status": self.status,
            "api_version": self.api_version,
            "results_url": results,
            "extensions": [{k: e.get(k) for k in EXTENSION_KEYS} for e in self.extensions],
            "received_time": iso(self.received_ms),
            "regulation": self.regulation,
            "subject_request_type": self.request_type,
            "receipts": self.receipts,
        }


def _identity_key(request: SubjectRequest) -> str:
    parts = json.dumps(
        [request.request_type, sorted(request.identities.items()), request.skip_waiting_period]
    )
    return hashlib.sha256(parts.encode()).hexdigest()


class DsrRequests:
    """The requests of every workspace, in the state store."""

    def __init__(self, engine: Engine, clock: Clock, waiting_period_ms: int) -> None:
        self._engine = engine
        self._clock = clock
        self._waiting_ms = waiting_period_ms

    def submit(
        self, workspace_id: int, request: SubjectRequest, requested_by: str, base_url: str
    ) -> DsrRecord:
        """Store a new request as ``pending``; 400 on a duplicate id, 409 when an identical one is open."""
        now = self._clock.now_ms()
        erasure = request.request_type == "erasure"
        due = now + (self._waiting_ms if erasure and not request.skip_waiting_period else 0)
        key = _identity_key(request)
        with self._engine.begin() as conn:
            exists = conn.execute(
                select(dsr_requests.c.status).where(
                    dsr_requests.c.workspace_id == workspace_id,
                    dsr_requests.c.subject_request_id == request.subject_request_id,
                )
            ).first()
            if exists is not None:
                raise BadRequest("Subject request already exists.")
            twin = conn.execute(
                select(dsr_requests.c.subject_request_id).where(
                    dsr_requests.c.workspace_id == workspace_id,
                    dsr_requests.c.identity_key == key,
                    dsr_requests.c.status.in_(OPEN),
                )
            ).first()
            if twin is not None:
                raise Conflict("A request with the same identities, extensions and type is in progress.")
            conn.execute(
                insert(dsr_requests).values(
                    workspace_id=workspace_id,
                    subject_request_id=request.subject_request_id,
                    regulation=request.regulation,
                    request_type=request.request_type,
                    api_version=request.api_version,
                    submitted_time=request.submitted_time,
                    received_ms=now,
                    due_ms=due,
                    expected_ms=due + SAFETY_MS,
                    status=PENDING,
                    group_id=request.group_id,
                    identities=json.dumps(request.identities),
                    identity_key=key,
                    skip_waiting_period=int(request.skip_waiting_period),
                    callback_urls=json.dumps(list(request.callback_urls)),
                    requested_by=requested_by,
                    receipts="[]",
                    extensions="[]",
                    base_url=base_url.rstrip("/"),
                )
            )
            record = self._read(conn, workspace_id, request.subject_request_id)
            self.audit(
                conn,
                record,
                requested_by,
                "submitted",
                {
                    "identity_types": sorted(request.identities),
                    "skip_waiting_period": request.skip_waiting_period,
                    "submitted_time": request.submitted_time,
                },
            )
            self.queue_callbacks(conn, record)
        return record

    def get(self, workspace_id: int, subject_request_id: str) -> DsrRecord:
        """One request; NotFound (404) when the workspace has none by that id."""
        with reading(self._engine) as conn:
            return self._read(conn, workspace_id, subject_request_id)

    def by_group(self, workspace_id: int, group_id: str) -> list[DsrRecord]:
        """The requests of one group, oldest first."""
        query = (
            select(dsr_requests)
            .where(dsr_requests.c.workspace_id == workspace_id, dsr_requests.c.group_id == group_id)
            .order_by(dsr_requests.c.received_ms, dsr_requests.c.subject_request_id)
        )
        with reading(self._engine) as conn:
            return [_record(row) for row in conn.execute(query)]

    def all(self, workspace_id: int | None = None, status: str | None = None) -> list[DsrRecord]:
        """Requests, oldest first (for operators)."""
        query = select(dsr_requests).order_by(dsr_requests.c.received_ms, dsr_requests.c.subject_request_id)
        if workspace_id is not None:
            query = query.where(dsr_requests.c.workspace_id == workspace_id)
        if status is not None:
            query = query.where(dsr_requests.c.status == status)
        with reading(self._engine) as conn:
            return [_record(row) for row in conn.execute(query)]

    def cancel(self, workspace_id: int, subject_request_id: str, actor: str) -> DsrRecord:
        """Cancel a pending request; 400 once it has started (erasures already forwarded stay forwarded)."""
        with self._engine.begin() as conn:
            record = self._read(conn, workspace_id, subject_request_id)
            if record.status != PENDING:
                raise BadRequest(f"Only a pending request can be cancelled; this one is {record.status}.")
            record = self.transition(conn, record, CANCELLED, actor, {})
        return record

    def due(self, limit: int = 20) -> list[DsrRecord]:
        """Open requests whose waiting period is over, oldest first (one a crash interrupted included)."""
        query = (
            select(dsr_requests)
            .where(dsr_requests.c.status.in_(OPEN), dsr_requests.c.due_ms <= self._clock.now_ms())
            .order_by(dsr_requests.c.due_ms)
            .limit(limit)
        )
        with reading(self._engine) as conn:
            return [_record(row) for row in conn.execute(query)]

    def claim(self, conn: Connection, record: DsrRecord) -> bool:
        """Whether this caller is the one to start a pending request (one worker of many wins)."""
        result = conn.execute(
            update(dsr_requests)
            .where(
                dsr_requests.c.workspace_id == record.workspace_id,
                dsr_requests.c.subject_request_id == record.subject_request_id,
                dsr_requests.c.status == PENDING,
            )
            .values(status=IN_PROGRESS)
        )
        return bool(result.rowcount == 1)

    def transition(
        self, conn: Connection, record: DsrRecord, status: str, actor: str, changes: dict[str, Any]
    ) -> DsrRecord:
        """Move a request to ``status`` with column ``changes``; audit it and queue its callbacks.

        Leaving the open statuses redacts the identity values: the record keeps their types only.
        """
        now = self._clock.now_ms()
        values: dict[str, Any] = {"status": status, **changes}
        if status in (COMPLETED, CANCELLED):
            values["completed_ms"] = now
            values["identities"] = json.dumps({name: "" for name in record.identities})
            values["forward_order"] = None
        updated = self._update(conn, record, values)
        detail: dict[str, Any] = {"from": record.status}
        if status == COMPLETED:
            detail["receipts"] = updated.receipts
            detail["extensions"] = updated.extensions
        self.audit(conn, updated, actor, status, detail)
        self.queue_callbacks(conn, updated)
        return updated

    def progress(self, conn: Connection, record: DsrRecord, actor: str, changes: dict[str, Any]) -> DsrRecord:
        """Save an open request's progress (receipts so far, partners to retry and when) without a
        status change: no callback; the audit line names the partners still pending."""
        updated = self._update(conn, record, changes)
        pending = [e["name"] for e in updated.extensions if e.get("status") == "pending"]
        self.audit(conn, updated, actor, "forwarding_retry", {"pending": pending, "next_ms": updated.due_ms})
        return updated

    def audit(
        self, conn: Connection, record: DsrRecord, actor: str, action: str, detail: dict[str, Any]
    ) -> None:
        """One audit line: who, when, what; never identity values, attributes or events."""
        conn.execute(
            insert(dsr_audit).values(
                workspace_id=record.workspace_id,
                subject_request_id=record.subject_request_id,
                at_ms=self._clock.now_ms(),
                actor=actor,
                action=action,
                detail=json.dumps(detail, sort_keys=True),
            )
        )

    def audit_log(self, workspace_id: int, subject_request_id: str) -> list[dict[str, Any]]:
        """The audit lines of one request, oldest first."""
        query = (
            select(dsr_audit)
            .where(
                dsr_audit.c.workspace_id == workspace_id, dsr_audit.c.subject_request_id == subject_request_id
            )
            .order_by(dsr_audit.c.id)
        )
        with reading(self._engine) as conn:
            return [
                {"at": iso(r.at_ms), "actor": r.actor, "action": r.action, "detail": json.loads(r.detail)}
                for r in conn.execute(query)
            ]

    def queue_callbacks(self, conn: Connection, record: DsrRecord) -> None:
        """Queue the request's current status for each of its callback URLs."""
        if not record.callback_urls:
            return
        body = json.dumps(record.status_json(), separators=(",", ":")).encode()
        now = self._clock.now_ms()
        conn.execute(
            insert(dsr_callbacks),
            [
                {
                    "workspace_id": record.workspace_id,
                    "subject_request_id": record.subject_request_id,
                    "url": url,
                    "api_version": record.api_version,
                    "body": body,
                    "attempts": 0,
                    "next_ms": now,
                    "sent_ms": None,
                    "last_error": None,
                }
                for url in record.callback_urls
            ],
        )

    def _update(self, conn: Connection, record: DsrRecord, values: dict[str, Any]) -> DsrRecord:
        """Write ``values`` to the request's row and read it back."""
        conn.execute(
            update(dsr_requests)
            .where(
                dsr_requests.c.workspace_id == record.workspace_id,
                dsr_requests.c.subject_request_id == record.subject_request_id,
            )
            .values(**values)
        )
        return self._read(conn, record.workspace_id, record.subject_request_id)

    def _read(self, conn: Connection, workspace_id: int, subject_request_id: str) -> DsrRecord:
        row = conn.execute(
            select(dsr_requests).where(
                dsr_requests.c.workspace_id == workspace_id,
                dsr_requests.c.subject_request_id == subject_request_id.lower(),
            )
        ).first()
        if row is None:
            raise NotFound(f"No subject request {subject_request_id!r}.")
        return _record(row)


def _record(row: Any) -> DsrRecord:
    return DsrRecord(
        workspace_id=int(row.workspace_id),
        subject_request_id=row.subject_request_id,
        regulation=row.regulation,
        request_type=row.request_type,
        api_version=row.api_version,
        received_ms=int(row.received_ms),
        due_ms=int(row.due_ms),
        expected_ms=int(row.expected_ms),
        status=row.status,
        group_id=row.group_id,
        identities=json.loads(row.identities),
        callback_urls=json.loads(row.callback_urls),
        requested_by=row.requested_by,
        receipts=json.loads(row.receipts),
        extensions=json.loads(row.extensions),
        completed_ms=row.completed_ms,
        results_expire_ms=row.results_expire_ms,
        base_url=row.base_url,
        forward_order=row.forward_order,
    )
