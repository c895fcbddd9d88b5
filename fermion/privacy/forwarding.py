"""Forwarding erasures to outputs: the seam an output implements to delete a person at its partner.

Outputs that support "Data Subject Request Forwarding for Erasure" register an :class:`ErasureForwarder`;
the orchestrator calls each one once per erasure and records its outcome in the request's ``extensions``
(``sent``, ``skipped`` when no identity suits the partner, ``failed`` with the reason, ``pending`` while a
transient failure is retried: the request stays in progress until every partner has answered for good).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol

from fermion.privacy.stores import Subject

SENT, SKIPPED, FAILED, PENDING = "sent", "skipped", "failed", "pending"


@dataclass(frozen=True)
class ErasureOrder:
    """What a partner is asked to delete: identities by mParticle type, the request's id and regulation."""

    workspace_id: int
    subject_request_id: str
    regulation: str
    identities: dict[str, list[str]]
    mpids: tuple[int, ...]
    countries: tuple[str, ...] = ()  # the profiles' ``$country``: the region of phone numbers without one


@dataclass(frozen=True)
class ForwardOutcome:
    """A partner's answer: ``sent``, ``skipped``, ``failed`` or ``pending`` (retry; ``retry_after_ms`` when
    the partner said when), with a message for the status response."""

    status: str
    message: str = ""
    retry_after_ms: int | None = None


class ErasureForwarder(Protocol):
    """An output that deletes a person at its partner (Klaviyo's data-privacy deletion, for one)."""

    domain: str
    name: str

    def forward_erasure(self, order: ErasureOrder) -> ForwardOutcome:
        """Ask the partner to delete the person; never raises for a partner error (``failed`` instead)."""
        ...


def order_json(order: ErasureOrder) -> str:
    """The order as kept on a request while a partner is retried."""
    found = {"identities": order.identities, "mpids": list(order.mpids), "countries": list(order.countries)}
    return json.dumps(found, sort_keys=True)


def order_from_json(workspace_id: int, subject_request_id: str, regulation: str, text: str) -> ErasureOrder:
    """An order kept by :func:`order_json`."""
    found = json.loads(text)
    return ErasureOrder(
        workspace_id,
        subject_request_id,
        regulation,
        found["identities"],
        tuple(found["mpids"]),
        tuple(found.get("countries", ())),
    )


def order_for(
    subject: Subject, requested: dict[str, str], subject_request_id: str, regulation: str
) -> ErasureOrder:
    """The identities to forward (OpenDSR §8.5): the profiles' identities enriched by the request's own.

    A request of a single MPID whose profile is gone forwards nothing; otherwise, when nothing resolved,
    the request's identities are forwarded as they are. The request's values win over the profile's.
    """
    identities: dict[str, list[str]] = {name: sorted(values) for name, values in subject.identities.items()}
    for name, value in requested.items():
        if name != "mpid":
            identities[name] = [value]
    return ErasureOrder(
        subject.workspace_id,
        subject_request_id,
        regulation,
        identities,
        tuple(sorted(subject.mpids)),
        tuple(sorted(subject.countries)),
    )
