"""Property: processing events one by one (then letting the clock pass) and backfilling over the same events
at the end give the same memberships and calculated attribute values."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from fermion.clock import FrozenClock
from fermion.platform import Workspace
from fermion.runtime import Runtime
from tests.audiences.conftest import DAY, NOW, process, send, view
from tests.factories import basic_auth, make_batch


def _ca(kind: str, attribute: str | None, period: dict[str, Any]) -> dict[str, Any]:
    point: dict[str, Any] = {"event_name": "View"}
    if attribute:
        point["attribute_name"] = attribute
    return {"datapoint": point, "calculation_type": kind, "time_period": period}


SINCE = {"type": "since", "date": "2026-01-01"}
CALCULATED = {
    "views 3d": _ca("count", None, {"type": "within", "within": 3}),
    "amount": _ca("sum", "amount", SINCE),
    "avg amount 3d": _ca("average", "amount", {"type": "within", "within": 3}),
    "top item": _ca("most_frequent", "item", SINCE),
    "items 5d": _ca("unique_list", "item", {"type": "within", "within": 5}),
    "first view": _ca("first_occurrence_timestamp", None, SINCE),
    "last item 2d": _ca("last_occurrence", "item", {"type": "within", "within": 2}),
    "min amount": _ca("min", "amount", SINCE),
}
AUDIENCES: dict[str, dict[str, Any]] = {
    "two views in 3 days": {
        "type": "event",
        "event_name": "View",
        "frequency": {"operator": "greater_or_equal", "value": 2},
        "recency": {"within": 3, "unit": "days"},
    },
    "viewers not recent buyers": {
        "type": "group",
        "operator": "exclude",
        "criteria": [
            {"type": "event", "event_name": "View", "recency": {"within": 7, "unit": "days"}},
            {"type": "event", "event_name": "Buy", "recency": {"within": 2, "unit": "days"}},
        ],
    },
    "big spenders or b lovers": {
        "type": "group",
        "operator": "or",
        "criteria": [
            {
                "type": "calculated_attribute",
                "name": "amount",
                "condition": {"type": "number", "operator": "greater_than", "value": 20},
            },
            {
                "type": "event",
                "event_name": "View",
                "conditions": [
                    {"type": "string", "attribute_name": "item", "operator": "equals", "value": "b"}
                ],
                "recency": {"within": 1, "unit": "days"},
            },
        ],
    },
    "quiet: under 2 views today": {
        "type": "event",
        "event_name": "View",
        "frequency": {"operator": "less_than", "value": 2},
        "recency": {"within": 1, "unit": "days"},
    },
}

events = st.lists(
    st.tuples(
        st.integers(0, 2),  # user
        st.sampled_from(["View", "Buy"]),
        st.one_of(st.integers(0, 20), st.just("n/a")),  # amount
        st.sampled_from(["a", "b", "c"]),  # item
        st.integers(0, 6 * DAY),  # age at sending
    ),
    min_size=1,
    max_size=10,
)


def _define(runtime: Runtime, workspace: Workspace) -> None:
    for name, definition in CALCULATED.items():
        created = runtime.calculated.create(workspace.id, name, None, definition)
        runtime.calculated.activate(workspace.id, created.id)
    for name, criteria in AUDIENCES.items():
        runtime.audiences.create(workspace.id, name, criteria)


def _outcome(runtime: Runtime, workspace: Workspace, prefix: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for user in range(3):
        mpid = runtime.profiles.find_by_identity(workspace.id, "customer_id", f"{prefix}-{user}")
        if mpid is None:
            continue
        audiences = sorted(m.audience_name for m in runtime.audiences.memberships_of(workspace.id, mpid))
        result[f"user {user}"] = (runtime.calculated_values.values_of(workspace.id, mpid), audiences)
    return result


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sent=events, later=st.integers(0, 5 * DAY))
def test_one_by_one_equals_backfill(
    runtime: Runtime,
    client: TestClient,
    clock: FrozenClock,
    sent: list[tuple[int, str, Any, str, int]],
    later: int,
) -> None:
    clock.set(NOW)
    spaces = []
    for name in ("incremental", "backfill"):
        workspace = runtime.tenancy.create_workspace(name)
        created = runtime.tenancy.create_input(workspace.id, "server")
        spaces.append((workspace, basic_auth(created.input.api_key, created.api_secret), f"{workspace.id}"))
    (one, one_auth, one_prefix), (all_, all_auth, all_prefix) = spaces
    _define(runtime, one)
    process(runtime)
    for user, name, amount, item, age in sent:
        event = view(name, NOW - age, amount=amount, item=item)
        send(client, one_auth, make_batch([event], user_identities={"customer_id": f"{one_prefix}-{user}"}))
        process(runtime)
        send(client, all_auth, make_batch([event], user_identities={"customer_id": f"{all_prefix}-{user}"}))
    process(runtime)

    clock.advance(later)
    _define(runtime, all_)
    process(runtime)  # expires windows in one, backfills all_

    assert _outcome(runtime, one, one_prefix) == _outcome(runtime, all_, all_prefix)
