"""Tenancy: orgs, accounts, workspaces, inputs and their credentials; OAuth API clients and their tokens."""

from __future__ import annotations

from fermion.platform.credentials import (
    TOKEN_TTL_S,
    AccessToken,
    ApiClient,
    ApiClientCredentials,
    ApiCredentials,
    TokenGrant,
)
from fermion.platform.tenancy import INPUT_KINDS, PLATFORMS, Input, InputCredentials, Tenancy, Workspace

__all__ = [
    "INPUT_KINDS",
    "PLATFORMS",
    "TOKEN_TTL_S",
    "AccessToken",
    "ApiClient",
    "ApiClientCredentials",
    "ApiCredentials",
    "Input",
    "InputCredentials",
    "Tenancy",
    "TokenGrant",
    "Workspace",
]
