"""Consent history: each change of a purpose is recorded as batches apply; repeats are not."""

from __future__ import annotations

from starlette.testclient import TestClient

from fermion.runtime import Runtime
from tests.factories import make_batch


def _consent(consented: bool, at: int) -> dict[str, object]:
    return {
        "gdpr": {"location": {"consented": consented, "document": "v1", "timestamp_unixtime_ms": at}},
        "ccpa": {"data_sale_opt_out": {"consented": True, "timestamp_unixtime_ms": 1}},
    }


def test_changes_are_kept_with_old_and_new(
    runtime: Runtime, client: TestClient, auth: dict[str, str]
) -> None:
    identities = {"customer_id": "consenting"}
    for consented, at in ((True, 10), (True, 10), (False, 20)):
        batch = make_batch(user_identities=identities, consent_state=_consent(consented, at))
        assert client.post("/v2/events", json=batch, headers=auth).status_code == 202
        runtime.new_worker().drain()
    mpid = runtime.profiles.find_by_identity(1, "customer_id", "consenting")
    assert mpid is not None
    history = runtime.privacy.consent.of(1, mpid)
    assert [(c.regulation, c.purpose) for c in history] == [
        ("gdpr", "location"),
        ("ccpa", "data_sale_opt_out"),
        ("gdpr", "location"),
    ]
    assert history[0].old is None and history[0].new["consented"] is True
    assert history[2].old is not None and history[2].old["consented"] is True
    assert history[2].new["consented"] is False
    profile = runtime.profiles.get(1, mpid)
    assert profile is not None and profile.consent_state["gdpr"]["location"]["consented"] is False
