"""Reserved user attributes (spec §3.6): matched in any casing, stored in the SDKs' casing.

The SDK documentation spells them ``$FirstName``; the JSON reference and Profile API samples spell them
``$firstname``. Both reach us, and they must be one attribute, so every name is canonicalised on the way in.
Other attribute names are kept exactly as sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

RESERVED_USER_ATTRIBUTES = (
    "$Age",
    "$FirstName",
    "$LastName",
    "$Gender",
    "$Mobile",
    "$Address",
    "$City",
    "$State",
    "$Zip",
    "$Country",
)
_CANONICAL = {name.lower(): name for name in RESERVED_USER_ATTRIBUTES}

V = TypeVar("V")


def canonical_attribute_name(name: str) -> str:
    """``name`` in the SDKs' casing when it is a reserved attribute in any casing, else unchanged."""
    if not name.startswith("$"):
        return name
    return _CANONICAL.get(name.lower(), name)


def canonical_attributes(attributes: Mapping[str, V]) -> dict[str, V]:
    """``attributes`` with reserved names in canonical casing; a key already in that casing wins a clash."""
    result: dict[str, V] = {}
    for name, value in attributes.items():
        canonical = canonical_attribute_name(name)
        if canonical != name and canonical in attributes:
            continue
        result[canonical] = value
    return result
