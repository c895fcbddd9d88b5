"""Privacy: consent history, data subject requests (OpenDSR), erasure with receipts, access archives.

An orchestrator like the pipeline: it reads and deletes across the contexts that hold a person (see
``stores.py``). Requests are stored by the API process; the worker process carries them out.
"""

from __future__ import annotations

from fermion.privacy.consent import ConsentChange, ConsentHistory
from fermion.privacy.consent_rules import ConsentRule, allowed, consent_event, consent_notifications
from fermion.privacy.erasure import Receipt, erase
from fermion.privacy.forwarding import ErasureForwarder, ErasureOrder, ForwardOutcome
from fermion.privacy.orchestrator import DsrOrchestrator
from fermion.privacy.output_forwarding import OutputErasureForwarders
from fermion.privacy.requests import CANCELLED, COMPLETED, IN_PROGRESS, PENDING, DsrRecord, DsrRequests, iso
from fermion.privacy.rights import DataSubjectRights
from fermion.privacy.signing import ProcessorSigner, verify_signature
from fermion.privacy.stores import MPID_TABLES, Subject, find_subject
from fermion.privacy.subject import (
    DISCOVERY_TYPES,
    EXTENSION,
    MAX_IDENTITIES,
    REQUEST_TYPES,
    SubjectRequest,
    parse_legacy,
    parse_v3,
)

__all__ = [
    "CANCELLED",
    "COMPLETED",
    "DISCOVERY_TYPES",
    "EXTENSION",
    "IN_PROGRESS",
    "MAX_IDENTITIES",
    "MPID_TABLES",
    "PENDING",
    "REQUEST_TYPES",
    "ConsentChange",
    "ConsentHistory",
    "ConsentRule",
    "DataSubjectRights",
    "DsrOrchestrator",
    "DsrRecord",
    "DsrRequests",
    "ErasureForwarder",
    "ErasureOrder",
    "ForwardOutcome",
    "OutputErasureForwarders",
    "ProcessorSigner",
    "Receipt",
    "Subject",
    "SubjectRequest",
    "allowed",
    "consent_event",
    "consent_notifications",
    "erase",
    "find_subject",
    "iso",
    "parse_legacy",
    "parse_v3",
    "verify_signature",
]
