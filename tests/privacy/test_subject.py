"""Identity mapping of OpenDSR requests to mParticle identity types (v3 dictionary, v1/v2 array)."""

from __future__ import annotations

import uuid

import pytest

from fermion.errors import BadRequest
from fermion.privacy import parse_legacy, parse_v3


def _v3(identities: dict[str, str], extension: dict[str, str] | None = None) -> dict[str, object]:
    return {
        "regulation": "ccpa",
        "subject_request_id": str(uuid.uuid4()),
        "subject_request_type": "portability",
        "submitted_time": "2026-11-01T15:00:00Z",
        "subject_identities": {k: {"value": v, "encoding": "raw"} for k, v in identities.items()},
        "extensions": {
            "opendsr.mparticle.com": {
                "subject_identities": {
                    k: {"value": v, "encoding": "raw"} for k, v in (extension or {}).items()
                }
            }
        },
    }


def test_v3_maps_opendsr_and_extension_types() -> None:
    parsed = parse_v3(
        _v3(
            {
                "controller_customer_id": "c",
                "android_id": "a",
                "ios_vendor_id": "v",
                "roku_publishing_id": "r",
            },
            {"other": "o1", "other5": "o5", "mobile_number": "m", "phone_number_3": "p3"},
        )
    )
    assert parsed.identities == {
        "customer_id": "c",
        "android_uuid": "a",
        "ios_idfv": "v",
        "roku_publisher_id": "r",
        "other": "o1",
        "other_id_5": "o5",
        "mobile_number": "m",
        "phone_number_3": "p3",
    }
    assert parsed.regulation == "ccpa" and parsed.request_type == "portability"
    assert parse_v3(_v3({}, {"mpid": "-42"})).identities == {"mpid": "-42"}


def test_v3_rejects_mpid_with_others_and_a_second_value_of_a_type() -> None:
    with pytest.raises(BadRequest, match="only identity"):
        parse_v3(_v3({"email": "e"}, {"mpid": "1"}))
    with pytest.raises(BadRequest, match="Only one identity"):
        parse_v3(_v3({"controller_customer_id": "c"}, {"controller_customer_id": "d"}))
    with pytest.raises(BadRequest, match="64-bit"):
        parse_v3(_v3({}, {"mpid": "abc"}))


def test_legacy_arrays_and_mpids() -> None:
    body = {
        "subject_request_id": str(uuid.uuid4()),
        "subject_request_type": "erasure",
        "submitted_time": "2026-11-01T15:00:00Z",
        "subject_identities": [{"identity_type": "email", "identity_value": "e", "identity_format": "raw"}],
        "extensions": {
            "opendsr.mparticle.com": {"identities": [{"identity_type": "other1", "identity_value": "x"}]}
        },
    }
    v1 = parse_legacy(body, "1.0")
    assert v1.regulation == "gdpr" and v1.identities == {"email": "e", "other": "x"}
    only_mpid = {**body, "subject_identities": [], "extensions": {"opendsr.mparticle.com": {"mpids": [123]}}}
    assert parse_legacy(only_mpid | {"regulation": "gdpr"}, "2.0").identities == {"mpid": "123"}
    with pytest.raises(BadRequest, match="regulation"):
        parse_legacy(body, "2.0")
