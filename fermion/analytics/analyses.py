"""One entry point for every kind of analysis: a validated definition in, a JSON-ready result out."""

from __future__ import annotations

from typing import Any

from fermion.analytics.definitions import FlowsQuery, FunnelQuery, Query, RetentionQuery, SegmentationQuery
from fermion.analytics.flows import run_flows
from fermion.analytics.funnels import run_funnel
from fermion.analytics.retention import run_retention
from fermion.analytics.runner import Runner
from fermion.analytics.segmentation import run_segmentation


def run_query(runner: Runner, workspace_id: int, query: Query) -> dict[str, Any]:
    """The result of ``query`` over the workspace's events."""
    if isinstance(query, SegmentationQuery):
        return run_segmentation(runner, workspace_id, query)
    if isinstance(query, FunnelQuery):
        return run_funnel(runner, workspace_id, query)
    if isinstance(query, RetentionQuery):
        return run_retention(runner, workspace_id, query)
    assert isinstance(query, FlowsQuery)
    return run_flows(runner, workspace_id, query)
