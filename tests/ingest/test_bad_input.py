"""Every client mistake gets a 4xx in mParticle's error format, and leaves the inbox and the stores untouched.

One table of bad requests; then rate limiting, a body ``api_key`` of another workspace's input, and two
properties: no request body makes the server answer 5xx, and no accepted batch is later parked.
"""

from __future__ import annotations

import base64
import gzip
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings
from starlette.testclient import TestClient

from fermion.api import create_app
from fermion.clock import FrozenClock, SystemClock
from fermion.pipeline import Worker
from fermion.platform import InputCredentials
from fermion.runtime import Runtime
from fermion.schema import EVENT_TYPES
from tests.conftest import settings_for
from tests.factories import basic_auth, make_batch, make_event

HOUR_MS = 3_600_000
NOW_MS = int(time.time() * 1000)
JSON = {"Content-Type": "application/json"}

Headers = Callable[[InputCredentials], dict[str, str]]


def valid(c: InputCredentials) -> dict[str, str]:
    return {**JSON, **basic_auth(c.input.api_key, c.api_secret)}


def no_auth(_: InputCredentials) -> dict[str, str]:
    return dict(JSON)


def authorization(value: str) -> Headers:
    return lambda _: {**JSON, "Authorization": value}


def wrong_secret(c: InputCredentials) -> dict[str, str]:
    return {**JSON, **basic_auth(c.input.api_key, "not-the-secret")}


def wrong_key(c: InputCredentials) -> dict[str, str]:
    return {**JSON, **basic_auth("no-such-key", c.api_secret)}


def gzipped(c: InputCredentials) -> dict[str, str]:
    return {**valid(c), "Content-Encoding": "gzip"}


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


def batch(*events: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A batch of ``events`` (default: one custom event); ``events=`` sets the field to anything."""
    return make_batch(fields.pop("events", list(events) or None), **fields)


def aged(hours: float, **data: Any) -> dict[str, Any]:
    return make_event(timestamp_unixtime_ms=int(NOW_MS - hours * HOUR_MS), **data)


def big_batch(approx_bytes: int) -> dict[str, Any]:
    """A batch of about ``approx_bytes`` bytes that is within every attribute limit."""
    count = approx_bytes // 4010 + 1
    return make_batch(
        [
            make_event(custom_attributes={f"a{n}": "v" * 4000 for n in range(start, min(start + 50, count))})
            for start in range(0, count, 50)
        ]
    )


GOOD = dumps(batch())
GZIP_GOOD = gzip.compress(GOOD)

# (path, headers of the default input's credentials, body, status, code, message fragment; "^" = prefix)
CASES = [
    # Authentication: absent or unusable -> 401, well-formed but wrong -> 403.
    pytest.param("/v2/events", no_auth, GOOD, 401, "UNAUTHORIZED", "missing", id="no-authorization"),
    pytest.param(
        "/v2/events", authorization(""), GOOD, 401, "UNAUTHORIZED", "", id="empty-authorization-node-sdk"
    ),
    pytest.param(
        "/v2/events", authorization("Basic Og=="), GOOD, 401, "UNAUTHORIZED", "", id="basic-og-python-sdk"
    ),
    pytest.param(
        "/v2/events", authorization("Bearer abc"), GOOD, 401, "UNAUTHORIZED", "Basic", id="not-basic"
    ),
    pytest.param(
        "/v2/events", authorization("Basic !!!"), GOOD, 401, "UNAUTHORIZED", "base64", id="not-base64"
    ),
    pytest.param(
        "/v2/events",
        authorization("Basic " + base64.b64encode(b"only-a-key").decode()),
        GOOD,
        401,
        "UNAUTHORIZED",
        "",
        id="no-colon",
    ),
    pytest.param("/v2/events", wrong_secret, GOOD, 403, "FORBIDDEN", "not valid", id="wrong-secret"),
    pytest.param("/v2/events", wrong_key, GOOD, 403, "FORBIDDEN", "not valid", id="wrong-key"),
    pytest.param(
        "/v2/bulkevents", wrong_secret, dumps([batch()]), 403, "FORBIDDEN", "", id="bulk-wrong-secret"
    ),
    pytest.param(
        "/v2/events",
        valid,
        dumps(batch(api_key="someone-elses-key")),
        403,
        "FORBIDDEN",
        "$.api_key",
        id="body-api-key-of-another-input",
    ),
    # Bodies that are not JSON, or not the right JSON shape.
    pytest.param("/v2/events", valid, b'{"events": [', 400, "BAD_REQUEST", "^Malformed JSON", id="malformed"),
    pytest.param(
        "/v2/bulkevents",
        valid,
        b'[{"events": []},',
        400,
        "BAD_REQUEST",
        "^Malformed JSON",
        id="bulk-malformed",
    ),
    pytest.param(
        "/v2/events", valid, b"\xff\xfe\x00 binary", 400, "BAD_REQUEST", "^Malformed JSON", id="binary"
    ),
    pytest.param(
        "/v2/events", valid, GOOD + b" {}", 400, "BAD_REQUEST", "^Malformed JSON", id="trailing-data"
    ),
    pytest.param("/v2/events", valid, b"", 400, "BAD_REQUEST", "empty", id="empty-body"),
    pytest.param("/v2/events", valid, b"null", 400, "BAD_REQUEST", "object", id="null-body"),
    pytest.param("/v2/events", valid, dumps([batch()]), 400, "BAD_REQUEST", "object", id="array-to-events"),
    pytest.param("/v2/bulkevents", valid, GOOD, 400, "BAD_REQUEST", "JSON array", id="object-to-bulk"),
    pytest.param("/v2/bulkevents", valid, b"[]", 400, "BAD_REQUEST", "no batches", id="empty-bulk"),
    pytest.param("/v2/bulkevents", valid, b"[1]", 400, "BAD_REQUEST", "$[0]", id="bulk-item-not-object"),
    # Wrong types: 400 naming the path, prefixed $[i] in bulk requests.
    pytest.param(
        "/v2/events",
        valid,
        dumps(batch(events="none")),
        400,
        "BAD_REQUEST",
        "(at $.events)",
        id="events-not-list",
    ),
    pytest.param(
        "/v2/events",
        valid,
        dumps(batch(make_event(event_name=5))),
        400,
        "BAD_REQUEST",
        "(at $.events[0].data.event_name)",
        id="event-name-not-string",
    ),
    pytest.param(
        "/v2/bulkevents",
        valid,
        dumps([batch(), batch(make_event(event_name=["x"]))]),
        400,
        "BAD_REQUEST",
        "(at $[1].events[0].data.event_name)",
        id="bulk-event-name-not-string",
    ),
    pytest.param(
        "/v2/events",
        valid,
        dumps(batch(make_event(custom_event_type="party"))),
        400,
        "BAD_REQUEST",
        "$.events[0].data.custom_event_type",
        id="unknown-custom-event-type",
    ),
    pytest.param(
        "/v2/events",
        valid,
        dumps(batch(make_event(timestamp_unixtime_ms="yesterday"))),
        400,
        "BAD_REQUEST",
        "$.events[0].data.timestamp_unixtime_ms",
        id="timestamp-not-int",
    ),
    pytest.param(
        "/v2/events",
        valid,
        dumps(batch(make_event(timestamp_unixtime_ms=2**63))),
        400,
        "BAD_REQUEST",
        "$.events[0].data.timestamp_unixtime_ms",
        id="timestamp-beyond-int64",
    ),
    pytest.param(
        "/v2/events",
        valid,
        dumps(batch(make_event(session_id=2**64 - 1))),
        400,
        "BAD_REQUEST",
        "$.events[0].data.session_id",
        id="session-id-beyond-int64",
    ),
    pytest.param(
        "/v2/events",
        valid,
        dumps(batch(make_event(custom_attributes={"a": {"b": 1}}))),
        400,
        "BAD_REQUEST",
        "$.events[0].data.custom_attributes",
        id="attribute-value-object",
    ),
    pytest.param(
        "/v2/events",
        valid,
        dumps(batch(user_attributes={"a": {"b": 1}})),
        400,
        "BAD_REQUEST",
        "$.user_attributes",
        id="user-attribute-value-object",
    ),
    pytest.param(
        "/v2/events",
        valid,
        dumps(batch(source_request_id={"id": 1})),
        400,
        "BAD_REQUEST",
        "$.source_request_id",
        id="srid-object",
    ),
    pytest.param(
        "/v2/events",
        valid,
        dumps(batch(consent_state={"gdpr": {"marketing": {"document": "d"}}})),
        400,
        "BAD_REQUEST",
        "$.consent_state.gdpr",
        id="consent-without-consented",
    ),
    pytest.param("/v2/events", valid, dumps(batch(mpid="abc")), 400, "BAD_REQUEST", "$.mpid", id="mpid-text"),
    pytest.param("/v2/events", valid, dumps(batch(mpid=1.5)), 400, "BAD_REQUEST", "$.mpid", id="mpid-float"),
    pytest.param(
        "/v2/events", valid, dumps(batch(mpid=2**63)), 400, "BAD_REQUEST", "$.mpid", id="mpid-range"
    ),
    pytest.param(
        "/v2/events",
        valid,
        dumps(batch(mpid="99999999999999999999")),
        400,
        "BAD_REQUEST",
        "$.mpid",
        id="mpid-text-range",
    ),
    # Event envelopes.
    pytest.param(
        "/v2/events",
        valid,
        dumps(batch({"data": {"event_name": "x", "custom_event_type": "other"}})),
        400,
        "BAD_REQUEST",
        '^Required event field "event_type" is missing or empty.',
        id="missing-event-type",
    ),
    pytest.param(
        "/v2/events",
        valid,
        dumps(batch({"event_type": "", "data": {}})),
        400,
        "BAD_REQUEST",
        '^Required event field "event_type" is missing or empty.',
        id="empty-event-type",
    ),
    pytest.param(
        "/v2/events",
        valid,
        dumps(batch({"event_type": "party", "data": {}})),
        400,
        "BAD_REQUEST",
        'Unknown event_type "party"',
        id="unknown-event-type",
    ),
    pytest.param(
        "/v2/events",
        valid,
        dumps(batch({"event_type": "custom_event"})),
        400,
        "BAD_REQUEST",
        "data",
        id="custom-event-without-data",
    ),
    pytest.param(
        "/v2/events",
        valid,
        dumps(batch({"timestamp_unixtime_ms": NOW_MS})),
        400,
        "BAD_REQUEST",
        "cannot be inferred",
        id="unwrapped-not-inferable",
    ),
    pytest.param(
        "/v2/bulkevents",
        valid,
        dumps([batch(), batch({"timestamp_unixtime_ms": NOW_MS})]),
        400,
        "BAD_REQUEST",
        "$[1].events[0]",
        id="bulk-unwrapped-not-inferable",
    ),
    # Identities and environment.
    pytest.param(
        "/v2/events",
        valid,
        dumps(batch(user_identities={"fax_number": "1"})),
        400,
        "BAD_REQUEST",
        '"fax_number" is not a known identity type',
        id="unknown-identity",
    ),
    pytest.param(
        "/v2/events",
        valid,
        dumps(batch(user_identities={"customerid": "a", "customer_id": "b"})),
        400,
        "BAD_REQUEST",
        "customerid",
        id="customerid-conflict",
    ),
    pytest.param(
        "/v2/events",
        valid,
        dumps(batch(environment="staging")),
        400,
        "BAD_REQUEST",
        "$.environment",
        id="invalid-environment",
    ),
    # Sizes and counts.
    pytest.param(
        "/v2/events", valid, dumps(big_batch(300_000)), 413, "REQUEST_TOO_LARGE", "", id="request-over-256kb"
    ),
    pytest.param(
        "/v2/bulkevents",
        valid,
        dumps([big_batch(120_000), big_batch(120_000), big_batch(120_000)]),
        413,
        "REQUEST_TOO_LARGE",
        "",
        id="bulk-request-over-256kb",
    ),
    pytest.param(
        "/v2/events", valid, dumps(big_batch(160_000)), 413, "REQUEST_TOO_LARGE", "", id="batch-over-128kb"
    ),
    pytest.param(
        "/v2/bulkevents",
        valid,
        dumps([batch(), big_batch(160_000)]),
        413,
        "REQUEST_TOO_LARGE",
        "$[1]",
        id="bulk-batch-over-128kb",
    ),
    pytest.param(
        "/v2/bulkevents",
        valid,
        dumps([batch() for _ in range(101)]),
        400,
        "BAD_REQUEST",
        "at most 100",
        id="101-batches",
    ),
    pytest.param(
        "/v2/events",
        valid,
        dumps(batch(*[{"event_type": "session_start", "data": {}}] * 1001)),
        400,
        "BAD_REQUEST",
        "max_events_per_batch",
        id="1001-events",
    ),
    pytest.param(
        "/v2/events",
        valid,
        dumps(batch(make_event(custom_attributes={f"a{n}": n for n in range(101)}))),
        400,
        "BAD_REQUEST",
        "max_attributes_per_event",
        id="101-event-attributes",
    ),
    pytest.param(
        "/v2/events",
        valid,
        dumps(batch(make_event(custom_attributes={"a": "v" * 4097}))),
        400,
        "BAD_REQUEST",
        "max_attribute_value_length",
        id="attribute-value-too-long",
    ),
    pytest.param(
        "/v2/events",
        valid,
        dumps(batch(user_attributes={f"u{n}": n for n in range(101)})),
        400,
        "BAD_REQUEST",
        "max_user_attributes",
        id="101-user-attributes",
    ),
    pytest.param(
        "/v2/events",
        valid,
        dumps(batch(user_attributes={"list": ["x"] * 1001})),
        400,
        "BAD_REQUEST",
        "max_user_attribute_list_length",
        id="user-attribute-list-too-long",
    ),
    pytest.param(
        "/v2/events",
        valid,
        dumps(batch(user_attributes={"list": ["x" * 513]})),
        400,
        "BAD_REQUEST",
        "max_user_attribute_list_entry_length",
        id="user-attribute-list-entry-too-long",
    ),
    # Compression.
    pytest.param("/v2/events", gzipped, b"not gzip at all", 400, "BAD_REQUEST", "gzip", id="bad-gzip"),
    pytest.param(
        "/v2/events", gzipped, GZIP_GOOD[:-8], 400, "BAD_REQUEST", "gzip", id="gzip-without-trailer"
    ),
    pytest.param(
        "/v2/events",
        gzipped,
        gzip.compress(b'{"events": ['),
        400,
        "BAD_REQUEST",
        "^Malformed JSON",
        id="gzip-of-malformed-json",
    ),
    pytest.param(
        "/v2/events",
        gzipped,
        gzip.compress(b" " * 300_000 + GOOD),
        413,
        "REQUEST_TOO_LARGE",
        "decompressed",
        id="gzip-expanding-over-256kb",
    ),
    # Historical: every event needs timestamp_unixtime_ms at least 72 h old; a batch needs events.
    pytest.param(
        "/v2/bulkevents/historical",
        valid,
        dumps([batch(aged(71))]),
        400,
        "BAD_REQUEST",
        "$[0].events[0].data.timestamp_unixtime_ms",
        id="historical-too-recent",
    ),
    pytest.param(
        "/v2/bulkevents/historical",
        valid,
        dumps([batch(aged(100), make_event())]),
        400,
        "BAD_REQUEST",
        "$[0].events[1].data.timestamp_unixtime_ms",
        id="historical-without-timestamp",
    ),
    pytest.param(
        "/v2/bulkevents/historical",
        valid,
        dumps([batch(events=[])]),
        400,
        "BAD_REQUEST",
        "at least one event",
        id="historical-empty-events",
    ),
    pytest.param(
        "/v2/bulkevents/historical",
        valid,
        dumps([{"environment": "production"}]),
        400,
        "BAD_REQUEST",
        "at least one event",
        id="historical-no-events-key",
    ),
    pytest.param(
        "/v2/bulkevents/historical",
        valid,
        dumps([batch(aged(100)), batch(aged(1))]),
        400,
        "BAD_REQUEST",
        "$[1].events[0]",
        id="historical-second-batch-recent",
    ),
    pytest.param(
        "/v2/bulkevents/historical",
        valid,
        dumps([big_batch(300_000)]),
        413,
        "REQUEST_TOO_LARGE",
        "",
        id="historical-over-256kb",
    ),
    # One bad batch rejects the whole bulk request: the good ones are not stored either.
    pytest.param(
        "/v2/bulkevents",
        valid,
        dumps([batch(), batch(), batch(environment="qa")]),
        400,
        "BAD_REQUEST",
        "$[2].environment",
        id="bulk-good-then-bad",
    ),
]


def assert_nothing_stored(runtime: Runtime) -> None:
    assert runtime.inbox.status().depth == 0
    runtime.new_worker().drain()
    status = runtime.inbox.status()
    assert (status.depth, status.parked) == (0, 0)
    assert runtime.events.count() == 0


def assert_error(response: Any, status: int, code: str, fragment: str) -> None:
    """An mParticle error body with one error whose message holds ``fragment`` (``^x``: starts with x)."""
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["errors"]
    (error,) = body["errors"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    if fragment.startswith("^"):
        assert error["message"].startswith(fragment[1:])
    else:
        assert fragment in error["message"]
    assert set(error) <= {"code", "message", "path"}
    if "path" in error:
        assert error["path"].startswith("$")
        assert error["path"] in error["message"]


@pytest.mark.parametrize(("path", "headers", "body", "status", "code", "fragment"), CASES)
def test_a_bad_request_is_rejected_and_nothing_is_stored(
    runtime: Runtime,
    client: TestClient,
    credentials: InputCredentials,
    path: str,
    headers: Headers,
    body: bytes,
    status: int,
    code: str,
    fragment: str,
) -> None:
    response = client.post(path, content=body, headers=headers(credentials))
    assert_error(response, status, code, fragment)
    assert_nothing_stored(runtime)


def test_a_body_api_key_of_another_workspaces_input_is_forbidden(
    runtime: Runtime, client: TestClient, credentials: InputCredentials, auth: dict[str, str]
) -> None:
    other_workspace = runtime.tenancy.create_workspace("Other")
    other = runtime.tenancy.create_input(other_workspace.id, "Other server input")
    other_auth = basic_auth(other.input.api_key, other.api_secret)

    response = client.post("/v2/events", json=make_batch(api_key=other.input.api_key), headers=auth)
    assert_error(response, 403, "FORBIDDEN", "$.api_key")
    bulk = [make_batch(), make_batch(api_key=other.input.api_key)]
    assert_error(client.post("/v2/bulkevents", json=bulk, headers=auth), 403, "FORBIDDEN", "$[1].api_key")
    response = client.post(
        "/v2/events", json=make_batch(api_key=credentials.input.api_key), headers=other_auth
    )
    assert_error(response, 403, "FORBIDDEN", "$.api_key")
    assert_nothing_stored(runtime)

    # Each input's own key in the body is fine.
    own = client.post("/v2/events", json=make_batch(api_key=other.input.api_key), headers=other_auth)
    assert own.status_code == 202, own.text
    runtime.new_worker().drain()
    assert runtime.events.count(other_workspace.id) == 1
    assert runtime.events.count(credentials.input.workspace_id) == 0


@pytest.fixture
def limited(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> Iterator[tuple[Runtime, FrozenClock]]:
    """A runtime allowing 1 batch/s with a burst of 2 per workspace, on a frozen clock."""
    url = str(request.getfixturevalue("postgres_schema_url")) if backend == "postgres" else ""
    clock = FrozenClock(SystemClock().now_ms())
    opened = Runtime.open(
        settings_for(tmp_path, url, ingest_rate_batches_per_s=1, ingest_rate_burst=2), clock
    )
    try:
        yield opened, clock
    finally:
        opened.close()


def test_a_burst_over_the_rate_limit_gets_429_and_is_not_stored(limited: tuple[Runtime, FrozenClock]) -> None:
    runtime, clock = limited
    credentials = runtime.tenancy.bootstrap()
    assert credentials is not None
    auth = basic_auth(credentials.input.api_key, credentials.api_secret)
    other_workspace = runtime.tenancy.create_workspace("Other")
    other = runtime.tenancy.create_input(other_workspace.id, "Other input")
    late = make_batch(user_identities={"customer_id": "late"}, source_request_id="late-request")
    with TestClient(create_app(runtime), base_url="http://127.0.0.1") as client:
        first = client.post("/v2/events", json=make_batch(), headers=auth)
        second = client.post("/v2/events", json=make_batch(), headers=auth)
        assert (first.status_code, second.status_code) == (202, 202)
        assert first.headers["x-mp-rate-limit-percentage-used"] == "50"
        assert second.headers["x-mp-rate-limit-percentage-used"] == "100"

        rejected = [
            client.post("/v2/events", json=late, headers=auth),
            client.post("/v2/bulkevents", json=[make_batch(), make_batch()], headers=auth),
        ]
        for response in rejected:
            assert_error(response, 429, "TOO_MANY_REQUESTS", "")
            assert response.headers["retry-after"].isdigit()
            assert int(response.headers["retry-after"]) >= 1
            assert response.headers["x-mp-rate-limit-exceeded"] == "workspace"
        assert runtime.inbox.status().depth == 2

        # The limit is per workspace: another workspace still has its burst.
        other_response = client.post(
            "/v2/events", json=make_batch(), headers=basic_auth(other.input.api_key, other.api_secret)
        )
        assert other_response.status_code == 202

        # After Retry-After, the same request (same source_request_id) goes through: the 429 kept nothing.
        clock.advance(int(rejected[0].headers["retry-after"]) * 1000)
        retried = client.post("/v2/events", json=late, headers=auth)
        assert retried.status_code == 202, retried.text

    runtime.new_worker().drain()
    assert runtime.events.count(credentials.input.workspace_id) == 3
    assert (
        runtime.profiles.find_by_identity(credentials.input.workspace_id, "customer_id", "late") is not None
    )


# Arbitrary bodies: garbage bytes, any JSON, and JSON shaped like batches with values of any type.

INT = st.integers(min_value=-(2**70), max_value=2**70)
SCALAR = (
    st.none() | st.booleans() | INT | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12)
)
ANY_JSON = st.recursive(
    SCALAR,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)
EVENT_DATA = st.fixed_dictionaries(
    {},
    optional={
        "event_name": st.text(max_size=12) | ANY_JSON,
        "custom_event_type": st.sampled_from(["other", "navigation", "party"]) | ANY_JSON,
        "screen_name": st.text(max_size=12),
        "timestamp_unixtime_ms": INT | ANY_JSON,
        "session_id": INT,
        "session_uuid": st.uuids().map(str) | ANY_JSON,
        "source_message_id": st.sampled_from(["m-1", "m-2"]) | ANY_JSON,
        "custom_attributes": st.dictionaries(st.text(max_size=8), SCALAR, max_size=3) | ANY_JSON,
        "product_action": st.fixed_dictionaries({"action": st.sampled_from(["purchase", "click", "bogus"])})
        | ANY_JSON,
        "label": st.text(max_size=8),
        "is_opted_out": ANY_JSON,
    },
)
EVENT = (
    st.fixed_dictionaries(
        {},
        optional={
            "event_type": st.sampled_from([*EVENT_TYPES, "", "bogus"]) | ANY_JSON,
            "data": EVENT_DATA | ANY_JSON,
        },
    )
    | EVENT_DATA
)
BATCH = st.fixed_dictionaries(
    {},
    optional={
        "events": st.lists(EVENT, max_size=3) | ANY_JSON,
        "user_identities": st.dictionaries(
            st.sampled_from(["customer_id", "customerid", "email", "fax"]),
            st.text(max_size=8) | ANY_JSON,
            max_size=2,
        )
        | ANY_JSON,
        "user_attributes": st.dictionaries(
            st.text(max_size=8), SCALAR | st.lists(SCALAR, max_size=3), max_size=3
        )
        | ANY_JSON,
        "deleted_user_attributes": st.lists(st.text(max_size=8), max_size=2) | ANY_JSON,
        "mpid": INT | st.text(max_size=22) | ANY_JSON,
        "environment": st.sampled_from(["production", "development", "unknown", "qa"]) | ANY_JSON,
        "source_request_id": ANY_JSON,
        "consent_state": ANY_JSON,
        "device_info": st.fixed_dictionaries({}, optional={"ios_idfv": st.text(max_size=8)}) | ANY_JSON,
        "context": ANY_JSON,
        "mp_deviceid": ANY_JSON,
        "api_key": ANY_JSON,
    },
)
# Batches every field of which has the right JSON type, with values anywhere in their type's range.
TEXT = st.text(max_size=16)
COMMON_DATA = {
    "timestamp_unixtime_ms": INT,
    "event_id": INT,
    "session_id": INT,
    "source_message_id": TEXT,
    "session_uuid": TEXT,
    "custom_attributes": st.dictionaries(TEXT, SCALAR, max_size=3),
    "location": st.fixed_dictionaries({"latitude": st.floats(-90, 90), "longitude": st.floats(-180, 180)}),
}
TYPED_EVENT = st.one_of(
    st.fixed_dictionaries(
        {
            "event_type": st.just("custom_event"),
            "data": st.fixed_dictionaries(
                {
                    "event_name": TEXT,
                    "custom_event_type": st.sampled_from(["other", "navigation", "transaction"]),
                },
                optional=COMMON_DATA,
            ),
        }
    ),
    st.fixed_dictionaries(
        {
            "event_type": st.just("commerce_event"),
            "data": st.fixed_dictionaries(
                {
                    "product_action": st.fixed_dictionaries(
                        {"action": st.sampled_from(["purchase", "refund", "add_to_cart"])},
                        optional={
                            "total_amount": st.floats(allow_nan=False, allow_infinity=False),
                            "products": st.lists(
                                st.fixed_dictionaries({"id": TEXT}, optional={"quantity": INT, "price": INT}),
                                max_size=2,
                            ),
                        },
                    )
                },
                optional=COMMON_DATA,
            ),
        }
    ),
    st.fixed_dictionaries(
        {
            "event_type": st.sampled_from(
                ["screen_view", "session_start", "session_end", "first_run", "opt_out"]
            ),
            "data": st.fixed_dictionaries({}, optional={"screen_name": TEXT, **COMMON_DATA}),
        }
    ),
)
TYPED_BATCH = st.fixed_dictionaries(
    {"events": st.lists(TYPED_EVENT, min_size=1, max_size=3)},
    optional={
        "user_identities": st.dictionaries(
            st.sampled_from(["customer_id", "email", "other"]), TEXT, max_size=2
        ),
        "user_attributes": st.dictionaries(TEXT, SCALAR | st.lists(TEXT, max_size=3), max_size=3),
        "deleted_user_attributes": st.lists(TEXT, max_size=2),
        "mpid": st.integers(-(2**63), 2**63 - 1),
        "environment": st.sampled_from(["production", "development"]),
        "source_request_id": TEXT,
        "mp_deviceid": st.uuids().map(str),
        "device_info": st.fixed_dictionaries({}, optional={"ios_idfv": TEXT, "android_uuid": TEXT}),
        "consent_state": st.fixed_dictionaries(
            {},
            optional={
                "gdpr": st.dictionaries(
                    TEXT,
                    st.fixed_dictionaries({"consented": st.booleans()}, optional={"document": TEXT}),
                    max_size=2,
                )
            },
        ),
    },
)
BODY = st.one_of(
    st.binary(max_size=64),
    ANY_JSON.map(dumps),
    BATCH.map(dumps),
    st.lists(BATCH, max_size=3).map(dumps),
    TYPED_BATCH.map(dumps),
    st.lists(TYPED_BATCH, max_size=3).map(dumps),
)
PATH = st.sampled_from(["/v2/events", "/v2/bulkevents", "/v2/bulkevents/historical"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=PATH, body=BODY, compress=st.booleans())
def test_no_request_body_gets_a_5xx(
    client: TestClient, auth: dict[str, str], path: str, body: bytes, compress: bool
) -> None:
    headers = {**auth, **JSON}
    if compress:
        body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
    response = client.post(path, content=body, headers=headers)
    assert response.status_code < 500, response.text
    if response.status_code == 202:
        assert response.content == b""
    else:
        assert response.status_code in (400, 403, 413), response.text
        (error,) = response.json()["errors"]
        assert {"code", "message"} <= set(error)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=TYPED_BATCH)
def test_an_accepted_batch_is_stored_not_parked(
    runtime: Runtime, client: TestClient, auth: dict[str, str], worker: Worker, body: dict[str, Any]
) -> None:
    before = {p.id for p in runtime.inbox.parked()}
    response = client.post("/v2/events", content=dumps(body), headers={**auth, **JSON})
    assert response.status_code < 500, response.text
    worker.drain()
    parked = [p for p in runtime.inbox.parked() if p.id not in before]
    assert parked == [], f"202 for {body!r}, then the worker parked it: {parked[0].error}"
