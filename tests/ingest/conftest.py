"""Fixtures of the ingest tests."""

from __future__ import annotations

import pytest

from fermion.pipeline import Worker
from fermion.runtime import Runtime


@pytest.fixture
def worker(runtime: Runtime) -> Worker:
    """One pipeline worker per test: a second one would wait for the first one's partition leases."""
    return runtime.new_worker()
