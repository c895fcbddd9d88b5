"""The mParticle Node SDK (npm ``mparticle`` 1.0.8) driven by ``node`` against a real Fermion server.

``tests/compat/js/node_sdk.js`` sends one batch with ``uploadEvents`` and two with ``bulkUploadEvents``; the
test runs the pipeline and reads each user's events, identities and attributes back.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from fermion.platform import InputCredentials
from fermion.runtime import Runtime
from tests.conftest import IN_CI

JS = Path(__file__).parent / "js"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(
    not IN_CI and (NODE is None or not (JS / "node_modules" / "mparticle").exists()),
    reason="(in CI: a failure) needs node and `npm ci` in tests/compat/js (make test runs it)",
)


def test_upload_and_bulk_upload_land_on_each_users_profile(
    runtime: Runtime, server_url: str, credentials: InputCredentials
) -> None:
    assert NODE is not None
    done = subprocess.run(
        [NODE, "node_sdk.js", server_url, credentials.input.api_key, credentials.api_secret, "node"],
        cwd=JS,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"single": 202, "bulk": 202}
    runtime.new_worker().drain()

    workspace = credentials.input.workspace_id
    for user, name in (
        ("node-single", "Single Upload"),
        ("node-bulk-1", "Bulk Upload"),
        ("node-bulk-2", "Bulk Upload"),
    ):
        mpid = runtime.profiles.find_by_identity(workspace, "customer_id", user)
        assert mpid is not None, user
        stored = runtime.events.events_of(workspace, mpid)
        assert sorted((e.event_type, e.event_name) for e in stored) == [
            ("commerce_event", "eCommerce - Purchase"),
            ("custom_event", name),
            ("screen_view", "Home"),
        ]
        (custom,) = [e for e in stored if e.event_type == "custom_event"]
        assert json.loads(custom.body)["data"]["custom_attributes"] == {"count": 2, "label": "x"}
        profile = runtime.profiles.get(workspace, mpid)
        assert profile is not None
        assert profile.user_identities == {"customer_id": user, "email": f"{user}@example.com"}
        assert profile.user_attributes == {"plan": "pro", "visits": 3}


def test_a_wrong_secret_is_refused(runtime: Runtime, server_url: str, credentials: InputCredentials) -> None:
    assert NODE is not None
    done = subprocess.run(
        [NODE, "node_sdk.js", server_url, credentials.input.api_key, "wrong", "node-403"],
        cwd=JS,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1 and "403" in done.stderr
    assert runtime.inbox.status().depth == 0
