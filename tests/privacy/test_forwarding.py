"""Erasures go once to each registered output, identities enriched; each partner's status is shown."""

from __future__ import annotations

from starlette.testclient import TestClient

from fermion.privacy import ErasureOrder, ForwardOutcome
from fermion.runtime import Runtime
from tests.privacy.conftest import person_batch, submit, v3_request


class _Partner:
    """An output's forwarding seam as the outputs context will implement it (here: records the orders)."""

    def __init__(self, name: str, outcome: ForwardOutcome) -> None:
        self.domain = f"{name}.example.com"
        self.name = name
        self.outcome = outcome
        self.orders: list[ErasureOrder] = []

    def forward_erasure(self, order: ErasureOrder) -> ForwardOutcome:
        self.orders.append(order)
        return self.outcome


def test_partners_get_the_enriched_identities_and_report_status(
    runtime: Runtime, client: TestClient, auth: dict[str, str]
) -> None:
    assert client.post("/v2/events", json=person_batch("lena"), headers=auth).status_code == 202
    runtime.new_worker().drain()
    good = _Partner("good", ForwardOutcome("sent"))
    bad = _Partner("bad", ForwardOutcome("failed", "401 from partner"))
    runtime.privacy.orchestrator.forwarders.extend([good, bad])
    body = v3_request(email="lena@example.com")
    submit(client, auth, body)
    runtime.new_worker().drain()
    status = client.get(f"/v3/requests/{body['subject_request_id']}", headers=auth).json()
    assert status["request_status"] == "completed"
    assert status["extensions"] == [
        {"domain": "good.example.com", "name": "good", "status": "sent", "status_message": ""},
        {
            "domain": "bad.example.com",
            "name": "bad",
            "status": "failed",
            "status_message": "401 from partner",
        },
    ]
    (order,) = good.orders
    assert order.identities["email"] == ["lena@example.com"]
    assert order.identities["customer_id"] == ["lena-cid"]  # enriched from the profile
    assert order.identities["ios_advertising_id"] == ["LENA-0000-IDFA"]
    assert len(bad.orders) == 1
