"""User identity names, the ``customerid`` alias, and the mpid."""

from __future__ import annotations

import msgspec
import pytest

from fermion.errors import BatchValidationError
from fermion.schema import IDENTITY_TYPES, UserIdentities, encode_batch, identities_of
from tests.factories import make_batch
from tests.schema.examples import decode


def test_every_identity_type_is_accepted_in_order() -> None:
    sent = {name: f"value-{name}" for name in reversed(IDENTITY_TYPES)}
    decoded = decode(make_batch(user_identities=sent))
    assert decoded.normalised is False
    assert list(identities_of(decoded.batch.user_identities).items()) == [
        (name, f"value-{name}") for name in IDENTITY_TYPES
    ]
    assert len(IDENTITY_TYPES) == 22


def test_identities_of_skips_unset_identities() -> None:
    assert identities_of(None) == {}
    assert identities_of(UserIdentities(email="a@example.com", other=None)) == {"email": "a@example.com"}


def test_python_sdk_customerid_becomes_customer_id() -> None:
    decoded = decode(make_batch(user_identities={"customerid": "c-1", "email": "a@example.com"}))
    identities = decoded.batch.user_identities
    assert identities is not None
    assert (identities.customer_id, identities.customerid) == ("c-1", None)
    assert decoded.normalised is True
    assert msgspec.json.decode(encode_batch(decoded.batch))["user_identities"] == {
        "customer_id": "c-1",
        "email": "a@example.com",
    }


def test_customerid_equal_to_customer_id_is_accepted() -> None:
    decoded = decode(make_batch(user_identities={"customerid": "c-1", "customer_id": "c-1"}))
    assert identities_of(decoded.batch.user_identities) == {"customer_id": "c-1"}
    assert decoded.normalised is True


def test_customerid_conflicting_with_customer_id_is_rejected() -> None:
    with pytest.raises(BatchValidationError) as caught:
        decode(make_batch(user_identities={"customerid": "c-1", "customer_id": "c-2"}), path="$[4]")
    assert caught.value.path == "$[4].user_identities.customerid"


@pytest.mark.parametrize(
    ("key", "path"), [("emial", "$.user_identities.emial"), ("apple id", '$.user_identities["apple id"]')]
)
def test_unknown_identity_key_is_rejected(key: str, path: str) -> None:
    with pytest.raises(BatchValidationError) as caught:
        decode(make_batch(user_identities={"email": "a@example.com", key: "x"}))
    assert caught.value.path == path
    assert f'"{key}" is not a known identity type' in caught.value.message
    assert "customer_id" in caught.value.message and "phone_number_3" in caught.value.message


def test_identity_values_must_be_strings() -> None:
    with pytest.raises(BatchValidationError) as caught:
        decode(make_batch(user_identities={"customer_id": 12345}))
    assert caught.value.path == "$.user_identities.customer_id"


def test_null_identity_is_treated_as_absent() -> None:
    decoded = decode(make_batch(user_identities={"customer_id": "c-1", "email": None}))
    assert identities_of(decoded.batch.user_identities) == {"customer_id": "c-1"}


@pytest.mark.parametrize(
    ("sent", "mpid"),
    [
        (8123456789012345678, 8123456789012345678),
        (-7636538281262557000, -7636538281262557000),
        ("-123", -123),
        ("9223372036854775807", 2**63 - 1),
        ("-9223372036854775808", -(2**63)),
        (0, 0),
    ],
)
def test_mpid_is_normalised_to_int64(sent: int | str, mpid: int) -> None:
    decoded = decode(make_batch(mpid=sent))
    assert decoded.mpid == mpid
    assert decoded.batch.mpid == mpid
    assert msgspec.json.decode(encode_batch(decoded.batch))["mpid"] == mpid


def test_missing_mpid_is_none() -> None:
    assert decode(make_batch()).mpid is None


@pytest.mark.parametrize(
    "sent",
    ["abc", "12a", "", " 12", "1_000", "1e5", "+5", "9223372036854775808", 2**63, -(2**63) - 1, "9" * 5000],
)
def test_bad_mpid_is_rejected(sent: int | str) -> None:
    with pytest.raises(BatchValidationError) as caught:
        decode(make_batch(mpid=sent), path="$[1]")
    assert caught.value.path == "$[1].mpid"
    assert "64-bit" in caught.value.message


@pytest.mark.parametrize("sent", [1.5, True, [1]])
def test_mpid_of_wrong_json_type_is_rejected(sent: object) -> None:
    with pytest.raises(BatchValidationError) as caught:
        decode(make_batch(mpid=sent))
    assert caught.value.path == "$.mpid"
