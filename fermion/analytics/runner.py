"""How analyses reach the event store: one read-only query at a time, bounded by a timeout."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from fermion.analytics.dialect import Sql
from fermion.analytics.source import Source
from fermion.clock import Clock


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

    def now_ms(self) -> int:
        return self.clock.now_ms()
