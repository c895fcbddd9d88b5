"""Analytics over the event store: segmentation, funnels, retention and user flows, saved analyses.

Definitions are typed (``definitions``), rendered to SQL per dialect (``dialect``, ``timeframe``,
``source``) and run on DuckDB or PostgreSQL through the event store's read-only ``query`` method.
"""

from __future__ import annotations

from fermion.analytics.analyses import run_query
from fermion.analytics.definitions import (
    KINDS,
    FlowsQuery,
    FunnelQuery,
    Query,
    RetentionQuery,
    SegmentationQuery,
    parse_definition,
)
from fermion.analytics.export import to_csv
from fermion.analytics.flows import run_flows
from fermion.analytics.funnels import run_funnel
from fermion.analytics.retention import run_retention
from fermion.analytics.runner import Deadline, QueryableEvents, Runner
from fermion.analytics.saved import Dashboard, SavedAnalyses, SavedAnalysis
from fermion.analytics.segmentation import run_segmentation

__all__ = [
    "KINDS",
    "Dashboard",
    "Deadline",
    "FlowsQuery",
    "FunnelQuery",
    "Query",
    "QueryableEvents",
    "RetentionQuery",
    "Runner",
    "SavedAnalyses",
    "SavedAnalysis",
    "SegmentationQuery",
    "parse_definition",
    "run_flows",
    "run_funnel",
    "run_query",
    "run_retention",
    "run_segmentation",
    "to_csv",
]
