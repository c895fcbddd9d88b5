"""A local webhook receiver that records what it is sent and can be told to fail."""

from __future__ import annotations

import threading
from typing import Any

from tests.fakes.server import LocalServer, Reply


class WebhookReceiver:
    """Records POSTed bodies; ``fail_with(status)`` answers every request with that status until
    ``recover()``; ``fail_next(n, status)`` only the next ``n``."""

    def __init__(self) -> None:
        self.received: list[Any] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._status: int | None = None
        self._remaining: int | None = None
        self._retry_after: str | None = None
        self.hold = threading.Event()  # cleared: requests wait until it is set (a slow destination)
        self.hold.set()
        self.server = LocalServer(self._handle)
        self.url = self.server.url + "/hook"

    def _handle(self, method: str, path: str, query: Any, headers: dict[str, str], body: Any) -> Reply:
        self.hold.wait(30)
        with self._lock:
            if self._status is not None and (self._remaining is None or self._remaining > 0):
                if self._remaining is not None:
                    self._remaining -= 1
                extra = {"Retry-After": self._retry_after} if self._retry_after else {}
                return self._status, extra, {"error": "told to fail"}
            self.received.append(body)
            self.headers.append(headers)
        return 200, {}, {"ok": True}

    def fail_with(self, status: int, retry_after: str | None = None) -> None:
        with self._lock:
            self._status, self._remaining, self._retry_after = status, None, retry_after

    def fail_next(self, count: int, status: int, retry_after: str | None = None) -> None:
        with self._lock:
            self._status, self._remaining, self._retry_after = status, count, retry_after

    def recover(self) -> None:
        with self._lock:
            self._status, self._remaining = None, None

    def start(self) -> WebhookReceiver:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()
