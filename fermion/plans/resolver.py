"""Which plan version validates a batch (spec §1.6), with compiled versions cached per process.

A batch names its plan in ``context.data_plan``; one that names none takes its input's default plan. Without
``plan_version`` the latest version active in the batch's environment applies. A batch whose plan or version
is unknown, or not active in its environment, is not validated, and its verdict says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from fermion.plans.catalog import PlanCatalog
from fermion.plans.validator import CompiledVersion, Verdict, not_validated
from fermion.schema import Batch


@dataclass(frozen=True)
class _Entry:
    plan_id: str
    version: int
    environment: str
    signature: tuple[Any, ...]

    def active_in(self, environment: str) -> bool:
        if self.environment == "production":
            return True
        return self.environment == "development" and environment == "development"


class WorkspacePlans:
    """A workspace's plans as of one micro-batch: resolves batches to compiled versions."""

    def __init__(
        self,
        entries: dict[str, list[_Entry]],
        defaults: dict[int, tuple[str, int | None]],
        compiled: dict[tuple[Any, ...], CompiledVersion],
        load: Any,
    ) -> None:
        self._entries = entries
        self._defaults = defaults
        self._compiled = compiled
        self._load = load

    def validate(self, batch: Batch, input_id: int, event_ids: Sequence[str]) -> Verdict:
        """The verdict of one batch; blocked data is removed from ``batch``."""
        reference = batch.context.data_plan if batch.context is not None else None
        if reference is not None:
            plan_id, pinned = reference.plan_id, reference.plan_version
        elif input_id in self._defaults:
            plan_id, pinned = self._defaults[input_id]
        else:
            return not_validated("The batch names no data plan and its input has no default plan.")
        environment = "development" if batch.environment == "development" else "production"
        versions = self._entries.get(plan_id)
        if not versions:
            return not_validated(f"No data plan {plan_id} in this workspace.", plan_id, pinned)
        if pinned is not None:
            entry = next((e for e in versions if e.version == pinned), None)
            if entry is None:
                return not_validated(f"Plan {plan_id} has no version {pinned}.", plan_id, pinned)
            if not entry.active_in(environment):
                return not_validated(
                    f"Version {pinned} of plan {plan_id} is not active in {environment}.", plan_id, pinned
                )
        else:
            active = [e for e in versions if e.active_in(environment)]
            if not active:
                return not_validated(f"No version of plan {plan_id} is active in {environment}.", plan_id)
            entry = max(active, key=lambda e: e.version)
        return self._version(entry).check(batch, event_ids)

    def _version(self, entry: _Entry) -> CompiledVersion:
        found = self._compiled.get(entry.signature)
        if found is None:
            found = CompiledVersion(self._load(entry.plan_id, entry.version))
            self._compiled[entry.signature] = found
        return found


class PlanResolver:
    """Loads a workspace's plan index once per micro-batch; compiles each version once per change."""

    def __init__(self, catalog: PlanCatalog) -> None:
        self._catalog = catalog
        self._compiled: dict[tuple[Any, ...], CompiledVersion] = {}

    def for_workspace(self, conn: Connection, workspace_id: int) -> WorkspacePlans:
        """The plans of a workspace, read in ``conn``."""
        entries: dict[str, list[_Entry]] = {}
        for signature in self._catalog.versions_signature(conn, workspace_id):
            plan_id, version, environment = signature[0], signature[1], signature[2]
            entries.setdefault(plan_id, []).append(
                _Entry(plan_id, version, environment, (workspace_id, *signature))
            )
        defaults = self._catalog.input_defaults(conn, workspace_id)

        def load(plan_id: str, version: int) -> Any:
            return self._catalog.load_version(conn, workspace_id, plan_id, version)

        if len(self._compiled) > 256:  # old versions of edited plans
            self._compiled.clear()
        return WorkspacePlans(entries, defaults, self._compiled, load)
