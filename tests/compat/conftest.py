"""Fixtures of the real-client tests: a uvicorn server of the app on a free port of 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn

from fermion.api import create_app
from fermion.clock import FrozenClock
from fermion.runtime import Runtime
from fermion.settings import Settings


@contextmanager
def live_server(runtime: Runtime, tls: tuple[Path, Path] | None = None) -> Iterator[int]:
    """Serve the app in a background thread (with TLS when given a certificate and key); yields the port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(
        create_app(runtime),
        log_level="warning",
        lifespan="on",
        ssl_certfile=str(tls[0]) if tls else None,
        ssl_keyfile=str(tls[1]) if tls else None,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def server_url(runtime: Runtime) -> Iterator[str]:
    """The URL of a plain-HTTP server of the test's runtime."""
    with live_server(runtime) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def clock() -> FrozenClock:
    """A clock stopped at the real time: the clients stamp real times, and the test moves it past the alias
    delay without waiting."""
    return FrozenClock(int(time.time() * 1000))


@pytest.fixture
def frozen_runtime(settings: Settings, clock: FrozenClock) -> Iterator[Runtime]:
    """An opened runtime on the frozen ``clock``."""
    opened = Runtime.open(settings, clock)
    try:
        yield opened
    finally:
        opened.close()
