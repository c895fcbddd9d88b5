"""A data plan imported as mParticle exports it blocks an unplanned event sent by the official Python SDK;
the event waits in the quarantine and shows in the live stream with its reason; after the plan is fixed, a
replay stores it."""

from __future__ import annotations

import json

import mparticle
from starlette.testclient import TestClient

from fermion.api import create_app
from fermion.plans import QuarantineFilter
from fermion.platform import InputCredentials
from fermion.runtime import Runtime
from tests.api.test_data_planning import custom_point


def sdk(server_url: str, credentials: InputCredentials) -> mparticle.EventsApi:
    configuration = mparticle.Configuration()
    configuration.api_key = credentials.input.api_key
    configuration.api_secret = credentials.api_secret
    configuration.host = f"{server_url}/v2"
    return mparticle.EventsApi(configuration)


def test_python_sdk_event_blocked_quarantined_streamed_and_replayed(
    server_url: str, runtime: Runtime, credentials: InputCredentials
) -> None:
    workspace_id = credentials.input.workspace_id
    export = {
        "data_plan_id": "mobile_app",
        "data_plan_name": "Mobile App",
        "data_plan_versions": [
            {
                "version": 1,
                "activated_environment": "production",
                "version_document": {
                    "data_points": [custom_point("Played Video")],
                    "settings": {"validation_actions": {"event": "drop_event"}},
                },
            }
        ],
    }
    runtime.plans.create_plan(workspace_id, json.loads(json.dumps(export)), "import")

    batch = mparticle.Batch()
    batch.environment = "development"
    identities = mparticle.UserIdentities()
    identities.customerid = "sdk-plan-user"
    batch.user_identities = identities
    batch.context = mparticle.BatchContext(data_plan=mparticle.DataPlanContext(plan_id="mobile_app"))
    batch.events = [
        mparticle.AppEvent(event_name="Played Video", custom_event_type="other"),
        mparticle.AppEvent(event_name="Rated Video", custom_event_type="other"),
    ]
    sdk(server_url, credentials).upload_events(batch)
    runtime.new_worker().drain()

    mpid = runtime.profiles.find_by_identity(workspace_id, "customer_id", "sdk-plan-user")
    assert mpid is not None
    assert [e.event_name for e in runtime.events.events_of(workspace_id, mpid)] == ["Played Video"]
    [record] = runtime.quarantine.find(workspace_id, QuarantineFilter(), 10)
    assert record.event_names == ("Rated Video",) and record.reasons == ("unplanned_event",)
    entries, _ = runtime.verdicts.since(workspace_id, 0, None, 10)
    assert entries[-1]["verdict"]["blocked"] == ["unplanned_event"]
    assert entries[-1]["verdict"]["results"][0]["data"]["validation_errors"][0]["key"] == "Rated Video"

    runtime.plans.create_version(
        workspace_id,
        "mobile_app",
        {
            "activated_environment": "production",
            "version_document": {"data_points": [custom_point("Played Video"), custom_point("Rated Video")]},
            "blocking": {"events": True},
        },
        "fix",
    )
    token_client = runtime.credentials.create([workspace_id])
    with TestClient(create_app(runtime), base_url="http://127.0.0.1") as client:
        token = client.post(
            "/oauth/token",
            json={
                "client_id": token_client.client.client_id,
                "client_secret": token_client.client_secret,
                "grant_type": "client_credentials",
            },
        ).json()["access_token"]
        started = client.post(
            f"/platform/v2/workspaces/{workspace_id}/quarantine/replay",
            json={"plan_id": "mobile_app"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert started.status_code == 202
    runtime.new_worker().drain()
    assert sorted(e.event_name for e in runtime.events.events_of(workspace_id, mpid)) == [
        "Played Video",
        "Rated Video",
    ]
