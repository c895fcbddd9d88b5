"""Consent state of a batch, shaped as DOCS/PYSDK/JSMODELS describe it (spec §2.14).

SCHEMA/OAS model ``gdpr`` as a single record; DOCS (followed here) map purpose -> record.
"""

from __future__ import annotations

import msgspec

from fermion.schema.integers import Int64


class ConsentRecord(msgspec.Struct, omit_defaults=True, kw_only=True):
    """One consent decision for one purpose."""

    consented: bool
    document: str | None = None
    timestamp_unixtime_ms: Int64 | None = None
    location: str | None = None
    hardware_id: str | None = None


class CcpaConsent(msgspec.Struct, omit_defaults=True, kw_only=True):
    """CCPA has a single purpose; ``consented: true`` means the user opted OUT of data sale."""

    data_sale_opt_out: ConsentRecord | None = None


class ConsentState(msgspec.Struct, omit_defaults=True, kw_only=True):
    """``consent_state``: GDPR purposes and the CCPA data-sale opt-out."""

    gdpr: dict[str, ConsentRecord] | None = None
    ccpa: CcpaConsent | None = None
