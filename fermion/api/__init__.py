"""The HTTP edge: the ASGI app, one routes module per context, error mapping."""

from __future__ import annotations

from fermion.api.app import FermionApp, create_app

__all__ = ["FermionApp", "create_app"]
