"""The calculated attribute Platform API resource, the Seeding API, and values in the Profile API."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from fermion.platform import InputCredentials, Workspace
from fermion.runtime import Runtime
from tests.audiences.conftest import DAY, NOW, mpid_of, process, send, view
from tests.factories import basic_auth, make_batch

DEFINITION = {
    "recipe_type": "event",
    "datapoint": {"type": "event", "event_name": "Purchase", "attribute_name": "amount"},
    "calculation_type": "sum",
    "time_period": {"type": "since", "date": "2026-01-01T00:00:00"},
}


def _base(workspace: Workspace) -> str:
    return f"/platform/v2/workspaces/{workspace.id}/calculatedattributes"


def test_lifecycle_and_values_in_the_profile_api(
    client: TestClient, runtime: Runtime, workspace: Workspace, auth: dict[str, str], bearer: dict[str, str]
) -> None:
    base = _base(workspace)
    created = client.post(base, json={"name": "LTV", "draft_definition": DEFINITION}, headers=bearer)
    assert created.status_code == 200, created.text
    attribute_id = created.json()
    assert isinstance(attribute_id, int)
    assert client.head(base, params={"name": "LTV"}, headers=bearer).status_code == 204
    assert client.head(base, params={"name": "nope"}, headers=bearer).status_code == 404
    shown = client.get(f"{base}/{attribute_id}", headers=bearer).json()
    assert shown["active_definition"] is None and shown["draft_definition"]["calculation_type"] == "sum"
    assert client.get(f"{base}/{attribute_id}/activation", headers=bearer).json()["is_active"] is False

    send(
        client,
        auth,
        make_batch(
            [view("Purchase", NOW - DAY, amount="12.5"), view("Purchase", NOW, amount=30)],
            user_identities={"customer_id": "p1"},
            user_attributes={"LTV": "old"},
        ),
    )
    process(runtime)
    assert client.post(f"{base}/{attribute_id}/activation", headers=bearer).status_code == 204
    calculation = client.get(f"{base}/{attribute_id}/calculation", headers=bearer).json()
    assert calculation["is_calculated"] is False and calculation["revision_id"] == 1
    process(runtime)
    calculation = client.get(f"{base}/{attribute_id}/calculation", headers=bearer).json()
    assert calculation["is_calculated"] is True and calculation["calculation_percent_complete"] == 100
    assert calculation["freshness"]["last_evaluated_ms"] == NOW

    mpid = mpid_of(runtime, workspace, "p1")
    url = f"/userprofile/v1/{workspace.org_id}/{workspace.account_id}/{workspace.id}/{mpid}"
    profile = client.get(url, params={"fields": "user_attributes"}, headers=bearer).json()
    assert profile["user_attributes"] == {
        "LTV": "42.5"
    }  # the calculated attribute wins over the user attribute

    renamed = client.put(f"{base}/{attribute_id}", json={"name": "Lifetime value"}, headers=bearer)
    assert renamed.status_code == 400
    assert renamed.json()["errors"][0]["message"].startswith("Calculated attribute name cannot be changed")
    assert client.put(f"{base}/{attribute_id}", json={"description": "d"}, headers=bearer).status_code == 204
    assert client.delete(f"{base}/{attribute_id}/draft", headers=bearer).status_code == 404
    assert client.delete(f"{base}/{attribute_id}", headers=bearer).status_code == 204
    assert client.get(f"{base}/{attribute_id}", headers=bearer).status_code == 404


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"draft_definition": DEFINITION}, "Field 'name' is required."),
        ({"name": "x"}, "Field 'draft_definition' is required."),
        (
            {"name": "x", "draft_definition": {**DEFINITION, "time_period": {"type": "all"}}},
            "Field 'time_period.type' = 'all' is not supported.",
        ),
        (
            {"name": "x", "draft_definition": {**DEFINITION, "calculation_type": "median"}},
            "Invalid calculation type",
        ),
        ({"name": "x", "draft_definition": {**DEFINITION, "recipe_type": "user"}}, "Invalid recipe type"),
        (
            {
                "name": "x",
                "draft_definition": {**DEFINITION, "time_period": {"type": "within", "within": -1}},
            },
            "Invalid 'within' time period specification",
        ),
        (
            {
                "name": "x",
                "draft_definition": {
                    **DEFINITION,
                    "time_period": {"type": "within", "within": 1, "within_unit": "months"},
                },
            },
            "Invalid 'within_unit' time period specification",
        ),
        (
            {
                "name": "x",
                "draft_definition": {**DEFINITION, "time_period": {"type": "within", "within": 91}},
            },
            "The within time period cannot exceed your configured retention period of 90 days",
        ),
        (
            {"name": "x", "draft_definition": {**DEFINITION, "datapoint": {"event_type": "custom_event"}}},
            "Invalid data point custom event name",
        ),
        (
            {
                "name": "x",
                "draft_definition": {
                    **DEFINITION,
                    "conditions": [
                        {"type": "number", "operator": "contains", "attribute_name": "a", "value": 1}
                    ],
                },
            },
            "conditions[0]: Invalid numeric condition operator",
        ),
    ],
)
def test_validation_messages(
    client: TestClient, workspace: Workspace, bearer: dict[str, str], body: dict[str, Any], message: str
) -> None:
    response = client.post(_base(workspace), json=body, headers=bearer)
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["message"].startswith(message)


def test_names_are_unique(client: TestClient, workspace: Workspace, bearer: dict[str, str]) -> None:
    assert client.post(
        _base(workspace), json={"name": "a", "draft_definition": DEFINITION}, headers=bearer
    ).is_success
    again = client.post(_base(workspace), json={"name": "a", "draft_definition": DEFINITION}, headers=bearer)
    assert again.json()["errors"][0]["message"] == "Field 'name' must be unique."


def test_seeds_are_continued_from(
    client: TestClient,
    runtime: Runtime,
    workspace: Workspace,
    credentials: InputCredentials,
    auth: dict[str, str],
    bearer: dict[str, str],
) -> None:
    base = _base(workspace)
    attribute_id = client.post(
        base, json={"name": "LTV", "draft_definition": DEFINITION}, headers=bearer
    ).json()
    send(
        client,
        auth,
        make_batch(
            [view("Purchase", NOW - 3 * DAY, amount=100), view("Purchase", NOW, amount=5)],
            user_identities={"customer_id": "s1"},
        ),
    )
    process(runtime)
    seed = {
        "environment": "production",
        "identities": {"customer_id": "s1"},
        "calculated_attributes": {
            "workspace": [
                {
                    "attribute_name": "LTV",
                    "calculation_type": "sum",
                    "cutoff_date": "2027-01-14",
                    "seed": {"value": 1000},
                }
            ]
        },
    }
    basic = basic_auth(credentials.input.api_key, credentials.api_secret)
    assert client.post("/v2/calculatedattributes", json=seed, headers=basic).status_code == 202
    unknown = {
        **seed,
        "calculated_attributes": {
            "workspace": [{**seed["calculated_attributes"]["workspace"][0], "attribute_name": "nope"}]
        },
    }
    refused = client.post("/v2/calculatedattributes", json=unknown, headers=basic)
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["message"] == "nope: No matching calculated attribute definition found"
    assert client.post("/v2/calculatedattributes", json=seed).status_code == 401
    assert client.post(f"{base}/{attribute_id}/activation", headers=bearer).status_code == 204
    process(runtime)
    # The seed stands for everything before 2027-01-14; only the purchase of NOW (2027-01-15) is added.
    assert runtime.calculated_values.values_of(workspace.id, mpid_of(runtime, workspace, "s1")) == {
        "LTV": "1005"
    }


def test_bulk_seeding_is_all_or_nothing_and_windows_cannot_be_seeded(
    client: TestClient,
    runtime: Runtime,
    workspace: Workspace,
    credentials: InputCredentials,
    bearer: dict[str, str],
) -> None:
    base = _base(workspace)
    client.post(base, json={"name": "LTV", "draft_definition": DEFINITION}, headers=bearer)
    rolling = {**DEFINITION, "time_period": {"type": "within", "within": 7, "within_unit": "days"}}
    client.post(base, json={"name": "week", "draft_definition": rolling}, headers=bearer)
    basic = basic_auth(credentials.input.api_key, credentials.api_secret)

    def seed(name: str, value: Any, mpid: int) -> dict[str, Any]:
        item = {
            "attribute_name": name,
            "calculation_type": "sum",
            "cutoff_date": "2027-01-01",
            "seed": {"value": value},
        }
        return {"environment": "production", "mpid": mpid, "calculated_attributes": {"workspace": [item]}}

    refused = client.post(
        "/v2/bulkcalculatedattributes", json=[seed("LTV", 1, 1), seed("LTV", "lots", 2)], headers=basic
    )
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["message"] == "LTV: Seed value must be numeric"
    window = client.post("/v2/calculatedattributes", json=seed("week", 1, 1), headers=basic)
    assert window.json()["errors"][0]["message"] == "week: Rolling windows cannot be seeded"
    assert (
        client.post(
            "/v2/bulkcalculatedattributes", json=[seed("LTV", 1, 1), seed("LTV", 2, 2)], headers=basic
        ).status_code
        == 202
    )


def test_a_draft_can_be_replaced_and_discarded(
    client: TestClient, workspace: Workspace, bearer: dict[str, str]
) -> None:
    base = _base(workspace)
    attribute_id = client.post(
        base, json={"name": "x", "draft_definition": DEFINITION}, headers=bearer
    ).json()
    changed = {**DEFINITION, "calculation_type": "max"}
    assert (
        client.put(
            f"{base}/{attribute_id}", json={"name": "y", "draft_definition": changed}, headers=bearer
        ).status_code
        == 204
    )
    shown = client.get(f"{base}/{attribute_id}", headers=bearer).json()
    assert shown["name"] == "y" and shown["draft_definition"]["calculation_type"] == "max"
    assert client.delete(f"{base}/{attribute_id}/draft", headers=bearer).status_code == 204
    activation = client.post(f"{base}/{attribute_id}/activation", headers=bearer)
    assert activation.status_code == 400
    assert activation.json()["errors"][0]["message"] == "No draft definition was found to activate."
