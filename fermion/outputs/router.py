"""Routing: what each connection forwards of a micro-batch, and of the audience membership-change queue.

Event connections: every processed batch whose input has active connections goes through each
connection's processing and is queued for its output in the pipeline's state transaction, so a replayed
micro-batch queues nothing twice and a crash loses nothing. Audience connections: membership changes are
read from the audiences' queue, processed, queued for the output and marked delivered in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from dataclasses import dataclass, field
from typing import Any

import msgspec
from sqlalchemy import Connection, Engine

from fermion.audiences import Audiences
from fermion.clock import Clock
from fermion.errors import NotFound
from fermion.outputs.catalog import Connection as OutputConnection
from fermion.outputs.catalog import Output, Outputs
from fermion.outputs.deliveries import Deliveries, NewDelivery
from fermion.outputs.integrations import integration_named
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

_encode = msgspec.json.encode
_decode = msgspec.json.decode


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
            for active in self._by_input[routed.input_id]:
                shape = (
                    active.include_mp_deviceid,
                    active.notifications if routed.notifications else "system",
                )
                if shape not in plain:
                    plain[shape] = _shaped(base, *shape)
                if is_trivial(active.processing):  # nothing changes the batch: share one payload
                    queued.append(
                        NewDelivery(
                            active.connection.output_id, active.connection.id, routed.workspace_id,
                            routed.mpid, "batch", plain[shape],
                        )
                    )  # fmt: skip
                    continue
                body = _decode(_encode(plain[shape]))
                state = consent.get((routed.workspace_id, routed.mpid), {})
                result = process_batch(active.processing, active.connection.id, routed.mpid, body, state)
                if result is not None:
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
                if names[change.audience_id] is None:
                    continue
                for active in self._by_audience[change.audience_id]:
                    state = consent.get((change.workspace_id, change.mpid), {})
                    payload = {
                        "audience_id": change.audience_id,
                        "audience_name": names[change.audience_id],
                        "action": change.action,
                        "mpid": str(change.mpid),
                        "timestamp_ms": change.at_ms,
                        "user_identities": dict(change.user_identities),
                        "device_identities": dict(change.device_identities),
                        "user_attributes": dict(change.user_attributes),
                        "consent_state": state,
                    }
                    result = process_membership(
                        active.processing, active.connection.id, change.mpid, payload, state
                    )
                    if result is not None:
                        queued.append(
                            NewDelivery(
                                active.connection.output_id, active.connection.id, change.workspace_id,
                                change.mpid, "membership", result,
                            )
                        )  # fmt: skip
            self._deliveries.enqueue(conn, queued, now)
            audiences.mark_delivered(conn, [c.id for c in changes], now)
        return len(changes)


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
