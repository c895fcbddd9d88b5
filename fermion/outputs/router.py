"""Routing: what each connection forwards of a micro-batch, and of the audience membership-change queue.

Event connections: every processed batch whose input has active connections goes through each
connection's processing and is queued for its output in the pipeline's state transaction, so a replayed
micro-batch queues nothing twice and a crash loses nothing. Audience connections: membership changes are
read from the audiences' queue, processed, queued for the output and marked delivered in one transaction;
a newly active audience connection first gets the audience's current members (``initial_sync``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence, Set
from dataclasses import dataclass, field
from typing import Any

import msgspec
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError

from fermion.audiences import AudienceEvaluator, Audiences, MembershipChange, MemberSnapshot
from fermion.clock import Clock
from fermion.errors import NotFound
from fermion.outputs import initial_sync
from fermion.outputs.catalog import Connection as OutputConnection
from fermion.outputs.catalog import Output, Outputs
from fermion.outputs.deliveries import Deliveries, NewDelivery
from fermion.outputs.integrations import integration_named
from fermion.outputs.integrations.raw_batch import SendSettings, send_settings_of
from fermion.outputs.outbound import outbound_batch, with_consent_events
from fermion.outputs.processing import (
    Processing,
    is_trivial,
    parse_processing,
    process_batch,
    process_membership,
)
from fermion.profiles import ProfileStore
from fermion.schema import Batch
from fermion.store import reading

_encode = msgspec.json.encode
_decode = msgspec.json.decode
_log = logging.getLogger("fermion.outputs")


@dataclass(frozen=True)
class RoutedBatch:
    """A processed batch as the pipeline hands it to routing."""

    workspace_id: int
    input_id: int
    inbox_id: int
    mpid: int
    received_ms: int
    batch: Batch
    skip: Set[int] = frozenset()
    notifications: Sequence[dict[str, Any]] = ()  # the batch's consent changes (spec activation §7.5)


@dataclass
class _Active:
    connection: OutputConnection
    processing: Processing
    include_mp_deviceid: bool
    send: SendSettings | None  # raw-batch outputs' "Send …" settings
    notifications: str = "system"  # consent changes as: system (notifications) | events | none
    needs_consent: bool = field(init=False)

    def __post_init__(self) -> None:
        self.needs_consent = any(r["type"] == "consent" for r in self.processing.forwarding_rules)


class Router:
    """Queues deliveries for the active connections."""

    def __init__(
        self, engine: Engine, clock: Clock, outputs: Outputs, deliveries: Deliveries, profiles: ProfileStore
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._outputs = outputs
        self._deliveries = deliveries
        self._profiles = profiles
        self._signature: tuple[int, ...] | None = None
        self._by_input: dict[int, list[_Active]] = {}
        self._by_audience: dict[int, list[_Active]] = {}

    def _refresh(self, conn: Connection) -> None:
        """Reload connections when a connection or an output was added, changed, switched or deleted."""
        signature = self._outputs.revision(conn)
        if signature == self._signature:
            return
        self._by_input, self._by_audience = {}, {}
        outputs = {o.id: o for o in self._outputs.outputs()}
        for found in self._outputs.connections():
            output = outputs.get(found.output_id)
            if not found.active or output is None:
                continue
            active = _Active(
                found,
                parse_processing(found.settings, found.kind),
                bool(output.settings.get("include_mp_deviceid")),
                send_settings_of(integration_named(output.integration).connection_settings, found.settings),
                _notifications_as(output),
            )
            if found.input_id is not None:
                self._by_input.setdefault(found.input_id, []).append(active)
            if found.audience_id is not None:
                self._by_audience.setdefault(found.audience_id, []).append(active)
        self._signature = signature

    def route_batches(self, conn: Connection, batches: Sequence[RoutedBatch], now_ms: int) -> int:
        """Queue each batch for the event connections of its input; returns the deliveries queued."""
        self._refresh(conn)
        if not self._by_input:
            return 0
        wanted = [b for b in batches if b.input_id in self._by_input]
        consent = self._consent(
            conn, wanted, lambda b: any(a.needs_consent for a in self._by_input[b.input_id])
        )
        queued: list[NewDelivery] = []
        for routed in wanted:
            base = outbound_batch(
                routed.batch,
                mpid=routed.mpid,
                inbox_id=routed.inbox_id,
                received_ms=routed.received_ms,
                skip=routed.skip,
                include_mp_deviceid=True,
                system_notifications=routed.notifications,
            )
            plain: dict[tuple[bool, str], dict[str, Any]] = {}
            shaped: dict[tuple[bool, str, SendSettings | None], dict[str, Any]] = {}
            for active in self._by_input[routed.input_id]:
                send = active.send
                shape = (
                    active.include_mp_deviceid,
                    active.notifications if routed.notifications else "system",
                )
                if shape not in plain:
                    plain[shape] = _shaped(base, *shape)
                key = (*shape, send)
                if key not in shaped:  # connections alike share one payload
                    shaped[key] = plain[shape] if send is None else send.shape(plain[shape])
                result: dict[str, Any] | None = shaped[key]
                if not is_trivial(active.processing):
                    body = _decode(_encode(result))
                    state = consent.get((routed.workspace_id, routed.mpid), {})
                    result = process_batch(active.processing, active.connection.id, routed.mpid, body, state)
                if result is not None and (send is None or send.sends(result)):
                    queued.append(
                        NewDelivery(
                            active.connection.output_id, active.connection.id, routed.workspace_id,
                            routed.mpid, "batch", result,
                        )
                    )  # fmt: skip
        self._deliveries.enqueue(conn, queued, now_ms)
        return len(queued)

    def _consent(
        self, conn: Connection, batches: Sequence[Any], needed: Any
    ) -> dict[tuple[int, int], dict[str, Any]]:
        """The stored consent state of the users whose connections have consent rules."""
        by_workspace: dict[int, set[int]] = {}
        for b in batches:
            if needed(b):
                by_workspace.setdefault(b.workspace_id, set()).add(b.mpid)
        found: dict[tuple[int, int], dict[str, Any]] = {}
        for workspace_id, mpids in by_workspace.items():
            for mpid, profile in self._profiles.read_many(conn, workspace_id, mpids).items():
                found[(workspace_id, mpid)] = profile.consent_state
        return found

    def route_changes(self, audiences: Audiences, limit: int = 1000) -> int:
        """Move audience membership changes to the queues of their audience connections; returns how many
        changes were taken. Changes of audiences without connections are marked delivered too."""
        now = self._clock.now_ms()
        with self._engine.begin() as conn:
            changes = audiences.undelivered(conn, limit)
            if not changes:
                return 0
            self._refresh(conn)
            names: dict[int, str | None] = {}
            queued: list[NewDelivery] = []
            consent: dict[tuple[int, int], dict[str, Any]] = {}
            connected = [c for c in changes if c.audience_id in self._by_audience]
            if connected:
                consent = self._consent(conn, connected, lambda _: True)
            for change in connected:
                if change.audience_id not in names:
                    try:
                        found = audiences.get(change.workspace_id, change.audience_id)
                        names[change.audience_id] = found.external_name
                    except NotFound:  # deleted since: its changes are not forwarded
                        names[change.audience_id] = None
                name = names[change.audience_id]
                if name is None:
                    continue
                state = consent.get((change.workspace_id, change.mpid), {})
                for active in self._by_audience[change.audience_id]:
                    delivery = _membership_delivery(active, name, change, change.action, change.at_ms, state)
                    if delivery is not None:
                        queued.append(delivery)
            self._deliveries.enqueue(conn, queued, now)
            audiences.mark_delivered(conn, [c.id for c in changes], now)
        return len(changes)

    def sync_audiences(self, audiences: Audiences, evaluator: AudienceEvaluator, page: int = 1000) -> int:
        """The initial sync: queue the current members of each newly active audience connection's audience
        as adds, through that connection's processing, one page per connection; returns the members queued.

        Run it after :meth:`route_changes`. A member leaving while a page is read has its delete routed after
        the page's adds (see ``AudienceEvaluator.member_snapshots``), so it ends up removed."""
        with reading(self._engine) as conn:
            found = initial_sync.plan(conn)
            running = found.to_advance
            if running:
                self._refresh(conn)
        if found.new or found.gone:
            with self._engine.begin() as conn:
                initial_sync.start_and_forget(conn, found, self._clock.now_ms())
        active = {a.connection.id: a for alike in self._by_audience.values() for a in alike}
        total = 0
        for connection_id in running:
            if connection_id not in active:  # its output is gone, or the cache is a change behind
                continue
            try:
                total += self._sync_page(audiences, evaluator, active[connection_id], page)
            except OperationalError as exc:  # a member's row is being changed: the page waits a pass
                _log.info(
                    "audience sync page deferred", extra={"connection_id": connection_id, "error": str(exc)}
                )
        return total

    def _sync_page(
        self, audiences: Audiences, evaluator: AudienceEvaluator, active: _Active, page: int
    ) -> int:
        now = self._clock.now_ms()
        with self._engine.begin() as conn:
            cursor = initial_sync.claim(conn, active.connection.id)
            if cursor is None:  # done meanwhile, or another worker holds it
                return 0
            workspace_id = active.connection.workspace_id
            try:
                name = audiences.get(workspace_id, cursor.audience_id).external_name
            except NotFound:  # deleted: nothing left to send
                initial_sync.advance(conn, cursor, None, 0, True, now)
                return 0
            members = evaluator.member_snapshots(
                conn, workspace_id, cursor.audience_id, cursor.after_mpid, page
            )
            consent = self._consent(conn, [_Member(workspace_id, m.mpid) for m in members], lambda _: True)
            queued = []
            for member in members:
                state = consent.get((workspace_id, member.mpid), {})
                delivery = _membership_delivery(active, name, member, "add", now, state)
                if delivery is not None:
                    queued.append(delivery)
            self._deliveries.enqueue(conn, queued, now)
            last = members[-1].mpid if members else None
            done = len(members) < page
            initial_sync.advance(conn, cursor, last, len(members), done, now)
        _log.info(
            "audience sync page",
            extra={
                "connection_id": cursor.connection_id,
                "members": cursor.queued + len(members),
                "done": done,
            },
        )
        return len(members)

    def sync_status(self, connection_id: int) -> initial_sync.SyncCursor | None:
        """Where a connection's initial sync stands (None before the outputs job has seen it)."""
        with reading(self._engine) as conn:
            return initial_sync.cursor_of(conn, connection_id)


@dataclass(frozen=True)
class _Member:
    workspace_id: int
    mpid: int


def _membership_delivery(
    active: _Active,
    audience_name: str,
    member: MembershipChange | MemberSnapshot,
    action: str,
    at_ms: int,
    consent: dict[str, Any],
) -> NewDelivery | None:
    """A membership message through one audience connection's processing; None when it is not forwarded."""
    connection = active.connection
    payload = {
        "audience_id": connection.audience_id,
        "audience_name": audience_name,
        "action": action,
        "mpid": str(member.mpid),
        "timestamp_ms": at_ms,
        "user_identities": dict(member.user_identities),
        "device_identities": dict(member.device_identities),
        "user_attributes": dict(member.user_attributes),
        "consent_state": consent,
    }
    result = process_membership(active.processing, connection.id, member.mpid, payload, consent)
    if result is None:
        return None
    return NewDelivery(
        connection.output_id, connection.id, connection.workspace_id, member.mpid, "membership", result
    )


def _notifications_as(output: Output) -> str:
    """How an output receives consent changes: raw-batch outputs as ``system_notifications`` (unless
    their ``include_system_notifications`` setting is off), the others as consent custom events."""
    if not getattr(integration_named(output.integration), "raw_batches", True):
        return "events"
    return "system" if output.settings.get("include_system_notifications", True) else "none"


def _shaped(base: dict[str, Any], with_device: bool, notifications: str) -> dict[str, Any]:
    body = base if with_device else {k: v for k, v in base.items() if k != "mp_deviceid"}
    if notifications == "events":
        return with_consent_events(body)
    if notifications == "none" and body.get("system_notifications"):
        return {**body, "system_notifications": []}
    return body
