"""The Profile API: a profile by MPID and by identity, field selection, identity names, and every error."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from fermion.api import create_app
from fermion.clock import FrozenClock
from fermion.platform import Workspace
from fermion.profiles import PROFILE_API_FIELDS, profile_api_type
from fermion.runtime import Runtime
from fermion.settings import Settings
from tests.api.conftest import ingest, mpid_of, profile_url, resolve_url, token_of
from tests.factories import make_batch

ALL_FIELDS = ",".join(PROFILE_API_FIELDS)
ALWAYS = {"mpid", "created_timestamp_ms", "last_stored_timestamp_ms", "is_opted_out", "limit_ad_tracking"}


def _error(response_json: object, code: str) -> str:
    assert isinstance(response_json, dict)
    [error] = response_json["errors"]
    assert error["code"] == code
    return str(error["message"])


def test_profile_by_mpid_has_the_spec_body(
    client: TestClient, runtime: Runtime, workspace: Workspace, customer: int, bearer: dict[str, str]
) -> None:
    response = client.get(profile_url(workspace, customer), params={"fields": ALL_FIELDS}, headers=bearer)
    assert response.status_code == 200, response.text
    stored = runtime.profiles.get(workspace.id, customer)
    assert stored is not None
    assert response.json() == {
        "mpid": customer,
        "created_timestamp_ms": stored.first_seen_ms,
        "last_stored_timestamp_ms": stored.updated_ms,
        "is_opted_out": False,
        "limit_ad_tracking": None,
        "device_identities": [
            {"type": "android_id", "encoding": "none", "value": "8789c459016a94b0"},
            {"type": "google_advertising_id", "encoding": "none", "value": "481c8a31"},
        ],
        "user_identities": [
            {"type": "customer_id", "encoding": "none", "value": "cust-1"},
            {"type": "email", "encoding": "none", "value": "ann@example.com"},
        ],
        "account_userattributes": None,
        "user_attributes": {"$FirstName": "Ann", "plan": "gold", "tags": ["a", "b"], "vip": None},
        "audience_memberships": [],
        "attribution": None,
    }
    assert response.text.startswith(f'{{"mpid":{customer},')  # a JSON number, not a string


def test_only_the_listed_fields_are_returned(
    client: TestClient, workspace: Workspace, customer: int, bearer: dict[str, str]
) -> None:
    for size in range(1, len(PROFILE_API_FIELDS) + 1):
        for combination in itertools.combinations(PROFILE_API_FIELDS, size):
            response = client.get(
                profile_url(workspace, customer), params={"fields": ",".join(combination)}, headers=bearer
            )
            assert response.status_code == 200, (combination, response.text)
            expected = ALWAYS | set(combination)
            if "user_attributes" in combination:
                expected.add("account_userattributes")
            assert set(response.json()) == expected, combination


def test_fields_tolerate_spaces_and_repeats(
    client: TestClient, workspace: Workspace, customer: int, bearer: dict[str, str]
) -> None:
    response = client.get(
        profile_url(workspace, customer),
        params={"fields": " user_identities , user_identities,"},
        headers=bearer,
    )
    assert response.status_code == 200
    assert set(response.json()) == ALWAYS | {"user_identities"}


def test_post_is_accepted_like_get(
    client: TestClient, workspace: Workspace, customer: int, bearer: dict[str, str]
) -> None:
    url = profile_url(workspace, customer)
    got = client.get(url, params={"fields": "user_attributes"}, headers=bearer)
    posted = client.post(url, params={"fields": "user_attributes"}, headers=bearer)
    assert posted.status_code == 200
    assert posted.json() == got.json()


def test_identity_types_take_the_profile_api_names(
    client: TestClient,
    auth: dict[str, str],
    runtime: Runtime,
    workspace: Workspace,
    bearer: dict[str, str],
) -> None:
    users = {
        "customer_id": "c-types",
        "email": "t@example.com",
        "other": "o-1",
        "other_id_2": "o-2",
        "mobile_number": "+15550100",
        "phone_number_2": "+15550101",
        "facebook": "fb-1",
        "google": "g-1",
        "microsoft": "ms-1",
        "twitter": "tw-1",
        "yahoo": "y-1",
        "facebook_custom_audience_id": "fca-1",
    }
    devices = {
        "ios_advertising_id": "idfa-1",
        "ios_idfv": "idfv-1",
        "android_advertising_id": "aaid-1",
        "android_uuid": "auuid-1",
        "push_token": "push-1",
        "roku_advertising_id": "roku-1",
    }
    ingest(client, auth, runtime, make_batch(user_identities=users, device_info=devices))
    mpid = mpid_of(runtime, workspace, "c-types")

    response = client.get(
        profile_url(workspace, mpid), params={"fields": "user_identities,device_identities"}, headers=bearer
    )

    assert response.status_code == 200
    body = response.json()
    assert {i["value"]: i["type"] for i in body["user_identities"]} == {
        "c-types": "customer_id",
        "t@example.com": "email",
        "o-1": "other",
        "o-2": "other_id_2",
        "+15550100": "mobile_number",
        "+15550101": "phone_number_2",
        "fb-1": "facebook_id",
        "g-1": "google_id",
        "ms-1": "microsoft_id",
        "tw-1": "twitter_id",
        "y-1": "yahoo_id",
        "fca-1": "facebook_custom_audience_id",
    }
    by_value = {i["value"]: i["type"] for i in body["device_identities"]}
    assert {v: by_value[v] for v in devices.values()} == {
        "idfa-1": "ios_advertising_id",
        "idfv-1": "ios_vendor_id",
        "aaid-1": "google_advertising_id",
        "auuid-1": "android_id",
        "push-1": "push_notification_token",
        # No Profile API name in the spec: the stored name is kept (the identity engine's or the batch's).
        "roku-1": by_value["roku-1"],
    }
    assert by_value["roku-1"] in {"roku_advertising_id", "roku_aid"}
    assert all(i["encoding"] == "none" for i in body["device_identities"] + body["user_identities"])


@pytest.mark.parametrize(
    ("stored", "api"),
    [
        ("ios_idfa", "ios_advertising_id"),
        ("android_aaid", "google_advertising_id"),
        ("amp_id", "amp_id"),
        ("other_id_10", "other_id_10"),
        ("phone_number_3", "phone_number_3"),
        ("mp_deviceid", "mp_deviceid"),
        ("device_application_stamp", "device_application_stamp"),
        ("fire_aid", "fire_aid"),
    ],
)
def test_identity_names_of_both_spellings(stored: str, api: str) -> None:
    assert profile_api_type(stored) == api


def test_resolve_by_identity(
    client: TestClient, workspace: Workspace, customer: int, bearer: dict[str, str]
) -> None:
    by_mpid = client.get(profile_url(workspace, customer), params={"fields": ALL_FIELDS}, headers=bearer)
    for identity in (
        {"type": "customer_id", "value": "cust-1"},
        {"type": "customerid", "value": "cust-1"},
        {"type": "email", "value": "ann@example.com"},
    ):
        response = client.post(
            resolve_url(workspace),
            params={"fields": ALL_FIELDS},
            json={"environment_type": "production", "identity": identity},
            headers=bearer,
        )
        assert response.status_code == 200, (identity, response.text)
        assert response.json() == by_mpid.json()


def test_resolve_accepts_profile_api_and_batch_type_names(
    client: TestClient,
    auth: dict[str, str],
    runtime: Runtime,
    workspace: Workspace,
    bearer: dict[str, str],
) -> None:
    ingest(client, auth, runtime, make_batch(user_identities={"customer_id": "c-fb", "facebook": "fb-9"}))
    mpid = mpid_of(runtime, workspace, "c-fb")
    for name in ("facebook_id", "facebook"):
        response = client.post(
            resolve_url(workspace),
            params={"fields": "user_identities"},
            json={"environment_type": "development", "identity": {"type": name, "value": "fb-9"}},
            headers=bearer,
        )
        assert response.status_code == 200, response.text
        assert response.json()["mpid"] == mpid


def test_resolve_errors(
    client: TestClient, workspace: Workspace, customer: int, bearer: dict[str, str]
) -> None:
    def resolve(body: object, fields: str | None = "user_attributes") -> tuple[int, object]:
        params = {} if fields is None else {"fields": fields}
        response = client.post(resolve_url(workspace), params=params, json=body, headers=bearer)
        return response.status_code, response.json()

    identity = {"type": "customer_id", "value": "cust-1"}
    status, body = resolve({"identity": identity})
    assert status == 400 and "environment_type" in _error(body, "BAD_REQUEST")
    status, body = resolve({"environment_type": "staging", "identity": identity})
    assert status == 400 and "environment_type" in _error(body, "BAD_REQUEST")
    status, body = resolve({"environment_type": "production"})
    assert status == 400 and "identity" in _error(body, "BAD_REQUEST")
    status, body = resolve({"environment_type": "production", "identity": identity}, fields=None)
    assert status == 400 and "fields" in _error(body, "BAD_REQUEST")
    status, body = resolve(
        {"environment_type": "production", "identity": {"type": "shoe_size", "value": "9"}}
    )
    assert status == 400 and "shoe_size" in _error(body, "BAD_REQUEST")
    status, body = resolve(
        {"environment_type": "production", "identity": {"type": "android_id", "value": "8789c459016a94b0"}}
    )
    assert status == 400 and "user identity type" in _error(body, "BAD_REQUEST")
    status, body = resolve(
        {"environment_type": "production", "identity": {"type": "email", "value": "no@x.io"}}
    )
    assert status == 404
    _error(body, "NOT_FOUND")


def test_unknown_mpid_is_404(client: TestClient, workspace: Workspace, bearer: dict[str, str]) -> None:
    response = client.get(profile_url(workspace, 12345), params={"fields": "user_attributes"}, headers=bearer)
    assert response.status_code == 404
    assert "12345" in _error(response.json(), "NOT_FOUND")


def test_bad_fields_and_paths_are_400(
    client: TestClient, workspace: Workspace, customer: int, bearer: dict[str, str]
) -> None:
    url = profile_url(workspace, customer)
    missing = client.get(url, headers=bearer)
    assert missing.status_code == 400 and "fields" in _error(missing.json(), "BAD_REQUEST")
    unknown = client.get(url, params={"fields": "user_attributes,shoe_size"}, headers=bearer)
    assert unknown.status_code == 400 and "shoe_size" in _error(unknown.json(), "BAD_REQUEST")
    empty = client.get(url, params={"fields": " , "}, headers=bearer)
    assert empty.status_code == 400
    _error(empty.json(), "BAD_REQUEST")
    for bad_mpid in ("abc", str(2**63)):
        response = client.get(
            profile_url(workspace, bad_mpid), params={"fields": "user_attributes"}, headers=bearer
        )
        assert response.status_code == 400, bad_mpid
        _error(response.json(), "BAD_REQUEST")


def test_a_bearer_token_is_required(
    client: TestClient, workspace: Workspace, customer: int, auth: dict[str, str], bearer: dict[str, str]
) -> None:
    url = profile_url(workspace, customer)
    token = bearer["Authorization"].removeprefix("Bearer ")
    header, claims, signature = token.split(".")
    forged = f"{header}.{claims[:-2]}AA.{signature}"
    for headers in (
        {},
        auth,  # the input's Basic credentials are not a Bearer token
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": f"Bearer {forged}"},
        {"Authorization": f"Bearer {header}.{claims}.{signature[:-4]}AAAA"},
    ):
        response = client.get(url, params={"fields": "user_attributes"}, headers=headers)
        assert response.status_code == 401, headers
        _error(response.json(), "UNAUTHORIZED")
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_token_only_opens_its_workspaces(
    client: TestClient,
    runtime: Runtime,
    workspace: Workspace,
    customer: int,
    bearer: dict[str, str],
) -> None:
    other = runtime.tenancy.create_workspace("Other", workspace.account_id)
    params = {"fields": "user_attributes"}

    not_granted = client.get(profile_url(other, customer), params=params, headers=bearer)
    assert not_granted.status_code == 403
    _error(not_granted.json(), "FORBIDDEN")

    w = workspace
    for url in (
        f"/userprofile/v1/{w.org_id + 1}/{w.account_id}/{w.id}/{customer}",
        f"/userprofile/v1/{w.org_id}/{w.account_id + 1}/{w.id}/{customer}",
    ):
        response = client.get(url, params=params, headers=bearer)
        assert response.status_code == 403, url
        _error(response.json(), "FORBIDDEN")
    wrong_org = client.post(
        f"/userprofile/v1/resolve/{w.org_id + 1}/{w.account_id}/{w.id}",
        params=params,
        json={"environment_type": "production", "identity": {"type": "customer_id", "value": "cust-1"}},
        headers=bearer,
    )
    assert wrong_org.status_code == 403

    both = runtime.credentials.create([workspace.id, other.id])
    headers = {"Authorization": f"Bearer {token_of(client, both)}"}
    assert client.get(profile_url(workspace, customer), params=params, headers=headers).status_code == 200
    assert client.get(profile_url(other, customer), params=params, headers=headers).status_code == 404


def _frozen_runtime(settings: Settings, tmp_path: Path, rate: float) -> Runtime:
    frozen = settings.model_copy(update={"profile_api_rate_per_s": rate, "data_dir": tmp_path / "frozen"})
    return Runtime.open(frozen, FrozenClock(1_800_000_000_000))


def test_rate_limit_per_client_with_retry_after(settings: Settings, tmp_path: Path) -> None:
    runtime = _frozen_runtime(settings, tmp_path, rate=15)
    clock = runtime.clock
    assert isinstance(clock, FrozenClock)
    try:
        runtime.tenancy.bootstrap()
        workspace = runtime.tenancy.list_workspaces()[0]
        first, second = runtime.credentials.create([workspace.id]), runtime.credentials.create([workspace.id])
        with TestClient(create_app(runtime), base_url="http://127.0.0.1") as client:
            one = {"Authorization": f"Bearer {token_of(client, first)}"}
            two = {"Authorization": f"Bearer {token_of(client, second)}"}
            url = profile_url(workspace, 1)  # unknown: 404s count like any request
            params = {"fields": "user_attributes"}

            assert [client.get(url, params=params, headers=one).status_code for _ in range(15)] == [404] * 15
            limited = client.get(url, params=params, headers=one)
            assert limited.status_code == 429
            assert limited.headers["retry-after"] == "1"
            assert (
                "Profile API (requests per client) rate limit of 15/s"
                in limited.json()["errors"][0]["message"]
            )
            assert limited.json()["errors"][0]["code"] == "TOO_MANY_REQUESTS"
            assert client.get(url, params=params, headers=two).status_code == 404  # its own bucket

            clock.advance(200)  # 3 requests' worth
            assert [client.get(url, params=params, headers=one).status_code for _ in range(4)] == [
                404
            ] * 3 + [429]
            clock.advance(1000)
            assert [client.get(url, params=params, headers=one).status_code for _ in range(15)] == [404] * 15
    finally:
        runtime.close()


def test_rate_limit_zero_is_off(settings: Settings, tmp_path: Path) -> None:
    runtime = _frozen_runtime(settings, tmp_path, rate=0)
    try:
        runtime.tenancy.bootstrap()
        workspace = runtime.tenancy.list_workspaces()[0]
        api_client = runtime.credentials.create([workspace.id])
        with TestClient(create_app(runtime), base_url="http://127.0.0.1") as client:
            headers = {"Authorization": f"Bearer {token_of(client, api_client)}"}
            statuses = {
                client.get(
                    profile_url(workspace, 1), params={"fields": "attribution"}, headers=headers
                ).status_code
                for _ in range(40)
            }
            assert statuses == {404}
    finally:
        runtime.close()


def test_an_expired_token_is_401(settings: Settings, tmp_path: Path) -> None:
    runtime = _frozen_runtime(settings, tmp_path, rate=0)
    clock = runtime.clock
    assert isinstance(clock, FrozenClock)
    try:
        runtime.tenancy.bootstrap()
        workspace = runtime.tenancy.list_workspaces()[0]
        api_client = runtime.credentials.create([workspace.id])
        with TestClient(create_app(runtime), base_url="http://127.0.0.1") as client:
            headers = {"Authorization": f"Bearer {token_of(client, api_client)}"}
            url = profile_url(workspace, 1)
            clock.advance(28_800_000 - 1)
            assert client.get(url, params={"fields": "attribution"}, headers=headers).status_code == 404
            clock.advance(1)
            expired = client.get(url, params={"fields": "attribution"}, headers=headers)
            assert expired.status_code == 401
            assert "expired" in _error(expired.json(), "UNAUTHORIZED")
    finally:
        runtime.close()


def test_the_routes_are_in_the_openapi_docs(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths["/userprofile/v1/{org_id}/{account_id}/{workspace_id}/{mpid}"]) == {"get", "post"}
    assert "post" in paths["/userprofile/v1/resolve/{org_id}/{account_id}/{workspace_id}"]
    token = paths["/oauth/token"]["post"]
    assert set(token["requestBody"]["content"]) == {"application/json", "application/x-www-form-urlencoded"}
    assert client.get("/docs").status_code == 200
