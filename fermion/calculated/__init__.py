"""Calculated attributes (spec activation §2): per-user values maintained from the event stream.

Definitions and their lifecycle live in the ``Catalog``; ``CalculatedValues`` keeps every user's values up
to date from each micro-batch, expires windows by the Clock and calculates new definitions from the event
store. The attribute conditions and event matchers are shared with audiences.
"""

from __future__ import annotations

from fermion.calculated.aggregate import iso_ms
from fermion.calculated.catalog import CalculatedAttribute, Catalog
from fermion.calculated.conditions import (
    CONDITION_TYPES,
    OPERATORS,
    Condition,
    holds,
    holds_for,
    parse_condition,
)
from fermion.calculated.definition import CALCULATION_TYPES, Definition, parse_definition
from fermion.calculated.freshness import FreshnessGate, current_lag_ms
from fermion.calculated.matcher import EventMatcher, EventView, MatcherIndex
from fermion.calculated.seeding import SeedRequest, parse_seed_request
from fermion.calculated.values import ActiveAttribute, AfterBackfill, CalculatedValues

__all__ = [
    "CALCULATION_TYPES",
    "CONDITION_TYPES",
    "OPERATORS",
    "ActiveAttribute",
    "AfterBackfill",
    "CalculatedAttribute",
    "CalculatedValues",
    "Catalog",
    "Condition",
    "Definition",
    "EventMatcher",
    "EventView",
    "FreshnessGate",
    "MatcherIndex",
    "SeedRequest",
    "current_lag_ms",
    "holds",
    "holds_for",
    "iso_ms",
    "parse_condition",
    "parse_definition",
    "parse_seed_request",
]
