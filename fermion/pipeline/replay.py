"""Quarantine replay: re-ingest what a plan blocked, through the normal pipeline, once it is planned.

Each selected record becomes one batch (``plans.replay_batch``) accepted into the inbox like any other, on
the record's input; the worker marks the record replayed when it processes that batch.
"""

from __future__ import annotations

from fermion.errors import NotFound
from fermion.ingest import Acceptor
from fermion.plans import Quarantine, QuarantineFilter, ReplayProgress, replay_batch
from fermion.platform import Input, Tenancy
from fermion.queue import Inbox


class QuarantineReplayer:
    """Starts replay jobs and reports their progress."""

    def __init__(self, quarantine: Quarantine, acceptor: Acceptor, inbox: Inbox, tenancy: Tenancy) -> None:
        self._quarantine = quarantine
        self._acceptor = acceptor
        self._inbox = inbox
        self._tenancy = tenancy

    def start(self, workspace_id: int, where: QuarantineFilter, limit: int = 10_000) -> ReplayProgress:
        """Replay the quarantined records matching ``where`` (at most ``limit``); returns the progress."""
        job, records = self._quarantine.start_replay(workspace_id, where, limit)
        if not records:
            return ReplayProgress(job, 0, 0, 0, 0)
        inputs: dict[int, Input] = {}
        pending = []
        for record in records:
            if record.input_id not in inputs:
                try:
                    inputs[record.input_id] = self._tenancy.get_input(record.input_id)
                except NotFound:
                    raise NotFound(
                        f"Quarantine record {record.id} came from input {record.input_id}, which is gone."
                    ) from None
            accepted = self._acceptor.single(inputs[record.input_id], replay_batch(record, job))
            pending.extend(accepted.records)
        self._inbox.enqueue(pending)
        return self._quarantine.progress(workspace_id, job)

    def progress(self, workspace_id: int, job_id: str) -> ReplayProgress:
        """Where a replay job stands."""
        return self._quarantine.progress(workspace_id, job_id)
