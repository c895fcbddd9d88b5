"""Consent for outputs: forwarding rules evaluated on a profile's consent (§7.4), and consent changes as
system notifications or a synthetic custom event (§7.5).

The outputs context calls these before any delivery: ``allowed(rules, profile.consent_state)``, and
``consent_notifications(old, new)`` when a batch changes a profile's consent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fermion.errors import BadRequest
from fermion.outputs import consent_change_event

ACTIONS = ("only_forward", "do_not_forward")
CONDITIONS = ("consented", "not_consented", "present")
_RECORD_FIELDS = ("consented", "document", "timestamp_unixtime_ms", "location", "hardware_id")


@dataclass(frozen=True)
class ConsentRule:
    """A forwarding rule on a purpose: ``action`` (only_forward | do_not_forward) ``when`` a condition holds.

    Conditions: ``consented``, ``not_consented``, ``present``.

    CCPA's usual rule: do not forward when ``data_sale_opt_out`` is consented (the user opted out); a missing
    state lets data flow. GDPR's: only forward when a purpose is consented; a missing state forwards nothing.
    """

    regulation: str
    purpose: str
    action: str
    when: str = "consented"

    @classmethod
    def parse(cls, document: Any) -> ConsentRule:
        """A rule from its JSON object; BadRequest names what is wrong."""
        if not isinstance(document, dict):
            raise BadRequest("A consent rule is an object with regulation, purpose, action and when.")
        rule = cls(
            str(document.get("regulation", "")).lower(),
            str(document.get("purpose", "")),
            str(document.get("action", "")),
            str(document.get("when", "consented")),
        )
        if rule.regulation not in ("gdpr", "ccpa"):
            raise BadRequest(f"Unknown regulation {rule.regulation!r}: use gdpr or ccpa.")
        if not rule.purpose:
            raise BadRequest("A consent rule needs a purpose.")
        if rule.regulation == "ccpa" and rule.purpose != "data_sale_opt_out":
            raise BadRequest("The only CCPA purpose is data_sale_opt_out.")
        if rule.action not in ACTIONS:
            raise BadRequest(f"Unknown action {rule.action!r}: use {' or '.join(ACTIONS)}.")
        if rule.when not in CONDITIONS:
            raise BadRequest(f"Unknown condition {rule.when!r}: use {', '.join(CONDITIONS)}.")
        return rule

    def allows(self, consent_state: Mapping[str, Any]) -> bool:
        """Whether data of a person with ``consent_state`` (the profile's) may be forwarded."""
        record = (consent_state.get(self.regulation) or {}).get(self.purpose)
        if not isinstance(record, Mapping):
            record = None
        if self.when == "present":
            met = record is not None
        else:
            met = record is not None and bool(record.get("consented")) is (self.when == "consented")
        return met if self.action == "only_forward" else not met


def allowed(rules: Sequence[ConsentRule], consent_state: Mapping[str, Any]) -> bool:
    """Whether every rule of a connection lets the person's data through."""
    return all(rule.allows(consent_state) for rule in rules)


def consent_notifications(old_state: Mapping[str, Any], new_state: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One system notification per purpose ``new_state`` changes, in the shape of §7.5.

    ``type`` is ``gdpr_change`` (as documented) or ``ccpa_change`` (Fermion's name for the CCPA case).
    """
    found = []
    for regulation, purposes in new_state.items():
        if not isinstance(purposes, Mapping):
            continue
        for purpose, current in purposes.items():
            old = (old_state.get(regulation) or {}).get(purpose)
            if old == current or not isinstance(current, Mapping):
                continue
            found.append(
                {
                    "type": f"{regulation}_change",
                    "data": {
                        "purpose": purpose,
                        "current": _record(regulation, current),
                        "old": None if not isinstance(old, Mapping) else _record(regulation, old),
                    },
                }
            )
    return found


def consent_event(notification: Mapping[str, Any]) -> dict[str, Any]:
    """The synthetic custom event partners without system notifications receive for a consent change."""
    event = consent_change_event(notification)
    event["data"].pop("timestamp_unixtime_ms", None)
    return event


def _record(regulation: str, record: Mapping[str, Any]) -> dict[str, Any]:
    return {"regulation": regulation.upper(), **{k: record.get(k) for k in _RECORD_FIELDS}}
