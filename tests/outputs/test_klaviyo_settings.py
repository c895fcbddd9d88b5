"""The Klaviyo audience page (spec activation §5.1), setting by setting, against the fake: the default
attribute mapping table, Phone Identifier, the bulk thresholds (16 hours or 100 queued, both configurable),
the list name, and Consent Mapping to the email and SMS channels."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from fermion.clock import FrozenClock
from fermion.runtime import Runtime
from tests.audiences.conftest import send
from tests.factories import make_batch
from tests.fakes.klaviyo import FakeKlaviyo
from tests.outputs.conftest import api, deliver, klaviyo_output, run_pipeline

GOLD = {
    "type": "user_attribute",
    "condition": {"type": "string", "attribute_name": "tier", "operator": "equals", "value": "gold"},
}
HOUR = 3_600_000


def _connect(
    client: TestClient,
    runtime: Runtime,
    bearer: dict[str, str],
    klaviyo: FakeKlaviyo,
    output: dict[str, Any] | None = None,
    connection: dict[str, Any] | None = None,
) -> dict[str, Any]:
    audience = api(client, bearer, "POST", "/audiences",
                   {"name": "Gold", "external_name": "Gold members", "criteria": GOLD})  # fmt: skip
    created = klaviyo_output(client, bearer, klaviyo, **(output or {}))
    api(client, bearer, "POST", "/connections", {"output_id": created["id"], "audience_id": audience["id"],
                                                 "settings": connection or {}})  # fmt: skip
    runtime.new_worker().drain()
    return dict(created)


def _member(email: str, identities: dict[str, str] | None = None, **attributes: Any) -> dict[str, Any]:
    return make_batch(
        [],
        user_identities={"email": email, **(identities or {})},
        user_attributes={"tier": "gold", **attributes},
    )


def test_the_default_attribute_mapping_table(
    client: TestClient, runtime: Runtime, auth: dict[str, str], bearer: dict[str, str], klaviyo: FakeKlaviyo
) -> None:
    reserved = {"$FirstName": "Ada", "$LastName": "Lovelace", "$Country": "GBR", "$Zip": "N1 9GU",
                "$City": "London", "$State": "England", "$Address": "12 St James's Square"}  # fmt: skip
    _connect(client, runtime, bearer, klaviyo, connection={"shared_attributes": [*reserved, "$Mood", "tier"]})
    send(client, auth, _member("ada@example.com", **reserved, **{"$Mood": "curious"}))
    run_pipeline(runtime)
    [member] = klaviyo.members("Gold members")
    assert member["first_name"] == "Ada" and member["last_name"] == "Lovelace"
    assert member["location"] == {
        "country": "GBR",
        "zip": "N1 9GU",
        "city": "London",
        "region": "England",
        "address1": "12 St James's Square",
    }
    assert member["properties"] == {"Mood": "curious", "tier": "gold"}  # others: own name, "$" removed


def test_phone_identifier_picks_the_identity_sent_as_the_phone_number(
    client: TestClient, runtime: Runtime, auth: dict[str, str], bearer: dict[str, str], klaviyo: FakeKlaviyo
) -> None:
    _connect(client, runtime, bearer, klaviyo, output={"phone_identifier": "phone_number_2"},
             connection={"shared_attributes": ["$Country"]})  # fmt: skip
    phones = {"mobile_number": "(415) 555-2671", "phone_number_2": "020 7946 0958"}
    send(client, auth, _member("uk@example.com", phones, **{"$Country": "GB"}))
    send(client, auth, _member("intl@example.com", {"phone_number_2": "+49 30 901820"}))
    run_pipeline(runtime)
    phones_sent = {m["email"]: m.get("phone_number") for m in klaviyo.members("Gold members")}
    assert phones_sent == {"uk@example.com": "+442079460958", "intl@example.com": "+4930901820"}


def test_bulk_forwarding_uploads_when_either_threshold_is_reached(
    client: TestClient, runtime: Runtime, auth: dict[str, str], bearer: dict[str, str], klaviyo: FakeKlaviyo,
    clock: FrozenClock,
) -> None:  # fmt: skip
    output = _connect(client, runtime, bearer, klaviyo, output={"bulk_size": 3, "bulk_wait_s": None})
    assert output["settings"]["bulk_wait_s"] == 16 * 3600  # Klaviyo's documented default: 16 hours
    assert api(client, bearer, "GET", f"/outputs/{output['id']}")["settings"]["bulk_size"] == 3
    send(client, auth, _member("a@example.com"), _member("b@example.com"))
    run_pipeline(runtime)
    assert klaviyo.members("Gold members") == []  # 2 queued: neither threshold reached
    send(client, auth, _member("c@example.com"))
    run_pipeline(runtime)
    assert len(klaviyo.members("Gold members")) == 3  # the size threshold
    send(client, auth, _member("d@example.com"))
    run_pipeline(runtime)
    clock.advance(15 * HOUR)
    deliver(runtime)
    assert len(klaviyo.members("Gold members")) == 3
    clock.advance(HOUR)
    deliver(runtime)
    assert len(klaviyo.members("Gold members")) == 4  # the time threshold


def test_list_name_and_consent_mapping_to_email_and_sms(
    client: TestClient, runtime: Runtime, auth: dict[str, str], bearer: dict[str, str], klaviyo: FakeKlaviyo
) -> None:
    mapping = {"Newsletter": "email", "texts": "sms"}
    _connect(client, runtime, bearer, klaviyo, connection={"list_name": "VIPs", "consent_mapping": mapping})
    both = _member("both@example.com", {"mobile_number": "+1 415 555 2671"})
    both["consent_state"] = {"gdpr": {"newsletter": {"consented": True, "timestamp_unixtime_ms": 1},
                                      "texts": {"consented": True, "timestamp_unixtime_ms": 1}}}  # fmt: skip
    withdrawn = _member("withdrawn@example.com")
    withdrawn["consent_state"] = {"gdpr": {"newsletter": {"consented": False, "timestamp_unixtime_ms": 1}}}
    send(client, auth, both, withdrawn)
    run_pipeline(runtime)
    assert klaviyo.list_named("Gold members") is None
    assert {m["email"] for m in klaviyo.members("VIPs")} == {"both@example.com", "withdrawn@example.com"}
    [job] = klaviyo.subscriptions
    assert job["data"]["relationships"]["list"]["data"]["id"] == next(
        i for i, item in klaviyo.lists.items() if item["name"] == "VIPs"
    )
    [profile] = job["data"]["attributes"]["profiles"]["data"]  # consent withdrawn: not propagated
    assert profile["attributes"]["email"] == "both@example.com"
    assert profile["attributes"]["phone_number"] == "+14155552671"
    subscriptions = profile["attributes"]["subscriptions"]
    assert subscriptions == {"email": {"marketing": {"consent": "SUBSCRIBED"}},
                             "sms": {"marketing": {"consent": "SUBSCRIBED"}}}  # fmt: skip
