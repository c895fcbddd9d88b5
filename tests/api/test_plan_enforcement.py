"""Data plans in the pipeline: verdicts, blocking into quarantine, replay, dry runs and the live stream."""

from __future__ import annotations

import json
from typing import Any

from starlette.testclient import TestClient

from fermion.platform import InputCredentials, Workspace
from fermion.runtime import Runtime
from tests.api.conftest import ingest, mpid_of
from tests.api.test_data_planning import custom_point, plans_url
from tests.factories import make_batch, make_event

PLAN = "app_plan"


def identities_point(names: list[str]) -> dict[str, Any]:
    """A user_identities data point allowing only ``names`` (in mParticle's export spelling)."""
    return {
        "match": {"type": "user_identities", "criteria": {}},
        "validator": {
            "type": "json_schema",
            "definition": {
                "type": "object",
                "additionalProperties": False,
                "properties": {n: {"type": "string"} for n in names},
            },
        },
    }


def attributes_point(names: list[str]) -> dict[str, Any]:
    """A user_attributes data point allowing only ``names``."""
    return {
        "match": {"type": "user_attributes", "criteria": {}},
        "validator": {
            "type": "json_schema",
            "definition": {"additionalProperties": False, "properties": {n: {} for n in names}},
        },
    }


def make_plan(
    client: TestClient,
    workspace: Workspace,
    bearer: dict[str, str],
    points: list[dict[str, Any]],
    **blocking: bool,
) -> None:
    """Create ``PLAN`` with one version active in production that blocks the given categories."""
    body = {
        "data_plan_id": PLAN,
        "data_plan_name": "App plan",
        "data_plan_versions": [
            {
                "version": 1,
                "activated_environment": "production",
                "version_document": {"data_points": points},
                "blocking": blocking,
            }
        ],
    }
    response = client.post(plans_url(workspace), json=body, headers=bearer)
    assert response.status_code == 200, response.text


def planned(batch: dict[str, Any], version: int | None = None) -> dict[str, Any]:
    """``batch`` naming ``PLAN``."""
    reference: dict[str, Any] = {"plan_id": PLAN}
    if version is not None:
        reference["plan_version"] = version
    return {**batch, "context": {"data_plan": reference}}


def stored_names(runtime: Runtime, workspace: Workspace, mpid: int) -> list[str]:
    return sorted(e.event_name for e in runtime.events.events_of(workspace.id, mpid))


def feed(runtime: Runtime, workspace: Workspace) -> list[dict[str, Any]]:
    return runtime.verdicts.since(workspace.id, 0, None, 1000)[0]


def test_every_processed_batch_carries_a_verdict(
    client: TestClient, runtime: Runtime, workspace: Workspace, auth: dict[str, str], bearer: dict[str, str]
) -> None:
    make_plan(client, workspace, bearer, [custom_point("Planned")])
    ingest(
        client,
        auth,
        runtime,
        make_batch(),  # names no plan
        planned(make_batch([make_event(event_name="Planned")])),
        planned(make_batch([make_event(event_name="Unplanned")])),
        {**make_batch(), "context": {"data_plan": {"plan_id": "nope"}}},
        planned(make_batch(), version=7),
        {**planned(make_batch([make_event(event_name="Planned")])), "environment": "development"},
    )
    verdicts = [entry["verdict"] for entry in feed(runtime, workspace)]
    assert [v["status"] for v in verdicts] == [
        "not_validated",
        "valid",
        "invalid",
        "not_validated",
        "not_validated",
        "valid",
    ]
    assert verdicts[0]["note"] == "The batch names no data plan and its input has no default plan."
    assert verdicts[3]["note"] == "No data plan nope in this workspace."
    assert verdicts[4]["note"] == f"Plan {PLAN} has no version 7."
    assert verdicts[2]["results"][0]["data"]["validation_errors"][0]["validation_error_type"] == "unplanned"
    assert verdicts[2]["blocked"] == []  # blocking is off: the unplanned event is flagged and kept


def test_blocked_events_go_to_quarantine_not_the_store_and_replay_stores_them_once(
    client: TestClient, runtime: Runtime, workspace: Workspace, auth: dict[str, str], bearer: dict[str, str]
) -> None:
    make_plan(client, workspace, bearer, [custom_point("Planned")], events=True)
    batch = make_batch(
        [
            make_event(event_name="Planned"),
            make_event(event_name="Surprise"),
            {"event_type": "session_start", "data": {}},
        ],
        user_identities={"customer_id": "c-1"},
    )
    ingest(client, auth, runtime, planned(batch))
    mpid = mpid_of(runtime, workspace, "c-1")
    assert stored_names(runtime, workspace, mpid) == ["Planned", "session_start"]
    listed = client.get(
        f"/platform/v2/workspaces/{workspace.id}/quarantine?reason=unplanned_event", headers=bearer
    )
    record = listed.json()["records"][0]
    assert listed.json()["total"] == 1
    assert record["event_names"] == ["Surprise"]
    assert record["reasons"] == ["unplanned_event"]
    shown = client.get(
        f"/platform/v2/workspaces/{workspace.id}/quarantine/{record['id']}", headers=bearer
    ).json()
    metadata = shown["batch"]["context"]["data_plan"]["block_metadata"]
    assert metadata["dto_version"] == 1
    assert metadata["blocked_event_ids"] == [batch["events"][1]["data"]["source_message_id"]]
    assert len(shown["batch"]["events"]) == 3  # the original batch, as received
    live = feed(runtime, workspace)[-1]
    assert live["verdict"]["blocked"] == ["unplanned_event"]
    assert [e["blocked"] for e in live["events"]] == [False, True, False]

    # Fix the plan: a new version that plans the event, then replay.
    version = {
        "version_document": {"data_points": [custom_point("Planned"), custom_point("Surprise")]},
        "activated_environment": "production",
        "blocking": {"events": True},
    }
    assert (
        client.post(plans_url(workspace, f"/{PLAN}/versions"), json=version, headers=bearer).status_code
        == 200
    )
    started = client.post(
        f"/platform/v2/workspaces/{workspace.id}/quarantine/replay", json={"plan_id": PLAN}, headers=bearer
    )
    assert started.status_code == 202, started.text
    assert started.json()["selected"] == 1 and started.json()["pending"] == 1
    runtime.new_worker().drain()
    progress = client.get(
        f"/platform/v2/workspaces/{workspace.id}/quarantine/replays/{started.json()['replay_job_id']}",
        headers=bearer,
    ).json()
    assert progress == {**progress, "pending": 0, "stored": 1, "done": True}
    assert stored_names(runtime, workspace, mpid) == ["Planned", "Surprise", "session_start"]
    again = client.post(
        f"/platform/v2/workspaces/{workspace.id}/quarantine/replay", json={"plan_id": PLAN}, headers=bearer
    )
    assert again.json()["selected"] == 0  # replayed records are not replayed twice
    runtime.new_worker().drain()
    assert stored_names(runtime, workspace, mpid) == ["Planned", "Surprise", "session_start"]


def test_blocked_event_attributes_are_stripped_then_restored_by_replay(
    client: TestClient, runtime: Runtime, workspace: Workspace, auth: dict[str, str], bearer: dict[str, str]
) -> None:
    make_plan(
        client, workspace, bearer, [custom_point("Buy", {"sku": {"type": "string"}})], event_attributes=True
    )
    event = make_event(event_name="Buy", custom_attributes={"sku": "A1", "coupon": "X"})
    del event["data"][
        "source_message_id"
    ]  # the id then comes from the inbox position, and must survive replay
    ingest(client, auth, runtime, planned(make_batch([event], user_identities={"customer_id": "c-2"})))
    mpid = mpid_of(runtime, workspace, "c-2")
    [stored] = runtime.events.events_of(workspace.id, mpid)
    assert json.loads(stored.body)["data"]["custom_attributes"] == {"sku": "A1"}
    [record] = runtime.quarantine.find(workspace.id, _any(), 10)
    assert record.batch["context"]["data_plan"]["block_metadata"]["blocked_event_attributes"] == [
        {"event_id": stored.event_uid, "event_attributes": ["./data/custom_attributes/coupon"]}
    ]
    fixed = [custom_point("Buy", {"sku": {"type": "string"}, "coupon": {"type": "string"}})]
    client.patch(
        plans_url(workspace, f"/{PLAN}/versions/1"),
        json={"version_document": {"data_points": fixed}},
        headers=bearer,
    )
    client.post(
        f"/platform/v2/workspaces/{workspace.id}/quarantine/replay", json={"ids": [record.id]}, headers=bearer
    )
    runtime.new_worker().drain()
    [restored] = runtime.events.events_of(workspace.id, mpid)
    assert restored.event_uid == stored.event_uid
    assert json.loads(restored.body)["data"]["custom_attributes"] == {"sku": "A1", "coupon": "X"}


def test_blocked_user_attributes_and_identities_never_reach_the_profile(
    client: TestClient, runtime: Runtime, workspace: Workspace, auth: dict[str, str], bearer: dict[str, str]
) -> None:
    points = [custom_point("Planned"), attributes_point(["plan"]), identities_point(["customerid", "email"])]
    make_plan(client, workspace, bearer, points, user_attributes=True, user_identities=True)
    batch = make_batch(
        [make_event(event_name="Planned")],
        user_identities={"customer_id": "c-3", "email": "c3@example.com", "other": "secret-id"},
        user_attributes={"plan": "gold", "shoe_size": 44},
        device_info={"ios_advertising_id": "613ff8c8-b2b8-4b48-a3f0-97c7d1c2f5f7"},
    )
    ingest(client, auth, runtime, planned(batch))
    mpid = mpid_of(runtime, workspace, "c-3")
    profile = runtime.profiles.get(workspace.id, mpid)
    assert profile is not None
    assert profile.user_attributes == {"plan": "gold"}
    assert "other" not in profile.user_identities
    assert runtime.identity.holders(workspace.id, "other", "secret-id") == []
    [record] = runtime.quarantine.find(workspace.id, _any(), 10)
    metadata = record.batch["context"]["data_plan"]["block_metadata"]
    assert metadata["blocked_user_attributes"] == ["shoe_size"]
    assert metadata["blocked_user_identities"] == ["other"]
    assert metadata["blocked_device_identities"] == ["ios_advertising_id"]
    assert sorted(record.reasons) == ["unplanned_user_attribute", "unplanned_user_identity"]


def test_blocking_off_keeps_everything(
    client: TestClient, runtime: Runtime, workspace: Workspace, auth: dict[str, str], bearer: dict[str, str]
) -> None:
    make_plan(client, workspace, bearer, [custom_point("Planned", {}), attributes_point([])])
    batch = make_batch(
        [
            make_event(event_name="Other", custom_attributes={"a": 1}),
            make_event(event_name="Planned", custom_attributes={"b": 2}),
        ],
        user_identities={"customer_id": "c-4"},
        user_attributes={"x": "y"},
    )
    ingest(client, auth, runtime, planned(batch))
    mpid = mpid_of(runtime, workspace, "c-4")
    assert stored_names(runtime, workspace, mpid) == ["Other", "Planned"]
    assert runtime.profiles.get(workspace.id, mpid).user_attributes == {"x": "y"}  # type: ignore[union-attr]
    assert runtime.quarantine.count(workspace.id, _any()) == 0
    assert feed(runtime, workspace)[-1]["verdict"]["error_count"] == 3


def test_an_inputs_default_plan_applies_to_batches_naming_none(
    client: TestClient,
    runtime: Runtime,
    workspace: Workspace,
    credentials: InputCredentials,
    auth: dict[str, str],
    bearer: dict[str, str],
) -> None:
    make_plan(client, workspace, bearer, [custom_point("Planned")], events=True)
    url = f"/platform/v2/workspaces/{workspace.id}/inputs/{credentials.input.id}/data-plan"
    assert client.get(url, headers=bearer).status_code == 404
    assert client.put(url, json={"plan_id": PLAN}, headers=bearer).status_code == 200
    assert client.get(url, headers=bearer).json() == {"plan_id": PLAN, "plan_version": None}
    ingest(client, auth, runtime, make_batch([make_event(event_name="Nope")]))
    assert feed(runtime, workspace)[-1]["verdict"]["blocked"] == ["unplanned_event"]
    assert client.put(url, json={"plan_id": "missing"}, headers=bearer).status_code == 404
    assert client.delete(url, headers=bearer).status_code == 204


def test_dry_run_counts_equal_what_activation_does(
    client: TestClient, runtime: Runtime, workspace: Workspace, auth: dict[str, str], bearer: dict[str, str]
) -> None:
    def batches() -> list[dict[str, Any]]:
        return [
            make_batch([make_event(event_name="Buy", custom_attributes={"sku": "A", "extra": "x"})]),
            make_batch([make_event(event_name="Buy", custom_attributes={"sku": 5})]),
            make_batch(
                [
                    make_event(event_name="Unknown"),
                    make_event(event_name="Buy", custom_attributes={"sku": "B"}),
                ]
            ),
            make_batch([make_event("screen_view", screen_name="Home")]),
        ]

    ingest(client, auth, runtime, *batches())
    points = [custom_point("Buy", {"sku": {"type": "string", "pattern": "^[A-Z]$"}})]
    body = {
        "data_plan_id": PLAN,
        "data_plan_name": "Draft",
        "data_plan_versions": [
            {
                "version": 1,
                "version_document": {"data_points": points},
                "blocking": {"events": True, "event_attributes": True},
            }
        ],
    }
    client.post(plans_url(workspace), json=body, headers=bearer)
    report = client.post(
        plans_url(workspace, f"/{PLAN}/versions/1/dry-run"), json={"days": 7}, headers=bearer
    )
    assert report.status_code == 200, report.text
    dry = report.json()
    assert dry["events_checked"] == 5
    assert dry["events_flagged"] == 4
    assert dry["events_would_block"] == 2
    assert dry["event_attributes_would_block"] == 1
    buy = next(p for p in dry["data_points"] if p["match"]["criteria"].get("event_name") == "Buy")
    assert buy["matched"] == 3 and buy["flagged"] == 2

    client.patch(
        plans_url(workspace, f"/{PLAN}/versions/1"),
        json={"activated_environment": "production"},
        headers=bearer,
    )
    before = len(feed(runtime, workspace))
    ingest(client, auth, runtime, *[planned(b) for b in batches()])
    verdicts = [e["verdict"] for e in feed(runtime, workspace)[before:]]
    assert sum(1 for v in verdicts for _ in v["results"]) == dry["events_flagged"]
    metadata = [v["block_metadata"] or {} for v in verdicts]
    assert sum(len(m.get("blocked_event_ids", [])) for m in metadata) == dry["events_would_block"]
    assert (
        sum(len(a["event_attributes"]) for m in metadata for a in m.get("blocked_event_attributes", []))
        == (dry["event_attributes_would_block"])
    )


def test_live_stream_sends_processed_batches_with_filters(
    client: TestClient, runtime: Runtime, workspace: Workspace, auth: dict[str, str], bearer: dict[str, str]
) -> None:
    make_plan(client, workspace, bearer, [custom_point("Planned")], events=True)
    ingest(
        client,
        auth,
        runtime,
        planned(make_batch([make_event(event_name="Planned")])),
        planned(make_batch([make_event(event_name="Blocked one")], user_identities={"customer_id": "c-9"})),
    )
    url = f"/platform/v2/workspaces/{workspace.id}/livestream"
    with client.stream(
        "GET", url, params={"after_id": 0, "event_name": "Blocked one", "limit": 1}, headers=bearer
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        text = "".join(response.iter_text())
    data = json.loads(next(line for line in text.splitlines() if line.startswith("data: "))[6:])
    assert data["events"][0]["event_name"] == "Blocked one"
    assert data["verdict"]["blocked"] == ["unplanned_event"]
    assert data["identity"]["mpid"] == str(mpid_of(runtime, workspace, "c-9"))
    assert data["identity"]["decisions"][0]["action"] == "created"
    assert client.get(url, params={"limit": 1}).status_code == 401


def _any() -> Any:
    from fermion.plans import QuarantineFilter

    return QuarantineFilter()
