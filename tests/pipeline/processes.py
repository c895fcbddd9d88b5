"""`fermion worker` processes for the tests that crash, stop and scale out workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fermion.settings import Settings

FERMION = str(Path(sys.executable).parent / "fermion")


class WorkerProcess:
    """A `fermion worker` process on given settings, its log kept in a file."""

    def __init__(self, settings: Settings, log: Path, worker_id: str | None, **env: object) -> None:
        variables = {k: v for k, v in os.environ.items() if not k.startswith("FERMION_")}
        variables.update(
            FERMION_DATA_DIR=str(settings.data_dir),
            FERMION_DATABASE_URL=settings.database_url,
            FERMION_EVENT_STORE_URL=settings.event_store_url,
            FERMION_WORKER_POLL_MS="20",
            FERMION_LOG_LEVEL="warning",
            PYTHONFAULTHANDLER="1",  # SIGABRT dumps every thread's stack into the log
        )
        variables.update({f"FERMION_{k.upper()}": str(v) for k, v in env.items()})
        self.log = log
        command = [FERMION, "worker"] + ([] if worker_id is None else ["--worker-id", worker_id])
        with log.open("ab") as out:  # cwd: a directory without a .env file
            self.process = subprocess.Popen(command, env=variables, cwd=log.parent, stdout=out, stderr=out)

    def output(self) -> str:
        """What the process logged so far (its last 4000 characters)."""
        return self.log.read_text(errors="replace")[-4000:]

    def check_alive(self) -> None:
        """Fail the test with the process's log if it has exited."""
        if self.process.poll() is not None:
            pytest.fail(f"fermion worker exited with {self.process.returncode}:\n{self.output()}")

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as in a crash or an OOM kill."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> int:
        """SIGTERM, then wait for a clean exit; returns the exit code."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=45)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGABRT)
            self.process.wait(timeout=10)
            pytest.fail(f"fermion worker did not stop on SIGTERM:\n{self.output()}")


SpawnWorker = Callable[..., WorkerProcess]
"""The ``spawn_worker`` fixture: ``spawn_worker(settings, worker_id=None, **FERMION_settings)``."""


def wait_until(
    condition: Callable[[], bool], timeout_s: float, *alive: WorkerProcess, what: str = ""
) -> None:
    """Poll ``condition`` until it holds; fail when ``timeout_s`` passes or a process in ``alive`` exits."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        for process in alive:
            process.check_alive()
        if time.monotonic() > deadline:
            logs = "\n".join(p.output() for p in alive)
            pytest.fail(f"timed out after {timeout_s} s waiting for {what or condition}\n{logs}")
        time.sleep(0.005)
