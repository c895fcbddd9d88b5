"""End to end through the Events API: "viewed Product Page ≥ 3 times in 7 days and $Country = US"."""

from __future__ import annotations

from starlette.testclient import TestClient

from fermion.clock import FrozenClock
from fermion.platform import Workspace
from fermion.runtime import Runtime
from tests.audiences.conftest import DAY, NOW, bearer_for, mpid_of, process, send, view
from tests.factories import make_batch

CRITERIA = {
    "type": "group",
    "operator": "and",
    "criteria": [
        {
            "type": "event",
            "event_name": "Product Page",
            "frequency": {"operator": "greater_or_equal", "value": 3},
            "recency": {"within": 7, "unit": "days"},
        },
        {
            "type": "user_attribute",
            "condition": {
                "type": "string",
                "attribute_name": "$Country",
                "operator": "equals",
                "value": "US",
            },
        },
    ],
}


def _profile(
    client: TestClient, workspace: Workspace, mpid: int, bearer: dict[str, str]
) -> dict[str, object]:
    url = f"/userprofile/v1/{workspace.org_id}/{workspace.account_id}/{workspace.id}/{mpid}"
    response = client.get(url, params={"fields": "audience_memberships,user_attributes"}, headers=bearer)
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body, dict)
    return body


def test_a_third_view_adds_the_user_and_the_window_removes_them(
    client: TestClient,
    runtime: Runtime,
    workspace: Workspace,
    auth: dict[str, str],
    bearer: dict[str, str],
    clock: FrozenClock,
) -> None:
    base = f"/platform/v1/workspace/{workspace.id}/audiences"
    created = client.post(base, json={"name": "Engaged US", "criteria": CRITERIA}, headers=bearer)
    assert created.status_code == 201, created.text
    audience_id = created.json()["id"]
    assert created.json()["backfill"] == {"status": "pending", "percent_complete": 0}
    process(runtime)

    user = {"customer_id": "shopper-1"}
    send(client, auth, make_batch([view("Product Page"), view("Product Page")], user_identities=user,
                                  user_attributes={"$Country": "US"}))  # fmt: skip
    process(runtime)
    mpid = mpid_of(runtime, workspace, "shopper-1")
    assert _profile(client, workspace, mpid, bearer)["audience_memberships"] == []

    clock.advance(60_000)
    send(client, auth, make_batch([view("Product Page")], user_identities=user))
    accepted = clock.now_ms()
    clock.advance(1_500)
    process(runtime)

    assert _profile(client, workspace, mpid, bearer)["audience_memberships"] == [
        # Without more views, the first two leave the 7-day window at NOW + 7 days and the count drops to 1.
        {"audience_id": audience_id, "audience_name": "Engaged US", "expiration_timestamp_ms": NOW + 7 * DAY}
    ]
    shown = client.get(f"{base}/{audience_id}", headers=bearer).json()
    assert shown["size"] == 1 and shown["added_last_24_hours"] == 1
    assert shown["freshness"]["last_evaluated_ms"] == accepted + 1_500
    assert shown["freshness"]["lag_s"] == 1.5
    [change] = client.get(f"{base}/{audience_id}/changes", headers=bearer).json()
    assert change["action"] == "add" and change["mpid"] == mpid
    assert change["accepted_ms"] == accepted and change["user_identities"] == {"customer_id": "shopper-1"}
    assert change["user_attributes"] == {"$Country": "US"}

    # The first two views leave the 7-day window: with no new events the user drops out.
    clock.set(NOW + 7 * DAY)
    process(runtime)
    bearer = bearer_for(client, runtime, workspace)
    assert _profile(client, workspace, mpid, bearer)["audience_memberships"] == []
    history = client.get(
        f"{base}/{audience_id}/members", params={"include_past": True}, headers=bearer
    ).json()
    assert history == [{"mpid": mpid, "added_ms": accepted + 1_500, "removed_ms": NOW + 7 * DAY}]
    changes = client.get(f"{base}/{audience_id}/changes", headers=bearer).json()
    assert [c["action"] for c in changes] == ["add", "delete"]
    listed = client.get(base, headers=bearer).json()
    assert listed[0]["size"] == 0 and listed[0]["dropped_last_24_hours"] == 1
    assert listed[0]["freshness"]["last_evaluated_ms"] == NOW + 7 * DAY
