"""Where every analysis reads events: one workspace's events, with aliased users counted once.

Aliasing copies a source user's events to the destination user with uids ``alias:<job>:<original uid>``
(``fermion.identity``). Here the source user becomes the destination (chains followed to their end) and an
event that has a copy is left out, so each event counts once, under the user it was aliased to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fermion.analytics.dialect import Sql

Run = Callable[[Sql, str], list[tuple[Any, ...]]]
_STRIP = "regexp_replace(event_uid, '^alias:[0-9]+:', '')"


@dataclass(frozen=True)
class Source:
    """One workspace's events as a CTE body with ``uid`` (the user), ``ts``, ``seq`` and ``name``."""

    workspace_id: int
    aliases: tuple[tuple[int, int], ...]  # (source MPID, final destination MPID)

    @classmethod
    def load(cls, run: Run, dialect: str, workspace_id: int) -> Source:
        """Read the workspace's alias copies once per query, so that users count once."""
        sql = Sql(dialect)
        ws = sql.bind(workspace_id)
        rows = run(
            sql,
            "SELECT DISTINCT o.mpid, c.mpid FROM events c JOIN events o ON o.workspace_id = c.workspace_id "
            f"AND o.event_uid = {_STRIP.replace('event_uid', 'c.event_uid')} WHERE c.workspace_id = {ws} "
            f"AND o.workspace_id = {ws} AND c.event_uid LIKE {sql.text('alias:%')}",
        )
        direct = {int(src): int(dst) for src, dst in rows if int(src) != int(dst)}
        final: dict[int, int] = {}
        for src in direct:
            seen, node = {src}, direct[src]
            while node in direct and direct[node] not in seen:
                seen.add(node)
                node = direct[node]
            final[src] = node
        return cls(workspace_id, tuple(sorted(final.items())))

    def cte(self, sql: Sql, lower_ms: int | None = None, upper_ms: int | None = None) -> str:
        """SQL for ``WITH src AS NOT MATERIALIZED (…)``: events in ``[lower_ms, upper_ms)``."""
        bounds = [f"workspace_id = {sql.bind(self.workspace_id)}"]
        if lower_ms is not None:
            bounds.append(f"timestamp_ms >= {sql.bind(lower_ms)}")
        if upper_ms is not None:
            bounds.append(f"timestamp_ms < {sql.bind(upper_ms)}")
        columns = (
            "event_name AS name, timestamp_ms AS ts, seq, event_type, environment, session_id, input_id, body"
        )
        if not self.aliases:
            return f"SELECT mpid AS uid, {columns} FROM events WHERE {' AND '.join(bounds)}"
        mapping = ", ".join(f"({int(s)}, {int(d)})" for s, d in self.aliases)
        copied = (
            f"SELECT {_STRIP} FROM events WHERE workspace_id = {sql.bind(self.workspace_id)} "
            f"AND event_uid LIKE {sql.text('alias:%')}"
        )
        return (
            f"SELECT coalesce(m.dst, e.mpid) AS uid, {columns} FROM events e "
            f"LEFT JOIN (VALUES {mapping}) AS m (src, dst) ON e.mpid = m.src "
            f"WHERE {' AND '.join('e.' + b for b in bounds)} AND e.event_uid NOT IN ({copied})"
        )
