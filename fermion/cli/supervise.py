"""The pipeline worker of `fermion serve`, in a process of its own, restarted if it dies.

A separate process gives the worker its own interpreter lock: ingest and processing then use both cores
instead of taking turns. The worker process holds the event store and answers reads and metrics on a Unix
socket (``fermion.events.LocalReadServer``).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from prometheus_client import generate_latest

from fermion.events import LocalReadServer
from fermion.logs import configure_logging
from fermion.runtime import Runtime
from fermion.settings import Settings

_log = logging.getLogger("fermion.cli")


def run_worker_process(settings_data: dict[str, Any], socket_path: str) -> None:
    """The worker process: open the stores, serve local reads, process until SIGTERM."""
    settings = Settings(**settings_data)
    configure_logging(settings.log_level, settings.log_json)
    runtime = Runtime.open(settings)
    try:
        worker = runtime.new_worker()
        signal.signal(signal.SIGTERM, lambda *_: worker.stop())
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
        _stop_when_orphaned(worker.stop)
        reads = LocalReadServer(
            runtime.events, Path(socket_path), lambda: generate_latest(runtime.metrics.worker_registry)
        )
        reads.start()
        try:
            worker.run()
        finally:
            reads.stop()
    finally:
        runtime.close()


def _stop_when_orphaned(stop: Callable[[], None]) -> None:
    """Stop the worker when `fermion serve` is gone, however it went (a signal can end it before clean-up)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        _log.warning("fermion serve is gone; the worker process stops")
        stop()

    threading.Thread(target=watch, name="fermion-parent-watch", daemon=True).start()


class WorkerSupervisor:
    """Starts the worker process and starts it again when it exits unexpectedly."""

    def __init__(self, settings: Settings, socket_path: Path) -> None:
        self._settings = settings
        self._socket = socket_path
        self._context = multiprocessing.get_context("spawn")
        self._process: BaseProcess | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="fermion-supervisor", daemon=True)

    def start(self, wait_s: float = 60.0) -> None:
        """Start the worker process and wait until its socket answers."""
        self._spawn()
        deadline = time.monotonic() + wait_s
        while not self._socket.exists():
            if time.monotonic() > deadline or (self._process is not None and not self._process.is_alive()):
                raise RuntimeError("the worker process did not start; see its log above")
            time.sleep(0.05)
        self._thread.start()

    def _spawn(self) -> None:
        self._process = self._context.Process(
            target=run_worker_process,
            args=(self._settings.model_dump(), str(self._socket)),
            name="fermion-worker",
            daemon=False,
        )
        self._process.start()

    def _watch(self) -> None:
        while not self._stopping.is_set():
            process = self._process
            if process is not None:
                process.join(timeout=0.5)
                if not process.is_alive() and not self._stopping.is_set():
                    _log.error(
                        "worker process exited; starting it again", extra={"exitcode": process.exitcode}
                    )
                    time.sleep(1.0)
                    self._spawn()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Ask the worker process to finish its micro-batch and stop; kill it if it does not."""
        self._stopping.set()
        process = self._process
        if process is not None and process.is_alive():
            process.terminate()  # SIGTERM: the worker finishes its micro-batch
            process.join(timeout_s)
            if process.is_alive():
                process.kill()
                process.join()
