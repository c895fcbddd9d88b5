"""The initial sync of audience connections, end to end against the Klaviyo fake: members who joined before
the connection existed reach the list with their current attributes; the sync pages, resumes after a
restart without sending anyone twice, and a member who leaves during it ends up removed; the connection's
consent rules and sampling apply; an inactive connection syncs when switched on."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from fermion.audiences.tables import audience_memberships
from fermion.outputs import OutputServices, RetryPolicy
from fermion.outputs.tables import connections, deliveries
from fermion.runtime import Runtime
from fermion.settings import Settings
from tests.audiences.conftest import mpid_of, process, send
from tests.factories import make_batch
from tests.fakes.klaviyo import FakeKlaviyo
from tests.outputs.conftest import api, deliver, run_pipeline

GOLD = {
    "type": "user_attribute",
    "condition": {"type": "string", "attribute_name": "tier", "operator": "equals", "value": "gold"},
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The worker's pass queues one member per connection, so a sync takes several passes."""
    return settings.model_copy(update={"outputs_sync_page": 1})


def _user(name: str, tier: str = "gold", **attributes: Any) -> dict[str, Any]:
    return make_batch(
        [],
        user_identities={"customer_id": f"c-{name}", "email": f"{name}@example.com"},
        user_attributes={"tier": tier, "job": "CTO", "secret": "not shared", **attributes},
    )


def _members_before_connecting(
    client: TestClient, runtime: Runtime, auth: dict[str, str], bearer: dict[str, str], *names: str
) -> int:
    """A Gold audience whose members joined before any connection existed; returns its id."""
    audience = api(
        client,
        bearer,
        "POST",
        "/audiences",
        {"name": "Gold", "external_name": "Gold members", "criteria": GOLD},
    )
    process(runtime)  # the audience's backfill
    send(client, auth, *(_user(n) for n in names))
    run_pipeline(runtime)  # members join; their changes find no connection
    assert api(client, bearer, "GET", f"/audiences/{audience['id']}")["size"] == len(names)
    return int(audience["id"])


def _connect(
    client: TestClient, bearer: dict[str, str], klaviyo: FakeKlaviyo, audience_id: int, active: bool = True,
    **settings: Any,
) -> dict[str, Any]:  # fmt: skip
    output = api(
        client,
        bearer,
        "POST",
        "/outputs",
        {
            "name": "Klaviyo",
            "integration": "klaviyo",
            "settings": {"private_api_key": "pk_test", "base_url": klaviyo.url, "bulk_wait_s": 0},
        },
    )
    body = {
        "output_id": output["id"],
        "audience_id": audience_id,
        "active": active,
        "settings": {"shared_attributes": ["job"], **settings},
    }
    return dict(api(client, bearer, "POST", "/connections", body))


def _emails(klaviyo: FakeKlaviyo) -> list[str]:
    return sorted(m["email"] for m in klaviyo.members("Gold members"))


def _sync_page(runtime: Runtime, services: OutputServices | None = None) -> int:
    router = (services or runtime.outputs).router
    return router.sync_audiences(runtime.audiences, runtime.audience_evaluator, page=1)


def test_existing_members_reach_the_list_when_the_audience_is_connected(
    client: TestClient, runtime: Runtime, auth: dict[str, str], bearer: dict[str, str], klaviyo: FakeKlaviyo
) -> None:
    audience_id = _members_before_connecting(client, runtime, auth, bearer, "ada", "bob")
    send(client, auth, _user("ada", job="CEO"))  # still a member: the sync sends today's attributes
    run_pipeline(runtime)
    connection = _connect(client, bearer, klaviyo, audience_id)

    run_pipeline(runtime)
    assert _emails(klaviyo) == ["ada@example.com", "bob@example.com"]
    ada = klaviyo.profile("ada@example.com")
    assert ada is not None and ada["properties"] == {"job": "CEO"}  # "tier" and "secret" are not shared
    status = runtime.outputs.router.sync_status(connection["id"])
    assert status is not None and (status.status, status.queued) == ("done", 2)
    shown = api(client, bearer, "GET", f"/connections/{connection['id']}")["initial_sync"]
    assert (shown["status"], shown["queued"]) == ("done", 2)

    run_pipeline(runtime)  # a finished sync sends nothing again
    with runtime.engine.connect() as conn:
        assert len(conn.execute(deliveries.select()).all()) == 2


def test_the_sync_pages_and_resumes_after_a_restart_without_duplicates(
    client: TestClient, runtime: Runtime, auth: dict[str, str], bearer: dict[str, str], klaviyo: FakeKlaviyo
) -> None:
    audience_id = _members_before_connecting(client, runtime, auth, bearer, "ada", "bob", "cy")
    connection = _connect(client, bearer, klaviyo, audience_id)
    assert _sync_page(runtime) == 1
    status = runtime.outputs.router.sync_status(connection["id"])
    assert status is not None and status.status == "running" and status.queued == 1

    s = runtime.settings  # a process started after a crash: nothing of the first one is in memory
    restarted = OutputServices.open(
        runtime.engine,
        runtime.clock,
        runtime.profiles,
        RetryPolicy(base_ms=1000, max_ms=60_000, window_ms=3_600_000),
        lease_ms=s.outputs_lease_s * 1000,
        max_parallel=1,
    )
    while _sync_page(runtime, restarted):
        pass
    deliver(runtime)
    assert _emails(klaviyo) == ["ada@example.com", "bob@example.com", "cy@example.com"]
    with runtime.engine.connect() as conn:
        mpids = [r.mpid for r in conn.execute(deliveries.select())]
    assert len(mpids) == len(set(mpids)) == 3


def test_a_member_who_leaves_during_the_sync_ends_up_removed(
    client: TestClient, runtime: Runtime, auth: dict[str, str], bearer: dict[str, str], klaviyo: FakeKlaviyo
) -> None:
    audience_id = _members_before_connecting(client, runtime, auth, bearer, "ada", "bob", "cy")
    _connect(client, bearer, klaviyo, audience_id)
    workspace = runtime.tenancy.get_workspace(1)
    mpids = {n: mpid_of(runtime, workspace, f"c-{n}") for n in ("ada", "bob", "cy")}
    synced, stays, not_reached = sorted(mpids, key=mpids.__getitem__)
    assert _sync_page(runtime) == 1  # the lowest MPID is queued
    send(client, auth, _user(synced, tier="silver"), _user(not_reached, tier="silver"))
    process(runtime)  # the worker's pass queues the next page, then the two leave
    run_pipeline(runtime)  # their deletes are routed; the sync ends without the one who left
    deliver(runtime)  # a run the worker started may have finished before the last records were queued
    assert _emails(klaviyo) == [f"{stays}@example.com"]
    with runtime.engine.connect() as conn:
        sent = [(r.mpid, msgspec.json.decode(r.payload)["action"]) for r in conn.execute(deliveries.select())]
    assert (mpids[not_reached], "add") not in sent and (mpids[not_reached], "delete") in sent
    assert sent.index((mpids[synced], "add")) < sent.index((mpids[synced], "delete"))


def test_a_member_row_being_changed_defers_the_page_without_waiting(
    client: TestClient, runtime: Runtime, auth: dict[str, str], bearer: dict[str, str], klaviyo: FakeKlaviyo
) -> None:
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: a page never meets a row being changed")
    audience_id = _members_before_connecting(client, runtime, auth, bearer, "ada")
    connection = _connect(client, bearer, klaviyo, audience_id)
    m = audience_memberships
    with runtime.engine.connect() as other:
        pending = other.begin()  # another transaction is changing the member's row (as a leaving member's)
        other.execute(update(m).where(m.c.audience_id == audience_id).values(added_ms=m.c.added_ms))
        assert _sync_page(runtime) == 0  # the page gives way at once instead of waiting
        pending.rollback()
    status = runtime.outputs.router.sync_status(connection["id"])
    assert status is not None and status.status == "running" and status.queued == 0
    assert _sync_page(runtime) == 1


def test_consent_rules_and_sampling_apply_to_the_sync(
    client: TestClient, runtime: Runtime, auth: dict[str, str], bearer: dict[str, str], klaviyo: FakeKlaviyo
) -> None:
    audience_id = _members_before_connecting(client, runtime, auth, bearer, "ada", "bob")
    opted_out = _user("bob")
    opted_out["consent_state"] = {
        "ccpa": {"data_sale_opt_out": {"consented": True, "timestamp_unixtime_ms": 1}}
    }
    send(client, auth, opted_out)
    run_pipeline(runtime)
    rule = {
        "type": "consent",
        "regulation": "ccpa",
        "purpose": "data_sale_opt_out",
        "action": "do_not_forward",
    }
    _connect(client, bearer, klaviyo, audience_id, forwarding_rules=[rule])
    run_pipeline(runtime)
    assert _emails(klaviyo) == ["ada@example.com"]

    _connect(client, bearer, klaviyo, audience_id, user_sampling_percent=0)
    run_pipeline(runtime)
    with runtime.engine.connect() as conn:
        assert len(conn.execute(deliveries.select()).all()) == 1  # the sampled-out connection queued none


def test_an_inactive_connection_syncs_when_switched_on(
    client: TestClient, runtime: Runtime, auth: dict[str, str], bearer: dict[str, str], klaviyo: FakeKlaviyo
) -> None:
    audience_id = _members_before_connecting(client, runtime, auth, bearer, "ada")
    connection = _connect(client, bearer, klaviyo, audience_id, active=False)
    run_pipeline(runtime)
    assert _emails(klaviyo) == [] and runtime.outputs.router.sync_status(connection["id"]) is None

    with runtime.engine.begin() as conn:
        conn.execute(update(connections).where(connections.c.id == connection["id"]).values(active=True))
    run_pipeline(runtime)
    assert _emails(klaviyo) == ["ada@example.com"]

    with runtime.engine.begin() as conn:  # switched off, the sync is forgotten: switching on syncs again
        conn.execute(update(connections).where(connections.c.id == connection["id"]).values(active=False))
    run_pipeline(runtime)
    assert runtime.outputs.router.sync_status(connection["id"]) is None
