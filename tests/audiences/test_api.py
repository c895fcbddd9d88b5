"""The audience HTTP API: validation errors naming the bad part, limits, auth, changes and deletion."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from fermion.platform import Workspace
from fermion.runtime import Runtime
from fermion.settings import Settings
from tests.audiences.conftest import bearer_for

VIEW = {"type": "event", "event_name": "View"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """At most three audiences per workspace, so the limit is reachable."""
    return settings.model_copy(update={"audience_max_per_workspace": 3})


def _url(workspace: Workspace) -> str:
    return f"/platform/v1/workspace/{workspace.id}/audiences"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"criteria": VIEW}, "name: an audience name is required"),
        ({"name": "x" * 101, "criteria": VIEW}, "name: at most 100 characters"),
        ({"name": "a", "tags": ["ok", "t" * 19], "criteria": VIEW}, "tags[1]: at most 18 characters"),
        (
            {"name": "a", "criteria": {"type": "group", "operator": "nand", "criteria": [VIEW]}},
            "criteria.operator: unknown operator 'nand'; use and, or, exclude",
        ),
        (
            {"name": "a", "criteria": {"type": "group", "criteria": [VIEW, {"type": "sessions"}]}},
            "criteria.criteria[1].type: unknown criterion type 'sessions'",
        ),
        (
            {"name": "a", "criteria": {**VIEW, "frequency": {"operator": "more", "value": 1}}},
            "criteria.frequency.operator: unknown operator 'more'",
        ),
        (
            {"name": "a", "criteria": {**VIEW, "recency": {"within": 31, "unit": "days"}}},
            "criteria.recency: 31 days is beyond the real-time audience window of 30 days",
        ),
        (
            {
                "name": "a",
                "criteria": {
                    "type": "group",
                    "criteria": [
                        {
                            "type": "user_attribute",
                            "condition": {
                                "type": "number",
                                "attribute_name": "age",
                                "operator": "greater_than",
                                "value": "old",
                            },
                        }
                    ],
                },
            },
            "criteria.criteria[0].condition: Invalid numeric condition value",
        ),
        (
            {
                "name": "a",
                "criteria": {
                    "type": "user_attribute",
                    "condition": {
                        "type": "boolean",
                        "attribute_name": "vip",
                        "operator": "contains",
                        "value": "x",
                    },
                },
            },
            "criteria.condition: Invalid boolean condition operator",
        ),
        (
            {
                "name": "a",
                "criteria": {
                    "type": "group",
                    "criteria": [{"type": "group", "criteria": [{"type": "group", "criteria": [VIEW]}]}],
                },
            },
            "criteria.criteria[0].criteria[0]: groups nest one level only",
        ),
        (
            {"name": "a", "criteria": {"type": "audience_membership", "audience_id": 999}},
            "criteria: audience 999 does not exist in this workspace",
        ),
    ],
)
def test_bad_criteria_are_400_naming_the_part(
    client: TestClient, workspace: Workspace, bearer: dict[str, str], body: dict[str, Any], message: str
) -> None:
    response = client.post(_url(workspace), json=body, headers=bearer)
    assert response.status_code == 400, response.text
    [error] = response.json()["errors"]
    assert error["code"] == "BAD_REQUEST"
    assert error["message"].startswith(message)


def test_the_workspace_limit(client: TestClient, workspace: Workspace, bearer: dict[str, str]) -> None:
    for n in range(3):
        assert (
            client.post(_url(workspace), json={"name": f"a{n}", "criteria": VIEW}, headers=bearer).status_code
            == 201
        )
    response = client.post(_url(workspace), json={"name": "one more", "criteria": VIEW}, headers=bearer)
    assert response.status_code == 400
    assert "limit of 3 audiences" in response.json()["errors"][0]["message"]


def test_nesting_is_one_level_and_references_block_deletion(
    client: TestClient, workspace: Workspace, bearer: dict[str, str]
) -> None:
    base = client.post(_url(workspace), json={"name": "base", "criteria": VIEW}, headers=bearer).json()
    nested = {"type": "audience_membership", "audience_id": base["id"]}
    outer = client.post(_url(workspace), json={"name": "outer", "criteria": nested}, headers=bearer).json()
    deeper = {"type": "audience_membership", "audience_id": outer["id"]}
    refused = client.post(_url(workspace), json={"name": "deeper", "criteria": deeper}, headers=bearer)
    assert refused.status_code == 400
    assert "nesting is one level" in refused.json()["errors"][0]["message"]
    blocked = client.delete(f"{_url(workspace)}/{base['id']}", headers=bearer)
    assert blocked.status_code == 409
    assert client.delete(f"{_url(workspace)}/{outer['id']}", headers=bearer).status_code == 204
    assert client.delete(f"{_url(workspace)}/{base['id']}", headers=bearer).status_code == 204
    assert client.get(f"{_url(workspace)}/{base['id']}", headers=bearer).status_code == 404


def test_fields_and_a_criteria_change(
    client: TestClient, runtime: Runtime, workspace: Workspace, bearer: dict[str, str]
) -> None:
    body = {"name": "Viewers", "criteria": VIEW, "tags": ["web", "q3"]}
    created = client.post(_url(workspace), json=body, headers=bearer).json()
    assert created["external_name"] == "Viewers" and created["data_type"] == "audience"
    assert created["tags"] == ["web", "q3"]
    assert created["workspaces"] == [
        {"name": workspace.name, "id": workspace.id, "data_type": "workspace", "created_on": None}
    ]
    assert created["is_calculated"] is False and created["status"] == "active"
    assert created["freshness"] == {"last_evaluated_on": None, "last_evaluated_ms": None, "lag_s": None}
    runtime.new_worker().drain()
    changed = client.put(
        f"{_url(workspace)}/{created['id']}",
        json={"external_name": "viewers-ext", "criteria": {"type": "group", "criteria": [VIEW, VIEW]}},
        headers=bearer,
    ).json()
    assert changed["name"] == "Viewers" and changed["external_name"] == "viewers-ext"
    assert changed["is_calculated"] is True and changed["backfill"]["status"] == "pending"
    runtime.new_worker().drain()
    shown = client.get(f"{_url(workspace)}/{created['id']}", headers=bearer).json()
    assert shown["backfill"] == {"status": "done", "percent_complete": 100}
    assert shown["freshness"]["last_evaluated_ms"] == runtime.clock.now_ms()


def test_tokens_are_required_and_scoped(client: TestClient, runtime: Runtime, workspace: Workspace) -> None:
    assert client.get(_url(workspace)).status_code == 401
    other = runtime.tenancy.create_workspace("Other")
    foreign = bearer_for(client, runtime, other)
    assert client.get(_url(workspace), headers=foreign).status_code == 403


def test_the_openapi_document_lists_the_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/platform/v1/workspace/{workspace_id}/audiences/{audience_id}/members" in paths
    assert "/platform/v2/workspaces/{workspace_id}/calculatedattributes/{attribute_id}/activation" in paths
    assert "/v2/calculatedattributes" in paths


def test_calculated_attribute_criteria_name_an_attribute_of_the_right_type(
    client: TestClient, runtime: Runtime, workspace: Workspace, bearer: dict[str, str]
) -> None:
    definition = {
        "datapoint": {"event_name": "View", "attribute_name": "page"},
        "calculation_type": "most_frequent",
        "time_period": {"type": "since", "date": "2026-01-01"},
    }
    runtime.calculated.create(workspace.id, "top page", None, definition)

    def criteria(name: str, kind: str, operator: str, value: Any) -> dict[str, Any]:
        condition = {"type": kind, "operator": operator, "value": value}
        return {
            "name": "a",
            "criteria": {"type": "calculated_attribute", "name": name, "condition": condition},
        }

    unknown = client.post(_url(workspace), json=criteria("nope", "string", "equals", "x"), headers=bearer)
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["message"] == (
        "criteria: there is no calculated attribute named 'nope' in this workspace"
    )
    wrong = client.post(
        _url(workspace), json=criteria("top page", "number", "greater_than", 3), headers=bearer
    )
    assert wrong.status_code == 400
    assert wrong.json()["errors"][0]["message"] == (
        "criteria: calculated attribute 'top page' (most_frequent) has string values; "
        "a number condition cannot test it"
    )
    fine = client.post(_url(workspace), json=criteria("top page", "string", "equals", "home"), headers=bearer)
    assert fine.status_code == 201, fine.text
