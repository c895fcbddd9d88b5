"""The Data Planning API: plans and versions CRUD, the validate endpoint, its errors and its auth."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from fermion.platform import Workspace
from fermion.runtime import Runtime


def custom_point(name: str, attributes: dict[str, Any] | None = None, extra: bool = False) -> dict[str, Any]:
    """A custom event data point whose custom attributes follow ``attributes``."""
    custom: dict[str, Any] = {"type": "object", "additionalProperties": extra, "properties": attributes or {}}
    return {
        "description": f"{name} event",
        "match": {"type": "custom_event", "criteria": {"event_name": name, "custom_event_type": "other"}},
        "validator": {
            "type": "json_schema",
            "definition": {
                "properties": {"data": {"type": "object", "properties": {"custom_attributes": custom}}}
            },
        },
    }


def plan_body(plan_id: str = "mobile_data_plan", **version: Any) -> dict[str, Any]:
    """An mParticle DataPlan with one version holding one data point."""
    return {
        "data_plan_id": plan_id,
        "data_plan_name": "Mobile Data Plan",
        "data_plan_description": "What the app sends",
        "data_plan_versions": [
            {
                "version": 1,
                "version_description": "first",
                "activated_environment": "development",
                "version_document": {
                    "data_points": [custom_point("Played Video", {"title": {"type": "string"}})]
                },
                **version,
            }
        ],
    }


def plans_url(workspace: Workspace, rest: str = "") -> str:
    """The Data Planning API URL of ``workspace``."""
    return f"/platform/v2/workspaces/{workspace.id}/plans{rest}"


def test_create_get_list_patch_delete_a_plan(
    client: TestClient, workspace: Workspace, bearer: dict[str, str]
) -> None:
    created = client.post(plans_url(workspace), json=plan_body(), headers=bearer)
    assert created.status_code == 200, created.text
    body = created.json()
    assert body["data_plan_id"] == "mobile_data_plan"
    assert body["created_by"].startswith("client_id:")
    version = body["data_plan_versions"][0]
    assert version["activated_environment"] == "development"
    assert version["blocking"] == {
        "events": False,
        "event_attributes": False,
        "user_attributes": False,
        "user_identities": False,
    }
    listed = client.get(plans_url(workspace), headers=bearer).json()
    assert [p["data_plan_id"] for p in listed] == ["mobile_data_plan"]
    assert "data_points" not in listed[0]["data_plan_versions"][0]["version_document"]
    full = client.get(plans_url(workspace, "/mobile_data_plan"), headers=bearer).json()
    assert len(full["data_plan_versions"][0]["version_document"]["data_points"]) == 1
    patched = client.patch(
        plans_url(workspace, "/mobile_data_plan"), json={"data_plan_description": "changed"}, headers=bearer
    )
    assert patched.json()["data_plan_description"] == "changed"
    assert patched.json()["data_plan_id"] == "mobile_data_plan"
    assert client.delete(plans_url(workspace, "/mobile_data_plan"), headers=bearer).status_code == 204
    missing = client.get(plans_url(workspace, "/mobile_data_plan"), headers=bearer)
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["message"] == (
        f"The specified plan ID mobile_data_plan in workspace {workspace.id} was not found."
    )


def test_plan_id_is_a_slug_of_the_first_name(
    client: TestClient, workspace: Workspace, bearer: dict[str, str]
) -> None:
    body = plan_body()
    del body["data_plan_id"]
    body["data_plan_name"] = "Web App: Checkout Plan"
    created = client.post(plans_url(workspace), json=body, headers=bearer)
    assert created.json()["data_plan_id"] == "web_app_checkout_plan"


def test_versions_crud_and_delete_rules(
    client: TestClient, workspace: Workspace, bearer: dict[str, str]
) -> None:
    client.post(plans_url(workspace), json=plan_body(activated_environment="production"), headers=bearer)
    added = client.post(
        plans_url(workspace, "/mobile_data_plan/versions"),
        json={"version_document": {"data_points": [custom_point("Other")]}, "blocking": {"events": True}},
        headers=bearer,
    )
    assert added.status_code == 200, added.text
    assert added.json()["version"] == 2
    assert added.json()["activated_environment"] == "none"
    assert added.json()["blocking"]["events"] is True
    got = client.get(plans_url(workspace, "/mobile_data_plan/versions/2"), headers=bearer).json()
    assert got["version_document"]["data_points"][0]["match"]["criteria"]["event_name"] == "Other"
    patched = client.patch(
        plans_url(workspace, "/mobile_data_plan/versions/2"),
        json={"activated_environment": "development", "version_description": "try"},
        headers=bearer,
    )
    assert patched.json()["activated_environment"] == "development"
    refused = client.delete(plans_url(workspace, "/mobile_data_plan/versions/1"), headers=bearer)
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["message"] == (
        "Unable to delete plan version - this version is active in prod and cannot be deleted."
    )
    assert (
        client.delete(plans_url(workspace, "/mobile_data_plan/versions/2"), headers=bearer).status_code == 204
    )
    client.patch(
        plans_url(workspace, "/mobile_data_plan/versions/1"),
        json={"activated_environment": "none"},
        headers=bearer,
    )
    last = client.delete(plans_url(workspace, "/mobile_data_plan/versions/1"), headers=bearer)
    assert last.json()["errors"][0]["message"] == (
        "Unable to delete plan version - plans must contain at least one plan version."
    )
    unknown = client.get(plans_url(workspace, "/mobile_data_plan/versions/9"), headers=bearer)
    assert unknown.json()["errors"][0]["message"] == (
        f"The specified version 9 in plan ID mobile_data_plan was not found in workspace {workspace.id}."
    )


def test_invalid_documents_are_400_with_the_path(
    client: TestClient, workspace: Workspace, bearer: dict[str, str]
) -> None:
    def error_of(document: dict[str, Any], version: Any = 1) -> str:
        body = plan_body(version=version, version_document=document)
        response = client.post(plans_url(workspace), json=body, headers=bearer)
        assert response.status_code == 400, response.text
        return str(response.json()["errors"][0]["message"])

    bad_type = custom_point("A")
    bad_type["match"]["type"] = "custom_events"
    assert error_of({"data_points": [bad_type]}).startswith(
        "data_plan_versions[0].version_document.data_points[0].match.type:"
    )
    any_of = custom_point("A")
    any_of["validator"]["definition"]["anyOf"] = [{}]
    assert error_of({"data_points": [custom_point("B"), any_of]}).startswith(
        "data_plan_versions[0].version_document.data_points[1].validator.definition.anyOf:"
    )
    typo = custom_point("A", {"n": {"type": "strng"}})
    assert ".properties.custom_attributes.properties.n.type:" in error_of({"data_points": [typo]})
    assert error_of({"data_points": []}, version="two").startswith("data_plan_versions[0].version:")
    too_many = {"data_points": [custom_point(f"E{i}") for i in range(1001)]}
    assert error_of(too_many) == "Data plan exceeds maximum of 1000 with 1001 data points."
    not_json = client.post(
        plans_url(workspace), content=b"{", headers={**bearer, "Content-Type": "application/json"}
    )
    assert not_json.status_code == 400


def test_validate_endpoint(client: TestClient, workspace: Workspace, bearer: dict[str, str]) -> None:
    document = {"data_points": [custom_point("Played Video", {"title": {"type": "string"}})]}
    batch = {
        "environment": "development",
        "events": [
            {
                "event_type": "custom_event",
                "data": {
                    "event_name": "Played Video",
                    "custom_event_type": "other",
                    "custom_attributes": {"x": 1},
                },
            },
            {"event_type": "custom_event", "data": {"event_name": "Unplanned", "custom_event_type": "other"}},
        ],
    }
    response = client.post(
        plans_url(workspace, "/validate"), json={"document": document, "batch": batch}, headers=bearer
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["data"]["validation_errors"][0]["validation_error_type"] for r in results] == [
        "unplanned",
        "unplanned",
    ]
    assert results[0]["data"]["validation_errors"][0]["error_pointer"] == "#/data/custom_attributes/x"
    assert results[1]["data"]["validation_errors"][0] == {
        "validation_error_type": "unplanned",
        "key": "Unplanned",
        "error_pointer": "#",
        "expected": None,
        "actual": "Unplanned",
        "schema_keyword": None,
    }
    assert len(response.json()["batch"]["events"]) == 2
    missing = client.post(plans_url(workspace, "/validate"), json={"batch": batch}, headers=bearer)
    assert missing.json()["errors"][0]["message"] == "A required value was missing."
    bad_batch = client.post(
        plans_url(workspace, "/validate"), json={"document": document, "batch": {"events": 3}}, headers=bearer
    )
    assert bad_batch.json()["errors"][0]["message"].startswith("Invalid Event Batch.")


def test_auth_is_required_and_scoped(
    client: TestClient, runtime: Runtime, workspace: Workspace, bearer: dict[str, str]
) -> None:
    assert client.get(plans_url(workspace)).status_code == 401
    other = runtime.tenancy.create_workspace("Other")
    forbidden = client.get(plans_url(other), headers=bearer)
    assert forbidden.status_code == 403
