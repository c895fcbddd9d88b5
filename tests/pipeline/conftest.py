"""Fixtures of the pipeline tests: one in-process worker per test, and `fermion worker` processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fermion.pipeline import Worker
from fermion.runtime import Runtime
from fermion.settings import Settings
from tests.pipeline.processes import SpawnWorker, WorkerProcess


@pytest.fixture
def worker(runtime: Runtime) -> Worker:
    """The test's in-process worker, reused across its ticks and drains like a long-running one."""
    return runtime.new_worker()


@pytest.fixture
def spawn_worker(tmp_path: Path) -> Iterator[SpawnWorker]:
    """Starts `fermion worker` processes: ``spawn_worker(settings, worker_id=None, WORKER_BATCH_SIZE=20)``.

    Extra keyword arguments become ``FERMION_*`` environment variables. Processes still running at the end
    of the test are killed.
    """
    started: list[WorkerProcess] = []

    def spawn(settings: Settings, worker_id: str | None = None, **env: object) -> WorkerProcess:
        log = tmp_path / f"worker-{len(started)}.log"
        started.append(WorkerProcess(settings, log, worker_id, **env))
        return started[-1]

    yield spawn
    for process in started:
        if process.process.poll() is None:
            process.process.kill()
            process.process.wait(timeout=10)
