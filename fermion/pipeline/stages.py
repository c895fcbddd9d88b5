"""The stages a micro-batch of inbox items goes through, in order; the rules live in the contexts."""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass, field
from typing import Any

import msgspec
from sqlalchemy import Connection

from fermion.audiences import AudienceEvaluator
from fermion.calculated import CalculatedValues
from fermion.events import StoredEvent
from fermion.identity import BatchIdentity, canonical
from fermion.ids import stable_int64
from fermion.ingest import identities_of
from fermion.platform import Input
from fermion.profiles import ProfileUpdate
from fermion.queue import InboxItem
from fermion.schema import Batch, BatchLimits, decode_batch, encode_event, event_name_of, event_type_of

SOURCE_FEED_ATTRIBUTE = "mParticle Source Feed"


@dataclass
class Prepared:
    """What one micro-batch will write: events for the event store, updates for profiles."""

    events: list[StoredEvent] = field(default_factory=list)
    profiles: list[ProfileUpdate] = field(default_factory=list)
    item_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Decoded:
    """An inbox item decoded, with what identity resolution needs of it."""

    item: InboxItem
    batch: Batch
    identity: BatchIdentity


_ZERO_UUID = "00000000-0000-0000-0000-000000000000"


def decode_item(item: InboxItem, limits: BatchLimits) -> Decoded:
    """Decode one inbox item; raises on a batch that cannot be processed (the worker parks it)."""
    decoded = decode_batch(item.payload, limits=limits)
    return Decoded(item, decoded.batch, identity_of(item, decoded.batch, decoded.mpid))


def identity_of(item: InboxItem, batch: Batch, mpid: int | None) -> BatchIdentity:
    """What identity resolution needs of a batch: its MPID, if sent, and its identities."""
    users, devices = identities_of(batch)
    request = {canonical(name): value for name, value in {**users, **devices}.items() if value != _ZERO_UUID}
    if batch.mp_deviceid and batch.mp_deviceid != _ZERO_UUID:
        request["device_application_stamp"] = batch.mp_deviceid
    return BatchIdentity(item.id, mpid, request)


def event_ids_of(item: InboxItem, batch: Batch) -> list[str]:
    """The ids the event store keys a batch's events by: source_message_id, else the inbox position."""
    return [
        event.data.source_message_id or f"inbox:{item.id}:{index}"
        for index, event in enumerate(batch.events or ())
    ]


def prepare(
    decoded: Decoded, mpid: int, source: Input | None, into: Prepared, skip: Set[int] = frozenset()
) -> None:
    """Add the events and the profile update of one resolved batch to ``into``; ``skip`` lists blocked
    events by position."""
    item, batch = decoded.item, decoded.batch
    _feed_attribute(batch, source)
    environment = batch.environment if batch.environment != "unknown" else "production"
    for index, event in enumerate(batch.events or ()):
        if index in skip:
            continue
        data = event.data
        timestamp = data.timestamp_unixtime_ms if data.timestamp_unixtime_ms is not None else item.received_ms
        session_uuid = data.session_uuid
        into.events.append(
            StoredEvent(
                workspace_id=item.workspace_id,
                input_id=item.input_id,
                event_uid=data.source_message_id or f"inbox:{item.id}:{index}",
                mpid=mpid,
                event_type=event_type_of(event),
                event_name=event_name_of(event),
                timestamp_ms=timestamp,
                received_ms=item.received_ms,
                session_uuid=session_uuid,
                session_id=data.session_id
                if data.session_id is not None
                else (stable_int64(session_uuid.upper()) if session_uuid else None),
                environment=environment,
                source_message_id=data.source_message_id,
                inbox_id=item.id,
                body=encode_event(event).decode(),
            )
        )
    users, devices = identities_of(batch)
    if batch.mp_deviceid:
        devices["mp_deviceid"] = batch.mp_deviceid
    consent: dict[str, dict[str, Any]] = {}
    if batch.consent_state is not None:
        consent = {k: v for k, v in msgspec.to_builtins(batch.consent_state).items() if isinstance(v, dict)}
    into.profiles.append(
        ProfileUpdate(
            workspace_id=item.workspace_id,
            mpid=mpid,
            seen_ms=item.received_ms,
            user_attributes=dict(batch.user_attributes or {}),
            deleted_user_attributes=tuple(batch.deleted_user_attributes or ()),
            user_identities=users,
            device_identities=devices,
            consent_state=consent,
        )
    )
    into.item_ids.append(item.id)


def _feed_attribute(batch: Batch, source: Input | None) -> None:
    """Events from a feed input carry the feed's name, as mParticle documents for feeds."""
    if source is None or source.kind != "feed":
        return
    for event in batch.events or ():
        data: Any = event.data
        if hasattr(data, "custom_attributes"):
            attributes = dict(data.custom_attributes or {})
            attributes[SOURCE_FEED_ATTRIBUTE] = source.name
            data.custom_attributes = attributes


def activate(
    conn: Connection,
    calculated: CalculatedValues,
    audiences: AudienceEvaluator,
    prepared: Prepared,
    now_ms: int,
) -> None:
    """calculated.update, then audiences.evaluate, for the users a micro-batch touched (per workspace).

    Runs in the micro-batch's state transaction, after the profiles are applied, so memberships see the
    attributes the same batches set, and a replayed micro-batch counts nothing twice.
    """
    touched: dict[int, set[int]] = {}
    accepted: dict[int, int] = {}
    for update in prepared.profiles:
        touched.setdefault(update.workspace_id, set()).add(update.mpid)
        accepted[update.workspace_id] = min(accepted.get(update.workspace_id, update.seen_ms), update.seen_ms)
    events: dict[int, list[StoredEvent]] = {}
    for event in prepared.events:
        events.setdefault(event.workspace_id, []).append(event)
    for workspace_id, mpids in touched.items():
        mine = events.get(workspace_id, [])
        values = calculated.update(conn, workspace_id, mpids, mine, now_ms, accepted[workspace_id])
        audiences.evaluate(
            conn, workspace_id, mpids, mine, now_ms, accepted_ms=accepted[workspace_id], values=values
        )


def expire_windows(
    conn: Connection, calculated: CalculatedValues, audiences: AudienceEvaluator, now_ms: int
) -> None:
    """Re-evaluate the users whose calculated values or audience windows the Clock has moved past."""
    changed = calculated.sweep(conn, now_ms)
    due = audiences.sweep(conn, now_ms)
    for workspace_id in sorted(set(changed) | set(due)):
        mpids = changed.get(workspace_id, set()) | due.get(workspace_id, set())
        audiences.evaluate(conn, workspace_id, mpids, [], now_ms)
    calculated.touch_freshness(conn, now_ms)
    audiences.touch_freshness(conn, now_ms)
