"""Calculated attribute tests share the audience fixtures: frozen clock, Bearer tokens, ingest helpers."""

from __future__ import annotations

from tests.audiences.conftest import bearer, clock, runtime, settings, workspace

__all__ = ["bearer", "clock", "runtime", "settings", "workspace"]
