"""SIGKILL the delivery worker mid-send: nothing is lost; the record in flight is sent again once its
lease passes (at least once — the webhook receiver de-duplicates on batch_id)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from fermion.clock import SystemClock
from fermion.outputs.tables import deliveries
from fermion.platform import InputCredentials
from fermion.runtime import Runtime
from fermion.settings import Settings
from tests.audiences.conftest import send
from tests.factories import make_batch
from tests.fakes.webhook import WebhookReceiver

ROOT = Path(__file__).resolve().parent.parent.parent
_DELIVER = """
import sys
from pathlib import Path
from fermion.runtime import Runtime
from fermion.settings import Settings
url = sys.argv[2]
values = {"data_dir": Path(sys.argv[1]), "database_url": url, "event_store_url": url, "outputs_lease_s": 1}
settings = Settings(_env_file=None, **values)
Runtime.open(settings).outputs.runner.deliver_due()
"""


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    """A runtime on the system clock with a one-second delivery lease."""
    opened = Runtime.open(settings.model_copy(update={"outputs_lease_s": 1}), SystemClock())
    try:
        yield opened
    finally:
        opened.close()


def test_a_killed_delivery_worker_loses_nothing(
    client: TestClient, runtime: Runtime, settings: Settings, auth: dict[str, str],
    credentials: InputCredentials, receiver: WebhookReceiver,
) -> None:  # fmt: skip
    output = runtime.outputs.outputs.create_output(1, "hook", "webhook", {"post_url": receiver.url})
    runtime.outputs.outputs.create_connection(1, output.id, input_id=credentials.input.id)
    send(client, auth, *[make_batch() for _ in range(5)])
    runtime.new_worker().drain()
    receiver.hold.clear()  # the first POST hangs: the worker is killed in the middle of the batch
    child = subprocess.Popen(
        [sys.executable, "-c", _DELIVER, str(settings.data_dir), settings.resolved_database_url()],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while runtime.outputs.deliveries.counts(output.id).get("pending", 0) == 5 and not _leased(runtime):
            assert time.monotonic() < deadline, "the delivery worker never claimed the records"
            time.sleep(0.05)
        time.sleep(0.3)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    receiver.hold.set()
    assert runtime.outputs.deliveries.counts(output.id) == {"pending": 5}
    time.sleep(1.1)  # the lease passes
    runtime.outputs.runner.deliver_due()
    assert runtime.outputs.deliveries.counts(output.id) == {"delivered": 5}
    time.sleep(0.2)
    assert len({body["batch_id"] for body in receiver.received}) == 5


def _leased(runtime: Runtime) -> bool:
    with runtime.engine.connect() as conn:
        return (
            conn.execute(select(deliveries.c.id).where(deliveries.c.lease_until_ms.is_not(None))).first()
            is not None
        )
