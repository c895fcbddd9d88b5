"""Ingest: the Events API, authentication by input key and secret, limits, and the way into the inbox."""

from __future__ import annotations

from fermion.ingest.accept import Accepted, Acceptor, identities_of, limits_from
from fermion.ingest.auth import Authenticator, parse_basic
from fermion.ingest.http import ROUTES, EventsApi, Receive, Scope, Send, read_body, route_of
from fermion.ingest.origins import OriginForbidden, OriginPolicy, cors_headers
from fermion.ingest.pixel import PixelApi, pixel_route_of
from fermion.ingest.segment import SEGMENT_PLATFORM, SegmentApi, segment_route_of
from fermion.ingest.web import WEB_PLATFORMS, WebSdkApi, web_route_of

__all__ = [
    "ROUTES",
    "SEGMENT_PLATFORM",
    "WEB_PLATFORMS",
    "Accepted",
    "Acceptor",
    "Authenticator",
    "EventsApi",
    "OriginForbidden",
    "OriginPolicy",
    "PixelApi",
    "Receive",
    "Scope",
    "SegmentApi",
    "Send",
    "WebSdkApi",
    "cors_headers",
    "identities_of",
    "limits_from",
    "parse_basic",
    "pixel_route_of",
    "read_body",
    "route_of",
    "segment_route_of",
    "web_route_of",
]
