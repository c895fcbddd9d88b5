"""The Analytics API: segmentation, funnels, retention and flows over a workspace's events, saved analyses and
dashboards, behind OAuth Bearer tokens (the same credentials as the Profile API).

Every result is JSON, or CSV with ``?format=csv``. Invalid definitions answer 400 naming the field; a query
past ``FERMION_ANALYTICS_TIMEOUT_S`` answers 504 ``QUERY_TIMEOUT``.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from fermion.analytics import (
    Dashboard,
    FlowsQuery,
    FunnelQuery,
    RetentionQuery,
    SavedAnalysis,
    SegmentationQuery,
    run_query,
    to_csv,
)
from fermion.analytics import Query as Definition
from fermion.api.oauth import bearer_grant, granted_workspace
from fermion.platform import TokenGrant
from fermion.runtime import Runtime

PREFIX = "/analytics/v1/workspaces/{workspace_id}"
Format = Literal["json", "csv"]
FORMAT_HELP = "`json` (default) or `csv` (a flat table that opens in a spreadsheet)."


class SaveRequest(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["segmentation", "funnel", "retention", "flows"]
    definition: dict[str, Any] = Field(
        description="A definition of `kind`, as the analysis endpoint takes it."
    )


class ReplaceRequest(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    definition: dict[str, Any]


class SavedBody(BaseModel):
    id: int
    workspace_id: int
    name: str
    kind: str
    definition: dict[str, Any]
    created_ms: int
    updated_ms: int


class DashboardRequest(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    analysis_ids: list[int] = Field(default_factory=list, description="Saved analyses, in display order.")


class DashboardBody(BaseModel):
    id: int
    workspace_id: int
    name: str
    created_ms: int
    analysis_ids: list[int]


def _saved(analysis: SavedAnalysis) -> SavedBody:
    return SavedBody(**analysis.__dict__)


def _dashboard(dashboard: Dashboard) -> DashboardBody:
    return DashboardBody(**{**dashboard.__dict__, "analysis_ids": list(dashboard.analysis_ids)})


def _respond(result: dict[str, Any], fmt: Format) -> Response:
    if fmt == "csv":
        return Response(to_csv(result), media_type="text/csv; charset=utf-8")
    return JSONResponse(result)


def analytics_router(runtime: Runtime) -> APIRouter:
    """The Analytics API routes."""
    router = APIRouter(tags=["analytics"])
    grant_of = bearer_grant(runtime.credentials)
    responses: dict[int | str, dict[str, Any]] = {
        400: {"description": "An invalid definition; the message names the field"},
        401: {"description": "Bearer token missing, invalid or expired"},
        403: {"description": "The token is not granted this workspace"},
        404: {"description": "No such workspace, saved analysis or dashboard"},
        504: {"description": "The query ran past the configured timeout and was stopped"},
    }
    result_doc: dict[int | str, dict[str, Any]] = {
        200: {"content": {"application/json": {}, "text/csv": {}}, "description": "The result, JSON or CSV"}
    }

    def workspace(workspace_id: int, grant: TokenGrant = Depends(grant_of)) -> int:
        return granted_workspace(runtime, grant, workspace_id).id

    def run(workspace_id: int, definition: Definition, fmt: Format) -> Response:
        return _respond(run_query(runtime.analytics(), workspace_id, definition), fmt)

    @router.post(f"{PREFIX}/segmentation", responses={**responses, **result_doc}, response_class=Response)
    def segmentation(
        definition: SegmentationQuery = Body(...),
        format: Format = Query("json", description=FORMAT_HELP),
        workspace_id: int = Depends(workspace),
    ) -> Response:
        """Series per interval per group: event totals, unique users or a numeric aggregate, with formulas."""
        return run(workspace_id, definition, format)

    @router.post(f"{PREFIX}/funnel", responses={**responses, **result_doc}, response_class=Response)
    def funnel(
        definition: FunnelQuery = Body(...),
        format: Format = Query("json", description=FORMAT_HELP),
        workspace_id: int = Depends(workspace),
    ) -> Response:
        """Users per step, conversion and step times (spec §3.11 rules), by group and over time."""
        return run(workspace_id, definition, format)

    @router.post(f"{PREFIX}/retention", responses={**responses, **result_doc}, response_class=Response)
    def retention(
        definition: RetentionQuery = Body(...),
        format: Format = Query("json", description=FORMAT_HELP),
        workspace_id: int = Depends(workspace),
    ) -> Response:
        """Cohorts by start period and the share that returns in each later period."""
        return run(workspace_id, definition, format)

    @router.post(f"{PREFIX}/flows", responses={**responses, **result_doc}, response_class=Response)
    def flows(
        definition: FlowsQuery = Body(...),
        format: Format = Query("json", description=FORMAT_HELP),
        workspace_id: int = Depends(workspace),
    ) -> Response:
        """The paths users take after (or before) an event: nodes, edges and drop-offs."""
        return run(workspace_id, definition, format)

    @router.post(f"{PREFIX}/saved", response_model=SavedBody, status_code=201, responses=responses)
    def save(request: SaveRequest, workspace_id: int = Depends(workspace)) -> SavedBody:
        """Save a definition under a name (validated as the analysis endpoint would)."""
        return _saved(
            runtime.saved_analyses.save(workspace_id, request.name, request.kind, request.definition)
        )

    @router.get(f"{PREFIX}/saved", response_model=list[SavedBody], responses=responses)
    def list_saved(workspace_id: int = Depends(workspace)) -> list[SavedBody]:
        """The workspace's saved analyses."""
        return [_saved(a) for a in runtime.saved_analyses.analyses(workspace_id)]

    @router.get(f"{PREFIX}/saved/{{analysis_id}}", response_model=SavedBody, responses=responses)
    def get_saved(analysis_id: int, workspace_id: int = Depends(workspace)) -> SavedBody:
        """One saved analysis."""
        return _saved(runtime.saved_analyses.get(workspace_id, analysis_id))

    @router.put(f"{PREFIX}/saved/{{analysis_id}}", response_model=SavedBody, responses=responses)
    def replace_saved(
        analysis_id: int, request: ReplaceRequest, workspace_id: int = Depends(workspace)
    ) -> SavedBody:
        """Change a saved analysis's name and definition."""
        return _saved(
            runtime.saved_analyses.replace(workspace_id, analysis_id, request.name, request.definition)
        )

    @router.delete(f"{PREFIX}/saved/{{analysis_id}}", status_code=204, responses=responses)
    def delete_saved(analysis_id: int, workspace_id: int = Depends(workspace)) -> Response:
        """Delete a saved analysis (it leaves the dashboards that showed it)."""
        runtime.saved_analyses.delete(workspace_id, analysis_id)
        return Response(status_code=204)

    @router.post(
        f"{PREFIX}/saved/{{analysis_id}}/run", responses={**responses, **result_doc}, response_class=Response
    )
    def run_saved(
        analysis_id: int,
        format: Format = Query("json", description=FORMAT_HELP),
        workspace_id: int = Depends(workspace),
    ) -> Response:
        """Run a saved analysis on the events as they are now."""
        return run(workspace_id, runtime.saved_analyses.get(workspace_id, analysis_id).query(), format)

    @router.post(f"{PREFIX}/dashboards", response_model=DashboardBody, status_code=201, responses=responses)
    def create_dashboard(request: DashboardRequest, workspace_id: int = Depends(workspace)) -> DashboardBody:
        """A dashboard of saved analyses."""
        return _dashboard(
            runtime.saved_analyses.create_dashboard(workspace_id, request.name, request.analysis_ids)
        )

    @router.get(f"{PREFIX}/dashboards", response_model=list[DashboardBody], responses=responses)
    def list_dashboards(workspace_id: int = Depends(workspace)) -> list[DashboardBody]:
        """The workspace's dashboards."""
        return [_dashboard(d) for d in runtime.saved_analyses.dashboards(workspace_id)]

    @router.get(f"{PREFIX}/dashboards/{{dashboard_id}}", response_model=DashboardBody, responses=responses)
    def get_dashboard(dashboard_id: int, workspace_id: int = Depends(workspace)) -> DashboardBody:
        """One dashboard."""
        return _dashboard(runtime.saved_analyses.dashboard(workspace_id, dashboard_id))

    @router.post(f"{PREFIX}/dashboards/{{dashboard_id}}/run", responses=responses)
    def run_dashboard(dashboard_id: int, workspace_id: int = Depends(workspace)) -> dict[str, Any]:
        """Run every analysis of a dashboard: ``{"dashboard", "results": [{"analysis", "result"}]}``."""
        dashboard = runtime.saved_analyses.dashboard(workspace_id, dashboard_id)
        runner = runtime.analytics()
        results = []
        for analysis_id in dashboard.analysis_ids:
            saved = runtime.saved_analyses.get(workspace_id, analysis_id)
            results.append(
                {
                    "analysis": _saved(saved).model_dump(),
                    "result": run_query(runner, workspace_id, saved.query()),
                }
            )
        return {"dashboard": _dashboard(dashboard).model_dump(), "results": results}

    return router
