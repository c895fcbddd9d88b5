"""The v1 (OpenGDPR) and v2 (OpenDSR) routes, and Bulk Profile Deletion with progress."""

from __future__ import annotations

import uuid

from starlette.testclient import TestClient

from fermion.runtime import Runtime
from tests.privacy.conftest import person_batch


def _legacy(**fields: object) -> dict[str, object]:
    return {
        "subject_request_id": str(uuid.uuid4()),
        "subject_request_type": "erasure",
        "submitted_time": "2026-11-01T15:00:00Z",
        "subject_identities": [
            {"identity_type": "email", "identity_value": "henry@example.com", "identity_format": "raw"}
        ],
        **fields,
    }


def test_v2_and_v1_submit_status_and_discovery(
    runtime: Runtime, client: TestClient, auth: dict[str, str]
) -> None:
    v2 = _legacy(regulation="ccpa", api_version="2.0")
    created = client.post("/v2/requests", json=v2, headers=auth)
    assert created.status_code == 201, created.text
    assert created.headers["X-OpenDSR-Signature"]
    status = client.get(f"/v2/requests/{v2['subject_request_id']}", headers=auth).json()
    assert status["api_version"] == "2.0" and status["regulation"] == "ccpa"
    assert client.post("/v2/requests", json=_legacy(), headers=auth).status_code == 400  # v2 needs regulation

    v1 = _legacy(extensions={"opendsr.mparticle.com": {"identities": [
        {"identity_type": "other2", "identity_value": "x"}]}})  # fmt: skip
    v1["subject_request_type"] = "access"
    created = client.post("/v1/opengdpr_requests", json=v1, headers=auth)
    assert created.status_code == 201, created.text
    assert created.headers["X-OpenGDPR-Processor-Domain"] == runtime.settings.dsr_processor_domain
    assert client.get("/v1/discovery").json()["processor_certificate"].endswith("/gdpr/opengdpr_cert.pem")
    assert client.get("/v2/discovery/").json()["api_version"] == "2.0"
    cancelled = client.delete(f"/v1/opengdpr_requests/{v1['subject_request_id']}", headers=auth)
    assert cancelled.status_code == 200


def test_bulk_deletion_erases_profiles_with_progress(
    runtime: Runtime, client: TestClient, auth: dict[str, str]
) -> None:
    for name in ("ivy", "jack", "kim"):
        assert client.post("/v2/events", json=person_batch(name), headers=auth).status_code == 202
    runtime.new_worker().drain()
    mpids = [runtime.profiles.find_by_identity(1, "customer_id", f"{n}-cid") for n in ("ivy", "jack", "kim")]
    assert all(m is not None for m in mpids)
    body = [{"mpid": str(mpids[0]), "action": "delete"}, {"mpid": mpids[1], "action": "delete"}]
    accepted = client.post("/userprofile/experimental/bulkdelete", json=body, headers=auth)
    assert accepted.status_code == 202
    deletion = accepted.json()["bulk_deletion_id"]
    progress = client.get(f"/userprofile/experimental/bulkdelete/{deletion}", headers=auth).json()
    assert progress["total"] == 2 and progress["pending"] == 2
    runtime.new_worker().drain()
    progress = client.get(f"/userprofile/experimental/bulkdelete/{deletion}", headers=auth).json()
    assert progress["completed"] == 2
    assert runtime.profiles.get(1, mpids[0]) is None and runtime.profiles.get(1, mpids[1]) is None  # type: ignore[arg-type]
    assert runtime.events.events_of(1, mpids[0]) == []  # type: ignore[arg-type]
    assert runtime.profiles.get(1, mpids[2]) is not None  # type: ignore[arg-type]
    single = client.post(
        "/userprofile/experimental/bulkdelete", json={"mpid": "1", "action": "delete"}, headers=auth
    )
    assert single.status_code == 400 and single.json()["errors"][0]["code"] == "BAD_REQUEST"
    assert client.post("/userprofile/experimental/bulkdelete", json=body).status_code == 401
