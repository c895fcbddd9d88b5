"""``POST /oauth/token``: client credentials in JSON, form or Basic; OAuth 2 error bodies."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from fermion.platform import ApiClientCredentials, InputCredentials, Workspace
from tests.api.conftest import profile_url
from tests.factories import basic_auth


def _request(api_client: ApiClientCredentials, **overrides: str) -> dict[str, str]:
    return {
        "client_id": api_client.client.client_id,
        "client_secret": api_client.client_secret,
        "audience": "https://api.mparticle.com",
        "grant_type": "client_credentials",
        **overrides,
    }


def _assert_token(client: TestClient, response_json: object, workspace: Workspace) -> None:
    assert isinstance(response_json, dict)
    assert set(response_json) == {"access_token", "expires_in", "token_type"}
    assert response_json["expires_in"] == 28800
    assert response_json["token_type"] == "Bearer"
    headers = {"Authorization": f"Bearer {response_json['access_token']}"}
    used = client.get(profile_url(workspace, 1), params={"fields": "attribution"}, headers=headers)
    assert used.status_code == 404  # accepted: past auth, no such profile


def test_json_body(client: TestClient, api_client: ApiClientCredentials, workspace: Workspace) -> None:
    response = client.post("/oauth/token", json=_request(api_client))
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    _assert_token(client, response.json(), workspace)


def test_form_body(client: TestClient, api_client: ApiClientCredentials, workspace: Workspace) -> None:
    response = client.post("/oauth/token", data=_request(api_client))
    assert response.status_code == 200, response.text
    _assert_token(client, response.json(), workspace)


def test_basic_client_authentication(
    client: TestClient, api_client: ApiClientCredentials, workspace: Workspace
) -> None:
    # RFC 6749 §2.3.1: id and secret are form-encoded before base64.
    header = basic_auth(quote(api_client.client.client_id), quote(api_client.client_secret, safe=""))
    response = client.post("/oauth/token", data={"grant_type": "client_credentials"}, headers=header)
    assert response.status_code == 200, response.text
    _assert_token(client, response.json(), workspace)


def test_audience_is_optional(
    client: TestClient, api_client: ApiClientCredentials, workspace: Workspace
) -> None:
    body = _request(api_client)
    del body["audience"]
    response = client.post("/oauth/token", json=body)
    assert response.status_code == 200
    _assert_token(client, response.json(), workspace)


@pytest.mark.parametrize(
    ("overrides", "status", "error"),
    [
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"grant_type": "authorization_code"}, 400, "unsupported_grant_type"),
        ({"grant_type": ""}, 400, "invalid_request"),
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"client_id": "no-such-client"}, 401, "invalid_client"),
        ({"client_secret": ""}, 401, "invalid_client"),
    ],
)
def test_bad_requests_get_oauth_errors(
    client: TestClient, api_client: ApiClientCredentials, overrides: dict[str, str], status: int, error: str
) -> None:
    for send in ({"json": _request(api_client, **overrides)}, {"data": _request(api_client, **overrides)}):
        response = client.post("/oauth/token", **send)  # type: ignore[arg-type]
        assert response.status_code == status, response.text
        body = response.json()
        assert body["error"] == error
        assert body["error_description"]
        assert "access_token" not in body


def test_malformed_bodies_are_invalid_requests(client: TestClient, api_client: ApiClientCredentials) -> None:
    for content, content_type in (
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b'{"grant_type": "client_credentials", "client_id": 7}', "application/json"),
        (b"", "application/json"),
    ):
        response = client.post("/oauth/token", content=content, headers={"Content-Type": content_type})
        assert response.status_code == 400, content
        assert response.json()["error"] == "invalid_request"


def test_wrong_basic_secret_is_invalid_client(client: TestClient, api_client: ApiClientCredentials) -> None:
    response = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers=basic_auth(api_client.client.client_id, "wrong"),
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"] == "Basic"


def test_input_credentials_are_not_oauth_clients(
    client: TestClient, credentials: InputCredentials, api_client: ApiClientCredentials
) -> None:
    response = client.post(
        "/oauth/token",
        json={
            "client_id": credentials.input.api_key,
            "client_secret": credentials.api_secret,
            "grant_type": "client_credentials",
        },
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
