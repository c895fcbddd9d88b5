"""The contract every integration passes (docs/writing-an-integration.md): its settings are validated,
every record gets exactly one outcome, a healthy destination gets the records, a destination that is down
or throttling yields retries (Retry-After honoured), a permanent refusal is never retried, and refused
credentials (401/403) are raised as CredentialsRefused so the output faults and its records wait."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from fermion.errors import BadRequest
from fermion.outputs import INTEGRATIONS, integration_named
from fermion.outputs.integrations import (
    COMMON_OUTPUT_SETTINGS,
    CredentialsRefused,
    DeliveryFailed,
    Outcome,
    Record,
    SendContext,
    validate_settings,
)
from tests.fakes.klaviyo import FakeKlaviyo
from tests.fakes.webhook import WebhookReceiver


def _batch(n: int) -> dict[str, Any]:
    return {
        "mpid": str(1000 + n),
        "batch_id": n,
        "timestamp_unixtime_ms": 1_800_000_000_000,
        "schema_version": 2,
        "user_identities": [{"identity_type": "email", "identity": f"u{n}@example.com"}],
        "user_attributes": {"$FirstName": "Ada"},
        "events": [
            {
                "event_type": "custom_event",
                "message_id": f"m{n}",
                "data": {
                    "event_name": "Viewed",
                    "timestamp_unixtime_ms": 1_800_000_000_000,
                    "custom_attributes": {"sku": "A"},
                },
            }
        ],
    }


def _membership(n: int) -> dict[str, Any]:
    return {
        "audience_id": 1,
        "audience_name": "Contract",
        "action": "add",
        "mpid": str(1000 + n),
        "user_identities": {"email": f"u{n}@example.com"},
        "user_attributes": {},
        "consent_state": {},
    }


@dataclass
class Harness:
    settings: dict[str, Any]
    records: list[Record]
    delivered: Any  # () -> int: how many records the destination holds
    fail: Any  # (status, retry_after) -> None
    recover: Any


@pytest.fixture(params=sorted(INTEGRATIONS))
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    name = request.param
    kind = integration_named(name).kind
    records = [
        Record(n, 1, 1000 + n, 0, (_membership if kind == "audience" else _batch)(n)) for n in range(3)
    ]
    if name == "webhook":
        server = WebhookReceiver().start()
        yield Harness(
            {"post_url": server.url}, records, lambda: len(server.received), server.fail_with, server.recover
        )
        server.stop()
    elif name in ("klaviyo", "klaviyo_events"):
        fake = FakeKlaviyo().start()
        settings = {"private_api_key": "pk_test", "base_url": fake.url}
        if name == "klaviyo_events":
            settings["public_api_key"] = "pub"
            count = lambda: len(fake.events)  # noqa: E731
        else:
            count = lambda: len(fake.members("Contract"))  # noqa: E731
        yield Harness(settings, records, count, fake.fail_with, fake.recover)
        fake.stop()
    else:
        directory = tmp_path / "files"

        def fail(status: int, retry_after: str | None = None) -> None:
            directory.parent.mkdir(parents=True, exist_ok=True)
            directory.write_text("not a directory")  # writing under it fails

        def files() -> int:
            return (
                sum(len(p.read_text().splitlines()) for p in directory.rglob("*.txt"))
                if directory.is_dir()
                else 0
            )

        yield Harness({"directory": str(directory)}, records, files, fail, lambda: directory.unlink())


def _send(name: str, harness: Harness) -> list[Outcome]:
    integration = integration_named(name)
    settings = validate_settings(
        {**COMMON_OUTPUT_SETTINGS, **integration.settings}, harness.settings, "settings"
    )
    state: dict[str, str] = {}
    with httpx.Client(timeout=5) as http:
        ctx = SendContext(http, lambda: 1_800_000_000_000, {1: {}}, state.get, state.__setitem__)
        try:
            outcomes = integration.send(settings, harness.records, ctx)
        except DeliveryFailed as exc:
            outcomes = [
                Outcome(r.id, "retry" if exc.retryable else "dead", exc.reason, exc.retry_after_ms)
                for r in harness.records
            ]
    assert sorted(o.record_id for o in outcomes) == [r.id for r in harness.records]  # one outcome each
    return outcomes


def _name(request: pytest.FixtureRequest) -> str:
    return str(request.node.callspec.params["harness"])


def test_settings_are_validated(request: pytest.FixtureRequest, harness: Harness) -> None:
    integration = integration_named(_name(request))
    schema = {**COMMON_OUTPUT_SETTINGS, **integration.settings}
    required = [k for k, s in schema.items() if s.required]
    assert required, "an integration says where its data goes"
    with pytest.raises(BadRequest, match=required[0]):
        validate_settings(schema, {k: v for k, v in harness.settings.items() if k != required[0]}, "settings")
    with pytest.raises(BadRequest, match="unknown setting"):
        validate_settings(schema, {**harness.settings, "no_such_setting": 1}, "settings")
    assert integration.kind in ("event", "audience") and integration.bulk_size > 0


def test_a_healthy_destination_gets_every_record(request: pytest.FixtureRequest, harness: Harness) -> None:
    outcomes = _send(_name(request), harness)
    assert {o.status for o in outcomes} == {"delivered"}
    assert harness.delivered() == len(harness.records)


def test_an_outage_is_retried_with_retry_after(request: pytest.FixtureRequest, harness: Harness) -> None:
    harness.fail(503, "45")
    outcomes = _send(_name(request), harness)
    assert {o.status for o in outcomes} == {"retry"}
    assert harness.delivered() == 0
    if _name(request) != "files":
        assert any(o.retry_after_ms == 45_000 for o in outcomes)
    harness.recover()
    assert {o.status for o in _send(_name(request), harness)} == {"delivered"}


def test_a_permanent_refusal_is_not_retried(request: pytest.FixtureRequest, harness: Harness) -> None:
    if _name(request) == "files":
        pytest.skip("a directory has no permanent refusal")
    harness.fail(400)
    outcomes = _send(_name(request), harness)
    assert all(o.status in ("rejected", "dead") for o in outcomes)


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_fault_the_output(
    request: pytest.FixtureRequest, harness: Harness, status: int
) -> None:
    if _name(request) == "files":
        pytest.skip("a directory has no credentials")
    integration = integration_named(_name(request))
    settings = validate_settings(
        {**COMMON_OUTPUT_SETTINGS, **integration.settings}, harness.settings, "settings"
    )
    harness.fail(status)
    state: dict[str, str] = {}
    with httpx.Client(timeout=5) as http:
        ctx = SendContext(http, lambda: 1_800_000_000_000, {1: {}}, state.get, state.__setitem__)
        with pytest.raises(CredentialsRefused) as refused:
            integration.send(settings, harness.records, ctx)
    assert f"HTTP {status}" in refused.value.reason
    assert refused.value.settled == []  # the first call was refused: every record waits for the resume
    assert harness.delivered() == 0
