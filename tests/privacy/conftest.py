"""Privacy fixtures: a runtime on a frozen clock, an ingested subject and another user, DSR helpers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from fermion.clock import FrozenClock
from fermion.runtime import Runtime
from fermion.settings import Settings
from tests.factories import make_batch, make_event

NOW = 1_800_000_000_000


@pytest.fixture
def clock() -> FrozenClock:
    """The clock the tests move (waiting periods, expiry) without sleeping."""
    return FrozenClock(NOW)


@pytest.fixture
def runtime(settings: Settings, clock: FrozenClock) -> Iterator[Runtime]:
    """An opened runtime on the frozen clock."""
    opened = Runtime.open(settings, clock)
    try:
        yield opened
    finally:
        opened.close()


def person_batch(name: str, *, view: str = "View", **fields: Any) -> dict[str, Any]:
    """A batch of one person: customer id, email, a device id, an attribute, consent and two events."""
    return make_batch(
        [
            make_event(event_name=view, custom_attributes={"note": f"{name}-note"}),
            make_event(event_name=view),
        ],
        user_identities={"customer_id": f"{name}-cid", "email": f"{name}@example.com"},
        device_info={"ios_advertising_id": f"{name.upper()}-0000-IDFA"},
        user_attributes={"secret_attribute": f"{name}-attribute-value"},
        consent_state={
            "gdpr": {
                "marketing": {
                    "consented": True,
                    "document": f"{name}-doc",
                    "timestamp_unixtime_ms": NOW,
                    "hardware_id": f"{name}-hardware",
                }
            }
        },
        **fields,
    )


def v3_request(request_type: str = "erasure", **identities: str) -> dict[str, Any]:
    """A DSR v3 body for ``identities`` (OpenDSR names), skipping the waiting period."""
    return {
        "regulation": "gdpr",
        "subject_request_id": str(uuid.uuid4()),
        "subject_request_type": request_type,
        "submitted_time": "2026-11-01T15:00:00Z",
        "subject_identities": {k: {"value": v, "encoding": "raw"} for k, v in identities.items()},
        "api_version": "3.0",
        "extensions": {"opendsr.mparticle.com": {"skip_waiting_period": True}},
    }


def submit(client: TestClient, auth: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    """Submit a v3 request and return the 201 body."""
    response = client.post("/v3/requests/", json=body, headers=auth)
    assert response.status_code == 201, response.text
    return dict(response.json())
