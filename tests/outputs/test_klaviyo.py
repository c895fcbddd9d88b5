"""Klaviyo audience output against the fake, end to end: an mParticle batch in → the profile on the
audience's list with mapped properties and an E.164 phone; leaving the audience removes it; a consent rule
blocks forwarding; the data filter removes an attribute; partial 400s, import errors and 429s."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from fermion.clock import FrozenClock
from fermion.platform import InputCredentials
from fermion.runtime import Runtime
from tests.audiences.conftest import mpid_of, send
from tests.factories import make_batch, make_event
from tests.fakes.klaviyo import FakeKlaviyo
from tests.outputs.conftest import api, deliver, run_pipeline

GOLD = {
    "type": "user_attribute",
    "condition": {"type": "string", "attribute_name": "tier", "operator": "equals", "value": "gold"},
}
SHARED = ["$FirstName", "$Country", "$City", "tier", "job", "$Zip"]


def _setup(
    client: TestClient, runtime: Runtime, bearer: dict[str, str], klaviyo: FakeKlaviyo, **conn: Any
) -> int:
    audience = api(
        client,
        bearer,
        "POST",
        "/audiences",
        {"name": "Gold", "external_name": "Gold members", "criteria": GOLD},
    )
    output = api(
        client,
        bearer,
        "POST",
        "/outputs",
        {
            "name": "Klaviyo",
            "integration": "klaviyo",
            "settings": {
                "private_api_key": "pk_test",
                "base_url": klaviyo.url,
                "bulk_wait_s": 0,
                "alternate_identifier": "customer_id",
            },
        },
    )
    settings = {"shared_attributes": SHARED, "property_mapping": {"job": "$title"}, **conn}
    api(
        client,
        bearer,
        "POST",
        "/connections",
        {"output_id": output["id"], "audience_id": audience["id"], "settings": settings},
    )
    runtime.new_worker().drain()  # the audience's backfill
    return int(output["id"])


def _user(
    email: str | None, tier: str = "gold", phone: str = "(415) 555-2671", **more: Any
) -> dict[str, Any]:
    identities = {"customer_id": f"c-{email}", "mobile_number": phone}
    if email:
        identities["email"] = email
    attributes = {
        "$FirstName": "Ada",
        "$Country": "USA",
        "$City": "San Francisco",
        "tier": tier,
        "job": "CTO",
        "secret": "not shared",
        **more,
    }
    return make_batch([], user_identities=identities, user_attributes=attributes)


def test_members_join_and_leave_the_klaviyo_list(
    client: TestClient, runtime: Runtime, auth: dict[str, str], bearer: dict[str, str], klaviyo: FakeKlaviyo
) -> None:
    output_id = _setup(client, runtime, bearer, klaviyo)
    send(client, auth, _user("ada@example.com"))
    run_pipeline(runtime)
    [member] = klaviyo.members("Gold members")
    assert member["email"] == "ada@example.com"
    assert member["phone_number"] == "+14155552671"
    assert member["external_id"] == "c-ada@example.com"
    assert member["first_name"] == "Ada" and member["title"] == "CTO"
    assert member["location"] == {"country": "USA", "city": "San Francisco"}
    assert member["properties"] == {"tier": "gold"}  # not shared: "secret"; "$" stripped from custom names
    mpid = mpid_of(runtime, runtime.tenancy.get_workspace(1), "c-ada@example.com")
    assert [e["outcome"] for e in api(client, bearer, "GET", f"/deliveries/ledger?mpid={mpid}")] == [
        "delivered"
    ]

    send(client, auth, _user("ada@example.com", tier="silver"))
    run_pipeline(runtime)
    assert klaviyo.members("Gold members") == []
    outcomes = [
        e["outcome"]
        for e in api(client, bearer, "GET", f"/deliveries/ledger?output_id={output_id}&mpid={mpid}")
    ]
    assert outcomes == ["delivered", "delivered"]
    assert ("POST", "/api/profile-bulk-import-jobs") in klaviyo.requests
    assert any(m == "DELETE" and p.endswith("/relationships/profiles") for m, p in klaviyo.requests)


def test_email_is_required_and_bad_phones_are_omitted(
    client: TestClient, runtime: Runtime, auth: dict[str, str], bearer: dict[str, str], klaviyo: FakeKlaviyo
) -> None:
    _setup(client, runtime, bearer, klaviyo)
    send(client, auth, _user(None), _user("bob@example.com", phone="12"))
    run_pipeline(runtime)
    [member] = klaviyo.members("Gold members")
    assert member["email"] == "bob@example.com" and "phone_number" not in member
    ledger = api(client, bearer, "GET", "/deliveries/ledger")
    by_outcome = {e["outcome"]: e["reason"] for e in ledger}
    assert "no email identity" in by_outcome["skipped"]
    assert "phone '12' omitted" in by_outcome["delivered"]


def test_a_consent_rule_blocks_forwarding(
    client: TestClient, runtime: Runtime, auth: dict[str, str], bearer: dict[str, str], klaviyo: FakeKlaviyo
) -> None:
    rule = {"type": "consent", "regulation": "gdpr", "purpose": "marketing", "action": "only_forward"}
    _setup(client, runtime, bearer, klaviyo, forwarding_rules=[rule], consent_mapping={"marketing": "email"})
    consented = _user("yes@example.com")
    consented["consent_state"] = {"gdpr": {"marketing": {"consented": True, "timestamp_unixtime_ms": 1}}}
    refused = _user("no@example.com")
    refused["consent_state"] = {"gdpr": {"marketing": {"consented": False, "timestamp_unixtime_ms": 1}}}
    send(client, auth, consented, refused, _user("unknown@example.com"))
    run_pipeline(runtime)
    assert [m["email"] for m in klaviyo.members("Gold members")] == ["yes@example.com"]
    [job] = klaviyo.subscriptions
    [profile] = job["data"]["attributes"]["profiles"]["data"]
    assert profile["attributes"]["subscriptions"]["email"]["marketing"]["consent"] == "SUBSCRIBED"


def test_the_data_filter_removes_an_attribute(
    client: TestClient, runtime: Runtime, auth: dict[str, str], bearer: dict[str, str], klaviyo: FakeKlaviyo
) -> None:
    data_filter = {"data_points": [{"type": "UserAttribute", "attribute_name": "$City", "enabled": False}]}
    _setup(client, runtime, bearer, klaviyo, data_filter=data_filter)
    send(client, auth, _user("ada@example.com"))
    run_pipeline(runtime)
    [member] = klaviyo.members("Gold members")
    assert member["location"] == {"country": "USA"}


def test_partial_400s_import_errors_and_429(
    client: TestClient, runtime: Runtime, auth: dict[str, str], bearer: dict[str, str], klaviyo: FakeKlaviyo,
    clock: FrozenClock,
) -> None:  # fmt: skip
    _setup(client, runtime, bearer, klaviyo)
    klaviyo.reject_emails = {"bad@example.com": "Invalid email address"}
    klaviyo.import_errors = {"late@example.com": "Profile is suppressed"}
    klaviyo.pending_polls = 2
    send(client, auth, _user("ok@example.com"), _user("bad@example.com"), _user("late@example.com"))
    run_pipeline(runtime)
    assert [m["email"] for m in klaviyo.members("Gold members")] == ["ok@example.com"]
    reasons = {
        e["reason"] for e in api(client, bearer, "GET", "/deliveries/ledger") if e["outcome"] == "rejected"
    }
    assert reasons == {"Klaviyo: Invalid email address", "Klaviyo: Profile is suppressed"}

    klaviyo.fail_next(1, 429, retry_after="30")
    send(client, auth, _user("next@example.com"))
    run_pipeline(runtime)
    [entry] = [e for e in api(client, bearer, "GET", "/deliveries/ledger") if e["outcome"] == "retrying"]
    assert entry["next_attempt_ms"] >= clock.now_ms() + 30_000
    clock.advance(31_000)
    deliver(runtime)
    assert "next@example.com" in [m["email"] for m in klaviyo.members("Gold members")]


def test_events_reach_klaviyo_as_metrics(
    client: TestClient, runtime: Runtime, auth: dict[str, str], bearer: dict[str, str], klaviyo: FakeKlaviyo,
    credentials: InputCredentials,
) -> None:  # fmt: skip
    settings = {"public_api_key": "pub", "private_api_key": "pk_test", "base_url": klaviyo.url}
    output = api(
        client,
        bearer,
        "POST",
        "/outputs",
        {"name": "Klaviyo events", "integration": "klaviyo_events", "settings": settings},
    )
    api(client, bearer, "POST", "/connections", {"output_id": output["id"], "input_id": credentials.input.id})
    event = make_event(event_name="Viewed Product", custom_attributes={"sku": "A1", "$value": 9.5})
    send(
        client,
        auth,
        make_batch(
            [event], user_identities={"email": "ev@example.com"}, user_attributes={"$FirstName": "Eve"}
        ),
    )
    send(client, auth, make_batch([make_event()], user_identities={"customer_id": "anonymous"}))
    run_pipeline(runtime)
    [sent] = klaviyo.events
    assert sent["metric"]["data"]["attributes"]["name"] == "Viewed Product"
    assert sent["properties"] == {"sku": "A1"} and sent["value"] == 9.5
    assert sent["unique_id"] == event["data"]["source_message_id"]
    assert sent["profile"]["data"]["attributes"] == {"email": "ev@example.com", "first_name": "Eve"}
    outcomes = sorted(
        e["outcome"] for e in api(client, bearer, "GET", f"/deliveries/ledger?output_id={output['id']}")
    )
    assert outcomes == ["delivered", "skipped"]
