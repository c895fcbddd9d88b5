"""The outputs API: OpenAPI-documented, Bearer auth, settings validated with messages naming the setting."""

from __future__ import annotations

from starlette.testclient import TestClient

from fermion.platform import InputCredentials


def test_outputs_are_documented_and_validated(
    client: TestClient, bearer: dict[str, str], credentials: InputCredentials
) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("outputs", "connections", "deliveries/ledger", "deliveries/dead-letters"):
        assert f"/platform/v1/workspace/{{workspace_id}}/{path}" in paths
    base = "/platform/v1/workspace/1"
    assert client.get(f"{base}/outputs").status_code == 401
    missing = client.post(
        f"{base}/outputs", json={"name": "k", "integration": "klaviyo", "settings": {}}, headers=bearer
    )
    assert missing.status_code == 400 and "private_api_key" in missing.text
    unknown = client.post(
        f"{base}/outputs", json={"name": "x", "integration": "carrier-pigeon"}, headers=bearer
    )
    assert unknown.status_code == 400 and "webhook" in unknown.text
    bad_enum = client.post(
        f"{base}/outputs",
        json={
            "name": "k",
            "integration": "klaviyo",
            "settings": {"private_api_key": "k", "phone_identifier": "fax"},
        },
        headers=bearer,
    )
    assert bad_enum.status_code == 400 and "phone_identifier" in bad_enum.text
    hook = client.post(
        f"{base}/outputs",
        json={"name": "h", "integration": "webhook", "settings": {"post_url": "http://x"}},
        headers=bearer,
    ).json()
    wrong_kind = client.post(
        f"{base}/connections", json={"output_id": hook["id"], "audience_id": 1}, headers=bearer
    )
    assert wrong_kind.status_code in (400, 404)
    bad_rule = client.post(
        f"{base}/connections",
        json={"output_id": hook["id"], "input_id": credentials.input.id,
              "settings": {"forwarding_rules": [{"type": "consent", "regulation": "hipaa", "purpose": "x",
                                                 "action": "only_forward"}]}},
        headers=bearer,
    )  # fmt: skip
    assert bad_rule.status_code == 400 and "regulation" in bad_rule.text
    assert client.get(f"{base}/outputs/999", headers=bearer).status_code == 404
    assert client.get("/platform/v1/workspace/2/outputs", headers=bearer).status_code == 403
