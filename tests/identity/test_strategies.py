"""The worked examples of the identity strategies (spec core-apis §4.7), over the IDSync HTTP API."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from fermion.identity import IdentitySettings
from fermion.runtime import Runtime

DEVICE = {"ios_idfv": "9876"}
KNOWN = {"customerid": "ABC123", "email": "h@example.com", "ios_idfv": "9876"}


class IdSync:
    """Calls IDSync as the SDKs do, remembering the last MPID as previous_mpid."""

    def __init__(self, client: TestClient, auth: dict[str, str]) -> None:
        self.client = client
        self.auth = auth
        self.previous: str | None = None

    def call(self, name: str, identities: dict[str, str]) -> dict[str, Any]:
        body: dict[str, Any] = {"environment": "production", "known_identities": identities}
        if self.previous is not None:
            body["previous_mpid"] = self.previous
        response = self.client.post(f"/v1/{name}", json=body, headers=self.auth)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        assert isinstance(result["mpid"], str)
        self.previous = result["mpid"]
        return result


@pytest.fixture
def idsync(client: TestClient, auth: dict[str, str]) -> IdSync:
    return IdSync(client, auth)


def use(runtime: Runtime, strategy: str) -> None:
    runtime.identity.configure(1, IdentitySettings.for_strategy(strategy))


@pytest.mark.parametrize("strategy", ["default", "profile_conversion"])
def test_profile_conversion(runtime: Runtime, idsync: IdSync, strategy: str) -> None:
    use(runtime, strategy)
    anonymous = idsync.call("identify", DEVICE)
    assert anonymous["is_logged_in"] is False
    login = idsync.call("login", KNOWN)
    assert login["mpid"] == anonymous["mpid"] and login["is_logged_in"] is True
    logout = idsync.call("logout", DEVICE)
    assert logout["mpid"] != anonymous["mpid"] and logout["is_logged_in"] is False
    again = idsync.call("login", KNOWN)
    assert again["mpid"] == anonymous["mpid"]
    roku = idsync.call("login", {"customerid": "ABC123", "roku_aid": "roku-1"})
    assert roku["mpid"] == anonymous["mpid"]
    assert runtime.identity.identities(1, int(roku["mpid"]))["roku_aid"] == ["roku-1"]


def test_profile_link(runtime: Runtime, idsync: IdSync) -> None:
    use(runtime, "profile_link")
    anonymous = idsync.call("identify", DEVICE)
    login = idsync.call("login", KNOWN)
    assert login["mpid"] != anonymous["mpid"] and login["is_logged_in"] is True
    history = runtime.identity.history(1, int(login["mpid"]))
    assert any(d.action == "linked_from" and d.other_mpid == int(anonymous["mpid"]) for d in history)
    logout = idsync.call("logout", DEVICE)
    assert logout["mpid"] not in (anonymous["mpid"], login["mpid"])
    assert idsync.call("login", KNOWN)["mpid"] == login["mpid"]


def test_profile_isolation(runtime: Runtime, idsync: IdSync) -> None:
    use(runtime, "profile_isolation")
    anonymous = idsync.call("identify", DEVICE)
    login = idsync.call("login", KNOWN)
    assert login["mpid"] != anonymous["mpid"]
    assert idsync.call("logout", DEVICE)["mpid"] == anonymous["mpid"]
    assert idsync.call("login", KNOWN)["mpid"] == login["mpid"]


def test_best_match(runtime: Runtime, idsync: IdSync) -> None:
    use(runtime, "best_match")
    first = idsync.call("identify", {"ios_idfv": "9876", "email": "a@example.com"})
    second = idsync.call("identify", {"ios_idfv": "9876", "email": "b@example.com"})
    assert second["mpid"] == first["mpid"]
    assert sorted(runtime.identity.identities(1, int(first["mpid"]))["email"]) == [
        "a@example.com",
        "b@example.com",
    ]
    # A higher-priority match (email) pulls a new device onto the older profile.
    new_device = idsync.call("identify", {"ios_idfv": "5555", "email": "a@example.com"})
    assert new_device["mpid"] == first["mpid"]


def test_a_known_profile_is_not_returned_to_a_device_only_request(runtime: Runtime, idsync: IdSync) -> None:
    known = idsync.call("login", KNOWN)
    anonymous = idsync.call("identify", DEVICE)
    assert anonymous["mpid"] != known["mpid"] and anonymous["is_logged_in"] is False


def test_matched_identities_are_the_request_identities_the_profile_holds(idsync: IdSync) -> None:
    idsync.call("login", KNOWN)
    result = idsync.call("identify", {"customerid": "ABC123", "other2": "x-2"})
    assert result["matched_identities"] == {"customerid": "ABC123", "other2": "x-2"}


def test_search_never_creates(client: TestClient, auth: dict[str, str], idsync: IdSync) -> None:
    body = {"environment": "production", "known_identities": {"email": "nobody@example.com"}}
    response = client.post("/v1/search", json=body, headers=auth)
    assert response.status_code == 404
    error = response.json()
    assert error["Errors"][0]["code"] == error["errors"][0]["code"] == "NOT_FOUND_ERROR"
    found = idsync.call("identify", {"email": "nobody@example.com"})
    assert client.post("/v1/search", json=body, headers=auth).json()["mpid"] == found["mpid"]


def test_modify_moves_a_unique_id_and_orphans_its_old_holder(
    runtime: Runtime, client: TestClient, auth: dict[str, str], idsync: IdSync
) -> None:
    first = idsync.call("login", {"customerid": "C-1"})
    second = idsync.call("login", {"customerid": "C-2"})
    body = {
        "environment": "production",
        "identity_changes": [{"identity_type": "customerid", "old_value": "C-2", "new_value": "C-1"}],
    }
    response = client.post(f"/v1/{second['mpid']}/modify", json=body, headers=auth)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "change_results": [{"identity_type": "customerid", "modified_mpid": first["mpid"]}]
    }
    assert runtime.identity.holders(1, "customer_id", "C-1") == [int(second["mpid"])]
    assert idsync.call("login", {"customerid": "C-1"})["mpid"] == second["mpid"]
    assert [d.action for d in runtime.identity.history(1, int(first["mpid"]))][-2:] == [
        "identity_moved",
        "orphaned",
    ]


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        (
            "/v1/identify",
            {"environment": "production", "known_identities": {}},
            400,
            "knownIdentities is empty.",
        ),
        (
            "/v1/identify",
            {"environment": "production", "known_identities": {"shoe_size": "9"}},
            400,
            "shoe_size",
        ),
        ("/v1/identify", {"known_identities": {"email": "a@b.c"}}, 400, "environment"),
        (
            "/v1/identify",
            {"environment": "production", "known_identities": {"email": "a"}, "previous_mpid": "x"},
            400,
            "previous_mpid",
        ),
        (
            "/v1/123/modify",
            {"identity_changes": [{"identity_type": "email", "old_value": None, "new_value": "a"}]},
            404,
            "123",
        ),
        ("/v1/12x/modify", {"identity_changes": []}, 400, "mpid must be a signed 64-bit integer"),
    ],
)
def test_bad_requests_get_the_documented_error_body(
    runtime: Runtime,
    client: TestClient,
    auth: dict[str, str],
    path: str,
    body: dict[str, Any],
    status: int,
    message: str,
) -> None:
    response = client.post(path, json=body, headers=auth)
    assert response.status_code == status, response.text
    payload = response.json()
    assert message in payload["errors"][0]["message"]
    assert payload["Errors"] == payload["errors"] and payload["StatusCode"] == status
    assert runtime.identity.holders(1, "email", "a") == []


def test_authentication(runtime: Runtime, client: TestClient, credentials: Any) -> None:
    body = {"environment": "production", "known_identities": {"email": "a@b.c"}}
    assert client.post("/v1/identify", json=body).status_code == 401
    key_only = {"x-mp-key": credentials.input.api_key}
    assert client.post("/v1/identify", json=body, headers=key_only).status_code == 403
    web = runtime.tenancy.create_input(1, "Web", platform="web")
    response = client.post(
        "/v1/identify", json=body, headers={"x-mp-key": web.input.api_key, "Origin": "http://a"}
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "http://a"
    preflight = client.options("/v1/identify", headers={"Origin": "http://a"})
    assert "x-mp-key" in preflight.headers["access-control-allow-headers"]


def test_history_explains_every_link(client: TestClient, auth: dict[str, str], idsync: IdSync) -> None:
    anonymous = idsync.call("identify", DEVICE)
    idsync.call("login", KNOWN)
    response = client.get(f"/v1/{anonymous['mpid']}/history", headers=auth)
    assert response.status_code == 200
    actions = [d["action"] for d in response.json()["decisions"]]
    assert actions[:2] == ["created", "identity_added"]
    assert "converted" in actions and "login" in actions
    assert all(d["explanation"] and d["cause"] for d in response.json()["decisions"])
