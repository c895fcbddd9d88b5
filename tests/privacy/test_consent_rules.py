"""Consent-based forwarding rules (§7.4) and consent-change notifications (§7.5) for outputs."""

from __future__ import annotations

import pytest

from fermion.errors import BadRequest
from fermion.privacy import ConsentRule, allowed, consent_event, consent_notifications

OPTED_OUT = {"ccpa": {"data_sale_opt_out": {"consented": True, "timestamp_unixtime_ms": 1}}}
NOT_OPTED_OUT = {"ccpa": {"data_sale_opt_out": {"consented": False, "timestamp_unixtime_ms": 1}}}
GDPR_YES = {"gdpr": {"marketing": {"consented": True, "timestamp_unixtime_ms": 1}}}
GDPR_NO = {"gdpr": {"marketing": {"consented": False, "timestamp_unixtime_ms": 2}}}


def test_ccpa_do_not_forward_when_opted_out_lets_missing_state_flow() -> None:
    rule = ConsentRule.parse(
        {"regulation": "ccpa", "purpose": "data_sale_opt_out", "action": "do_not_forward"}
    )
    assert not rule.allows(OPTED_OUT)
    assert rule.allows(NOT_OPTED_OUT)
    assert rule.allows({})


def test_gdpr_only_forward_when_consented_blocks_missing_state() -> None:
    rule = ConsentRule.parse({"regulation": "gdpr", "purpose": "marketing", "action": "only_forward"})
    assert rule.allows(GDPR_YES)
    assert not rule.allows(GDPR_NO)
    assert not rule.allows({})
    present = ConsentRule("gdpr", "marketing", "only_forward", "present")
    assert present.allows(GDPR_NO) and not present.allows({})
    ccpa = ConsentRule("ccpa", "data_sale_opt_out", "do_not_forward")
    assert allowed([rule, ccpa], {**GDPR_YES, **NOT_OPTED_OUT})
    assert not allowed([rule, ccpa], {**GDPR_YES, **OPTED_OUT})


@pytest.mark.parametrize(
    "document",
    [
        {"regulation": "lgpd", "purpose": "x", "action": "only_forward"},
        {"regulation": "ccpa", "purpose": "x", "action": "only_forward"},
        {"regulation": "gdpr", "purpose": "x", "action": "maybe"},
        {"regulation": "gdpr", "purpose": "x", "action": "only_forward", "when": "sometimes"},
        {"regulation": "gdpr", "action": "only_forward"},
        "gdpr",
    ],
)
def test_bad_rules_are_400(document: object) -> None:
    with pytest.raises(BadRequest):
        ConsentRule.parse(document)


def test_a_change_becomes_one_notification_per_purpose_and_a_custom_event() -> None:
    assert consent_notifications(GDPR_YES, GDPR_YES) == []
    (change,) = consent_notifications(GDPR_YES, GDPR_NO)
    assert change["type"] == "gdpr_change"
    assert change["data"]["purpose"] == "marketing"
    assert change["data"]["current"]["regulation"] == "GDPR"
    assert change["data"]["current"]["consented"] is False and change["data"]["old"]["consented"] is True
    (new,) = consent_notifications({}, OPTED_OUT)
    assert new["type"] == "ccpa_change" and new["data"]["old"] is None
    event = consent_event(change)
    assert event["data"]["event_name"] == "Consent Rejected"
    assert event["data"]["custom_event_type"] == "Consent"
    assert event["data"]["custom_attributes"]["purpose"] == "marketing"
    assert all(isinstance(v, str) for v in event["data"]["custom_attributes"].values())
    assert consent_event(new)["data"]["event_name"] == "Consent Given"
