"""Membership history, re-entry, and criteria changes swapped in atomically by the backfill."""

from __future__ import annotations

from starlette.testclient import TestClient

from fermion.clock import FrozenClock
from fermion.platform import Workspace
from fermion.runtime import Runtime
from tests.audiences.conftest import DAY, NOW, mpid_of, process, send, view
from tests.factories import make_batch

RECENT_VIEWER = {"type": "event", "event_name": "View", "recency": {"within": 1, "unit": "days"}}


def test_leaving_and_coming_back_keeps_each_stay(
    client: TestClient, runtime: Runtime, workspace: Workspace, auth: dict[str, str], clock: FrozenClock
) -> None:
    audience = runtime.audiences.create(workspace.id, "recent viewers", RECENT_VIEWER)
    process(runtime)
    user = {"customer_id": "back-again"}
    send(client, auth, make_batch([view("View")], user_identities=user))
    process(runtime)
    clock.set(NOW + DAY)
    process(runtime)
    clock.set(NOW + 2 * DAY)
    send(client, auth, make_batch([view("View")], user_identities=user))
    process(runtime)

    mpid = mpid_of(runtime, workspace, "back-again")
    stays = runtime.audiences.members(workspace.id, audience.id, include_past=True)
    assert [(m.mpid, m.added_ms, m.removed_ms) for m in stays] == [
        (mpid, NOW, NOW + DAY),
        (mpid, NOW + 2 * DAY, None),
    ]
    changes = runtime.audiences.changes(workspace.id, audience.id)
    assert [(c.action, c.at_ms) for c in changes] == [
        ("add", NOW),
        ("delete", NOW + DAY),
        ("add", NOW + 2 * DAY),
    ]


def test_a_criteria_change_keeps_the_old_members_until_the_new_ones_replace_them(
    client: TestClient, runtime: Runtime, workspace: Workspace, auth: dict[str, str]
) -> None:
    audience = runtime.audiences.create(workspace.id, "viewers", RECENT_VIEWER)
    process(runtime)
    send(
        client,
        auth,
        make_batch([view("View")], user_identities={"customer_id": "viewer"}),
        make_batch([view("Buy")], user_identities={"customer_id": "buyer"}),
        make_batch([view("View"), view("Buy")], user_identities={"customer_id": "both"}),
    )
    process(runtime)
    names = {mpid_of(runtime, workspace, n): n for n in ("viewer", "buyer", "both")}

    def members() -> set[str]:
        return {names[m.mpid] for m in runtime.audiences.members(workspace.id, audience.id)}

    assert members() == {"viewer", "both"}
    runtime.audiences.change(workspace.id, audience.id, criteria={"type": "event", "event_name": "Buy"})
    assert members() == {"viewer", "both"}  # untouched until the backfill swaps the new members in
    send(client, auth, make_batch([view("View")], user_identities={"customer_id": "late"}))
    process(runtime)
    assert members() == {"buyer", "both"}
    assert [(c.action, names.get(c.mpid)) for c in runtime.audiences.changes(workspace.id, audience.id)][
        -2:
    ] == [
        ("add", "buyer"),
        ("delete", "viewer"),
    ]


def test_a_calculated_attribute_window_passing_removes_the_user(
    client: TestClient, runtime: Runtime, workspace: Workspace, auth: dict[str, str], clock: FrozenClock
) -> None:
    definition = {
        "datapoint": {"event_name": "View"},
        "calculation_type": "count",
        "time_period": {"type": "within", "within": 2, "within_unit": "days"},
    }
    runtime.calculated.activate(
        workspace.id, runtime.calculated.create(workspace.id, "views 2d", None, definition).id
    )
    condition = {"type": "number", "operator": "greater_or_equal", "value": 2}
    audience = runtime.audiences.create(
        workspace.id, "active", {"type": "calculated_attribute", "name": "views 2d", "condition": condition}
    )
    process(runtime)
    send(
        client,
        auth,
        make_batch([view("View", NOW - DAY), view("View", NOW)], user_identities={"customer_id": "ca"}),
    )
    process(runtime)
    mpid = mpid_of(runtime, workspace, "ca")
    assert [m.mpid for m in runtime.audiences.members(workspace.id, audience.id)] == [mpid]

    clock.set(NOW + DAY)  # the view of NOW - 1 day leaves the 2-day window: the count drops to 1
    process(runtime)
    assert runtime.calculated_values.values_of(workspace.id, mpid) == {"views 2d": "1"}
    assert runtime.audiences.members(workspace.id, audience.id) == []
    assert [c.action for c in runtime.audiences.changes(workspace.id, audience.id)] == ["add", "delete"]
