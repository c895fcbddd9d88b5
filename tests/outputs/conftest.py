"""Output fixtures: the audience fixtures (frozen clock runtime, Bearer tokens), a webhook receiver, the
Klaviyo fake, and helpers that run the pipeline and the delivery worker."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from fermion.runtime import Runtime
from tests.audiences.conftest import bearer, clock, runtime, settings, workspace  # noqa: F401
from tests.audiences.test_cli import cli_env  # noqa: F401
from tests.fakes.klaviyo import FakeKlaviyo
from tests.fakes.webhook import WebhookReceiver


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    """A webhook receiver on 127.0.0.1."""
    server = WebhookReceiver().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def klaviyo() -> Iterator[FakeKlaviyo]:
    """The Klaviyo fake on 127.0.0.1."""
    server = FakeKlaviyo().start()
    try:
        yield server
    finally:
        server.stop()


def run_pipeline(opened: Runtime) -> None:
    """Process the inbox, route audience changes, sync new audience connections, run every output once."""
    opened.new_worker().drain()
    opened.outputs.router.route_changes(opened.audiences)
    while opened.outputs.router.sync_audiences(opened.audiences, opened.audience_evaluator):
        pass
    opened.outputs.runner.deliver_due()  # waits for a run the worker started before the last records
    opened.outputs.runner.deliver_due()  # …and sends those


def deliver(opened: Runtime) -> None:
    """Run every output once (what the worker does every FERMION_OUTPUTS_POLL_MS)."""
    opened.outputs.runner.deliver_due()


def klaviyo_output(
    client: TestClient, headers: dict[str, str], klaviyo: FakeKlaviyo, **overrides: Any
) -> dict[str, Any]:
    """A Klaviyo audience output on the fake that uploads at once; ``overrides`` add or change settings."""
    body = {"private_api_key": "pk_test", "base_url": klaviyo.url, "bulk_wait_s": 0, **overrides}
    return dict(api(client, headers, "POST", "/outputs", {"name": "Klaviyo", "integration": "klaviyo",
                                                          "settings": body}))  # fmt: skip


def api(client: TestClient, headers: dict[str, str], method: str, path: str, body: Any = None) -> Any:
    """A Platform API call under the default workspace that must succeed."""
    response = client.request(method, f"/platform/v1/workspace/1{path}", json=body, headers=headers)
    assert response.status_code in (200, 201), response.text
    return response.json()
