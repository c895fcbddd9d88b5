"""Ingest: the Events API, authentication by input key and secret, limits, and the way into the inbox."""

from __future__ import annotations

from fermion.ingest.accept import Accepted, Acceptor, identities_of, limits_from
from fermion.ingest.auth import Authenticator, parse_basic
from fermion.ingest.http import ROUTES, EventsApi, Receive, Scope, Send, read_body, route_of

__all__ = [
    "ROUTES",
    "Accepted",
    "Acceptor",
    "Authenticator",
    "EventsApi",
    "Receive",
    "Scope",
    "Send",
    "identities_of",
    "limits_from",
    "parse_basic",
    "read_body",
    "route_of",
]
