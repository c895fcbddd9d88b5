"""The Analytics API end to end: events in through the Events API and the pipeline, analyses out over HTTP."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

import pytest
from starlette.testclient import TestClient

from fermion.platform import InputCredentials
from fermion.runtime import Runtime
from tests.api.conftest import ingest, token_of
from tests.factories import make_batch, make_event

DAY_RANGE = {"last": 1}


@pytest.fixture
def workspace_id(credentials: InputCredentials) -> int:
    return credentials.input.workspace_id


@pytest.fixture
def bearer(client: TestClient, runtime: Runtime, workspace_id: int) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_of(client, runtime.credentials.create([workspace_id]))}"}


@pytest.fixture
def shop(client: TestClient, auth: dict[str, str], runtime: Runtime) -> None:
    """Three users today: two view, one of them buys twice."""
    now = int(time.time() * 1000)

    def event(name: str, offset_ms: int, **attrs: Any) -> dict[str, Any]:
        return make_event(
            event_name=name, timestamp_unixtime_ms=now - 60_000 + offset_ms, custom_attributes=attrs
        )

    ingest(
        client,
        auth,
        runtime,
        make_batch(
            [event("view", 0, plan="pro"), event("buy", 1000, amount="10"), event("buy", 2000, amount="5")],
            user_attributes={"tier": "gold"},
        ),
        make_batch([event("view", 0, plan="free")], user_attributes={"tier": "silver"}),
        make_batch([event("search", 0)]),
    )


def url(workspace_id: int, path: str) -> str:
    return f"/analytics/v1/workspaces/{workspace_id}/{path}"


def test_segmentation_funnel_retention_and_flows_over_http(
    client: TestClient, bearer: dict[str, str], workspace_id: int, shop: None
) -> None:
    seg = client.post(
        url(workspace_id, "segmentation"),
        json={
            "series": [
                {"event": "buy", "measure": "sum", "property": "amount"},
                {"event": "view", "measure": "users"},
            ],
            "date_range": DAY_RANGE,
            "interval": "full",
        },
        headers=bearer,
    )
    assert seg.status_code == 200, seg.text
    assert [s["total"] for s in seg.json()["series"]] == [15.0, 2.0]
    funnel = client.post(
        url(workspace_id, "funnel"),
        json={"steps": [{"event": "view"}, {"event": "buy"}], "date_range": DAY_RANGE},
        headers=bearer,
    )
    assert [s["count"] for s in funnel.json()["steps"]] == [2, 1]
    retention = client.post(
        url(workspace_id, "retention"),
        json={
            "start": {"event": "view"},
            "returning": {"event": "buy"},
            "date_range": DAY_RANGE,
            "periods": 1,
        },
        headers=bearer,
    )
    assert retention.json()["cohorts"][0]["values"][0]["users"] == 1
    flows = client.post(
        url(workspace_id, "flows"), json={"event": "view", "date_range": DAY_RANGE}, headers=bearer
    )
    assert [(e["from"], e["to"], e["users"]) for e in flows.json()["edges"]] == [("view", "buy", 1)]


def test_csv_export_is_a_flat_table(
    client: TestClient, bearer: dict[str, str], workspace_id: int, shop: None
) -> None:
    response = client.post(
        url(workspace_id, "funnel"),
        params={"format": "csv"},
        json={"steps": [{"event": "view"}, {"event": "buy"}], "date_range": DAY_RANGE},
        headers=bearer,
    )
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["step"], r["count"]) for r in rows] == [("1", "2"), ("2", "1")]


def test_saved_analyses_and_dashboards(
    client: TestClient, bearer: dict[str, str], workspace_id: int, shop: None
) -> None:
    saved = client.post(
        url(workspace_id, "saved"),
        json={
            "name": "Buyers",
            "kind": "segmentation",
            "definition": {
                "series": [{"event": "buy", "measure": "users"}],
                "date_range": DAY_RANGE,
                "interval": "full",
            },
        },
        headers=bearer,
    )
    assert saved.status_code == 201, saved.text
    analysis_id = saved.json()["id"]
    assert [a["name"] for a in client.get(url(workspace_id, "saved"), headers=bearer).json()] == ["Buyers"]
    run = client.post(url(workspace_id, f"saved/{analysis_id}/run"), headers=bearer)
    assert run.json()["series"][0]["total"] == 1.0
    board = client.post(
        url(workspace_id, "dashboards"), json={"name": "Sales", "analysis_ids": [analysis_id]}, headers=bearer
    )
    shown = client.get(url(workspace_id, f"dashboards/{board.json()['id']}"), headers=bearer).json()
    assert (shown["name"], shown["analysis_ids"]) == ("Sales", [analysis_id])
    assert [d["id"] for d in client.get(url(workspace_id, "dashboards"), headers=bearer).json()] == [
        shown["id"]
    ]
    results = client.post(url(workspace_id, f"dashboards/{board.json()['id']}/run"), headers=bearer).json()[
        "results"
    ]
    assert results[0]["result"]["series"][0]["total"] == 1.0
    viewers = {"series": [{"event": "view", "measure": "users"}], "date_range": DAY_RANGE, "interval": "full"}
    changed = client.put(
        url(workspace_id, f"saved/{analysis_id}"),
        json={"name": "Viewers", "definition": viewers},
        headers=bearer,
    )
    assert changed.json()["name"] == "Viewers"
    rerun = client.post(
        url(workspace_id, f"saved/{analysis_id}/run"), params={"format": "csv"}, headers=bearer
    )
    assert rerun.text.splitlines()[1].endswith(",2.0")
    bad = client.put(
        url(workspace_id, f"saved/{analysis_id}"),
        json={"name": "x", "definition": {"series": []}},
        headers=bearer,
    )
    assert bad.status_code == 400 and "series" in bad.json()["errors"][0]["message"]
    assert client.delete(url(workspace_id, f"saved/{analysis_id}"), headers=bearer).status_code == 204
    assert client.post(url(workspace_id, f"saved/{analysis_id}/run"), headers=bearer).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"steps": []}, "steps"),
        ({"steps": [{"event": "a"}], "window": {"kind": "whole_funnel", "seconds": -5}}, "window.seconds"),
        (
            {
                "steps": [
                    {
                        "event": "a",
                        "where": {"conditions": [{"property": "p", "operator": "regex", "value": "("}]},
                    }
                ]
            },
            "regular expression",
        ),
        (
            {
                "steps": [
                    {
                        "event": "a",
                        "where": {"conditions": [{"property": "p", "operator": "near", "value": 1}]},
                    }
                ]
            },
            "operator",
        ),
    ],
)
def test_invalid_definitions_are_400_naming_the_field(
    client: TestClient, bearer: dict[str, str], workspace_id: int, body: dict[str, Any], field: str
) -> None:
    response = client.post(url(workspace_id, "funnel"), json=body, headers=bearer)
    assert response.status_code == 400
    assert field in response.json()["errors"][0]["message"]


def test_an_interval_too_fine_for_the_range_is_400(
    client: TestClient, bearer: dict[str, str], workspace_id: int
) -> None:
    response = client.post(
        url(workspace_id, "segmentation"),
        json={"series": [{"event": "x"}], "interval": "hour", "date_range": {"last": 90}},
        headers=bearer,
    )
    assert response.status_code == 400
    assert "interval" in response.json()["errors"][0]["message"]


def test_tokens_and_workspaces_are_checked(
    client: TestClient, runtime: Runtime, bearer: dict[str, str], workspace_id: int
) -> None:
    body = {"series": [{"event": "x"}]}
    assert client.post(url(workspace_id, "segmentation"), json=body).status_code == 401
    other = runtime.tenancy.create_workspace("other")
    response = client.post(url(other.id, "segmentation"), json=body, headers=bearer)
    assert response.status_code == 403


def test_user_properties_come_from_the_profiles(
    client: TestClient, bearer: dict[str, str], workspace_id: int, shop: None
) -> None:
    gold = {"conditions": [{"property": "tier", "scope": "user", "operator": "exact", "value": "gold"}]}
    seg = client.post(
        url(workspace_id, "segmentation"),
        json={"series": [{"event": "view", "where": gold}], "date_range": DAY_RANGE, "interval": "full"},
        headers=bearer,
    )
    assert seg.json()["series"][0]["total"] == 1.0
    funnel = client.post(
        url(workspace_id, "funnel"),
        json={
            "steps": [{"event": "view"}, {"event": "buy"}],
            "breakdown": {"property": "tier", "scope": "user"},
            "date_range": DAY_RANGE,
        },
        headers=bearer,
    )
    groups = {g["group"]: [s["count"] for s in g["steps"]] for g in funnel.json()["groups"]}
    assert groups == {"gold": [1, 1], "silver": [1, 0]}


def test_the_analytics_api_is_documented_in_openapi(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for kind, schema in [
        ("segmentation", "SegmentationQuery"),
        ("funnel", "FunnelQuery"),
        ("retention", "RetentionQuery"),
        ("flows", "FlowsQuery"),
    ]:
        operation = spec["paths"][f"/analytics/v1/workspaces/{{workspace_id}}/{kind}"]["post"]
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert body == {"$ref": f"#/components/schemas/{schema}"}
        assert {"400", "401", "403", "504"} <= set(operation["responses"])
    assert "operator" in spec["components"]["schemas"]["Condition"]["properties"]
