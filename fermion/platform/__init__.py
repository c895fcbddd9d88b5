"""Tenancy: orgs, accounts, workspaces, inputs and their credentials."""

from __future__ import annotations

from fermion.platform.tenancy import INPUT_KINDS, PLATFORMS, Input, InputCredentials, Tenancy, Workspace

__all__ = ["INPUT_KINDS", "PLATFORMS", "Input", "InputCredentials", "Tenancy", "Workspace"]
