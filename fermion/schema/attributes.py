"""Value types of attribute maps: event attributes, product attributes and user attributes.

The mParticle schema's ``String`` type accepts strings, numbers, booleans and null, so attribute
values are typed as that union rather than ``str``.
"""

from __future__ import annotations

from typing import TypeAlias

from fermion.schema.integers import Int64

AttributeValue: TypeAlias = str | Int64 | float | bool | None
"""One event or product attribute value (SCHEMA ``String``: string, number, boolean or null)."""

AttributeMap: TypeAlias = dict[str, AttributeValue]
"""``custom_attributes`` of an event or product."""

UserAttributeValue: TypeAlias = AttributeValue | list[AttributeValue]
"""One user attribute value: a scalar or a list of scalars."""

UserAttributeMap: TypeAlias = dict[str, UserAttributeValue]
"""The batch's ``user_attributes``."""
