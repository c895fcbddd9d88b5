"""How analyses reach the event store: one read-only query at a time, bounded by a timeout."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from fermion.analytics.dialect import Sql
from fermion.analytics.source import Source
from fermion.clock import Clock
from fermion.events import QueryTimeout

T = TypeVar("T")


@dataclass(frozen=True)
class Deadline:
    """The time limit of an analysis for the work done in Python (SQL has the store's own limit)."""

    timeout_s: float
    started: float = field(default_factory=time.monotonic)

    def watch(self, items: Iterable[T], every: int = 1000) -> Iterator[T]:
        """``items``, raising ``QueryTimeout`` once the limit has passed (checked every ``every`` items)."""
        for count, item in enumerate(items):
            if self.timeout_s > 0 and count % every == 0 and time.monotonic() - self.started > self.timeout_s:
                raise QueryTimeout(f"The query ran longer than {self.timeout_s:g} s and was stopped.")
            yield item


class QueryableEvents(Protocol):
    """The read-only query method of an event store, or of the process that holds it."""

    def query(self, sql: str, params: dict[str, Any], timeout_s: float) -> list[tuple[Any, ...]]:
        """Rows of one SELECT; raises ``QueryTimeout`` past ``timeout_s``."""
        ...


@dataclass
class Runner:
    """Runs the SQL of one analysis on one event store."""

    events: QueryableEvents
    dialect: str
    clock: Clock
    timeout_s: float = 30.0
    user_values: Callable[[int, str], dict[int, Any]] | None = None  # (workspace, attribute) → {MPID: value}
    _workspace_id: int | None = field(default=None, repr=False)

    def sql(self) -> Sql:
        """A fresh statement builder in this store's dialect (user properties of the current workspace)."""
        lookup = self.user_values
        workspace = self._workspace_id
        if lookup is None or workspace is None:
            return Sql(self.dialect)
        return Sql(self.dialect, lambda name: lookup(workspace, name))

    def run(self, sql: Sql, text: str) -> list[tuple[Any, ...]]:
        """Rows of ``text`` with ``sql``'s parameters."""
        return self.events.query(text, dict(sql.params), self.timeout_s)

    def source(self, workspace_id: int) -> Source:
        """The workspace's events with aliased users resolved; later statements read its user properties."""
        self._workspace_id = workspace_id
        return Source.load(self.run, self.dialect, workspace_id)

    def deadline(self) -> Deadline:
        """A deadline of this runner's timeout, starting now."""
        return Deadline(self.timeout_s)

    def now_ms(self) -> int:
        return self.clock.now_ms()
