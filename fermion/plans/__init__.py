"""Data plans: plans and versions, the validator, blocking, the quarantine, the verdict log, and dry runs."""

from __future__ import annotations

from fermion.plans.catalog import PlanCatalog, slug_of
from fermion.plans.dryrun import DryRunReport, dry_run
from fermion.plans.feed import FeedFilter, VerdictLog, VerdictRecord
from fermion.plans.model import (
    MATCH_TYPES,
    Blocking,
    DataPlan,
    DataPoint,
    PlanVersion,
    parse_blocking,
    parse_document,
)
from fermion.plans.quarantine import (
    REPLAY_PREFIX,
    Quarantine,
    QuarantineFilter,
    QuarantineRecord,
    ReplayProgress,
    blocked_event_names,
    quarantined_batch,
    replay_batch,
    replayed_record_id,
)
from fermion.plans.resolver import PlanResolver, WorkspacePlans
from fermion.plans.validator import (
    BLOCK_REASONS,
    INVALID,
    NOT_VALIDATED,
    VALID,
    CompiledVersion,
    Verdict,
)

__all__ = [
    "BLOCK_REASONS",
    "INVALID",
    "MATCH_TYPES",
    "NOT_VALIDATED",
    "REPLAY_PREFIX",
    "VALID",
    "Blocking",
    "CompiledVersion",
    "DataPlan",
    "DataPoint",
    "DryRunReport",
    "FeedFilter",
    "PlanCatalog",
    "PlanResolver",
    "PlanVersion",
    "Quarantine",
    "QuarantineFilter",
    "QuarantineRecord",
    "ReplayProgress",
    "Verdict",
    "VerdictLog",
    "VerdictRecord",
    "WorkspacePlans",
    "blocked_event_names",
    "dry_run",
    "parse_blocking",
    "parse_document",
    "quarantined_batch",
    "replay_batch",
    "replayed_record_id",
    "slug_of",
]
