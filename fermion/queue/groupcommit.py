"""Group commit: concurrent requests share one inbox transaction, and each learns when it is durable.

A request hands its records over and awaits; one writer thread commits everything that arrived while the
previous commit ran, then wakes every waiting request. No request is answered before its commit.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

from fermion.queue.inbox import Inbox, InboxRecord

_Waiting = tuple[Sequence[InboxRecord], asyncio.Future[int], asyncio.AbstractEventLoop]


def _resolve(future: asyncio.Future[int], result: int | BaseException) -> None:
    if future.done():
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)


class GroupCommitter:
    """Commits inbox records on one writer thread, many requests per transaction."""

    def __init__(self, inbox: Inbox, max_records_per_commit: int = 20_000) -> None:
        self._inbox = inbox
        self._max = max_records_per_commit
        self._pending: list[_Waiting] = []
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._users = 0

    def start(self) -> None:
        """Start the writer thread; apps sharing the committer each start it, and it runs until the last
        of them stops it."""
        with self._cond:
            self._users += 1
            if self._thread is not None:
                return
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="fermion-group-commit", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Commit what is waiting, then stop the writer thread (when no other app still uses it)."""
        with self._cond:
            self._users = max(0, self._users - 1)
            thread = self._thread
            if self._users > 0 or thread is None:
                return
            self._stopping = True
            self._cond.notify_all()
        thread.join(timeout=30)
        with self._cond:
            if self._thread is thread:
                self._thread = None

    async def submit(self, records: Sequence[InboxRecord]) -> int:
        """Commit ``records`` (with other requests' records); returns how many were new."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        with self._cond:
            if self._thread is None:
                raise RuntimeError("GroupCommitter is not running")
            self._pending.append((records, future, loop))
            self._cond.notify()
        return await future

    def _take(self) -> list[_Waiting] | None:
        with self._cond:
            while not self._pending and not self._stopping:
                self._cond.wait()
            if not self._pending:
                return None
            taken: list[_Waiting] = []
            count = 0
            while self._pending and (not taken or count + len(self._pending[0][0]) <= self._max):
                item = self._pending.pop(0)
                taken.append(item)
                count += len(item[0])
            return taken

    def _run(self) -> None:
        while (group := self._take()) is not None:
            try:
                results = self._commit(group)
            except Exception as exc:  # worker guard: every waiting request learns of the failure
                for _, future, loop in group:
                    loop.call_soon_threadsafe(_resolve, future, exc)
                continue
            for (_, future, loop), result in zip(group, results, strict=True):
                loop.call_soon_threadsafe(_resolve, future, result)

    def _commit(self, group: list[_Waiting]) -> list[int]:
        records = [record for recs, _, _ in group for record in recs]
        stored = self._inbox.enqueue(records)
        results = []
        start = 0
        for recs, _, _ in group:
            results.append(sum(stored[start : start + len(recs)]))
            start += len(recs)
        return results
