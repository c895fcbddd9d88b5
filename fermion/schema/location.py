"""Geographic location, carried per event (``data.location``) and per batch (``context.location``)."""

from __future__ import annotations

from typing import Literal, TypeAlias

import msgspec

from fermion.schema.integers import Int64

LocationSource: TypeAlias = Literal["unknown", "ip_lookup", "lat_long"]


class Location(msgspec.Struct, omit_defaults=True, kw_only=True):
    """All nine DOCS location fields (SCHEMA's GeoLocation allows only the first three)."""

    latitude: float | None = None
    longitude: float | None = None
    accuracy: float | None = None
    country_code: str | None = None
    region_code: str | None = None
    city_name: str | None = None
    postal_code: str | None = None
    dma_code: Int64 | None = None
    location_source: LocationSource | None = None
