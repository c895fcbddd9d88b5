"""Saved analyses and dashboards (spec §5.1): named, validated definitions kept in the state store."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update

from fermion.analytics.definitions import Query, parse_definition
from fermion.analytics.tables import dashboard_items, dashboards, saved_analyses
from fermion.clock import Clock
from fermion.errors import BadRequest, NotFound


@dataclass(frozen=True)
class SavedAnalysis:
    """A named analysis: its kind and its definition (as JSON data)."""

    id: int
    workspace_id: int
    name: str
    kind: str
    definition: dict[str, Any]
    created_ms: int
    updated_ms: int

    def query(self) -> Query:
        """The definition, validated again (it was valid when saved)."""
        return parse_definition(self.kind, self.definition)


@dataclass(frozen=True)
class Dashboard:
    """A named, ordered list of saved analyses."""

    id: int
    workspace_id: int
    name: str
    created_ms: int
    analysis_ids: tuple[int, ...]


def _analysis(row: Any) -> SavedAnalysis:
    return SavedAnalysis(
        row.id,
        row.workspace_id,
        row.name,
        row.kind,
        json.loads(row.definition),
        row.created_ms,
        row.updated_ms,
    )


class SavedAnalyses:
    """Saves, lists, changes and deletes analyses and dashboards of a workspace."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def save(self, workspace_id: int, name: str, kind: str, definition: Any) -> SavedAnalysis:
        """Validate and save a definition under ``name``; returns the saved analysis."""
        if not name.strip():
            raise BadRequest("name: must not be empty")
        query = parse_definition(kind, definition)
        now = self._clock.now_ms()
        stored = query.model_dump(mode="json", exclude_defaults=True)
        with self._engine.begin() as conn:
            new_id = conn.execute(
                insert(saved_analyses)
                .values(
                    workspace_id=workspace_id,
                    name=name,
                    kind=kind,
                    definition=json.dumps(stored),
                    created_ms=now,
                    updated_ms=now,
                )
                .returning(saved_analyses.c.id)
            ).scalar_one()
        return SavedAnalysis(int(new_id), workspace_id, name, kind, stored, now, now)

    def get(self, workspace_id: int, analysis_id: int) -> SavedAnalysis:
        """One saved analysis; ``NotFound`` when the workspace has no such analysis."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(saved_analyses).where(
                    saved_analyses.c.id == analysis_id, saved_analyses.c.workspace_id == workspace_id
                )
            ).first()
        if row is None:
            raise NotFound(f"No saved analysis {analysis_id} in workspace {workspace_id}.")
        return _analysis(row)

    def analyses(self, workspace_id: int) -> list[SavedAnalysis]:
        """The workspace's saved analyses, oldest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(saved_analyses)
                .where(saved_analyses.c.workspace_id == workspace_id)
                .order_by(saved_analyses.c.id)
            ).all()
        return [_analysis(r) for r in rows]

    def replace(self, workspace_id: int, analysis_id: int, name: str, definition: Any) -> SavedAnalysis:
        """Change a saved analysis's name and definition (its kind stays)."""
        current = self.get(workspace_id, analysis_id)
        stored = parse_definition(current.kind, definition).model_dump(mode="json", exclude_defaults=True)
        now = self._clock.now_ms()
        with self._engine.begin() as conn:
            conn.execute(
                update(saved_analyses)
                .where(saved_analyses.c.id == analysis_id)
                .values(name=name, definition=json.dumps(stored), updated_ms=now)
            )
        return SavedAnalysis(analysis_id, workspace_id, name, current.kind, stored, current.created_ms, now)

    def delete(self, workspace_id: int, analysis_id: int) -> None:
        """Delete a saved analysis (and its places on dashboards)."""
        self.get(workspace_id, analysis_id)
        with self._engine.begin() as conn:
            conn.execute(delete(dashboard_items).where(dashboard_items.c.analysis_id == analysis_id))
            conn.execute(delete(saved_analyses).where(saved_analyses.c.id == analysis_id))

    def create_dashboard(self, workspace_id: int, name: str, analysis_ids: Sequence[int]) -> Dashboard:
        """A dashboard showing ``analysis_ids`` in that order (each must be saved in the workspace)."""
        if not name.strip():
            raise BadRequest("name: must not be empty")
        for analysis_id in analysis_ids:
            self.get(workspace_id, analysis_id)
        now = self._clock.now_ms()
        with self._engine.begin() as conn:
            new_id = int(
                conn.execute(
                    insert(dashboards)
                    .values(workspace_id=workspace_id, name=name, created_ms=now)
                    .returning(dashboards.c.id)
                ).scalar_one()
            )
            if analysis_ids:
                conn.execute(
                    insert(dashboard_items),
                    [
                        {"dashboard_id": new_id, "position": i, "analysis_id": a}
                        for i, a in enumerate(analysis_ids)
                    ],
                )
        return Dashboard(new_id, workspace_id, name, now, tuple(analysis_ids))

    def dashboard(self, workspace_id: int, dashboard_id: int) -> Dashboard:
        """One dashboard; ``NotFound`` when the workspace has no such dashboard."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(dashboards).where(
                    dashboards.c.id == dashboard_id, dashboards.c.workspace_id == workspace_id
                )
            ).first()
            if row is None:
                raise NotFound(f"No dashboard {dashboard_id} in workspace {workspace_id}.")
            items = conn.execute(
                select(dashboard_items.c.analysis_id)
                .where(dashboard_items.c.dashboard_id == dashboard_id)
                .order_by(dashboard_items.c.position)
            ).scalars()
            return Dashboard(row.id, row.workspace_id, row.name, row.created_ms, tuple(int(i) for i in items))

    def dashboards(self, workspace_id: int) -> list[Dashboard]:
        """The workspace's dashboards, oldest first."""
        with self._engine.connect() as conn:
            ids = conn.execute(
                select(dashboards.c.id)
                .where(dashboards.c.workspace_id == workspace_id)
                .order_by(dashboards.c.id)
            ).scalars()
            found = [int(i) for i in ids]
        return [self.dashboard(workspace_id, i) for i in found]
