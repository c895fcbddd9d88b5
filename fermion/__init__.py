"""Fermion: an open-source customer data platform, wire-compatible with mParticle's HTTP APIs."""

__version__ = "0.1.0"
