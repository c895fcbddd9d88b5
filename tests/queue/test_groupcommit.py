"""Two apps on one runtime share its group committer: it runs until the last of them stops, and stopping it
does not wait out a timeout."""

from __future__ import annotations

import time

from starlette.testclient import TestClient

from fermion.api import create_app
from fermion.platform import InputCredentials
from fermion.runtime import Runtime
from tests.factories import make_batch, make_event


def test_the_committer_runs_until_the_last_app_stops(runtime: Runtime, credentials: InputCredentials) -> None:
    auth = (credentials.input.api_key, credentials.api_secret)
    batch = make_batch([make_event(event_name="x")], user_identities={"customer_id": "c"})
    with TestClient(create_app(runtime)) as first:
        with TestClient(create_app(runtime)) as second:
            assert second.post("/v2/events", json=batch, auth=auth).status_code == 202
        started = time.monotonic()
        assert first.post("/v2/events", json=batch, auth=auth).status_code == 202  # still running
    assert time.monotonic() - started < 10  # the writer thread stopped at once, not after a join timeout
    assert runtime.inbox.status().depth == 2
