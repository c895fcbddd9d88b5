"""The Segment-compatible Tracking API: Segment and RudderStack SDKs send here unchanged."""

from __future__ import annotations

from fermion.ingest.segment.http import SEGMENT_PLATFORM, SegmentApi, segment_route_of

__all__ = ["SEGMENT_PLATFORM", "SegmentApi", "segment_route_of"]
