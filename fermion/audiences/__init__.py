"""Real-time audiences (spec activation §3): criteria, evaluation as events arrive and as windows pass,
backfill, memberships with history, and the queue of membership changes the outputs stage delivers."""

from __future__ import annotations

from fermion.audiences.catalog import NAME_LIMIT, Audience, Audiences, Membership, MembershipChange
from fermion.audiences.criteria import (
    FREQUENCY_OPERATORS,
    GROUP_OPERATORS,
    LEAF_TYPES,
    UNITS_MS,
    Criterion,
    calculated_attributes_in,
    parse_criteria,
)
from fermion.audiences.evaluator import AudienceEvaluator, MemberSnapshot

__all__ = [
    "FREQUENCY_OPERATORS",
    "GROUP_OPERATORS",
    "LEAF_TYPES",
    "NAME_LIMIT",
    "UNITS_MS",
    "Audience",
    "AudienceEvaluator",
    "Audiences",
    "Criterion",
    "MemberSnapshot",
    "Membership",
    "MembershipChange",
    "calculated_attributes_in",
    "parse_criteria",
]
