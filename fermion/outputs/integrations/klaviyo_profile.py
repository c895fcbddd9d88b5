"""mParticle user data → a Klaviyo profile (spec activation §5.1): identifiers, the attribute mapping
table, custom properties without a leading ``$``, and phone numbers in E.164."""

from __future__ import annotations

import functools
from typing import Any

import phonenumbers
import pycountry

# mParticle reserved attribute (lower case) → path in Klaviyo's profile attributes.
DEFAULT_MAPPING = {
    "$firstname": "first_name",
    "$lastname": "last_name",
    "$country": "location.country",
    "$zip": "location.zip",
    "$city": "location.city",
    "$state": "location.region",
    "$address": "location.address1",
}
# Property Mapping targets (the Klaviyo property chosen in the connection) → path.
MAPPING_TARGETS = {
    "$address2": "location.address2",
    "$image": "image",
    "$latitude": "location.latitude",
    "$longitude": "location.longitude",
    "$organization": "organization",
    "$source": "properties.source",
    "$timezone": "location.timezone",
    "$title": "title",
    "$first_name": "first_name",
    "$last_name": "last_name",
    "$city": "location.city",
    "$region": "location.region",
    "$zip": "location.zip",
    "$country": "location.country",
    "$address1": "location.address1",
}
PHONE_IDENTIFIERS = ("mobile_number", "phone_number_2", "phone_number_3")
ALTERNATE_IDENTIFIERS = ("none", "customer_id", "other", *(f"other_id_{n}" for n in range(2, 11)))


def region_of(country: Any) -> str | None:
    """An ISO 3166-1 alpha-2 region from ``$country`` (alpha-3 as Klaviyo documents, alpha-2 or a name)."""
    if not isinstance(country, str) or not country.strip():
        return None
    return _region(country)


@functools.lru_cache(maxsize=1024)
def _region(country: str) -> str | None:
    text = country.strip()
    try:
        if len(text) == 2:
            found = pycountry.countries.get(alpha_2=text.upper())
        elif len(text) == 3:
            found = pycountry.countries.get(alpha_3=text.upper())
        else:
            found = pycountry.countries.lookup(text)
    except LookupError:
        return None
    return None if found is None else str(found.alpha_2)


def e164(number: str, country: Any) -> str | None:
    """The number in E.164, using ``$country`` when it has no country code; None when it is not valid."""
    region = None if number.strip().startswith("+") else region_of(country)
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None
    # Valid for the given region is the common case and the cheap check (the general one first works out
    # the region, trying each region that shares the country code: some 25 for +1).
    for_region = region is not None and phonenumbers.is_valid_number_for_region(parsed, region)
    if not for_region and not phonenumbers.is_valid_number(parsed):
        return None
    return f"+{parsed.country_code}{phonenumbers.national_significant_number(parsed)}"


def klaviyo_profile(
    change: dict[str, Any], settings: dict[str, Any], property_mapping: dict[str, str]
) -> tuple[dict[str, Any] | None, list[str]]:
    """The profile attributes for a membership change, and notes (phone omitted, …); None without email."""
    identities = change.get("user_identities") or {}
    email = identities.get("email")
    if not email:
        return None, ["no email identity: Klaviyo audiences identify users by email"]
    notes: list[str] = []
    attributes: dict[str, Any] = {"email": email}
    alternate = settings.get("alternate_identifier") or "none"
    if alternate != "none" and identities.get(alternate):
        attributes["external_id"] = identities[alternate]
    user_attributes: dict[str, Any] = change.get("user_attributes") or {}
    lowered = {k.lower(): v for k, v in user_attributes.items()}
    phone = identities.get(settings.get("phone_identifier") or "mobile_number")
    if phone:
        formatted = e164(str(phone), lowered.get("$country"))
        if formatted:
            attributes["phone_number"] = formatted
        else:
            notes.append(f"phone {phone!r} omitted: not a valid number")
    mapped = {k.lower(): v for k, v in property_mapping.items()}
    properties: dict[str, Any] = {}
    for name, value in user_attributes.items():
        key = name.lower()
        target = MAPPING_TARGETS.get(mapped[key].lower()) if key in mapped else DEFAULT_MAPPING.get(key)
        if target is None:
            properties[name[1:] if name.startswith("$") else name] = value
        elif target.startswith("properties."):
            properties[target.split(".", 1)[1]] = value
        elif target.startswith("location."):
            attributes.setdefault("location", {})[target.split(".", 1)[1]] = value
        else:
            attributes[target] = value
    if properties:
        attributes["properties"] = properties
    return attributes, notes
