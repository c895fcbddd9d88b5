"""The event store, on each backend: idempotent appends, tail in storage order, a user's events by time."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from fermion.events import EventStore, StoredEvent, open_event_store
from fermion.settings import Settings


@pytest.fixture
def store(settings: Settings) -> Iterator[EventStore]:
    opened = open_event_store(settings.resolved_event_store_url())
    try:
        yield opened
    finally:
        opened.close()


def stored_event(
    workspace_id: int = 1, mpid: int = 42, timestamp_ms: int = 1_700_000_000_000, **fields: Any
) -> StoredEvent:
    """One event as the pipeline hands it to the store."""
    uid = fields.pop("event_uid", str(uuid.uuid4()))
    name = fields.pop("event_name", f"event {uid[:8]}")
    body = {"event_type": "custom_event", "data": {"event_name": name, "source_message_id": uid}}
    values: dict[str, Any] = {
        "workspace_id": workspace_id, "input_id": 1, "event_uid": uid, "mpid": mpid,
        "event_type": "custom_event", "event_name": name, "timestamp_ms": timestamp_ms,
        "received_ms": timestamp_ms + 5, "session_uuid": None, "session_id": None,
        "environment": "production", "source_message_id": uid, "inbox_id": 1, "body": json.dumps(body),
    }  # fmt: skip
    values.update(fields)
    return StoredEvent(**values)


def _without_seq(event: StoredEvent) -> StoredEvent:
    return replace(event, seq=0, body=json.dumps(json.loads(event.body), sort_keys=True))


def test_an_empty_store_has_nothing(store: EventStore) -> None:
    assert (store.count(), store.last_seq(), store.tail(0)) == (0, 0, [])
    assert store.append([]) == 0


def test_appending_the_same_events_twice_stores_them_once(store: EventStore) -> None:
    events = [stored_event() for _ in range(5)]
    assert store.append(events) == 5
    assert store.append(events) == 0
    assert store.append(list(reversed(events[:3]))) == 0
    assert store.count() == 5
    fresh = stored_event()
    assert store.append([events[0], fresh, events[4]]) == 1  # only what is new counts
    assert store.count() == 6
    assert [e.event_uid for e in store.tail(0)] == [e.event_uid for e in [*events, fresh]]


def test_a_duplicate_inside_one_append_is_stored_once(store: EventStore) -> None:
    event = stored_event()
    assert store.append([event, event, stored_event(event_uid=event.event_uid, event_name="re-sent")]) == 1
    [kept] = store.tail(0)
    assert kept.event_name == event.event_name


def test_the_same_uid_in_two_workspaces_is_two_events(store: EventStore) -> None:
    uid = "shared-uid"
    assert store.append([stored_event(1, event_uid=uid), stored_event(2, event_uid=uid)]) == 2
    assert (store.count(), store.count(1), store.count(2), store.count(3)) == (2, 1, 1, 0)


def test_events_come_back_as_appended(store: EventStore) -> None:
    event = stored_event(
        session_uuid="5b0c-42", session_id=-7_123_456_789, environment="development", inbox_id=77,
        event_type="screen_view", event_name="Home", source_message_id=None, input_id=3,
    )  # fmt: skip
    store.append([event])
    [back] = store.tail(0)
    assert back.seq > 0
    assert _without_seq(back) == _without_seq(event)


def test_tail_returns_events_after_a_seq_in_storage_order(store: EventStore) -> None:
    first = [stored_event(1, event_name=f"a{i}", timestamp_ms=9_000 - i) for i in range(4)]
    other = [stored_event(2, event_name=f"b{i}") for i in range(3)]
    second = [stored_event(1, event_name=f"c{i}", timestamp_ms=1_000 + i) for i in range(4)]
    for chunk in (first, other, second):
        store.append(chunk)

    everything = store.tail(0)
    assert [e.event_name for e in everything] == [e.event_name for e in first + other + second]
    seqs = [e.seq for e in everything]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert store.last_seq() == seqs[-1]

    after = everything[5].seq
    assert [e.event_name for e in store.tail(after)] == ["b2", "c0", "c1", "c2", "c3"]
    assert [e.event_name for e in store.tail(after, limit=2)] == ["b2", "c0"]
    assert [e.event_name for e in store.tail(after, workspace_id=1)] == ["c0", "c1", "c2", "c3"]
    assert [e.event_name for e in store.tail(0, workspace_id=2)] == ["b0", "b1", "b2"]
    assert store.tail(0, workspace_id=3) == []
    assert store.tail(store.last_seq()) == []


def test_events_of_returns_one_users_events_by_timestamp(store: EventStore) -> None:
    store.append(
        [
            stored_event(mpid=7, event_name="third", timestamp_ms=3_000),
            stored_event(mpid=7, event_name="first", timestamp_ms=1_000),
            stored_event(mpid=8, event_name="someone else", timestamp_ms=2_000),
            stored_event(2, mpid=7, event_name="other workspace", timestamp_ms=2_000),
        ]
    )
    store.append(
        [
            stored_event(mpid=7, event_name="second", timestamp_ms=2_000),
            stored_event(mpid=7, event_name="second, stored later", timestamp_ms=2_000),
        ]
    )
    assert [e.event_name for e in store.events_of(1, 7)] == [
        "first",
        "second",
        "second, stored later",
        "third",
    ]
    assert [e.event_name for e in store.events_of(2, 7)] == ["other workspace"]
    assert store.events_of(1, 9) == []


def test_count_counts_all_or_one_workspace(store: EventStore) -> None:
    store.append([stored_event(1) for _ in range(3)] + [stored_event(2) for _ in range(2)])
    assert (store.count(), store.count(1), store.count(2)) == (5, 3, 2)


def test_events_and_their_order_survive_reopening(settings: Settings, store: EventStore) -> None:
    before = [stored_event(event_name=f"before {i}") for i in range(3)]
    store.append(before)
    last = store.last_seq()
    store.close()
    reopened = open_event_store(settings.resolved_event_store_url())
    try:
        assert reopened.append(before) == 0
        assert reopened.append([stored_event(event_name="after")]) == 1
        names = [(e.event_name, e.seq > last) for e in reopened.tail(0)]
        assert names == [("before 0", False), ("before 1", False), ("before 2", False), ("after", True)]
    finally:
        reopened.close()


def test_one_append_stores_its_events_in_the_order_given(store: EventStore) -> None:
    """Storage order is the pipeline's order: a batch's events keep their order in ``tail`` and ``events_of``.

    Several appends of events of one inbox batch each, of different sizes as real events are (the pad is
    random hex, so that it does not compress).
    """
    names: list[str] = []
    for inbox_id in range(1, 31, 10):
        chunk = []
        for batch in range(inbox_id, inbox_id + 10):
            for i in range(10):
                name = f"batch {batch} event {i}"
                body = {"data": {"event_name": name, "pad": uuid.uuid4().hex * ((batch + 7 * i) % 40)}}
                chunk.append(stored_event(event_name=name, inbox_id=batch, body=json.dumps(body)))
        assert store.append(chunk) == 100
        names += [e.event_name for e in chunk]
    assert [e.event_name for e in store.tail(0, limit=1000)] == names
    assert [e.event_name for e in store.events_of(1, 42)] == names
