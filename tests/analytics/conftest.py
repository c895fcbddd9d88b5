"""Fixtures of the analytics tests: an event store on each backend and a journey builder."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from fermion.analytics import Runner
from fermion.clock import FrozenClock
from fermion.events import EventStore, StoredEvent, open_event_store

DAY = 86_400_000
HOUR = 3_600_000
MINUTE = 60_000
# 2024-01-01T00:00:00Z, a Monday
T0 = 1_704_067_200_000
NOW = T0 + 30 * DAY
_uids = count(1)


def stored(
    mpid: int, name: str, ts: int, workspace_id: int = 1, uid: str | None = None, **attrs: Any
) -> StoredEvent:
    """One stored custom event of ``mpid`` named ``name`` at ``ts`` with custom attributes ``attrs``."""
    body = {"event_type": "custom_event", "data": {"event_name": name, "custom_attributes": attrs}}
    return StoredEvent(
        workspace_id,
        1,
        uid or f"e{next(_uids)}",
        mpid,
        "custom_event",
        name,
        ts,
        ts,
        None,
        None,
        "production",
        None,
        1,
        json.dumps(body),
    )


def journeys(spec: dict[int, list[tuple[str, int] | tuple[str, int, dict[str, Any]]]]) -> list[StoredEvent]:
    """Events from ``{mpid: [(name, ts), (name, ts, attrs), …]}``."""
    events = []
    for mpid, steps in spec.items():
        for step in steps:
            attrs = step[2] if len(step) > 2 else {}  # type: ignore[misc]
            events.append(stored(mpid, step[0], step[1], **attrs))  # type: ignore[arg-type]
    return events


@pytest.fixture
def store(request: pytest.FixtureRequest, tmp_path: Path, backend: str) -> Iterator[EventStore]:
    """An empty event store on the current backend."""
    if backend == "postgres":
        url = request.getfixturevalue("postgres_schema_url")
    else:
        url = f"duckdb:///{tmp_path / 'events.duckdb'}"
    opened = open_event_store(url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def runner(store: EventStore) -> Runner:
    """A runner on ``store`` with the clock frozen at ``NOW``."""
    return Runner(store, store.dialect, FrozenClock(NOW))


@pytest.fixture
def load(store: EventStore) -> Callable[[list[StoredEvent]], None]:
    def append(events: list[StoredEvent]) -> None:
        store.append(events)

    return append
